// The header summary of an RFC 5322 message: the few header fields a mailbox
// listing (and an IMAP ENVELOPE) needs, copied into the signed notification so
// that no body fetch is needed to list a message. Parsing uses GMime 3.2.
//
// What is copied (RFC 5322 section 3.6):
//   from        every From: mailbox in display form, joined with ", "
//   to, cc      one entry per mailbox; group syntax is flattened to members
//   subject     Subject:, RFC 2047 encoded words decoded to UTF-8
//   date        Date: as written (unfolded, trimmed)
//   message_id  Message-ID: the first msg-id, with angle brackets
//   in_reply_to In-Reply-To: the msg-ids, with angle brackets, space-separated
// Display form is `Name <addr>` with the decoded name unquoted, or `addr` when
// there is no name: a consumer that needs the address takes the text between
// the last '<' and the final '>'. Each string is valid UTF-8 (ill-formed
// bytes become U+FFFD) cut to limits::kMaxHeaderValue bytes on a character
// boundary; each list holds at most limits::kMaxSummaryList entries.
#ifndef PULLMAIL_CORE_MAIL_HEADER_SUMMARY_H_
#define PULLMAIL_CORE_MAIL_HEADER_SUMMARY_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

// The largest header block (everything before the first empty line) that
// ExtractHeaderSummary accepts.
inline constexpr size_t kMaxHeaderBlock = 1024 * 1024;

// Extracts the summary from a whole message (LF or CRLF line ends). Only the
// header block is parsed, so the cost does not grow with the body.
// Errors (all InvalidArgument): message larger than limits::kMaxBodySize;
// header block larger than kMaxHeaderBlock; no header fields at all (empty
// input, a leading empty line, or text that is not a header field).
// Thread-safe: GMime is initialised once, on first use.
absl::StatusOr<v1::HeaderSummary> ExtractHeaderSummary(std::string_view rfc5322);

// The author fields of a message's header block (RFC 5322 section 3.6.2),
// for the sender node's From: rule (core/logic/author.h).
struct AuthorFields {
  size_t from_fields = 0;    // From: fields in the header block (RFC 5322: exactly 1)
  size_t sender_fields = 0;  // Sender: fields (at most 1)
  // The addr-spec of every mailbox the From: (Sender:) fields name, in order,
  // group members flattened, as written (not lower-cased). A field naming no
  // mailbox contributes one "".
  std::vector<std::string> from;
  std::vector<std::string> sender;
};

// Errors as ExtractHeaderSummary. Thread-safe.
absl::StatusOr<AuthorFields> ExtractAuthorFields(std::string_view rfc5322);

// `rfc5322` with `fields` (name, value) inserted before its first header
// field, in order, each as "Name: value" using the message's own line end
// (CRLF if its first line ends in CRLF, else LF). CR, LF and NUL in a value
// become spaces, so a value can never start a new field. A name must be
// RFC 5322 ftext (printable ASCII other than ':'); anything else is a bug in
// the caller and aborts. Pure; thread-safe.
std::string PrependHeaders(std::string_view rfc5322,
                           const std::vector<std::pair<std::string, std::string>>& fields);

// Splits a display form ("Name <addr>" or "addr") into {name, addr}: the
// address is the text between the last '<' and a final '>', the name is what
// precedes it, trimmed. Without angle brackets the whole text is the address
// and the name is empty. Pure; thread-safe.
std::pair<std::string, std::string> SplitDisplayForm(std::string_view display);

// Splits HeaderSummary.from (mailboxes in display form joined with ", ")
// back into display forms. Names are unquoted and may hold ", " themselves
// ("Doe, John <j@x>"): a bare address always has an '@', so a piece without
// one before the next ", " is part of a name, and a named mailbox runs to its
// '>'. Pure; thread-safe.
std::vector<std::string> SplitJoinedMailboxes(std::string_view joined);

// `t` as an RFC 5322 section 3.3 date-time in UTC, e.g.
// "Thu, 07 Mar 2024 08:15:02 +0000" (English names, whatever the locale).
std::string FormatRfc5322Date(absl::Time t);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_MAIL_HEADER_SUMMARY_H_
