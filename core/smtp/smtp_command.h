// The SMTP command parser (RFC 5321 4.1, with the ESMTP extensions the
// submission service offers: RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 3207
// STARTTLS, RFC 4954 AUTH). Pure: fed one command line (without its CRLF),
// it returns the parsed command or the exact reply that refuses it. It never
// reads a socket and keeps no state between lines.
//
// Limits: a command line is at most kMaxCommandLine bytes (RFC 5321
// 4.5.3.1.4), MAIL and RCPT lines kMaxCommandLine + kMaxParamsExtra (RFC 1870
// 3 and RFC 4954 5 raise it for their parameters), AUTH lines kMaxAuthLine;
// paths obey RFC 5321 4.5.3.1.1-3 (local part 64, domain 255, path 256).
#ifndef PULLMAIL_CORE_SMTP_SMTP_COMMAND_H_
#define PULLMAIL_CORE_SMTP_SMTP_COMMAND_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/smtp/smtp_reply.h"

namespace pullmail {

inline constexpr size_t kSmtpMaxCommandLine = 512;  // RFC 5321 4.5.3.1.4, CRLF included
inline constexpr size_t kSmtpMaxParamsExtra = 512;  // MAIL/RCPT parameters
inline constexpr size_t kSmtpMaxAuthLine = 12288;   // RFC 4954 4, CRLF included
inline constexpr size_t kSmtpMaxLocalPart = 64;     // RFC 5321 4.5.3.1.1
inline constexpr size_t kSmtpMaxDomain = 255;       // RFC 5321 4.5.3.1.2
inline constexpr size_t kSmtpMaxPath = 256;         // RFC 5321 4.5.3.1.3, brackets included
inline constexpr size_t kSmtpMaxTextLine = 1000;    // RFC 5321 4.5.3.1.6, CRLF included

enum class SmtpVerb {
  kEhlo,
  kHelo,
  kMail,
  kRcpt,
  kData,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kHelp,
  kStarttls,
  kAuth,
};

// RFC 6152: the BODY parameter of MAIL.
enum class SmtpBody { kUnspecified, k7Bit, k8BitMime };

struct SmtpCommand {
  SmtpVerb verb = SmtpVerb::kNoop;
  // EHLO/HELO: the client's domain or address literal; VRFY/HELP/NOOP: the
  // argument as given; AUTH: the mechanism, upper-cased.
  std::string argument;
  // MAIL/RCPT: the mailbox ("local@domain", the local part as written, a
  // quoted local part kept with its quotes); empty for MAIL FROM:<>. A
  // source route (RFC 5321 4.1.2 A-d-l) is dropped, as 4.1.1.3 allows.
  std::string address;
  bool null_path = false;        // MAIL FROM:<>
  bool postmaster = false;       // RCPT TO:<Postmaster> (no domain, 4.1.1.3)
  std::optional<uint64_t> size;  // MAIL SIZE=n (RFC 1870)
  SmtpBody body = SmtpBody::kUnspecified;
  // AUTH: the initial response as sent (base64, "=" for empty), if any.
  std::optional<std::string> initial_response;
};

// Parses one command line (no CRLF). On failure the SmtpReply is the reply
// to send, e.g. 500 5.5.2 unrecognized or too long, 501 5.5.4 bad
// arguments, 501 5.1.7 / 5.1.3 bad sender / recipient syntax, 555 5.5.4 an
// unknown MAIL/RCPT parameter, 502 5.5.1 a known but unimplemented command.
std::variant<SmtpCommand, SmtpReply> ParseSmtpCommand(std::string_view line);

// RFC 5321 4.1.2 Path (and Reverse-path when `allow_null`): "<...>" with
// an optional source route. Returns the mailbox, "" for "<>", or nullopt
// when the syntax or a 4.5.3.1 length limit is broken. Exposed for tests.
std::optional<std::string> ParseSmtpPath(std::string_view path, bool allow_null);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_SMTP_SMTP_COMMAND_H_
