// IMAP4rev1 response formatting (RFC 3501 4, 7.4.2, 9) and SEARCH evaluation
// (RFC 3501 6.4.4) over a mailbox listing. See the header for contracts.
#include "core/mail/flags.h"
#include "core/imap/imap_format.h"

#include <algorithm>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "core/crypto/encoding.h"
#include "core/mail/header_summary.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

constexpr size_t kMaxQuoted = 1000;

bool Is7BitText(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
}

// (name adl mailbox host) for one display form; NIL parts where empty.
std::string Address(std::string_view display) {
  auto [name, addr] = SplitDisplayForm(display);
  std::string mailbox = addr, host;
  size_t at = addr.rfind('@');
  if (at != std::string::npos) {
    mailbox = addr.substr(0, at);
    host = addr.substr(at + 1);
  }
  return absl::StrCat("(", ImapNString(EncodeWordsIfNeeded(name)), " NIL ", ImapNString(mailbox),
                      " ", ImapNString(host), ")");
}

std::string AddressList(const std::vector<std::string>& displays) {
  std::string out;
  for (const std::string& d : displays) {
    if (d.empty()) continue;
    absl::StrAppend(&out, Address(d));
  }
  return out.empty() ? "NIL" : absl::StrCat("(", out, ")");
}

std::vector<std::string> FromList(const v1::HeaderSummary& s) {
  return s.from().empty() ? std::vector<std::string>{} : SplitJoinedMailboxes(s.from());
}

// A display form as header text: the name encoded (RFC 2047) when 8-bit,
// quoted when it holds RFC 5322 specials.
std::string HeaderMailbox(std::string_view display) {
  auto [name, addr] = SplitDisplayForm(display);
  if (name.empty()) return addr;
  std::string shown = EncodeWordsIfNeeded(name);
  if (shown == name && shown.find_first_of("()<>[]:;@\\,.\"") != std::string::npos) {
    std::string q = "\"";
    for (char c : name) {
      if (c == '"' || c == '\\') q.push_back('\\');
      q.push_back(c);
    }
    shown = q + "\"";
  }
  return absl::StrCat(shown, " <", addr, ">");
}

bool ContainsCi(std::string_view hay, std::string_view needle) {
  return absl::StrContains(absl::AsciiStrToLower(AV(hay)), absl::AsciiStrToLower(AV(needle)));
}

bool HasFlag(const v1::MessageInfo& m, std::string_view flag) {
  return pullmail::HasFlag(m.flags(), flag);
}

// The value of a summary field by upper-case header name; nullopt if the
// summary does not hold that field.
std::optional<std::string> SummaryField(const v1::HeaderSummary& s, std::string_view name) {
  auto join = [](const auto& list) {
    std::string out;
    for (const std::string& d : list) {
      if (!out.empty()) out += ", ";
      out += HeaderMailbox(d);
    }
    return out;
  };
  if (name == "DATE") return s.date();
  if (name == "FROM") return join(FromList(s));
  if (name == "TO") return join(s.to());
  if (name == "CC") return join(s.cc());
  if (name == "SUBJECT") return EncodeWordsIfNeeded(s.subject());
  if (name == "MESSAGE-ID") return s.message_id();
  if (name == "IN-REPLY-TO") return s.in_reply_to();
  return std::nullopt;
}

// Where the header of raw message `m` ends (after its empty line), or m's
// size when it has no body.
size_t HeaderEnd(std::string_view m) {
  if (m.substr(0, 2) == "\r\n") return 2;
  if (m.substr(0, 1) == "\n") return 1;
  size_t crlf = m.find("\r\n\r\n");
  size_t lf = m.find("\n\n");
  size_t end = std::string_view::npos;
  if (crlf != std::string_view::npos) end = crlf + 4;
  if (lf != std::string_view::npos && (end == std::string_view::npos || lf + 2 < end)) end = lf + 2;
  return end == std::string_view::npos ? m.size() : end;
}

// RFC 3501 6.4.4 HEADER / BCC against the raw header: whether a field named
// `upper_name` exists whose unfolded value contains `text` (an empty text:
// whether the field exists).
bool HeaderFieldMatches(std::string_view m, std::string_view upper_name, std::string_view text) {
  std::string_view header = m.substr(0, HeaderEnd(m));
  std::vector<std::string> values;
  for (absl::string_view line : absl::StrSplit(AV(header), '\n')) {
    std::string_view l = SV(line);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) continue;
    if ((l[0] == ' ' || l[0] == '\t')) {
      if (!values.empty()) absl::StrAppend(&values.back(), AV(l));
      continue;
    }
    size_t colon = l.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = l.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    if (!absl::EqualsIgnoreCase(AV(name), AV(upper_name))) {
      values.emplace_back();  // a placeholder so folding attaches correctly
      values.back() = std::string(1, '\0');
      continue;
    }
    values.emplace_back(l.substr(colon + 1));
  }
  for (const std::string& v : values) {
    if (!v.empty() && v[0] == '\0') continue;
    if (text.empty() || ContainsCi(v, text)) return true;
  }
  return false;
}

// Display text for matching (decoded, as the summary has it).
std::string SummaryMatchText(const v1::HeaderSummary& s, std::string_view name) {
  auto join = [](const auto& list) {
    std::string out;
    for (const std::string& d : list) absl::StrAppend(&out, d, "\n");
    return out;
  };
  if (name == "FROM") return s.from();
  if (name == "TO") return join(s.to());
  if (name == "CC") return join(s.cc());
  if (name == "SUBJECT") return s.subject();
  if (name == "DATE") return s.date();
  if (name == "MESSAGE-ID") return s.message_id();
  if (name == "IN-REPLY-TO") return s.in_reply_to();
  return "";
}

}  // namespace

std::string ImapString(std::string_view s) {
  if (s.size() <= kMaxQuoted && Is7BitText(s)) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
    return out;
  }
  return absl::StrCat("{", s.size(), "}\r\n", AV(s));
}

std::string ImapNString(std::string_view s) { return s.empty() ? "NIL" : ImapString(s); }

std::string ImapDateTime(absl::Time t) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  absl::CivilSecond c = absl::ToCivilSecond(t, absl::UTCTimeZone());
  return absl::StrFormat("\"%2d-%s-%04d %02d:%02d:%02d +0000\"", c.day(), kMonths[c.month() - 1],
                         c.year(), c.hour(), c.minute(), c.second());
}

std::optional<absl::Time> ParseImapDateTime(std::string_view text) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  size_t i = 0;
  // Reads exactly `n` digits.
  auto digits = [&](size_t n, int* out) {
    if (i + n > text.size()) return false;
    int v = 0;
    for (size_t k = 0; k < n; ++k) {
      char c = text[i + k];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    i += n;
    *out = v;
    return true;
  };
  auto eat = [&](char c) {
    if (i >= text.size() || text[i] != c) return false;
    ++i;
    return true;
  };
  // date-day-fixed = (SP DIGIT) / 2DIGIT; a bare single digit is accepted.
  int day = 0;
  if (eat(' ')) {
    if (!digits(1, &day)) return std::nullopt;
  } else if (i + 1 < text.size() && text[i + 1] == '-') {
    if (!digits(1, &day)) return std::nullopt;
  } else if (!digits(2, &day)) {
    return std::nullopt;
  }
  if (!eat('-') || i + 3 > text.size()) return std::nullopt;
  int month = 0;
  for (int m = 0; m < 12; ++m) {
    if (absl::EqualsIgnoreCase(AV(text.substr(i, 3)), kMonths[m])) month = m + 1;
  }
  if (month == 0) return std::nullopt;
  i += 3;
  int year = 0, hour = 0, minute = 0, second = 0, zh = 0, zm = 0;
  if (!eat('-') || !digits(4, &year) || !eat(' ') || !digits(2, &hour) || !eat(':') ||
      !digits(2, &minute) || !eat(':') || !digits(2, &second) || !eat(' ')) {
    return std::nullopt;
  }
  int sign = 0;
  if (eat('+')) {
    sign = 1;
  } else if (eat('-')) {
    sign = -1;
  } else {
    return std::nullopt;
  }
  if (!digits(2, &zh) || !digits(2, &zm) || i != text.size()) return std::nullopt;
  if (year < 1900 || day < 1 || hour > 23 || minute > 59 || second > 60 || zh > 23 || zm > 59) {
    return std::nullopt;
  }
  if (second == 60) second = 59;
  absl::CivilDay d(year, month, day);
  if (d.day() != day || d.month() != month) return std::nullopt;  // e.g. 31-Feb
  absl::Time local = absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, second),
                                     absl::UTCTimeZone());
  return local - sign * (absl::Hours(zh) + absl::Minutes(zm));
}

std::string EncodeWordsIfNeeded(std::string_view utf8) {
  bool plain = std::all_of(utf8.begin(), utf8.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
  if (plain && utf8.find("=?") == std::string_view::npos) return std::string(utf8);
  // RFC 2047 2: an encoded word is at most 75 characters; 45 bytes of UTF-8
  // give 60 of base64. Split on character boundaries.
  std::string out;
  size_t i = 0;
  while (i < utf8.size()) {
    size_t end = std::min(utf8.size(), i + 45);
    while (end < utf8.size() && end > i &&
           (static_cast<unsigned char>(utf8[end]) & 0xC0) == 0x80) {
      --end;
    }
    if (end == i) end = std::min(utf8.size(), i + 45);
    std::string clean;
    for (char c : utf8.substr(i, end - i)) clean.push_back((c == '\r' || c == '\n') ? ' ' : c);
    if (!out.empty()) out += " ";
    absl::StrAppend(&out, "=?UTF-8?B?", Base64Encode(clean), "?=");
    i = end;
  }
  return out;
}

std::string ImapEnvelope(const v1::HeaderSummary& s) {
  std::string from = AddressList(FromList(s));
  std::vector<std::string> to(s.to().begin(), s.to().end());
  std::vector<std::string> cc(s.cc().begin(), s.cc().end());
  // RFC 3501 7.4.2: sender and reply-to default to from when absent.
  std::vector<std::string> sender_list(s.sender().begin(), s.sender().end());
  std::vector<std::string> reply_list(s.reply_to().begin(), s.reply_to().end());
  std::string sender = sender_list.empty() ? from : AddressList(sender_list);
  std::string reply_to = reply_list.empty() ? from : AddressList(reply_list);
  return absl::StrCat("(", ImapNString(s.date()), " ", ImapNString(EncodeWordsIfNeeded(s.subject())),
                      " ", from, " ", sender, " ", reply_to, " ", AddressList(to), " ", AddressList(cc),
                      " NIL ", ImapNString(s.in_reply_to()), " ", ImapNString(s.message_id()), ")");
}

bool SummaryHasField(std::string_view n) {
  return n == "DATE" || n == "FROM" || n == "TO" || n == "CC" || n == "SUBJECT" ||
         n == "MESSAGE-ID" || n == "IN-REPLY-TO";
}

std::optional<std::string> SummaryHeaderFields(const v1::HeaderSummary& summary,
                                               const std::vector<std::string>& fields) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"DATE", "Date"}, {"FROM", "From"}, {"TO", "To"}, {"CC", "Cc"},
      {"SUBJECT", "Subject"}, {"MESSAGE-ID", "Message-ID"}, {"IN-REPLY-TO", "In-Reply-To"}};
  for (const std::string& f : fields) {
    if (!SummaryHasField(f)) return std::nullopt;
  }
  std::string out;
  // In the summary's fixed order, each field once, as a server that filters
  // a real header would (RFC 3501 6.4.5 leaves the order to the message).
  for (const auto& [upper, name] : kNames) {
    if (std::find(fields.begin(), fields.end(), upper) == fields.end()) continue;
    std::optional<std::string> v = SummaryField(summary, upper);
    if (!v || v->empty()) continue;
    absl::StrAppend(&out, AV(name), ": ", *v, "\r\n");
  }
  out += "\r\n";
  return out;
}

bool SearchNeedsBody(const SearchKey& key) {
  using K = SearchKey::Kind;
  if (key.kind == K::kBody || key.kind == K::kText || key.kind == K::kBcc) return true;
  if (key.kind == K::kHeader && (key.text.empty() || !SummaryHasField(key.field))) return true;
  for (const SearchKey& c : key.children) {
    if (SearchNeedsBody(c)) return true;
  }
  return false;
}

std::optional<absl::CivilDay> ParseRfc5322Day(std::string_view date) {
  // RFC 5322 3.3: [day-of-week ","] day month year time zone. Find the first
  // "day month year" run of tokens.
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  std::vector<std::string> tok =
      absl::StrSplit(AV(date), absl::ByAnyChar(" \t,"), absl::SkipEmpty());
  for (size_t i = 0; i + 2 < tok.size(); ++i) {
    int day = 0, year = 0, month = 0;
    if (!absl::SimpleAtoi(tok[i], &day) || day < 1 || day > 31) continue;
    std::string mon = absl::AsciiStrToLower(tok[i + 1].substr(0, 3));
    for (int m = 0; m < 12; ++m) {
      if (mon == kMonths[m]) month = m + 1;
    }
    if (month == 0 || !absl::SimpleAtoi(tok[i + 2], &year)) continue;
    if (year < 50) year += 2000;       // RFC 5322 4.3 obsolete two-digit years
    else if (year < 1000) year += 1900;
    return absl::CivilDay(year, month, day);
  }
  return std::nullopt;
}

std::optional<absl::Time> ParseRfc5322DateTime(std::string_view date) {
  std::optional<absl::CivilDay> day = ParseRfc5322Day(date);
  if (!day) return std::nullopt;
  std::vector<std::string> tok =
      absl::StrSplit(AV(date), absl::ByAnyChar(" \t,"), absl::SkipEmpty());
  int h = 0, m = 0, sec = 0, zone_min = 0;
  for (size_t i = 0; i < tok.size(); ++i) {
    std::vector<std::string> hms = absl::StrSplit(tok[i], ':');
    if (hms.size() < 2 || hms.size() > 3) continue;
    if (!absl::SimpleAtoi(hms[0], &h) || !absl::SimpleAtoi(hms[1], &m) ||
        (hms.size() == 3 && !absl::SimpleAtoi(hms[2], &sec)) || h > 23 || m > 59 || sec > 60) {
      return std::nullopt;
    }
    if (i + 1 < tok.size()) {
      const std::string& z = tok[i + 1];
      int hhmm = 0;
      if (z.size() == 5 && (z[0] == '+' || z[0] == '-') && absl::SimpleAtoi(z.substr(1), &hhmm)) {
        zone_min = (hhmm / 100 * 60 + hhmm % 100) * (z[0] == '-' ? -1 : 1);
      }
    }
    break;
  }
  absl::CivilSecond local(day->year(), day->month(), day->day(), h, m, sec);
  return absl::FromCivil(local, absl::UTCTimeZone()) - absl::Minutes(zone_min);
}

std::string ImapBaseSubject(std::string_view subject) {
  // (1) whitespace runs -> one space.
  std::string s;
  for (char c : subject) {
    bool ws = c == ' ' || c == '\t' || c == '\r' || c == '\n';
    if (ws) {
      if (!s.empty() && s.back() != ' ') s.push_back(' ');
    } else {
      s.push_back(c);
    }
  }
  std::string u = absl::AsciiStrToUpper(s);
  auto trim = [&] {
    while (!u.empty() && u.front() == ' ') u.erase(0, 1);
    while (!u.empty() && u.back() == ' ') u.pop_back();
  };
  // A leading "[...]" and the spaces after it; how much it took (0: none).
  auto blob = [](std::string_view v) -> size_t {
    if (v.empty() || v[0] != '[') return 0;
    size_t close = v.find_first_of("[]", 1);
    if (close == std::string_view::npos || v[close] != ']') return 0;
    size_t i = close + 1;
    while (i < v.size() && v[i] == ' ') ++i;
    return i;
  };
  while (true) {
    std::string before = u;
    trim();
    // (2) trailing "(FWD)".
    while (absl::EndsWith(u, "(FWD)")) {
      u.resize(u.size() - 5);
      trim();
    }
    // (3) leading subj-refwd ("RE", "FW", "FWD", blobs, ":") and (4) blobs.
    while (true) {
      std::string_view v = u;
      size_t i = 0;
      while (size_t b = blob(v.substr(i))) i += b;
      size_t word = absl::StartsWith(AV(v.substr(i)), "RE")    ? 2
                    : absl::StartsWith(AV(v.substr(i)), "FWD") ? 3
                    : absl::StartsWith(AV(v.substr(i)), "FW")  ? 2
                                                           : 0;
      bool removed = false;
      if (word > 0) {
        size_t j = i + word;
        while (j < v.size() && v[j] == ' ') ++j;
        j += blob(v.substr(j));
        if (j < v.size() && v[j] == ':') {
          u.erase(0, j + 1);
          trim();
          removed = true;
        }
      }
      if (!removed) {
        size_t b = blob(u);
        if (b > 0 && b < u.size()) {
          u.erase(0, b);
          removed = true;
        }
      }
      if (!removed) break;
    }
    // (6) "[FWD: ...]" wraps the whole subject.
    if (absl::StartsWith(u, "[FWD:") && absl::EndsWith(u, "]")) {
      u = u.substr(5, u.size() - 6);
      continue;
    }
    if (u == before) break;
  }
  return u;
}

namespace {

// RFC 5256 3: the addr-mailbox (local part) of the first address, upper-cased.
std::string FirstMailbox(const std::vector<std::string>& displays) {
  for (const std::string& d : displays) {
    if (d.empty()) continue;
    std::string addr = SplitDisplayForm(d).second;
    return absl::AsciiStrToUpper(addr.substr(0, addr.rfind('@')));
  }
  return "";
}

}  // namespace

ImapSortValues SortValuesOf(const v1::MessageInfo& m) {
  ImapSortValues v;
  v.arrival = absl::FromUnixMillis(m.received_unix_ms());
  v.date = ParseRfc5322DateTime(m.summary().date()).value_or(v.arrival);
  v.size = m.body_size();
  v.from = FirstMailbox(FromList(m.summary()));
  v.to = FirstMailbox({m.summary().to().begin(), m.summary().to().end()});
  v.cc = FirstMailbox({m.summary().cc().begin(), m.summary().cc().end()});
  v.subject = ImapBaseSubject(m.summary().subject());
  return v;
}

int CompareForSort(const std::vector<SortCriterion>& keys, const ImapSortValues& a,
                   const ImapSortValues& b) {
  using K = SortCriterion::Key;
  for (const SortCriterion& k : keys) {
    int c = 0;
    auto cmp = [](const auto& x, const auto& y) { return x < y ? -1 : y < x ? 1 : 0; };
    switch (k.key) {
      case K::kArrival: c = cmp(a.arrival, b.arrival); break;
      case K::kDate: c = cmp(a.date, b.date); break;
      case K::kSize: c = cmp(a.size, b.size); break;
      case K::kFrom: c = cmp(a.from, b.from); break;
      case K::kTo: c = cmp(a.to, b.to); break;
      case K::kCc: c = cmp(a.cc, b.cc); break;
      case K::kSubject: c = cmp(a.subject, b.subject); break;
    }
    if (c != 0) return k.reverse ? -c : c;
  }
  return 0;
}

bool SearchMatches(const SearchKey& key, const ImapSearchItem& item, uint32_t max_seq,
                   uint32_t max_uid) {
  using K = SearchKey::Kind;
  const v1::MessageInfo& m = *item.info;
  const v1::HeaderSummary& s = m.summary();
  auto internal_day = [&] {
    return absl::ToCivilDay(absl::FromUnixMillis(m.received_unix_ms()), absl::UTCTimeZone());
  };
  switch (key.kind) {
    case K::kAll: return true;
    case K::kAnd:
      for (const SearchKey& c : key.children) {
        if (!SearchMatches(c, item, max_seq, max_uid)) return false;
      }
      return true;
    case K::kOr:
      return SearchMatches(key.children[0], item, max_seq, max_uid) ||
             SearchMatches(key.children[1], item, max_seq, max_uid);
    case K::kNot: return !SearchMatches(key.children[0], item, max_seq, max_uid);
    case K::kAnswered: return HasFlag(m, "\\Answered");
    case K::kDeleted: return HasFlag(m, "\\Deleted");
    case K::kDraft: return HasFlag(m, "\\Draft");
    case K::kFlagged: return HasFlag(m, "\\Flagged");
    case K::kSeen: return HasFlag(m, "\\Seen");
    case K::kUnanswered: return !HasFlag(m, "\\Answered");
    case K::kUndeleted: return !HasFlag(m, "\\Deleted");
    case K::kUndraft: return !HasFlag(m, "\\Draft");
    case K::kUnflagged: return !HasFlag(m, "\\Flagged");
    case K::kUnseen: return !HasFlag(m, "\\Seen");
    case K::kRecent: return item.recent;
    case K::kNew: return item.recent && !HasFlag(m, "\\Seen");
    case K::kOld: return !item.recent;
    case K::kKeyword: return HasFlag(m, key.text);
    case K::kUnkeyword: return !HasFlag(m, key.text);
    case K::kFrom: return ContainsCi(SummaryMatchText(s, "FROM"), key.text);
    case K::kTo: return ContainsCi(SummaryMatchText(s, "TO"), key.text);
    case K::kCc: return ContainsCi(SummaryMatchText(s, "CC"), key.text);
    case K::kSubject: return ContainsCi(s.subject(), key.text);
    case K::kBcc:
      if (!item.body) return false;
      return HeaderFieldMatches(*item.body, "BCC", key.text);
    case K::kHeader: {
      if (item.body) return HeaderFieldMatches(*item.body, key.field, key.text);
      if (!SummaryHasField(key.field)) return false;
      std::string v = SummaryMatchText(s, key.field);
      // RFC 3501 6.4.4: an empty string matches every message with the field.
      return key.text.empty() ? !v.empty() : ContainsCi(v, key.text);
    }
    case K::kBody:
      if (!item.body) return false;
      return ContainsCi(item.body->substr(HeaderEnd(*item.body)), key.text);
    case K::kText:
      if (!item.body) return false;
      return ContainsCi(*item.body, key.text);
    case K::kBefore: return internal_day() < key.date;
    case K::kOn: return internal_day() == key.date;
    case K::kSince: return internal_day() >= key.date;
    case K::kSentBefore:
    case K::kSentOn:
    case K::kSentSince: {
      std::optional<absl::CivilDay> d = ParseRfc5322Day(s.date());
      if (!d) return false;
      if (key.kind == K::kSentBefore) return *d < key.date;
      if (key.kind == K::kSentOn) return *d == key.date;
      return *d >= key.date;
    }
    case K::kLarger: return m.body_size() > key.number;
    case K::kSmaller: return m.body_size() < key.number;
    case K::kUid: return key.set.Contains(item.uid, max_uid);
    case K::kModseq: return m.modseq() >= key.number;
    case K::kSequence: return key.set.Contains(item.seq, max_seq);
  }
  return false;
}

bool ImapListMatch(std::string_view pattern, std::string_view name) {
  // matched[j]: the pattern read so far matches name[0, j).
  std::vector<char> matched(name.size() + 1, 0), next(name.size() + 1, 0);
  matched[0] = 1;
  for (char p : pattern) {
    if (p == '*') {
      next[0] = matched[0];
      for (size_t j = 1; j <= name.size(); ++j) next[j] = matched[j] || next[j - 1];
    } else if (p == '%') {
      next[0] = matched[0];
      for (size_t j = 1; j <= name.size(); ++j) {
        next[j] = matched[j] || (next[j - 1] && name[j - 1] != '/');
      }
    } else {
      next[0] = 0;
      for (size_t j = 1; j <= name.size(); ++j) next[j] = matched[j - 1] && name[j - 1] == p;
    }
    matched.swap(next);
  }
  return matched[name.size()] != 0;
}

}  // namespace pullmail
