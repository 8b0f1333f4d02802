// Building the RFC 5322 message that `pullmail send --to --subject --body`
// submits, and finding the envelope recipients of a message given as a file.
#ifndef PULLMAIL_CLI_COMPOSE_H_
#define PULLMAIL_CLI_COMPOSE_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/util/random.h"

namespace pullmail::cli {

// A plain-text UTF-8 message with From, To, Subject, Date, Message-ID,
// MIME-Version and Content-Type headers, CRLF line ends (RFC 5322 2.1), and
// `body` with its line ends turned into CRLF and a final CRLF added when
// missing. A subject with non-ASCII characters is written as one RFC 2047
// encoded word per 45 bytes (base64). Pure apart from `random` (Message-ID).
std::string ComposeMessage(std::string_view from, const std::vector<std::string>& to,
                           std::string_view subject, std::string_view body, absl::Time date,
                           Random& random);

// The addresses in the message's To and Cc fields (lower-cased), for a
// message given without --to. InvalidArgument if it has no header block or
// names no recipient.
absl::StatusOr<std::vector<std::string>> RecipientsFromHeaders(std::string_view rfc5322);

}  // namespace pullmail::cli

#endif  // PULLMAIL_CLI_COMPOSE_H_
