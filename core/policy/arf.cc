// RFC 5965 feedback reports, written by hand rather than through a MIME
// library so that the output is deterministic, needs no library-wide
// initialisation, and is pure string work (core does no I/O). GMime parses
// the result in the unit test.
#include "core/policy/arf.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "core/mail/header_summary.h"
#include "core/util/logging.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

constexpr size_t kFoldAt = 78;          // RFC 5322 2.1.1: SHOULD be <= 78
constexpr size_t kLongestWord = 900;    // longer words are encoded so lines stay < 998
constexpr size_t kMaxValue = 998;       // a summary string's limit (core/util/limits.h)

bool IsPrintableAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

// Cuts `s` to at most `n` bytes without splitting a UTF-8 sequence.
std::string_view CutUtf8(std::string_view s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;
  return s.substr(0, n);
}

// Removes what could end a header line or confuse a reader: CR, LF and other
// controls become spaces; the result is trimmed and at most kMaxValue bytes.
std::string Clean(std::string_view s) {
  std::string out;
  out.reserve(std::min(s.size(), kMaxValue));
  for (char c : CutUtf8(s, kMaxValue)) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? ' ' : c);
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

// A value for a machine-readable field: cleaned, and only if printable ASCII.
std::optional<std::string> AsciiField(std::string_view s) {
  std::string v = Clean(s);
  if (v.empty() || !IsPrintableAscii(v)) return std::nullopt;
  return v;
}

std::vector<std::string> Words(std::string_view s) {
  return absl::StrSplit(AV(s), ' ', absl::SkipEmpty());
}

bool NeedsEncoding(std::string_view s) {
  if (!IsPrintableAscii(s)) return true;
  for (const std::string& w : Words(s)) {
    if (w.size() > kLongestWord) return true;
  }
  return false;
}

// RFC 2047 "Q" encoded words for UTF-8 text, each at most kMaxEncodedWord
// characters, never splitting a UTF-8 sequence (section 5, rule 3). Q rather
// than B: a B word ending in "=" padding makes some decoders (GMime 3.2, which
// joins adjacent words before decoding) drop the words after it. Only the
// characters section 5 (3) allows in a phrase are left as they are, so the
// words are valid in Subject and in display names alike.
std::vector<std::string> EncodedWords(std::string_view utf8) {
  constexpr size_t kMaxEncodedWord = 66;  // "Subject: " + word stays within 78
  constexpr std::string_view kPrefix = "=?UTF-8?Q?";
  constexpr size_t kMaxPayload = kMaxEncodedWord - kPrefix.size() - 2;
  std::vector<std::string> words;
  std::string payload;
  auto flush = [&] {
    if (!payload.empty()) words.push_back(absl::StrCat(AV(kPrefix), payload, "?="));
    payload.clear();
  };
  size_t i = 0;
  while (i < utf8.size()) {
    const unsigned char lead = static_cast<unsigned char>(utf8[i]);
    size_t len = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    len = std::min(len, utf8.size() - i);
    for (size_t j = 1; j < len; ++j) {  // a truncated or invalid sequence: one byte at a time
      if ((static_cast<unsigned char>(utf8[i + j]) & 0xc0) != 0x80) len = 1;
    }
    std::string enc;
    for (size_t j = 0; j < len; ++j) {
      const unsigned char c = static_cast<unsigned char>(utf8[i + j]);
      if (c == ' ') {
        enc += '_';
      } else if (std::isalnum(c) && c < 0x80) {
        enc += static_cast<char>(c);
      } else if (c == '!' || c == '*' || c == '+' || c == '-' || c == '/') {
        enc += static_cast<char>(c);
      } else {
        enc += absl::StrFormat("=%02X", c);
      }
    }
    if (payload.size() + enc.size() > kMaxPayload) flush();
    payload += enc;
    i += len;
  }
  flush();
  return words;
}

// "Name: tok tok\r\n tok\r\n": tokens joined by single spaces, folded before a
// token that would take the line past 78 characters.
std::string Fold(std::string_view name, const std::vector<std::string>& tokens) {
  std::string out = absl::StrCat(AV(name), ":");
  size_t line = out.size();
  bool first = true;
  for (const std::string& t : tokens) {
    if (!first && line + 1 + t.size() > kFoldAt) {
      out += "\r\n";
      line = 0;
    }
    out += ' ';
    out += t;
    line += 1 + t.size();
    first = false;
  }
  out += "\r\n";
  return out;
}

// An unstructured field (Subject and the like), or "" if the value is empty.
std::string UnstructuredField(std::string_view name, std::string_view value) {
  std::string v = Clean(value);
  if (v.empty()) return "";
  return Fold(name, NeedsEncoding(v) ? EncodedWords(v) : Words(v));
}

// One mailbox of an address list as tokens: ASCII as is; "Name <addr>" with a
// non-ASCII name gets the name encoded; anything else non-ASCII is encoded
// whole (informative only: the original may not have been valid either).
std::vector<std::string> MailboxTokens(std::string_view entry) {
  std::string e = Clean(entry);
  if (!NeedsEncoding(e)) return Words(e);
  size_t lt = e.rfind('<');
  if (lt != std::string::npos && !e.empty() && e.back() == '>' &&
      !NeedsEncoding(std::string_view(e).substr(lt))) {
    std::string phrase(absl::StripAsciiWhitespace(AV(std::string_view(e).substr(0, lt))));
    if (phrase.size() >= 2 && phrase.front() == '"' && phrase.back() == '"') {
      phrase = phrase.substr(1, phrase.size() - 2);
    }
    std::vector<std::string> tokens = EncodedWords(phrase);
    tokens.push_back(e.substr(lt));
    return tokens;
  }
  return EncodedWords(e);
}

std::string AddressField(std::string_view name, const std::vector<std::string>& entries) {
  std::vector<std::string> tokens;
  for (const std::string& entry : entries) {
    std::vector<std::string> t = MailboxTokens(entry);
    if (t.empty()) continue;
    if (!tokens.empty()) tokens.back() += ',';
    for (std::string& s : t) tokens.push_back(std::move(s));
  }
  if (tokens.empty()) return "";
  return Fold(name, tokens);
}

// "<addr>" for an envelope address field, if it is printable ASCII.
std::optional<std::string> AngleAddr(std::string_view addr) {
  std::optional<std::string> a = AsciiField(addr);
  if (!a.has_value()) return std::nullopt;
  if (a->front() == '<' && a->back() == '>') return a;
  if (a->find_first_of("<> ") != std::string::npos) return std::nullopt;
  return absl::StrCat("<", *a, ">");
}

bool IsIpLiteral(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':';
  });
}

// A registered feedback type is a token: lower-case letters, digits, '-'.
std::string FeedbackType(std::string_view t) {
  std::string v = absl::AsciiStrToLower(AV(Clean(t)));
  if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) ||
               std::isdigit(static_cast<unsigned char>(c)) || c == '-';
      })) {
    return "other";
  }
  return v;
}

std::string HexIfRaw(std::string_view sha256) {
  if (sha256.size() == 32) return absl::BytesToHexString(AV(sha256));
  return Clean(sha256);
}

// Wraps text to lines of at most `width` characters where it can (words
// longer than kLongestWord are cut), for the human-readable part.
std::string Wrap(std::string_view text, size_t width) {
  std::string out;
  for (absl::string_view para : absl::StrSplit(AV(text), '\n')) {
    std::string line;
    for (std::string word : Words(Clean(SV(para)))) {
      while (word.size() > kLongestWord) {
        if (!line.empty()) out += line + "\r\n";
        line.clear();
        out += word.substr(0, kLongestWord) + "\r\n";
        word = word.substr(kLongestWord);
      }
      if (!line.empty() && line.size() + 1 + word.size() > width) {
        out += line + "\r\n";
        line.clear();
      }
      if (!line.empty()) line += ' ';
      line += word;
    }
    out += line + "\r\n";
  }
  return out;
}

std::string Base64Lines(std::string_view data) {
  std::string b64 = absl::Base64Escape(AV(data));
  std::string out;
  for (size_t i = 0; i < b64.size(); i += 76) out += b64.substr(i, 76) + "\r\n";
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[32];
  unsigned int len = 0;
  PM_CHECK(EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) == 1)
      << "EVP_Digest(SHA-256) failed";
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(md), static_cast<size_t>(len)));
}

std::string DomainOf(std::string_view addr) {
  size_t at = addr.rfind('@');
  if (at == std::string_view::npos) return "";
  std::string d(addr.substr(at + 1));
  while (!d.empty() && (d.back() == '>' || d.back() == ' ')) d.pop_back();
  return d;
}

}  // namespace

std::string MakeArfReport(const ArfInfo& info) {
  const std::string feedback_type = FeedbackType(info.feedback_type);
  const std::string reporting_mta = AsciiField(info.reporting_mta).value_or("");
  const std::string body_hash = HexIfRaw(info.body_sha256);

  // --- Part 1: human-readable description. ---------------------------------------
  std::string human = absl::StrCat(
      "This is an email ", feedback_type == "not-spam" ? "not-spam" : "abuse",
      " report (RFC 5965 feedback report, type \"", feedback_type, "\") for a message received",
      reporting_mta.empty() ? "" : absl::StrCat(" by ", reporting_mta),
      " over pullmail, a pull-based mail transport.\n\n");
  auto line = [&human](std::string_view label, std::string_view value) {
    std::string v = Clean(value);
    if (!v.empty()) absl::StrAppend(&human, AV(label), ": ", v, "\n");
  };
  line("Message id", info.message_id);
  line("Envelope sender", info.original_mail_from);
  for (const std::string& d : info.reported_domains) line("Signing domain", d);
  line("Body SHA-256", body_hash);
  if (info.arrival_date.has_value()) line("Arrived", FormatRfc5322Date(*info.arrival_date));
  if (info.incidents > 1) line("Reports", absl::StrCat(info.incidents));
  // The subject stays out of this part (it is in part 3) so that a UTF-8
  // subject does not force this part, read by people, into base64.
  if (!Clean(info.explanation).empty()) absl::StrAppend(&human, "\nWhy: ", Clean(info.explanation), "\n");
  if (!Clean(info.comment).empty()) absl::StrAppend(&human, "\n", info.comment, "\n");
  absl::StrAppend(&human,
                  "\nThe original message's header fields, as its sender's notification "
                  "summarised them, are attached.\n");
  std::string human_part;
  if (IsPrintableAscii(absl::StrReplaceAll(AV(human), {{"\n", ""}}))) {
    human_part = absl::StrCat("Content-Type: text/plain; charset=us-ascii\r\n",
                              "Content-Transfer-Encoding: 7bit\r\n\r\n", Wrap(human, 76));
  } else {
    human_part = absl::StrCat("Content-Type: text/plain; charset=utf-8\r\n",
                              "Content-Transfer-Encoding: base64\r\n\r\n",
                              Base64Lines(Wrap(human, 76)));
  }

  // --- Part 2: message/feedback-report (RFC 5965 section 3). -----------------------
  std::string fields = absl::StrCat("Feedback-Type: ", feedback_type, "\r\n");
  absl::StrAppend(&fields, "User-Agent: ", AsciiField(info.user_agent).value_or("pullmail/0.1"),
                  "\r\n");
  absl::StrAppend(&fields, "Version: 1\r\n");
  if (auto a = AngleAddr(info.original_mail_from)) {
    absl::StrAppend(&fields, "Original-Mail-From: ", *a, "\r\n");
  }
  if (info.arrival_date.has_value()) {
    absl::StrAppend(&fields, "Arrival-Date: ", FormatRfc5322Date(*info.arrival_date), "\r\n");
  }
  if (!reporting_mta.empty() && reporting_mta.find(' ') == std::string::npos) {
    absl::StrAppend(&fields, "Reporting-MTA: dns; ", reporting_mta, "\r\n");
  }
  if (auto ip = AsciiField(info.source_ip); ip.has_value() && IsIpLiteral(*ip)) {
    absl::StrAppend(&fields, "Source-IP: ", *ip, "\r\n");
  }
  if (info.incidents > 1) absl::StrAppend(&fields, "Incidents: ", info.incidents, "\r\n");
  for (const std::string& r : info.original_rcpt_to) {
    if (auto a = AngleAddr(r)) absl::StrAppend(&fields, "Original-Rcpt-To: ", *a, "\r\n");
  }
  for (const std::string& d : info.reported_domains) {
    if (auto v = AsciiField(d); v.has_value() && v->find(' ') == std::string::npos) {
      absl::StrAppend(&fields, "Reported-Domain: ", *v, "\r\n");
    }
  }

  // --- Part 3: text/rfc822-headers from the summary. ---------------------------------
  const v1::HeaderSummary& s = info.summary;
  std::string headers;
  if (!s.from().empty()) headers += AddressField("From", {s.from()});
  headers += AddressField("To", {s.to().begin(), s.to().end()});
  headers += AddressField("Cc", {s.cc().begin(), s.cc().end()});
  headers += UnstructuredField("Subject", s.subject());
  headers += UnstructuredField("Date", s.date());
  headers += UnstructuredField("Message-ID", s.message_id());
  headers += UnstructuredField("In-Reply-To", s.in_reply_to());

  // --- The envelope of the report. ---------------------------------------------------
  const std::string digest = Sha256Hex(absl::StrCat(
      info.message_id, "\n", body_hash, "\n", info.from, "\n", info.to, "\n",
      absl::ToUnixMillis(info.date), "\n", feedback_type, "\n", info.original_mail_from, "\n",
      fields, headers));
  std::string boundary = absl::StrCat("=_pullmail-arf-", digest.substr(0, 24));
  // The boundary must not occur in any part (RFC 2046 5.1.1); ours are hashes,
  // but a sender controls the summary, so check rather than trust.
  while (absl::StrContains(human_part, boundary) || absl::StrContains(fields, boundary) ||
         absl::StrContains(headers, boundary)) {
    boundary += "-x";
  }

  std::string from = Clean(info.from);
  if (from.empty()) {
    from = absl::StrCat("postmaster@", reporting_mta.empty() ? "localhost" : reporting_mta);
  }
  std::string message_id = Clean(info.report_message_id);
  if (message_id.empty()) {
    std::string domain = DomainOf(from);
    if (domain.empty()) domain = reporting_mta.empty() ? "pullmail.invalid" : reporting_mta;
    message_id = absl::StrCat("<arf-", digest.substr(24, 24), "@", domain, ">");
  } else if (message_id.front() != '<') {
    message_id = absl::StrCat("<", message_id, ">");
  }

  std::string subject = absl::StrCat("Feedback report (", feedback_type, ")");
  if (!Clean(s.subject()).empty()) absl::StrAppend(&subject, ": ", Clean(s.subject()));

  std::string out;
  out += AddressField("From", {from});
  if (!Clean(info.to).empty()) out += AddressField("To", {info.to});
  out += UnstructuredField("Subject", subject);
  out += absl::StrCat("Date: ", FormatRfc5322Date(info.date), "\r\n");
  out += UnstructuredField("Message-ID", message_id);
  out += "Auto-Submitted: auto-generated\r\n";  // RFC 3834: no auto-replies to this
  out += "MIME-Version: 1.0\r\n";
  out += absl::StrCat("Content-Type: multipart/report; report-type=feedback-report;\r\n",
                      " boundary=\"", boundary, "\"\r\n");
  out += "\r\n";
  out += "This is a multi-part message in MIME format.\r\n";
  // Each part's content ends with CRLF; the CRLF before the next delimiter
  // belongs to the delimiter (RFC 2046 5.1.1), hence the extra one.
  absl::StrAppend(&out, "\r\n--", boundary, "\r\n", human_part);
  absl::StrAppend(&out, "\r\n--", boundary, "\r\n", "Content-Type: message/feedback-report\r\n\r\n",
                  fields);
  absl::StrAppend(&out, "\r\n--", boundary, "\r\n", "Content-Type: text/rfc822-headers\r\n\r\n",
                  headers);
  absl::StrAppend(&out, "\r\n--", boundary, "--\r\n");
  return out;
}

}  // namespace pullmail
