// POP3 command-line parsing: RFC 1939 section 3 (keywords, arguments,
// limits), RFC 2449 section 4 (255-octet lines), RFC 5034 section 4 (AUTH).
#include "core/pop3/pop3_command.h"

#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/encoding.h"
#include "core/util/strings.h"

namespace pullmail::pop3 {
namespace {

struct VerbSpec {
  Verb verb;
  std::string_view name;
  size_t min_args;
  size_t max_args;
};

// RFC 1939 and its extensions; arity per the RFC that defines each command.
constexpr std::array<VerbSpec, 15> kVerbs = {{
    {Verb::kUser, "USER", 1, 1},
    {Verb::kPass, "PASS", 1, 1},
    {Verb::kApop, "APOP", 2, 2},
    {Verb::kAuth, "AUTH", 0, 2},
    {Verb::kStls, "STLS", 0, 0},
    {Verb::kCapa, "CAPA", 0, 0},
    {Verb::kStat, "STAT", 0, 0},
    {Verb::kList, "LIST", 0, 1},
    {Verb::kUidl, "UIDL", 0, 1},
    {Verb::kRetr, "RETR", 1, 1},
    {Verb::kTop, "TOP", 2, 2},
    {Verb::kDele, "DELE", 1, 1},
    {Verb::kNoop, "NOOP", 0, 0},
    {Verb::kRset, "RSET", 0, 0},
    {Verb::kQuit, "QUIT", 0, 0},
}};

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

absl::StatusOr<uint32_t> ParseDecimal(std::string_view arg, uint32_t min, std::string_view what) {
  if (!AllDigits(arg) || arg.size() > 10) {
    return absl::InvalidArgumentError(absl::StrCat("invalid ", AV(what), " '", AV(arg), "'"));
  }
  uint64_t v = 0;
  for (char c : arg) v = v * 10 + static_cast<uint64_t>(c - '0');
  if (v < min || v > 0x7fffffffu) {
    return absl::InvalidArgumentError(absl::StrCat("invalid ", AV(what), " '", AV(arg), "'"));
  }
  return static_cast<uint32_t>(v);
}

}  // namespace

std::string_view VerbName(Verb verb) {
  for (const VerbSpec& v : kVerbs) {
    if (v.verb == verb) return v.name;
  }
  return "?";
}

absl::StatusOr<Command> ParseCommand(std::string_view line, const Limits& limits) {
  // The keyword first, so that AUTH may use its longer limit.
  size_t sp = line.find(' ');
  std::string_view keyword = line.substr(0, sp);
  std::string_view rest = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  const VerbSpec* spec = nullptr;
  if (keyword.size() >= 3 && keyword.size() <= 4) {
    for (const VerbSpec& v : kVerbs) {
      if (absl::EqualsIgnoreCase(AV(keyword), AV(v.name))) spec = &v;
    }
  }
  const size_t max_line =
      spec != nullptr && spec->verb == Verb::kAuth ? limits.max_auth_line : limits.max_command_line;
  if (line.size() > max_line) {
    return absl::ResourceExhaustedError(
        absl::StrCat("command line too long (at most ", max_line + 2, " octets with CRLF)"));
  }
  if (spec == nullptr) {
    // Keep the echo short and printable: the keyword may be anything.
    std::string shown;
    for (char c : keyword.substr(0, 16)) shown += (c > 0x20 && c < 0x7f) ? c : '?';
    return absl::NotFoundError(absl::StrCat("unknown command '", shown, "'"));
  }
  Command cmd{spec->verb, {}};
  if (sp != std::string_view::npos) {
    if (spec->verb == Verb::kPass) {
      // RFC 1939 7: the server may treat the rest of the line as the
      // password, spaces included. Its length is bounded by the line limit.
      cmd.args.emplace_back(rest);
    } else {
      // RFC 1939 3: arguments are separated by a single space.
      size_t start = 0;
      while (true) {
        size_t next = rest.find(' ', start);
        std::string_view arg = rest.substr(start, next == std::string_view::npos ? rest.npos
                                                                                 : next - start);
        if (arg.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(AV(spec->name), ": arguments are separated by one space"));
        }
        // An AUTH initial response is the exception to the 40-octet rule.
        bool auth_response = spec->verb == Verb::kAuth && cmd.args.size() == 1;
        if (!auth_response && arg.size() > limits.max_argument) {
          return absl::ResourceExhaustedError(absl::StrCat(
              AV(spec->name), ": argument too long (at most ", limits.max_argument, " octets)"));
        }
        cmd.args.emplace_back(arg);
        if (next == std::string_view::npos) break;
        start = next + 1;
      }
    }
  }
  if (cmd.args.size() < spec->min_args || cmd.args.size() > spec->max_args) {
    std::string want = spec->min_args == spec->max_args
                           ? absl::StrCat(spec->min_args)
                           : absl::StrCat(spec->min_args, " to ", spec->max_args);
    return absl::InvalidArgumentError(absl::StrCat(AV(spec->name), " takes ", want,
                                                   want == "1" ? " argument" : " arguments"));
  }
  return cmd;
}

absl::StatusOr<uint32_t> ParseMessageNumber(std::string_view arg) {
  return ParseDecimal(arg, 1, "message number");
}

absl::StatusOr<uint32_t> ParseLineCount(std::string_view arg) {
  return ParseDecimal(arg, 0, "line count");
}

absl::StatusOr<PlainCredentials> DecodeAuthPlain(std::string_view base64) {
  std::string decoded;
  if (base64 != "=") {  // RFC 5034 4: "=" is an empty initial response
    absl::StatusOr<std::string> d = Base64Decode(base64);
    if (!d.ok()) return absl::InvalidArgumentError("AUTH PLAIN: invalid base64");
    decoded = std::move(*d);
  }
  // RFC 4616 2: message = [authzid] NUL authcid NUL passwd
  size_t a = decoded.find('\0');
  size_t b = a == std::string::npos ? a : decoded.find('\0', a + 1);
  if (a == std::string::npos || b == std::string::npos ||
      decoded.find('\0', b + 1) != std::string::npos) {
    return absl::InvalidArgumentError("AUTH PLAIN: expected authzid NUL authcid NUL password");
  }
  PlainCredentials c{decoded.substr(0, a), decoded.substr(a + 1, b - a - 1),
                     decoded.substr(b + 1)};
  if (c.user.empty() || c.password.empty()) {
    return absl::InvalidArgumentError("AUTH PLAIN: empty user name or password");
  }
  if (!c.authzid.empty() && c.authzid != c.user) {
    return absl::InvalidArgumentError("AUTH PLAIN: cannot act as another user");
  }
  return c;
}

}  // namespace pullmail::pop3
