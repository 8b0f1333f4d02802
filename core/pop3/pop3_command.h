// POP3 command lines (RFC 1939 section 3, RFC 2449 section 4, RFC 5034
// section 4, RFC 2595 section 4): a pure parser that turns one line, without
// its CRLF, into a verb and its arguments, or says precisely what is wrong
// with it. It never reads a socket; the gateway's POP3 session feeds it the
// lines its connection reads (gateway/pop3_session.cc).
#ifndef PULLMAIL_CORE_POP3_POP3_COMMAND_H_
#define PULLMAIL_CORE_POP3_POP3_COMMAND_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace pullmail::pop3 {

// RFC 2449 section 4: a command line is at most 255 octets with its CRLF, so
// 253 without; each argument at most 40 octets (RFC 1939 section 3).
inline constexpr size_t kMaxCommandLine = 253;
inline constexpr size_t kMaxArgument = 40;

struct Limits {
  size_t max_command_line = kMaxCommandLine;  // octets, without CRLF
  size_t max_argument = kMaxArgument;         // octets
  // AUTH lines (an RFC 5034 initial response, or the client's answer to a
  // "+ " continuation) may be longer: up to the gateway's configured line
  // length.
  size_t max_auth_line = 8192;
};

enum class Verb {
  kUser,  // USER name                 RFC 1939 7
  kPass,  // PASS string               RFC 1939 7
  kApop,  // APOP name digest          RFC 1939 7 (recognised, not offered)
  kAuth,  // AUTH [mech [initial]]     RFC 5034 4
  kStls,  // STLS                      RFC 2595 4
  kCapa,  // CAPA                      RFC 2449 5
  kStat,  // STAT                      RFC 1939 5
  kList,  // LIST [msg]                RFC 1939 5
  kUidl,  // UIDL [msg]                RFC 1939 7
  kRetr,  // RETR msg                  RFC 1939 5
  kTop,   // TOP msg n                 RFC 1939 7
  kDele,  // DELE msg                  RFC 1939 5
  kNoop,  // NOOP                      RFC 1939 5
  kRset,  // RSET                      RFC 1939 5
  kQuit,  // QUIT                      RFC 1939 4, 6
};

// The keyword as a client sends it ("RETR").
std::string_view VerbName(Verb verb);

struct Command {
  Verb verb;
  // The arguments as sent, split on single spaces. PASS has exactly one
  // argument: the rest of the line after "PASS ", which may hold spaces
  // (passwords do; RFC 1939 7 leaves this to the server). AUTH has the
  // mechanism name and the optional initial response.
  std::vector<std::string> args;
};

// Parses one command line (without CRLF). The keyword is case-insensitive
// (RFC 1939 3). Arity and argument syntax are checked here; message numbers
// are checked by ParseMessageNumber when the command runs.
// Errors (the message is what the session puts after "-ERR "):
//   kResourceExhausted: the line or an argument is over its limit;
//   kNotFound: an unknown keyword; kInvalidArgument: wrong arguments.
absl::StatusOr<Command> ParseCommand(std::string_view line, const Limits& limits = {});

// A message number (RFC 1939 5: "msg"): decimal digits only (no sign or
// space), value 1..2^31-1. kInvalidArgument otherwise.
absl::StatusOr<uint32_t> ParseMessageNumber(std::string_view arg);

// TOP's line count: a non-negative decimal number (0 is the header only).
absl::StatusOr<uint32_t> ParseLineCount(std::string_view arg);

// The decoded RFC 4616 PLAIN message: [authzid] NUL authcid NUL passwd.
struct PlainCredentials {
  std::string authzid;  // empty, or equal to authcid (we act for no one else)
  std::string user;     // authcid
  std::string password;
};

// Decodes an AUTH PLAIN response (RFC 5034 4: base64; "=" is an empty
// initial response). kInvalidArgument: bad base64, not three NUL-separated
// parts, an empty user or password, or an authzid other than the user.
absl::StatusOr<PlainCredentials> DecodeAuthPlain(std::string_view base64);

}  // namespace pullmail::pop3

#endif  // PULLMAIL_CORE_POP3_POP3_COMMAND_H_
