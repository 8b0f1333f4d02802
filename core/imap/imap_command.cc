// IMAP4rev1 command parsing, RFC 3501 section 9 (formal syntax), with
// RFC 7888 (LITERAL+), RFC 2177 (IDLE), RFC 3691 (UNSELECT), RFC 4315 (UID
// EXPUNGE), RFC 6851 (MOVE) and RFC 4959 (SASL-IR) commands. See the header
// for the reader's contract.
#include "core/imap/imap_command.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail {

bool SequenceSet::Contains(uint32_t n, uint32_t star) const {
  for (const Range& r : ranges) {
    uint32_t lo = r.lo == 0 ? star : r.lo;
    uint32_t hi = r.hi == 0 ? star : r.hi;
    if (lo > hi) std::swap(lo, hi);
    if (n >= lo && n <= hi) return true;
  }
  return false;
}

std::vector<std::pair<uint32_t, uint32_t>> SequenceSet::Intervals(uint32_t star) const {
  std::vector<std::pair<uint32_t, uint32_t>> in;
  in.reserve(ranges.size());
  for (const Range& r : ranges) {
    uint32_t lo = r.lo == 0 ? star : r.lo;
    uint32_t hi = r.hi == 0 ? star : r.hi;
    if (lo > hi) std::swap(lo, hi);
    in.emplace_back(lo, hi);
  }
  std::sort(in.begin(), in.end());
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (const auto& [lo, hi] : in) {
    // Overlapping or adjacent (lo == previous hi + 1) ranges join; 64-bit
    // so that a previous hi of 4294967295 does not wrap.
    if (!out.empty() && uint64_t{lo} <= uint64_t{out.back().second} + 1) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.emplace_back(lo, hi);
    }
  }
  return out;
}

namespace {

// RFC 3501 9: atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards /
// quoted-specials / resp-specials.
bool IsAtomChar(unsigned char c) {
  if (c <= 0x1f || c >= 0x7f) return false;
  switch (c) {
    case '(': case ')': case '{': case ' ': case '%': case '*': case '"': case '\\': case ']':
      return false;
    default:
      return true;
  }
}
bool IsAstringChar(unsigned char c) { return IsAtomChar(c) || c == ']'; }
bool IsListChar(unsigned char c) { return IsAtomChar(c) || c == '%' || c == '*' || c == ']'; }
bool IsTagChar(unsigned char c) { return IsAstringChar(c) && c != '+'; }

std::string Upper(std::string_view s) { return absl::AsciiStrToUpper(AV(s)); }

// A recursive-descent parser over one complete command. Each method returns
// false after setting err_ (the BAD text).
class Parser {
 public:
  Parser(std::string_view s, const ImapLimits& limits) : s_(s), limits_(limits) {}

  ImapFeedResult Run() {
    ImapCommand cmd;
    if (!Tag(&cmd.tag)) return ImapParseError{"*", err_};
    if (!Sp()) return ImapParseError{cmd.tag, "expected a space and a command after the tag"};
    std::string name;
    if (!Atom(&name)) return ImapParseError{cmd.tag, "expected a command name"};
    cmd.name = Upper(name);
    if (cmd.name == "UID") {
      cmd.uid = true;
      if (!Sp() || !Atom(&name)) return ImapParseError{cmd.tag, "expected a command after UID"};
      cmd.name = Upper(name);
      if (cmd.name != "FETCH" && cmd.name != "STORE" && cmd.name != "COPY" &&
          cmd.name != "MOVE" && cmd.name != "SEARCH" && cmd.name != "EXPUNGE" &&
          cmd.name != "SORT") {
        return ImapParseError{cmd.tag, absl::StrCat("UID ", cmd.name, " is not a command")};
      }
    }
    if (!Args(&cmd)) return ImapParseError{cmd.tag, err_};
    if (p_ != s_.size()) {
      return ImapParseError{cmd.tag, absl::StrCat("unexpected text after ", cmd.name, " arguments")};
    }
    return cmd;
  }

 private:
  bool Fail(std::string text) {
    if (err_.empty()) err_ = std::move(text);
    return false;
  }
  bool AtEnd() const { return p_ >= s_.size(); }
  int Peek() const { return AtEnd() ? -1 : static_cast<unsigned char>(s_[p_]); }
  bool Eat(char c) {
    if (Peek() != static_cast<unsigned char>(c)) return false;
    ++p_;
    return true;
  }
  bool Sp() { return Eat(' '); }
  bool NeedSp(std::string_view what) {
    if (Sp()) return true;
    return Fail(absl::StrCat("expected a space before ", AV(what)));
  }
  bool CountArg() {
    if (++args_ > limits_.max_arguments) return Fail("too many arguments");
    return true;
  }

  bool Tag(std::string* out) {
    size_t start = p_;
    while (!AtEnd() && IsTagChar(s_[p_])) ++p_;
    if (p_ == start || (!AtEnd() && s_[p_] != ' ')) return Fail("missing or malformed tag");
    *out = std::string(s_.substr(start, p_ - start));
    return true;
  }

  bool Atom(std::string* out) {
    size_t start = p_;
    while (!AtEnd() && IsAtomChar(s_[p_])) ++p_;
    if (p_ == start) return Fail("expected an atom");
    *out = std::string(s_.substr(start, p_ - start));
    return true;
  }

  // An upper-cased word of letters, digits and dots (fetch and section
  // names: "BODY.PEEK", "HEADER.FIELDS.NOT").
  std::string Word() {
    size_t start = p_;
    while (!AtEnd() && (std::isalnum(static_cast<unsigned char>(s_[p_])) || s_[p_] == '.')) ++p_;
    return Upper(s_.substr(start, p_ - start));
  }

  bool Number(uint64_t* out, uint64_t max = 0xffffffffULL, size_t max_digits = 10) {
    size_t start = p_;
    while (!AtEnd() && std::isdigit(static_cast<unsigned char>(s_[p_]))) ++p_;
    if (p_ == start) return Fail("expected a number");
    if (p_ - start > max_digits) return Fail("number out of range");
    uint64_t v = 0;
    std::from_chars(s_.data() + start, s_.data() + p_, v);
    if (v > max) return Fail("number out of range");
    *out = v;
    return true;
  }
  // RFC 7162 7 mod-sequence-valzer: 0 .. 2^63-1.
  bool ModSeq(uint64_t* out) {
    if (!std::isdigit(Peek())) return Fail("expected a mod-sequence");
    return Number(out, 0x7fffffffffffffffULL, 19);
  }
  bool NzNumber(uint32_t* out) {
    uint64_t v;
    if (!Number(&v)) return false;
    if (v == 0) return Fail("zero is not a valid number here");
    *out = static_cast<uint32_t>(v);
    return true;
  }

  // RFC 3501 9: quoted = DQUOTE *QUOTED-CHAR DQUOTE. 8-bit bytes are
  // accepted (UTF-8 from clients that send it); CR, LF and NUL are not.
  bool Quoted(std::string* out) {
    if (!Eat('"')) return Fail("expected a quoted string");
    out->clear();
    while (true) {
      if (AtEnd()) return Fail("unterminated quoted string");
      char c = s_[p_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (AtEnd() || (s_[p_] != '"' && s_[p_] != '\\')) {
          return Fail("bad escape in quoted string");
        }
        c = s_[p_++];
      } else if (c == '\r' || c == '\n' || c == '\0') {
        return Fail("control character in quoted string");
      }
      out->push_back(c);
    }
  }

  // literal = "{" number ["+"] "}" CRLF *CHAR8, here inline in the text.
  // literal, or with `allow8` also RFC 3516 literal8 ("~{n}").
  bool Literal(std::string* out, bool allow8 = false) {
    if (allow8) Eat('~');
    if (!Eat('{')) return Fail("expected a literal");
    uint64_t n;
    if (!Number(&n, limits_.max_literal_bytes)) return Fail("bad literal size");
    Eat('+');
    if (!Eat('}') || !Eat('\r') || !Eat('\n')) return Fail("malformed literal");
    if (s_.size() - p_ < n) return Fail("literal shorter than announced");
    *out = std::string(s_.substr(p_, n));
    p_ += n;
    return true;
  }

  bool String(std::string* out) {
    if (Peek() == '"') return Quoted(out);
    if (Peek() == '{') return Literal(out);
    return Fail("expected a string");
  }

  bool Astring(std::string* out) {
    if (Peek() == '"' || Peek() == '{') return String(out);
    size_t start = p_;
    while (!AtEnd() && IsAstringChar(s_[p_])) ++p_;
    if (p_ == start) return Fail("expected a string or atom");
    *out = std::string(s_.substr(start, p_ - start));
    return true;
  }

  // RFC 3501 5.1: INBOX is case-insensitive.
  bool Mailbox(std::string* out) {
    if (!Astring(out)) return Fail("expected a mailbox name");
    if (absl::EqualsIgnoreCase(*out, "INBOX")) *out = "INBOX";
    return CountArg();
  }

  bool ListMailbox(std::string* out) {
    if (Peek() == '"' || Peek() == '{') return String(out);
    size_t start = p_;
    while (!AtEnd() && IsListChar(s_[p_])) ++p_;
    if (p_ == start) return Fail("expected a mailbox pattern");
    *out = std::string(s_.substr(start, p_ - start));
    return true;
  }

  // flag = "\" atom / atom (RFC 3501 9 flag, flag-keyword, flag-extension).
  bool Flag(std::string* out) {
    bool system = Eat('\\');
    std::string atom;
    if (!Atom(&atom)) return Fail("expected a flag");
    *out = system ? absl::StrCat("\\", atom) : atom;
    return CountArg();
  }

  bool FlagList(std::vector<std::string>* out) {
    if (!Eat('(')) return Fail("expected a flag list");
    if (Eat(')')) return true;
    do {
      std::string f;
      if (!Flag(&f)) return false;
      out->push_back(std::move(f));
    } while (Sp());
    if (!Eat(')')) return Fail("unbalanced parentheses in flag list");
    return true;
  }

  // The rest of a parenthesised list of atoms after its "(": 1*atom ")".
  bool AtomList(std::vector<std::string>* out) {
    do {
      std::string a;
      if (!Atom(&a) || !CountArg()) return Fail("expected an option");
      out->push_back(Upper(a));
    } while (Sp());
    if (!Eat(')')) return Fail("unbalanced parentheses in options");
    return true;
  }

  // RFC 3501 6.3.10 status items, RFC 7162 3.1.6 HIGHESTMODSEQ: "(" items ")".
  bool StatusItems(std::vector<std::string>* out) {
    if (!Eat('(')) return Fail("expected a list of status items");
    do {
      std::string item;
      if (!Atom(&item) || !CountArg()) return Fail("expected a status item");
      item = Upper(item);
      if (item != "MESSAGES" && item != "RECENT" && item != "UIDNEXT" && item != "UIDVALIDITY" &&
          item != "UNSEEN" && item != "HIGHESTMODSEQ") {
        return Fail(absl::StrCat("unknown status item ", item));
      }
      out->push_back(std::move(item));
    } while (Sp());
    if (!Eat(')')) return Fail("unbalanced parentheses in status items");
    return true;
  }

  bool SeqNumber(uint32_t* out) {
    if (Eat('*')) {
      *out = 0;
      return true;
    }
    return NzNumber(out);
  }

  // RFC 3501 9 sequence-set.
  bool SeqSet(SequenceSet* out) {
    do {
      if (out->ranges.size() >= limits_.max_set_items) return Fail("sequence set too long");
      SequenceSet::Range r;
      // The set's own error replaces the number's ("expected a number").
      if (!SeqNumber(&r.lo)) return BadSet();
      r.hi = r.lo;
      if (Eat(':') && !SeqNumber(&r.hi)) return BadSet();
      out->ranges.push_back(r);
    } while (Eat(','));
    if (!AtEnd() && Peek() != ' ' && Peek() != ')') return BadSet();
    return true;
  }
  bool BadSet() {
    err_ = "bad sequence set";
    return false;
  }

  // RFC 3501 6.4.5 section.
  bool Section(FetchSection* out) {
    if (!Eat('[')) return Fail("expected a section");
    if (Eat(']')) return true;
    std::string text;
    if (std::isdigit(Peek())) {
      while (true) {
        uint32_t n;
        if (!NzNumber(&n)) return Fail("bad section part");
        if (out->part.size() >= limits_.max_depth) return Fail("section nested too deep");
        out->part.push_back(n);
        if (!Eat('.')) break;
        if (!std::isdigit(Peek())) {
          text = Word();
          break;
        }
      }
    } else {
      text = Word();
    }
    using T = FetchSection::Text;
    if (text.empty()) {
      out->text = T::kNone;
    } else if (text == "HEADER") {
      out->text = T::kHeader;
    } else if (text == "HEADER.FIELDS" || text == "HEADER.FIELDS.NOT") {
      out->text = text == "HEADER.FIELDS" ? T::kHeaderFields : T::kHeaderFieldsNot;
      if (!NeedSp("the header field list")) return false;
      if (!Eat('(')) return Fail("expected a header field list");
      do {
        std::string f;
        if (!Astring(&f) || !CountArg()) return Fail("bad header field name");
        out->fields.push_back(Upper(f));
      } while (Sp());
      if (!Eat(')')) return Fail("unbalanced parentheses in header field list");
    } else if (text == "TEXT") {
      out->text = T::kText;
    } else if (text == "MIME" && !out->part.empty()) {
      out->text = T::kMime;
    } else {
      return Fail(absl::StrCat("unknown section ", text));
    }
    if (!Eat(']')) return Fail("expected ] after the section");
    return true;
  }

  bool FetchItem(std::vector<FetchAtt>* out, bool allow_macro) {
    using K = FetchAtt::Kind;
    if (!CountArg()) return false;
    std::string w = Word();
    auto add = [&](K k) {
      FetchAtt a;
      a.kind = k;
      out->push_back(a);
    };
    if (allow_macro && (w == "ALL" || w == "FAST" || w == "FULL")) {
      add(K::kFlags);
      add(K::kInternalDate);
      add(K::kRfc822Size);
      if (w != "FAST") add(K::kEnvelope);
      if (w == "FULL") add(K::kBody);
      return true;
    }
    if (w == "FLAGS") add(K::kFlags);
    else if (w == "MODSEQ") add(K::kModseq);
    else if (w == "UID") add(K::kUid);
    else if (w == "RFC822.SIZE") add(K::kRfc822Size);
    else if (w == "INTERNALDATE") add(K::kInternalDate);
    else if (w == "ENVELOPE") add(K::kEnvelope);
    else if (w == "BODYSTRUCTURE") add(K::kBodyStructure);
    else if (w == "RFC822") add(K::kRfc822);
    else if (w == "RFC822.HEADER") add(K::kRfc822Header);
    else if (w == "RFC822.TEXT") add(K::kRfc822Text);
    else if (w == "BINARY" || w == "BINARY.PEEK" || w == "BINARY.SIZE") {
      // RFC 3516 4.1: section-binary = "[" [section-part] "]"; a partial
      // only for BINARY and BINARY.PEEK.
      FetchAtt a;
      a.kind = w == "BINARY.SIZE" ? K::kBinarySize : K::kBinary;
      a.peek = w == "BINARY.PEEK";
      if (!Eat('[')) return Fail("expected [section-part]");
      if (!Eat(']')) {
        do {
          uint32_t n;
          if (!std::isdigit(Peek())) return Fail("a BINARY section is part numbers only");
          if (!NzNumber(&n)) return Fail("bad section part");
          a.section.part.push_back(n);
        } while (Eat('.'));
        if (!Eat(']')) return Fail("a BINARY section is part numbers only");
      }
      if (a.kind == K::kBinary && Eat('<')) {
        uint64_t start;
        uint32_t len;
        if (!Number(&start) || !Eat('.') || !NzNumber(&len) || !Eat('>')) {
          return Fail("bad partial <start.length>");
        }
        a.partial_start = static_cast<uint32_t>(start);
        a.partial_length = len;
      }
      out->push_back(std::move(a));
    }
    else if (w == "BODY" && Peek() != '[') add(K::kBody);
    else if (w == "BODY" || w == "BODY.PEEK") {
      FetchAtt a;
      a.kind = K::kBodySection;
      a.peek = w == "BODY.PEEK";
      if (!Section(&a.section)) return false;
      if (Eat('<')) {
        uint64_t start;
        uint32_t len;
        if (!Number(&start) || !Eat('.') || !NzNumber(&len) || !Eat('>')) {
          return Fail("bad partial <start.length>");
        }
        a.partial_start = static_cast<uint32_t>(start);
        a.partial_length = len;
      }
      out->push_back(std::move(a));
    } else {
      return Fail(w.empty() ? "expected a fetch attribute"
                            : absl::StrCat("unknown fetch attribute ", w));
    }
    return true;
  }

  bool FetchAtts(std::vector<FetchAtt>* out) {
    if (Eat('(')) {
      do {
        if (!FetchItem(out, false)) return false;
      } while (Sp());
      if (!Eat(')')) return Fail("unbalanced parentheses in fetch attributes");
      return true;
    }
    return FetchItem(out, true);
  }

  // date = date-text / DQUOTE date-text DQUOTE; date-text = date-day "-"
  // date-month "-" date-year (RFC 3501 9).
  bool Date(absl::CivilDay* out) {
    bool q = Eat('"');
    uint64_t day, year;
    if (!Number(&day, 31) || day == 0 || !Eat('-')) return Fail("bad date");
    if (s_.size() - p_ < 4) return Fail("bad date");
    std::string mon = Upper(s_.substr(p_, 3));
    p_ += 3;
    static constexpr std::string_view kMonths[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    int m = 0;
    for (int i = 0; i < 12; ++i) {
      if (mon == kMonths[i]) m = i + 1;
    }
    if (m == 0 || !Eat('-') || !Number(&year, 9999) || year < 1000) return Fail("bad date");
    if (q && !Eat('"')) return Fail("bad date");
    *out = absl::CivilDay(static_cast<int>(year), m, static_cast<int>(day));
    if (out->day() != static_cast<int>(day)) return Fail("bad date");
    return true;
  }

  bool SearchKeyP(SearchKey* out, size_t depth) {
    using K = SearchKey::Kind;
    if (depth > limits_.max_depth) return Fail("search keys nested too deep");
    if (!CountArg()) return false;
    if (Eat('(')) {
      out->kind = K::kAnd;
      do {
        out->children.emplace_back();
        if (!SearchKeyP(&out->children.back(), depth + 1)) return false;
      } while (Sp());
      if (!Eat(')')) return Fail("unbalanced parentheses in search keys");
      return true;
    }
    if (Peek() == '*' || std::isdigit(Peek())) {
      out->kind = K::kSequence;
      return SeqSet(&out->set);
    }
    std::string w;
    if (!Atom(&w)) return Fail("expected a search key");
    w = Upper(w);
    struct Simple {
      std::string_view name;
      K kind;
    };
    static constexpr Simple kSimple[] = {
        {"ALL", K::kAll},           {"ANSWERED", K::kAnswered},     {"DELETED", K::kDeleted},
        {"DRAFT", K::kDraft},       {"FLAGGED", K::kFlagged},       {"NEW", K::kNew},
        {"OLD", K::kOld},           {"RECENT", K::kRecent},         {"SEEN", K::kSeen},
        {"UNANSWERED", K::kUnanswered}, {"UNDELETED", K::kUndeleted}, {"UNDRAFT", K::kUndraft},
        {"UNFLAGGED", K::kUnflagged}, {"UNSEEN", K::kUnseen}};
    for (const Simple& s : kSimple) {
      if (w == s.name) {
        out->kind = s.kind;
        return true;
      }
    }
    static constexpr Simple kString[] = {{"FROM", K::kFrom},   {"TO", K::kTo},
                                         {"CC", K::kCc},       {"BCC", K::kBcc},
                                         {"SUBJECT", K::kSubject}, {"BODY", K::kBody},
                                         {"TEXT", K::kText}};
    for (const Simple& s : kString) {
      if (w == s.name) {
        out->kind = s.kind;
        return NeedSp(w) && Astring(&out->text);
      }
    }
    static constexpr Simple kDate[] = {{"BEFORE", K::kBefore},         {"ON", K::kOn},
                                       {"SINCE", K::kSince},           {"SENTBEFORE", K::kSentBefore},
                                       {"SENTON", K::kSentOn},         {"SENTSINCE", K::kSentSince}};
    for (const Simple& s : kDate) {
      if (w == s.name) {
        out->kind = s.kind;
        return NeedSp(w) && Date(&out->date);
      }
    }
    if (w == "KEYWORD" || w == "UNKEYWORD") {
      out->kind = w == "KEYWORD" ? K::kKeyword : K::kUnkeyword;
      return NeedSp(w) && Atom(&out->text);
    }
    if (w == "HEADER") {
      out->kind = K::kHeader;
      if (!NeedSp(w) || !Astring(&out->field) || !NeedSp("the header value")) return false;
      out->field = Upper(out->field);
      return Astring(&out->text);
    }
    if (w == "LARGER" || w == "SMALLER") {
      out->kind = w == "LARGER" ? K::kLarger : K::kSmaller;
      return NeedSp(w) && Number(&out->number);
    }
    if (w == "UID") {
      out->kind = K::kUid;
      return NeedSp(w) && SeqSet(&out->set);
    }
    if (w == "MODSEQ") {
      // RFC 7162 3.1.5: MODSEQ [entry-name SP entry-type-req SP] valzer;
      // the entry (a flag's metadata) is accepted and not used: one
      // modseq per message covers every flag.
      out->kind = K::kModseq;
      if (!NeedSp(w)) return false;
      if (Peek() == '"') {
        std::string entry, type;
        if (!Quoted(&entry) || !NeedSp("the entry type") || !Atom(&type) ||
            !NeedSp("the mod-sequence")) {
          return false;
        }
        type = Upper(type);
        if (type != "PRIV" && type != "SHARED" && type != "ALL") {
          return Fail("entry type must be priv, shared or all");
        }
      }
      return ModSeq(&out->number);
    }
    if (w == "NOT") {
      out->kind = K::kNot;
      out->children.emplace_back();
      return NeedSp(w) && SearchKeyP(&out->children.back(), depth + 1);
    }
    if (w == "OR") {
      out->kind = K::kOr;
      out->children.resize(2);
      return NeedSp(w) && SearchKeyP(&out->children[0], depth + 1) &&
             NeedSp("the second OR key") && SearchKeyP(&out->children[1], depth + 1);
    }
    return Fail(absl::StrCat("unknown search key ", w));
  }

  bool Args(ImapCommand* cmd) {
    const std::string& n = cmd->name;
    if (n == "CAPABILITY" || n == "NOOP" || n == "LOGOUT" || n == "STARTTLS" || n == "CHECK" ||
        n == "CLOSE" || n == "UNSELECT" || n == "IDLE" || n == "NAMESPACE" ||
        (n == "EXPUNGE" && !cmd->uid)) {
      return true;
    }
    if (n == "ID") {
      // RFC 2971 3.1: "ID" SP ("(" string SP nstring *(SP string SP nstring)
      // ")" / NIL); args = the pairs, flattened (NIL values as "").
      if (!NeedSp("the parameter list")) return false;
      if (Peek() != '(') {
        std::string nil;
        if (!Atom(&nil) || Upper(nil) != "NIL") return Fail("expected NIL or a parameter list");
        return true;
      }
      Eat('(');
      do {
        std::string key, value;
        if (!String(&key) || !NeedSp("a value") || !CountArg()) return false;
        if (Peek() == '"' || Peek() == '{') {
          if (!String(&value)) return false;
        } else if (!Atom(&value) || Upper(value) != "NIL") {
          return Fail("expected a string or NIL");
        } else {
          value.clear();
        }
        cmd->args.push_back(std::move(key));
        cmd->args.push_back(std::move(value));
      } while (Sp());
      if (!Eat(')')) return Fail("unbalanced parentheses in ID parameters");
      return true;
    }
    if (n == "ENABLE") {
      // RFC 5161 3.1: "ENABLE" 1*(SP capability); args = upper-cased.
      if (!NeedSp("a capability")) return false;
      do {
        std::string cap;
        if (!Atom(&cap) || !CountArg()) return Fail("expected a capability");
        cmd->args.push_back(Upper(cap));
      } while (Sp());
      return true;
    }
    if (n == "LOGIN") {
      cmd->args.resize(2);
      return NeedSp("the user name") && Astring(&cmd->args[0]) && NeedSp("the password") &&
             Astring(&cmd->args[1]);
    }
    if (n == "AUTHENTICATE") {
      std::string mech;
      if (!NeedSp("the mechanism") || !Atom(&mech)) return false;
      cmd->args.push_back(Upper(mech));
      if (Sp()) {
        std::string ir;
        if (!Atom(&ir)) return Fail("bad initial response");
        cmd->args.push_back(std::move(ir));
      }
      return true;
    }
    if (n == "SELECT" || n == "EXAMINE") {
      cmd->args.resize(1);
      if (!NeedSp("the mailbox name") || !Mailbox(&cmd->args[0])) return false;
      if (!Sp()) return true;
      return SelectParams(cmd);
    }
    if (n == "CREATE" || n == "DELETE" || n == "SUBSCRIBE" || n == "UNSUBSCRIBE") {
      cmd->args.resize(1);
      return NeedSp("the mailbox name") && Mailbox(&cmd->args[0]);
    }
    if (n == "RENAME") {
      cmd->args.resize(2);
      return NeedSp("the mailbox name") && Mailbox(&cmd->args[0]) && NeedSp("the new name") &&
             Mailbox(&cmd->args[1]);
    }
    if (n == "LSUB") {
      cmd->args.resize(2);
      return NeedSp("the reference") && Mailbox(&cmd->args[0]) && NeedSp("the pattern") &&
             ListMailbox(&cmd->args[1]);
    }
    if (n == "LIST") {
      // RFC 5258 3: LIST ["(" selection-options ")" SP] reference SP
      // (pattern / "(" patterns ")") [SP "RETURN" SP "(" return-options ")"].
      // options = the selection options, return_options the return options
      // (upper-cased; STATUS's items go to items, RFC 5819); args =
      // {reference, pattern...}.
      if (!NeedSp("the reference")) return false;
      if (Eat('(')) {
        if (!AtomList(&cmd->options) || !NeedSp("the reference")) return false;
      }
      cmd->args.resize(1);
      if (!Mailbox(&cmd->args[0]) || !NeedSp("the pattern")) return false;
      if (Eat('(')) {
        do {
          std::string pat;
          if (!ListMailbox(&pat) || !CountArg()) return false;
          cmd->args.push_back(std::move(pat));
        } while (Sp());
        if (!Eat(')')) return Fail("unbalanced parentheses in patterns");
      } else {
        cmd->args.emplace_back();
        if (!ListMailbox(&cmd->args[1])) return false;
      }
      if (!Sp()) return true;
      std::string ret;
      if (!Atom(&ret) || Upper(ret) != "RETURN" || !NeedSp("the return options") || !Eat('(')) {
        return Fail("expected RETURN (options)");
      }
      if (Eat(')')) return true;
      do {
        std::string opt;
        if (!Atom(&opt) || !CountArg()) return Fail("expected a return option");
        opt = Upper(opt);
        if (opt == "STATUS") {
          if (!NeedSp("the status items") || !StatusItems(&cmd->items)) return false;
        }
        cmd->return_options.push_back(std::move(opt));
      } while (Sp());
      if (!Eat(')')) return Fail("unbalanced parentheses in return options");
      return true;
    }
    if (n == "STATUS") {
      cmd->args.resize(1);
      return NeedSp("the mailbox name") && Mailbox(&cmd->args[0]) && NeedSp("the items") &&
             StatusItems(&cmd->items);
    }
    if (n == "APPEND") {
      // RFC 3501 6.3.11, RFC 3502 MULTIAPPEND: mailbox 1*(SP [flag-list SP]
      // [date-time SP] literal).
      cmd->args.resize(1);
      if (!NeedSp("the mailbox name") || !Mailbox(&cmd->args[0]) || !NeedSp("the message")) {
        return false;
      }
      do {
        ImapCommand::AppendMessage m;
        if (!CountArg()) return false;
        if (Peek() == '(') {
          if (!FlagList(&m.flags) || !NeedSp("the message")) return false;
        }
        if (Peek() == '"') {
          if (!Quoted(&m.date) || !NeedSp("the message")) return false;
        }
        if (!Literal(&m.message, /*allow8=*/true)) return false;
        cmd->appends.push_back(std::move(m));
      } while (Sp());
      return true;
    }
    if (n == "FETCH") {
      if (!NeedSp("the sequence set") || !SeqSet(&cmd->set) || !NeedSp("the fetch attributes") ||
          !FetchAtts(&cmd->fetch)) {
        return false;
      }
      if (!Sp()) return true;
      // RFC 7162 3.1.4.1 / 3.2.6: "(" CHANGEDSINCE n [SP VANISHED] ")".
      if (!Eat('(')) return Fail("expected fetch modifiers");
      do {
        std::string m;
        if (!Atom(&m) || !CountArg()) return Fail("expected a fetch modifier");
        m = Upper(m);
        if (m == "CHANGEDSINCE" && !cmd->changed_since) {
          uint64_t v;
          if (!NeedSp("the mod-sequence") || !ModSeq(&v)) return false;
          cmd->changed_since = v;
        } else if (m == "VANISHED" && !cmd->vanished) {
          cmd->vanished = true;
        } else {
          return Fail(absl::StrCat("unknown or repeated fetch modifier ", m));
        }
      } while (Sp());
      if (!Eat(')')) return Fail("unbalanced parentheses in fetch modifiers");
      return true;
    }
    if (n == "STORE") {
      if (!NeedSp("the sequence set") || !SeqSet(&cmd->set) || !NeedSp("the store item")) {
        return false;
      }
      if (Eat('(')) {
        // RFC 7162 3.1.3: "(" UNCHANGEDSINCE n ")" SP before the item.
        std::string m;
        uint64_t v;
        if (!Atom(&m) || Upper(m) != "UNCHANGEDSINCE") return Fail("expected UNCHANGEDSINCE");
        if (!NeedSp("the mod-sequence") || !ModSeq(&v)) return false;
        if (!Eat(')')) return Fail("unbalanced parentheses in store modifiers");
        cmd->unchanged_since = v;
        if (!NeedSp("the store item")) return false;
      }
      if (Eat('+')) {
        cmd->store_op = StoreOp::kAdd;
      } else if (Eat('-')) {
        cmd->store_op = StoreOp::kRemove;
      }
      std::string w = Word();
      if (w == "FLAGS.SILENT") {
        cmd->store_silent = true;
      } else if (w != "FLAGS") {
        return Fail("expected FLAGS, +FLAGS or -FLAGS");
      }
      if (!NeedSp("the flags")) return false;
      if (Peek() == '(') return FlagList(&cmd->flags);
      do {
        std::string f;
        if (!Flag(&f)) return false;
        cmd->flags.push_back(std::move(f));
      } while (Sp());
      return true;
    }
    if (n == "COPY" || n == "MOVE") {
      cmd->args.resize(1);
      return NeedSp("the sequence set") && SeqSet(&cmd->set) && NeedSp("the mailbox name") &&
             Mailbox(&cmd->args[0]);
    }
    if (n == "EXPUNGE") {  // UID EXPUNGE (RFC 4315 2.1)
      return NeedSp("the UID set") && SeqSet(&cmd->set);
    }
    if (n == "SEARCH") {
      if (!NeedSp("the search keys")) return false;
      cmd->search.kind = SearchKey::Kind::kAnd;
      size_t save = p_;
      std::string w;
      if (Atom(&w) && Upper(w) == "RETURN") {
        // RFC 4731 3: SEARCH RETURN (MIN MAX ALL COUNT); options =
        // upper-cased; "()" means ALL. return_options holds "ESEARCH".
        if (!NeedSp("the return options") || !Eat('(')) return Fail("expected RETURN (options)");
        if (!Eat(')')) {
          if (!AtomList(&cmd->options)) return false;
          for (std::string& o : cmd->options) {
            o = Upper(o);
            if (o != "MIN" && o != "MAX" && o != "ALL" && o != "COUNT") {
              return Fail(absl::StrCat("unknown search return option ", o));
            }
          }
        }
        cmd->return_options.push_back("ESEARCH");
        if (!NeedSp("the search keys")) return false;
        save = p_;
      } else {
        p_ = save;
        err_.clear();
      }
      return SearchTail(cmd, save);
    }
    if (n == "SORT") {
      // RFC 5256 3: SORT SP "(" sort-criterion *(SP sort-criterion) ")" SP
      // charset SP search-key *(SP search-key).
      if (!NeedSp("the sort criteria") || !Eat('(')) return Fail("expected (sort criteria)");
      do {
        SortCriterion c;
        std::string w;
        if (!Atom(&w) || !CountArg()) return Fail("expected a sort key");
        w = Upper(w);
        if (w == "REVERSE") {
          c.reverse = true;
          if (!NeedSp("the sort key") || !Atom(&w)) return Fail("expected a sort key");
          w = Upper(w);
        }
        using K = SortCriterion::Key;
        if (w == "ARRIVAL") c.key = K::kArrival;
        else if (w == "CC") c.key = K::kCc;
        else if (w == "DATE") c.key = K::kDate;
        else if (w == "FROM") c.key = K::kFrom;
        else if (w == "SIZE") c.key = K::kSize;
        else if (w == "SUBJECT") c.key = K::kSubject;
        else if (w == "TO") c.key = K::kTo;
        else return Fail(absl::StrCat("unknown sort key ", w));
        cmd->sort.push_back(c);
      } while (Sp());
      if (!Eat(')')) return Fail("unbalanced parentheses in sort criteria");
      if (!NeedSp("the charset") || !Astring(&cmd->charset) || !NeedSp("the search keys")) {
        return false;
      }
      cmd->charset = Upper(cmd->charset);
      cmd->search.kind = SearchKey::Kind::kAnd;
      return SearchKeys(cmd);
    }
    return Fail(absl::StrCat("unknown command ", n));
  }

  // SEARCH's [CHARSET astring SP] search-key *(SP search-key), from `save`.
  bool SearchTail(ImapCommand* cmd, size_t save) {
    {
      std::string w;
      if (Atom(&w) && Upper(w) == "CHARSET") {
        if (!NeedSp("the charset") || !Astring(&cmd->charset) || !NeedSp("the search keys")) {
          return false;
        }
        cmd->charset = Upper(cmd->charset);
      } else {
        p_ = save;
        err_.clear();
      }
    }
    return SearchKeys(cmd);
  }

  // search-key *(SP search-key), into cmd->search (a kAnd node).
  bool SearchKeys(ImapCommand* cmd) {
    do {
      cmd->search.children.emplace_back();
      if (!SearchKeyP(&cmd->search.children.back(), 1)) return false;
    } while (Sp());
    return true;
  }

  // RFC 7162 select-params: "(" select-param *(SP select-param) ")", each
  // CONDSTORE or QRESYNC (uidvalidity SP modseq [SP known-uids]
  // [SP "(" known-sequence-set SP known-uid-set ")"]).
  bool SelectParams(ImapCommand* cmd) {
    if (!Eat('(')) return Fail("expected select parameters");
    do {
      std::string p;
      if (!Atom(&p) || !CountArg()) return Fail("expected a select parameter");
      p = Upper(p);
      if (p == "CONDSTORE" && !cmd->condstore) {
        cmd->condstore = true;
        continue;
      }
      if (p != "QRESYNC" || cmd->qresync) {
        return Fail(absl::StrCat("unknown or repeated select parameter ", p));
      }
      QresyncParams q;
      if (!NeedSp("the QRESYNC parameters") || !Eat('(') || !NzNumber(&q.uid_validity) ||
          !NeedSp("the mod-sequence") || !ModSeq(&q.modseq)) {
        return Fail("expected QRESYNC (uidvalidity mod-sequence ...)");
      }
      if (q.modseq == 0) return Fail("the QRESYNC mod-sequence must not be 0");
      if (Sp()) {
        if (Peek() != '(') {
          q.known_uids.emplace();
          if (!SeqSet(&*q.known_uids)) return false;
          Sp();
        }
        if (Eat('(')) {
          q.match_seqs.emplace();
          q.match_uids.emplace();
          if (!SeqSet(&*q.match_seqs) || !NeedSp("the known UIDs") || !SeqSet(&*q.match_uids) ||
              !Eat(')')) {
            return Fail("bad QRESYNC sequence match data");
          }
        }
      }
      if (!Eat(')')) return Fail("unbalanced parentheses in QRESYNC parameters");
      cmd->qresync = std::move(q);
    } while (Sp());
    if (!Eat(')')) return Fail("unbalanced parentheses in select parameters");
    return true;
  }

  std::string_view s_;
  const ImapLimits& limits_;
  size_t p_ = 0;
  size_t args_ = 0;
  std::string err_;
};

// Whether `line` ends in a literal announcement "{n}" or "{n+}"; sets size
// (capped parse: more than 20 digits is treated as huge).
bool EndsInLiteral(std::string_view line, uint64_t* size, bool* sync) {
  if (line.empty() || line.back() != '}') return false;
  size_t open = line.rfind('{');
  if (open == std::string_view::npos) return false;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  *sync = true;
  if (!digits.empty() && digits.back() == '+') {
    *sync = false;
    digits.remove_suffix(1);
  }
  if (digits.empty()) return false;
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  if (digits.size() > 19) {
    *size = UINT64_MAX;
  } else {
    std::from_chars(digits.data(), digits.data() + digits.size(), *size);
  }
  return true;
}

}  // namespace

bool IsImapAtom(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAtomChar(c); });
}

ImapFeedResult ParseImapCommand(std::string_view text, const ImapLimits& limits) {
  return Parser(text, limits).Run();
}

void ImapCommandReader::Reset() {
  buf_.clear();
  literal_pending_ = 0;
  awaiting_literal_ = false;
  tag_.clear();
  name_.clear();
}

ImapFeedResult ImapCommandReader::Feed(std::string_view line) {
  if (awaiting_literal_) {
    std::string tag = tag_.empty() ? "*" : tag_;
    Reset();
    return ImapParseError{tag, "a literal was expected"};
  }
  bool first = buf_.empty();
  if (first) {
    // The tag and command name, for an error or for refusing a literal.
    size_t sp = line.find(' ');
    std::string_view tag = line.substr(0, sp);
    bool tag_ok = !tag.empty() && std::all_of(tag.begin(), tag.end(),
                                              [](char c) { return IsTagChar(c); });
    tag_ = tag_ok ? std::string(tag) : "";
    name_.clear();
    if (tag_ok && sp != std::string_view::npos) {
      std::string_view rest = line.substr(sp + 1);
      std::string word = Upper(rest.substr(0, rest.find(' ')));
      if (word == "UID" && rest.find(' ') != std::string_view::npos) {
        std::string_view after = rest.substr(rest.find(' ') + 1);
        word = Upper(after.substr(0, after.find(' ')));
      }
      name_ = word;
    }
  }
  if (line.size() > limits_.max_line_bytes) {
    std::string tag = tag_.empty() ? "*" : tag_;
    Reset();
    return ImapParseError{tag, "line too long"};
  }
  if (buf_.size() + line.size() + 2 > limits_.max_command_bytes) {
    std::string tag = tag_.empty() ? "*" : tag_;
    Reset();
    return ImapParseError{tag, "command too long"};
  }
  buf_.append(line.data(), line.size());
  uint64_t size = 0;
  bool sync = true;
  if (EndsInLiteral(line, &size, &sync)) {
    if (tag_.empty()) {
      Reset();
      return ImapParseError{"*", "missing or malformed tag"};
    }
    if (size > limits_.max_literal_bytes ||
        buf_.size() + 2 + size > limits_.max_command_bytes) {
      std::string tag = tag_;
      std::string name = name_;
      bool too_large = size > limits_.max_literal_bytes;
      Reset();
      return ImapParseError{tag, too_large ? "literal too large" : "command too long", !sync,
                            too_large, std::move(name)};
    }
    buf_.append("\r\n");
    literal_pending_ = static_cast<size_t>(size);
    awaiting_literal_ = true;
    return ImapNeedLiteral{tag_, name_, literal_pending_, sync};
  }
  ImapFeedResult r = ParseImapCommand(buf_, limits_);
  Reset();
  return r;
}

ImapFeedResult ImapCommandReader::FeedLiteral(std::string_view bytes) {
  if (!awaiting_literal_ || bytes.size() != literal_pending_) {
    std::string tag = tag_.empty() ? "*" : tag_;
    Reset();
    return ImapParseError{tag, "literal of the wrong size"};
  }
  buf_.append(bytes.data(), bytes.size());
  awaiting_literal_ = false;
  literal_pending_ = 0;
  return ImapNeedLine{};
}

}  // namespace pullmail
