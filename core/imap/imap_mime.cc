// MIME structure for IMAP FETCH (RFC 3501 6.4.5, 7.4.2), on raw bytes:
// header/body split at the first empty line (RFC 5322 2.1), Content-*
// fields (RFC 2045 5, 6; RFC 2183 for Content-Disposition), multipart
// bodies split at their boundary delimiters (RFC 2046 5.1.1).
#include "core/imap/imap_mime.h"

#include <algorithm>
#include <cctype>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/imap/imap_format.h"
#include "core/mail/header_summary.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

std::string Upper(std::string_view s) { return absl::AsciiStrToUpper(AV(s)); }

// Splits an entity into its header (with the empty line that ends it) and
// its body. An entity that starts with an empty line has an empty header
// (only that line); one without an empty line is all header.
std::pair<std::string_view, std::string_view> SplitEntity(std::string_view e) {
  if (absl::StartsWith(AV(e), "\r\n")) return {e.substr(0, 2), e.substr(2)};
  if (absl::StartsWith(AV(e), "\n")) return {e.substr(0, 1), e.substr(1)};
  size_t pos = 0;
  while (true) {
    size_t nl = e.find('\n', pos);
    if (nl == std::string_view::npos) return {e, e.substr(e.size())};
    size_t next = nl + 1;
    if (next < e.size() && e[next] == '\n') return {e.substr(0, next + 1), e.substr(next + 1)};
    if (next + 1 < e.size() && e[next] == '\r' && e[next + 1] == '\n') {
      return {e.substr(0, next + 2), e.substr(next + 2)};
    }
    pos = next;
  }
}

// The header's fields as (upper-case name, raw lines incl. folding and line
// end). Lines that are not fields (no colon) are skipped.
std::vector<std::pair<std::string, std::string_view>> Fields(std::string_view header) {
  std::vector<std::pair<std::string, std::string_view>> out;
  size_t pos = 0;
  while (pos < header.size()) {
    size_t start = pos;
    size_t nl = header.find('\n', pos);
    pos = nl == std::string_view::npos ? header.size() : nl + 1;
    // Folded continuation lines (RFC 5322 2.2.3) begin with WSP.
    while (pos < header.size() && (header[pos] == ' ' || header[pos] == '\t')) {
      nl = header.find('\n', pos);
      pos = nl == std::string_view::npos ? header.size() : nl + 1;
    }
    std::string_view line = header.substr(start, pos - start);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string name(absl::StripTrailingAsciiWhitespace(AV(line.substr(0, colon))));
    out.emplace_back(Upper(name), line);
  }
  return out;
}

// The unfolded, trimmed value of the first field `upper_name`, or "".
std::string FieldValue(std::string_view header, std::string_view upper_name) {
  for (const auto& [name, line] : Fields(header)) {
    if (name != upper_name) continue;
    std::string v;
    for (char c : line.substr(line.find(':') + 1)) {
      if (c == '\r' || c == '\n') continue;
      v.push_back(c == '\t' ? ' ' : c);
    }
    return std::string(absl::StripAsciiWhitespace(v));
  }
  return "";
}

// Removes RFC 5322 comments "(...)" outside quoted strings.
std::string StripComments(std::string_view v) {
  std::string out;
  int depth = 0;
  bool quoted = false;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (quoted) {
      out.push_back(c);
      if (c == '\\' && i + 1 < v.size()) out.push_back(v[++i]);
      else if (c == '"') quoted = false;
    } else if (depth > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++depth;
      else if (c == ')') --depth;
    } else if (c == '(') {
      depth = 1;
    } else {
      if (c == '"') quoted = true;
      out.push_back(c);
    }
  }
  return out;
}

// "value; a=b; c=\"d\"" -> value, {(A,b),(C,d)} (RFC 2045 5.1).
std::string ParseParams(std::string_view raw,
                        std::vector<std::pair<std::string, std::string>>* params) {
  std::string v = StripComments(raw);
  size_t semi = v.find(';');
  std::string main(absl::StripAsciiWhitespace(AV(std::string_view(v).substr(0, semi))));
  size_t pos = semi;
  while (pos != std::string::npos && pos < v.size()) {
    ++pos;  // past ';'
    while (pos < v.size() && std::isspace(static_cast<unsigned char>(v[pos]))) ++pos;
    size_t eq = v.find('=', pos);
    if (eq == std::string::npos) break;
    std::string name(absl::StripAsciiWhitespace(AV(std::string_view(v).substr(pos, eq - pos))));
    pos = eq + 1;
    while (pos < v.size() && std::isspace(static_cast<unsigned char>(v[pos]))) ++pos;
    std::string value;
    if (pos < v.size() && v[pos] == '"') {
      ++pos;
      while (pos < v.size() && v[pos] != '"') {
        if (v[pos] == '\\' && pos + 1 < v.size()) ++pos;
        value.push_back(v[pos++]);
      }
      pos = v.find(';', pos);
    } else {
      size_t end = v.find(';', pos);
      value = std::string(absl::StripAsciiWhitespace(
          AV(std::string_view(v).substr(pos, end == std::string::npos ? end : end - pos))));
      pos = end;
    }
    if (!name.empty()) params->emplace_back(Upper(name), value);
  }
  return main;
}

std::string Param(const std::vector<std::pair<std::string, std::string>>& params,
                  std::string_view name) {
  for (const auto& [n, v] : params) {
    if (n == name) return v;
  }
  return "";
}

size_t CountLines(std::string_view body) {
  size_t n = static_cast<size_t>(std::count(body.begin(), body.end(), '\n'));
  if (!body.empty() && body.back() != '\n') ++n;
  return n;
}

// RFC 2046 5.1.1: the body parts between "--boundary" delimiter lines. The
// line break before a delimiter belongs to the delimiter. Sets *too_many and
// stops as soon as there are more than `max_parts`.
std::vector<std::string_view> SplitMultipart(std::string_view body, std::string_view boundary,
                                             size_t max_parts, bool* too_many) {
  std::vector<std::string_view> parts;
  *too_many = false;
  std::string dash = absl::StrCat("--", AV(boundary));
  size_t pos = 0;
  size_t part_start = std::string_view::npos;
  while (pos <= body.size()) {
    size_t nl = body.find('\n', pos);
    size_t line_end = nl == std::string_view::npos ? body.size() : nl + 1;
    std::string_view line = body.substr(pos, line_end - pos);
    if (absl::StartsWith(AV(line), AV(dash))) {
      std::string_view rest = line.substr(dash.size());
      bool close = absl::StartsWith(AV(rest), "--");
      if (close) rest.remove_prefix(2);
      if (absl::StripAsciiWhitespace(AV(rest)).empty()) {
        if (part_start != std::string_view::npos) {
          size_t end = pos;
          if (end > part_start && body[end - 1] == '\n') --end;
          if (end > part_start && body[end - 1] == '\r') --end;
          parts.push_back(body.substr(part_start, end - part_start));
          if (parts.size() > max_parts) {
            *too_many = true;
            return {};
          }
        }
        if (close) return parts;
        part_start = line_end;
      }
    }
    if (nl == std::string_view::npos) break;
    pos = line_end;
  }
  // No close delimiter: the last part runs to the end (RFC 2046 5.1.1 says
  // a missing close delimiter is an error; being lenient shows the content).
  if (part_start != std::string_view::npos && part_start <= body.size()) {
    parts.push_back(body.substr(part_start));
    if (parts.size() > max_parts) {
      *too_many = true;
      return {};
    }
  }
  return parts;
}

// What ParseMime has used of its limits so far.
struct ParseBudget {
  const MimeLimits& limits;
  const char* base;            // the message's first byte: offsets count from it
  size_t parts = 1;            // entities in the tree (the root)
  size_t structure_bytes = 0;  // upper bound of the BODYSTRUCTURE so far
};

// An upper bound on what an opaque leaf adds to a BODYSTRUCTURE:
// ("APPLICATION" "OCTET-STREAM" NIL NIL NIL "7BIT" <20 digits> NIL NIL NIL NIL)
// is 86 bytes.
constexpr size_t kOpaqueCost = 128;

// An upper bound on what entity `e` adds to a BODYSTRUCTURE by itself (its
// own fields, not its parts or encapsulated message): every string as
// ImapString may write it (quoted with every byte escaped, or as a literal),
// fixed words and numbers, and for message/rfc822 the ENVELOPE built from the
// encapsulated header (each header byte at most 6 bytes there: an address
// "a@b" becomes ((NIL NIL "a" "b"))).
size_t OwnCost(const MimeEntity& e) {
  auto str = [](const std::string& s) { return 2 * s.size() + 24; };
  size_t cost = kOpaqueCost;
  for (const std::string* s : {&e.type, &e.subtype, &e.id, &e.description, &e.encoding,
                               &e.disposition, &e.language, &e.location}) {
    cost += str(*s);
  }
  for (const auto& [n, v] : e.params) cost += str(n) + str(v);
  for (const auto& [n, v] : e.disposition_params) cost += str(n) + str(v);
  if (e.is_message()) cost += 6 * SplitEntity(e.body).first.size() + 512;
  return cost;
}

// Hides `e`'s structure: one APPLICATION/OCTET-STREAM leaf over its bytes.
void MakeOpaque(MimeEntity* e) {
  e->type = "APPLICATION";
  e->subtype = "OCTET-STREAM";
  e->params.clear();
  e->id.clear();
  e->description.clear();
  e->encoding = "7BIT";
  e->disposition.clear();
  e->disposition_params.clear();
  e->language.clear();
  e->location.clear();
  e->parts.clear();
  e->message.clear();
}

// Fills `e` from its header and body, and its parts within `budget`. On
// entry the budget has room for an opaque `e` plus `reserve` (what the
// entities after `e` need at least); on return structure_bytes is at most
// max_structure_bytes - reserve.
void Fill(MimeEntity* e, std::string_view header, std::string_view body, bool digest_child,
          int depth, size_t reserve, ParseBudget* budget) {
  e->header = header;
  e->body = body;
  e->header_offset = static_cast<uint64_t>(header.data() - budget->base);
  e->header_size = header.size();
  e->body_size = body.size();
  std::string ct = FieldValue(header, "CONTENT-TYPE");
  std::vector<std::pair<std::string, std::string>> params;
  std::string type = ct.empty() ? "" : ParseParams(ct, &params);
  size_t slash = type.find('/');
  if (slash != std::string::npos && slash > 0 && slash + 1 < type.size()) {
    e->type = Upper(std::string_view(type).substr(0, slash));
    e->subtype = Upper(std::string_view(type).substr(slash + 1));
    e->params = std::move(params);
  } else if (digest_child) {
    e->type = "MESSAGE";  // RFC 2046 5.1.5: the default in a digest
    e->subtype = "RFC822";
  }
  if (e->type == "TEXT" && Param(e->params, "CHARSET").empty()) {
    e->params.insert(e->params.begin(), {"CHARSET", "us-ascii"});  // RFC 2045 5.2
  }
  e->id = FieldValue(header, "CONTENT-ID");
  e->description = FieldValue(header, "CONTENT-DESCRIPTION");
  std::string enc = Upper(StripComments(FieldValue(header, "CONTENT-TRANSFER-ENCODING")));
  enc = std::string(absl::StripAsciiWhitespace(enc));
  if (!enc.empty()) e->encoding = enc;
  std::string disp = FieldValue(header, "CONTENT-DISPOSITION");
  if (!disp.empty()) e->disposition = Upper(ParseParams(disp, &e->disposition_params));
  e->language = FieldValue(header, "CONTENT-LANGUAGE");
  e->location = FieldValue(header, "CONTENT-LOCATION");

  const size_t limit = budget->limits.max_structure_bytes;
  const size_t start = budget->structure_bytes;  // room for kOpaqueCost + reserve
  auto opaque = [&] {
    MakeOpaque(e);
    budget->structure_bytes = start + kOpaqueCost;
  };
  size_t own = OwnCost(*e);
  if (own > limit || start + own + reserve > limit) return opaque();
  budget->structure_bytes = start + own;

  if (e->is_multipart()) {
    std::string boundary = Param(e->params, "BOUNDARY");
    if (boundary.empty()) return;  // no parts: shown as text (see Structure)
    if (depth <= 0) return opaque();
    bool too_many = false;
    std::vector<std::string_view> parts =
        SplitMultipart(body, boundary, budget->limits.max_parts_per_entity, &too_many);
    size_t n = parts.size();
    if (too_many || budget->parts + n > budget->limits.max_total_parts ||
        budget->structure_bytes + n * kOpaqueCost + reserve > limit) {
      return opaque();
    }
    budget->parts += n;
    e->parts.resize(n);
    for (size_t i = 0; i < n; ++i) {
      auto [h, b] = SplitEntity(parts[i]);
      Fill(&e->parts[i], h, b, e->subtype == "DIGEST", depth - 1,
           reserve + (n - 1 - i) * kOpaqueCost, budget);
    }
  } else if (e->is_message()) {
    if (depth <= 0 || budget->parts + 1 > budget->limits.max_total_parts ||
        budget->structure_bytes + kOpaqueCost + reserve > limit) {
      return opaque();
    }
    budget->parts += 1;
    auto [h, b] = SplitEntity(body);
    e->message.emplace_back();
    Fill(&e->message.back(), h, b, false, depth - 1, reserve, budget);
  }
}

std::string ParamList(const std::vector<std::pair<std::string, std::string>>& params) {
  if (params.empty()) return "NIL";
  std::vector<std::string> items;
  for (const auto& [n, v] : params) items.push_back(absl::StrCat(ImapString(n), " ", ImapString(v)));
  return absl::StrCat("(", absl::StrJoin(items, " "), ")");
}

std::string Disposition(const MimeEntity& e) {
  if (e.disposition.empty()) return "NIL";
  return absl::StrCat("(", ImapString(e.disposition), " ", ParamList(e.disposition_params), ")");
}

std::string Structure(const MimeEntity& e, bool ext) {
  if (e.is_multipart() && !e.parts.empty()) {
    std::string out = "(";
    for (const MimeEntity& p : e.parts) out += Structure(p, ext);
    absl::StrAppend(&out, " ", ImapString(e.subtype));
    if (ext) {
      absl::StrAppend(&out, " ", ParamList(e.params), " ", Disposition(e), " ",
                      ImapNString(e.language), " ", ImapNString(e.location));
    }
    return out + ")";
  }
  std::string type = e.type, subtype = e.subtype;
  if (e.is_multipart()) {  // a multipart without parts: show as text
    type = "TEXT";
    subtype = "PLAIN";
  }
  std::string out = absl::StrCat("(", ImapString(type), " ", ImapString(subtype), " ",
                                 ParamList(e.params), " ", ImapNString(e.id), " ",
                                 ImapNString(e.description), " ", ImapString(e.encoding), " ",
                                 e.body_size);
  if (e.is_message() && !e.message.empty()) {
    absl::StrAppend(&out, " ", e.envelope, " ", Structure(e.message.front(), ext), " ", e.lines);
  } else if (type == "TEXT") {
    absl::StrAppend(&out, " ", e.lines);
  }
  if (ext) {
    absl::StrAppend(&out, " NIL ", Disposition(e), " ", ImapNString(e.language), " ",
                    ImapNString(e.location));
  }
  return out + ")";
}

// What Structure shows that needs the bytes (lines, a message's ENVELOPE),
// worked out once the tree's types are final.
void FillShown(MimeEntity* e) {
  for (MimeEntity& p : e->parts) FillShown(&p);
  for (MimeEntity& m : e->message) FillShown(&m);
  if (e->is_multipart() && !e->parts.empty()) return;
  if (e->is_message() && !e->message.empty()) {
    e->lines = CountLines(e->body);
    v1::HeaderSummary summary;
    auto s = ExtractHeaderSummary(e->body);
    if (s.ok()) summary = *s;
    e->envelope = ImapEnvelope(summary);
  } else if (e->type == "TEXT" || e->is_multipart()) {
    e->lines = CountLines(e->body);
  }
}

}  // namespace

MimeEntity ParseMime(std::string_view message, const MimeLimits& limits) {
  MimeEntity root;
  ParseBudget budget{limits, message.data()};
  auto [h, b] = SplitEntity(message);
  Fill(&root, h, b, false, limits.max_depth, 0, &budget);
  FillShown(&root);
  return root;
}

std::string FilterHeaderFields(std::string_view header,
                               const std::vector<std::string>& upper_names, bool exclude) {
  std::string out;
  for (const auto& [name, line] : Fields(header)) {
    bool listed = std::find(upper_names.begin(), upper_names.end(), name) != upper_names.end();
    if (listed != exclude) out.append(line.data(), line.size());
  }
  bool crlf = absl::EndsWith(AV(header), "\r\n") || header.find("\r\n") != std::string_view::npos;
  out += crlf ? "\r\n" : "\n";
  return out;
}

namespace {

// The entity that part numbers `part` name (the root for none), and in
// *msg the message whose HEADER and TEXT it has (the root; a message/rfc822
// part's encapsulated message; else null).
absl::StatusOr<const MimeEntity*> ResolvePart(const MimeEntity& root,
                                              const std::vector<uint32_t>& part,
                                              const MimeEntity** msg_out) {
  const MimeEntity* cur = &root;
  const MimeEntity* msg = &root;
  for (size_t i = 0; i < part.size(); ++i) {
    uint32_t n = part[i];
    if (n == 0) return absl::NotFoundError("no such body part (parts start at 1)");
    const MimeEntity* container = cur;
    if (i > 0) {
      if (!cur->is_message() || cur->message.empty()) {
        if (!cur->is_multipart()) return absl::NotFoundError("no such body part");
      } else {
        container = &cur->message.front();
      }
    }
    if (container->is_multipart() && !container->parts.empty()) {
      if (n > container->parts.size()) return absl::NotFoundError("no such body part");
      cur = &container->parts[n - 1];
    } else if (n == 1) {
      cur = container;  // a single-part message has exactly part 1: its body
    } else {
      return absl::NotFoundError("no such body part");
    }
    msg = (cur->is_message() && !cur->message.empty()) ? &cur->message.front() : nullptr;
  }
  *msg_out = msg;
  return cur;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string DecodeBase64Lenient(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = Base64Value(c);
    if (v < 0) continue;  // line ends, spaces, garbage (RFC 2045 6.8)
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string DecodeQuotedPrintable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '=') {
      out.push_back(c);
      continue;
    }
    // "=" at a line end (after optional trailing space) is a soft break.
    size_t j = i + 1;
    while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
    if (j < in.size() && (in[j] == '\r' || in[j] == '\n')) {
      if (in[j] == '\r' && j + 1 < in.size() && in[j + 1] == '\n') ++j;
      i = j;
      continue;
    }
    if (j == in.size()) break;
    int hi = i + 1 < in.size() ? HexValue(in[i + 1]) : -1;
    int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      out.push_back('=');  // not an escape: kept as written (RFC 2045 6.7 note 1)
      continue;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

absl::StatusOr<std::string> BinaryDecode(std::string_view bytes, std::string_view cte) {
  if (cte.empty()) return std::string(bytes);
  if (cte == "BASE64") return DecodeBase64Lenient(bytes);
  if (cte == "QUOTED-PRINTABLE") return DecodeQuotedPrintable(bytes);
  if (cte == "7BIT" || cte == "8BIT" || cte == "BINARY") return std::string(bytes);
  return absl::UnimplementedError(absl::StrCat("unknown Content-Transfer-Encoding ", AV(cte)));
}

absl::StatusOr<ByteRange> BinaryRange(const MimeEntity& root, uint64_t size,
                                      const std::vector<uint32_t>& part, std::string* encoding) {
  encoding->clear();
  if (part.empty()) return ByteRange{0, size};
  const MimeEntity* msg = nullptr;
  ASSIGN_OR_RETURN(const MimeEntity* cur, ResolvePart(root, part, &msg));
  *encoding = cur->encoding;
  if (encoding->empty()) *encoding = "7BIT";
  return ByteRange{cur->body_offset(), cur->body_size};
}

absl::StatusOr<std::string> BinarySectionBytes(std::string_view message, const MimeEntity& root,
                                               const std::vector<uint32_t>& part) {
  std::string cte;
  ASSIGN_OR_RETURN(ByteRange r, BinaryRange(root, message.size(), part, &cte));
  return BinaryDecode(message.substr(r.offset, r.length), cte);
}

absl::StatusOr<ByteRange> SectionRange(const MimeEntity& root, uint64_t size,
                                       const FetchSection& section) {
  using T = FetchSection::Text;
  const MimeEntity* msg = nullptr;
  ASSIGN_OR_RETURN(const MimeEntity* cur, ResolvePart(root, section.part, &msg));
  switch (section.text) {
    case T::kNone:
      if (section.part.empty()) return ByteRange{0, size};
      return ByteRange{cur->body_offset(), cur->body_size};
    case T::kMime:
      return ByteRange{cur->header_offset, cur->header_size};
    case T::kHeader:
    case T::kHeaderFields:
    case T::kHeaderFieldsNot:
    case T::kText:
      break;
  }
  if (msg == nullptr) return absl::NotFoundError("HEADER and TEXT need a message/rfc822 part");
  if (section.text == T::kText) return ByteRange{msg->body_offset(), msg->body_size};
  return ByteRange{msg->header_offset, msg->header_size};
}

absl::StatusOr<std::string> SectionBytes(std::string_view message, const MimeEntity& root,
                                         const FetchSection& section) {
  using T = FetchSection::Text;
  ASSIGN_OR_RETURN(ByteRange r, SectionRange(root, message.size(), section));
  std::string_view bytes = message.substr(r.offset, r.length);
  if (section.text == T::kHeaderFields || section.text == T::kHeaderFieldsNot) {
    return FilterHeaderFields(bytes, section.fields, section.text == T::kHeaderFieldsNot);
  }
  return std::string(bytes);
}

ByteRange PartialRange(ByteRange r, std::optional<uint64_t> start, uint64_t length) {
  if (!start) return r;
  if (*start >= r.length) return ByteRange{r.offset + r.length, 0};
  return ByteRange{r.offset + *start, std::min(length, r.length - *start)};
}

// --- the structure record ---

namespace {

void ToRecord(const MimeEntity& e, v1::MimeStructure* out) {
  v1::MimePart* p = out->add_parts();
  p->set_header_offset(e.header_offset);
  p->set_header_size(e.header_size);
  p->set_body_size(e.body_size);
  p->set_children(static_cast<uint32_t>(e.parts.size() + e.message.size()));
  p->set_type(e.type);
  p->set_subtype(e.subtype);
  for (const auto& [n, v] : e.params) {
    v1::MimeParam* q = p->add_params();
    q->set_name(n);
    q->set_value(v);
  }
  p->set_id(e.id);
  p->set_description(e.description);
  p->set_encoding(e.encoding);
  p->set_disposition(e.disposition);
  for (const auto& [n, v] : e.disposition_params) {
    v1::MimeParam* q = p->add_disposition_params();
    q->set_name(n);
    q->set_value(v);
  }
  p->set_language(e.language);
  p->set_location(e.location);
  p->set_lines(e.lines);
  p->set_envelope(e.envelope);
  for (const MimeEntity& c : e.parts) ToRecord(c, out);
  for (const MimeEntity& c : e.message) ToRecord(c, out);
}

// Builds the entity at parts[*next] and those inside it; it must lie in
// [lo, hi) of the message and nest at most `depth` more levels.
absl::Status FromRecord(const v1::MimeStructure& rec, int* next, uint64_t lo, uint64_t hi,
                        int depth, MimeEntity* e) {
  auto bad = [](std::string_view why) {
    return absl::DataLossError(absl::StrCat("bad MIME structure record: ", AV(why)));
  };
  if (*next >= rec.parts_size()) return bad("fewer entities than it says");
  const v1::MimePart& p = rec.parts(*next);
  ++*next;
  // Overflow-safe: each size is checked against what is left.
  if (p.header_offset() < lo || p.header_offset() > hi) return bad("an entity outside its parent");
  if (p.header_size() > hi - p.header_offset()) return bad("a header past its parent's end");
  if (p.body_size() > hi - p.header_offset() - p.header_size()) {
    return bad("a body past its parent's end");
  }
  e->header_offset = p.header_offset();
  e->header_size = p.header_size();
  e->body_size = p.body_size();
  e->type = p.type();
  e->subtype = p.subtype();
  for (const v1::MimeParam& q : p.params()) e->params.emplace_back(q.name(), q.value());
  e->id = p.id();
  e->description = p.description();
  e->encoding = p.encoding();
  e->disposition = p.disposition();
  for (const v1::MimeParam& q : p.disposition_params()) {
    e->disposition_params.emplace_back(q.name(), q.value());
  }
  e->language = p.language();
  e->location = p.location();
  e->lines = p.lines();
  e->envelope = p.envelope();
  if (p.children() == 0) return absl::OkStatus();
  if (depth <= 0) return bad("nested too deep");
  if (p.children() > static_cast<uint32_t>(rec.parts_size() - *next)) {
    return bad("more children than entities");
  }
  std::vector<MimeEntity>* kids;
  if (e->is_multipart()) {
    kids = &e->parts;
  } else if (e->is_message() && p.children() == 1) {
    kids = &e->message;
  } else {
    return bad("children of an entity that has none");
  }
  kids->resize(p.children());
  uint64_t at = e->body_offset();
  const uint64_t end = at + e->body_size;
  for (MimeEntity& c : *kids) {
    RETURN_IF_ERROR(FromRecord(rec, next, at, end, depth - 1, &c));
    at = c.body_offset() + c.body_size;  // the next one starts after this one
  }
  return absl::OkStatus();
}

}  // namespace

v1::MimeStructure MimeToRecord(const MimeEntity& root, uint64_t size) {
  v1::MimeStructure out;
  out.set_version(kMimeRecordVersion);
  out.set_size(size);
  ToRecord(root, &out);
  return out;
}

std::string MimeRecordOf(std::string_view message) {
  return MimeToRecord(ParseMime(message), message.size()).SerializeAsString();
}

absl::StatusOr<MimeEntity> MimeFromRecord(const v1::MimeStructure& record, uint64_t size,
                                          const MimeLimits& limits) {
  if (record.version() != kMimeRecordVersion) {
    return absl::DataLossError(absl::StrCat("MIME structure record version ", record.version()));
  }
  if (record.size() != size) return absl::DataLossError("MIME structure record of another size");
  if (record.parts_size() == 0 ||
      static_cast<size_t>(record.parts_size()) > limits.max_total_parts) {
    return absl::DataLossError("MIME structure record with too many or no entities");
  }
  if (record.parts(0).header_offset() != 0) {
    return absl::DataLossError("MIME structure record not starting at the message's start");
  }
  MimeEntity root;
  int next = 0;
  RETURN_IF_ERROR(FromRecord(record, &next, 0, size, limits.max_depth, &root));
  if (next != record.parts_size()) return absl::DataLossError("MIME structure record too long");
  return root;
}

absl::StatusOr<MimeEntity> MimeFromRecordBytes(std::string_view bytes, uint64_t size,
                                               const MimeLimits& limits) {
  v1::MimeStructure record;
  if (bytes.size() > kMaxMimeRecordBytes ||
      !record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError("MIME structure record does not parse");
  }
  return MimeFromRecord(record, size, limits);
}

void ShiftMimeRecord(v1::MimeStructure* record, uint64_t prefix_size) {
  record->set_size(record->size() + prefix_size);
  for (int i = 0; i < record->parts_size(); ++i) {
    v1::MimePart* p = record->mutable_parts(i);
    if (i == 0) {
      p->set_header_size(p->header_size() + prefix_size);
    } else {
      p->set_header_offset(p->header_offset() + prefix_size);
    }
  }
}

std::string ImapBodyStructure(const MimeEntity& root, bool extensible) {
  return Structure(root, extensible);
}

std::string SectionSpec(const FetchSection& section) {
  using T = FetchSection::Text;
  std::string out = absl::StrJoin(section.part, ".");
  std::string text;
  switch (section.text) {
    case T::kNone: break;
    case T::kHeader: text = "HEADER"; break;
    case T::kHeaderFields: text = "HEADER.FIELDS"; break;
    case T::kHeaderFieldsNot: text = "HEADER.FIELDS.NOT"; break;
    case T::kText: text = "TEXT"; break;
    case T::kMime: text = "MIME"; break;
  }
  if (!text.empty()) out += out.empty() ? text : "." + text;
  if (section.text == T::kHeaderFields || section.text == T::kHeaderFieldsNot) {
    std::vector<std::string> names;
    for (const std::string& f : section.fields) names.push_back(IsImapAtom(f) ? f : ImapString(f));
    absl::StrAppend(&out, " (", absl::StrJoin(names, " "), ")");
  }
  return out;
}

}  // namespace pullmail
