// The SMTP command parser: RFC 5321 4.1.1 (commands), 4.1.2 (Path, Mailbox,
// esmtp-param syntax), 4.5.3.1 (size limits); RFC 1870 3 (SIZE), RFC 6152
// (BODY), RFC 4954 4-5 (AUTH command, AUTH= parameter).
#include "core/smtp/smtp_command.h"

#include <cctype>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }

// RFC 5322 3.2.3 atext.
bool IsAtext(char c) {
  if (IsAlnum(c)) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// RFC 5321 4.1.2 Domain: sub-domain *("." sub-domain), sub-domain = Let-dig
// [Ldh-str] (letters, digits, hyphens; not starting or ending with '-').
bool IsDomain(std::string_view d) {
  if (d.empty() || d.size() > kSmtpMaxDomain) return false;
  size_t start = 0;
  while (true) {
    size_t dot = d.find('.', start);
    std::string_view label = d.substr(start, dot == std::string_view::npos ? d.npos : dot - start);
    if (label.empty() || !IsAlnum(label.front()) || !IsAlnum(label.back())) return false;
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// RFC 5321 4.1.3 address-literal, checked as "[" 1*dcontent "]" (dcontent:
// %d33-90 / %d94-126); the tag and address forms are not interpreted.
bool IsAddressLiteral(std::string_view d) {
  if (d.size() < 3 || d.size() > kSmtpMaxDomain || d.front() != '[' || d.back() != ']') {
    return false;
  }
  for (char c : d.substr(1, d.size() - 2)) {
    if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']') return false;
  }
  return true;
}

// RFC 5321 4.1.2 Local-part = Dot-string / Quoted-string. `s` starts at the
// local part; returns its length in `s`, or npos if it is malformed.
size_t ScanLocalPart(std::string_view s) {
  if (s.empty()) return std::string_view::npos;
  if (s.front() == '"') {
    for (size_t i = 1; i < s.size(); ++i) {
      char c = s[i];
      if (c == '"') return i + 1;
      if (c == '\\') {  // quoted-pairSMTP = %d92 %d32-126
        if (i + 1 >= s.size() || s[i + 1] < 32 || s[i + 1] > 126) return std::string_view::npos;
        ++i;
      } else if (c < 32 || c > 126) {  // qtextSMTP = %d32-33 / %d35-91 / %d93-126
        return std::string_view::npos;
      }
    }
    return std::string_view::npos;  // unterminated
  }
  size_t i = 0;
  while (true) {  // Dot-string = Atom *("." Atom)
    size_t atom = i;
    while (i < s.size() && IsAtext(s[i])) ++i;
    if (i == atom) return std::string_view::npos;
    if (i < s.size() && s[i] == '.') {
      ++i;
      continue;
    }
    return i;
  }
}

// RFC 5321 4.1.2 Mailbox = Local-part "@" ( Domain / address-literal ).
bool IsMailbox(std::string_view m) {
  size_t local = ScanLocalPart(m);
  if (local == std::string_view::npos || local > kSmtpMaxLocalPart) return false;
  if (local >= m.size() || m[local] != '@') return false;
  std::string_view domain = m.substr(local + 1);
  return IsDomain(domain) || IsAddressLiteral(domain);
}

// Splits the argument of MAIL/RCPT after "FROM:"/"TO:" into the path (with
// brackets) and the parameter text. A '>' inside a quoted local part does
// not end the path.
bool SplitPath(std::string_view arg, std::string_view* path, std::string_view* rest) {
  if (arg.empty() || arg.front() != '<') return false;
  bool quoted = false;
  for (size_t i = 1; i < arg.size(); ++i) {
    char c = arg[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '>') {
      *path = arg.substr(0, i + 1);
      *rest = arg.substr(i + 1);
      return true;
    }
  }
  return false;
}

struct Param {
  std::string keyword;  // upper-cased
  std::string value;
  bool has_value = false;
};

// RFC 5321 4.1.2 Mail-parameters = esmtp-param *(SP esmtp-param);
// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
// esmtp-value = 1*(%d33-60 / %d62-126).
std::optional<SmtpReply> ParseParams(std::string_view text, std::vector<Param>* out) {
  std::set<std::string> seen;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view tok = text.substr(i, end - i);
    i = end;
    Param p;
    size_t eq = tok.find('=');
    std::string_view kw = tok.substr(0, eq);
    if (kw.empty() || !IsAlnum(kw.front())) {
      return Reply(501, "5.5.4", "Syntax error in parameters");
    }
    for (char c : kw) {
      if (!IsAlnum(c) && c != '-') return Reply(501, "5.5.4", "Syntax error in parameters");
    }
    p.keyword = absl::AsciiStrToUpper(AV(kw));
    if (eq != std::string_view::npos) {
      std::string_view v = tok.substr(eq + 1);
      if (v.empty()) return Reply(501, "5.5.4", "Syntax error in parameters");
      for (char c : v) {
        if (c < 33 || c > 126 || c == '=') {
          return Reply(501, "5.5.4", "Syntax error in parameters");
        }
      }
      p.value = std::string(v);
      p.has_value = true;
    }
    if (!seen.insert(p.keyword).second) {
      return Reply(501, "5.5.4", absl::StrCat("Duplicate parameter ", p.keyword));
    }
    out->push_back(std::move(p));
  }
  return std::nullopt;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// MAIL FROM / RCPT TO (RFC 5321 4.1.1.2, 4.1.1.3).
std::variant<SmtpCommand, SmtpReply> ParseMailRcpt(SmtpVerb verb, std::string_view arg) {
  const bool mail = verb == SmtpVerb::kMail;
  std::string_view prefix = mail ? "FROM:" : "TO:";
  const char* syntax =
      mail ? "Syntax: MAIL FROM:<address> [parameters]" : "Syntax: RCPT TO:<address> [parameters]";
  if (!absl::StartsWithIgnoreCase(AV(arg), AV(prefix))) return Reply(501, "5.5.4", syntax);
  // RFC 5321 has no space after the colon; many clients send one
  // ("MAIL FROM: <a@b>"), and 4.1.1 asks servers to be liberal here.
  std::string_view rest_all = TrimLeft(arg.substr(prefix.size()));
  std::string_view path, params;
  if (!SplitPath(rest_all, &path, &params)) {
    return Reply(501, mail ? "5.1.7" : "5.1.3",
                 mail ? "Bad sender address syntax" : "Bad recipient address syntax");
  }
  if (!params.empty() && params.front() != ' ') return Reply(501, "5.5.4", syntax);
  SmtpCommand cmd;
  cmd.verb = verb;
  if (!mail && absl::EqualsIgnoreCase(AV(path), "<postmaster>")) {
    cmd.postmaster = true;
  } else {
    std::optional<std::string> mailbox = ParseSmtpPath(path, /*allow_null=*/mail);
    if (!mailbox) {
      return Reply(501, mail ? "5.1.7" : "5.1.3",
                   mail ? "Bad sender address syntax" : "Bad recipient address syntax");
    }
    cmd.address = *mailbox;
    cmd.null_path = mailbox->empty();
  }
  std::vector<Param> ps;
  if (auto err = ParseParams(params, &ps)) return *err;
  for (const Param& p : ps) {
    if (mail && p.keyword == "SIZE") {  // RFC 1870 3: size-value = 1*20DIGIT
      uint64_t n = 0;
      if (!p.has_value || p.value.size() > 20 || !absl::SimpleAtoi(AV(p.value), &n) ||
          !absl::ascii_isdigit(static_cast<unsigned char>(p.value.front()))) {
        return Reply(501, "5.5.4", "Bad SIZE parameter");
      }
      cmd.size = n;
    } else if (mail && p.keyword == "BODY") {  // RFC 6152 2
      if (p.has_value && absl::EqualsIgnoreCase(AV(p.value), "7BIT")) {
        cmd.body = SmtpBody::k7Bit;
      } else if (p.has_value && absl::EqualsIgnoreCase(AV(p.value), "8BITMIME")) {
        cmd.body = SmtpBody::k8BitMime;
      } else {
        return Reply(501, "5.5.4", "Bad BODY parameter: 7BIT or 8BITMIME");
      }
    } else if (mail && p.keyword == "AUTH") {
      // RFC 4954 5: the server may ignore AUTH= from a client it does not
      // trust to vouch for other identities; here every message's author
      // is the session's authenticated user.
      if (!p.has_value) return Reply(501, "5.5.4", "Bad AUTH parameter");
    } else {
      return Reply(555, "5.5.4", absl::StrCat("Unsupported parameter ", p.keyword));
    }
  }
  return cmd;
}

bool IsSaslMechName(std::string_view m) {  // RFC 4422 3.1: 1*20 of [A-Z0-9-_]
  if (m.empty() || m.size() > 20) return false;
  for (char c : m) {
    if (!IsAlnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> ParseSmtpPath(std::string_view path, bool allow_null) {
  if (path.size() < 2 || path.size() > kSmtpMaxPath || path.front() != '<' || path.back() != '>') {
    return std::nullopt;
  }
  std::string_view inner = path.substr(1, path.size() - 2);
  if (inner.empty()) {
    if (allow_null) return std::string();
    return std::nullopt;
  }
  if (inner.front() == '@') {
    // A-d-l = At-domain *( "," At-domain ) ":" ; checked, then dropped.
    size_t colon = inner.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view adl = inner.substr(0, colon);
    size_t start = 0;
    while (start < adl.size()) {
      size_t comma = adl.find(',', start);
      if (comma == std::string_view::npos) comma = adl.size();
      std::string_view at = adl.substr(start, comma - start);
      if (at.size() < 2 || at.front() != '@' || !IsDomain(at.substr(1))) return std::nullopt;
      start = comma + 1;
      if (comma + 1 == adl.size()) return std::nullopt;  // trailing comma
    }
    inner = inner.substr(colon + 1);
  }
  if (!IsMailbox(inner)) return std::nullopt;
  return std::string(inner);
}

std::variant<SmtpCommand, SmtpReply> ParseSmtpCommand(std::string_view raw) {
  for (char c : raw) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      return Reply(500, "5.5.2", "Command line contains control characters");
    }
  }
  std::string_view line = Trim(raw);
  size_t sp = line.find(' ');
  std::string_view verb_text = line.substr(0, sp);
  std::string_view arg = sp == std::string_view::npos ? "" : TrimLeft(line.substr(sp + 1));
  std::string verb = absl::AsciiStrToUpper(AV(verb_text.substr(0, 16)));

  size_t limit = kSmtpMaxCommandLine;
  if (verb == "MAIL" || verb == "RCPT") limit += kSmtpMaxParamsExtra;
  if (verb == "AUTH") limit = kSmtpMaxAuthLine;
  if (raw.size() + 2 > limit) {
    return verb == "AUTH" ? Reply(500, "5.5.6", "Authentication exchange line is too long")
                          : Reply(500, "5.5.2", "Line too long");
  }

  struct NoArg {
    const char* name;
    SmtpVerb verb;
  };
  static constexpr NoArg kNoArg[] = {{"DATA", SmtpVerb::kData},
                                     {"RSET", SmtpVerb::kRset},
                                     {"QUIT", SmtpVerb::kQuit},
                                     {"STARTTLS", SmtpVerb::kStarttls}};
  for (const NoArg& n : kNoArg) {
    if (verb == n.name) {
      if (!arg.empty()) return Reply(501, "5.5.4", absl::StrCat("Syntax: ", n.name));
      SmtpCommand cmd;
      cmd.verb = n.verb;
      return cmd;
    }
  }
  SmtpCommand cmd;
  if (verb == "EHLO" || verb == "HELO") {
    // RFC 5321 4.1.1.1: EHLO SP ( Domain / address-literal ). Real clients
    // send names that are not quite domains (underscores, bare words); the
    // name is only logged and put in Received:, so any one visible token
    // is taken, as Postfix does by default.
    std::string_view name = arg.substr(0, arg.find(' '));
    if (name.empty() || name.size() > kSmtpMaxDomain) {
      return Reply(501, "5.5.4", absl::StrCat("Syntax: ", verb, " hostname"));
    }
    cmd.verb = verb == "EHLO" ? SmtpVerb::kEhlo : SmtpVerb::kHelo;
    cmd.argument = std::string(name);
    return cmd;
  }
  if (verb == "MAIL") return ParseMailRcpt(SmtpVerb::kMail, arg);
  if (verb == "RCPT") return ParseMailRcpt(SmtpVerb::kRcpt, arg);
  if (verb == "NOOP" || verb == "HELP") {  // 4.1.1.8, 4.1.1.9: an optional String
    cmd.verb = verb == "NOOP" ? SmtpVerb::kNoop : SmtpVerb::kHelp;
    cmd.argument = std::string(arg);
    return cmd;
  }
  if (verb == "VRFY") {  // 4.1.1.6
    if (arg.empty()) return Reply(501, "5.5.4", "Syntax: VRFY address");
    cmd.verb = SmtpVerb::kVrfy;
    cmd.argument = std::string(arg);
    return cmd;
  }
  if (verb == "AUTH") {  // RFC 4954 4: AUTH mechanism [initial-response]
    size_t sp2 = arg.find(' ');
    std::string_view mech = arg.substr(0, sp2);
    std::string_view initial = sp2 == std::string_view::npos ? "" : TrimLeft(arg.substr(sp2 + 1));
    if (!IsSaslMechName(mech) || initial.find(' ') != std::string_view::npos) {
      return Reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");
    }
    cmd.verb = SmtpVerb::kAuth;
    cmd.argument = absl::AsciiStrToUpper(AV(mech));
    if (sp2 != std::string_view::npos && !initial.empty()) {
      cmd.initial_response = std::string(initial);
    }
    return cmd;
  }
  static constexpr const char* kNotImplemented[] = {"EXPN", "TURN", "ETRN", "ATRN",
                                                    "BDAT", "SEND", "SOML", "SAML"};
  for (const char* n : kNotImplemented) {
    if (verb == n) return Reply(502, "5.5.1", absl::StrCat(n, " not implemented"));
  }
  return Reply(500, "5.5.2", "Command unrecognized");
}

}  // namespace pullmail
