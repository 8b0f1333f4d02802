// Header summary extraction with GMime. The header block is located here
// (GMime would otherwise read the whole body to build its MIME tree, and a
// body can be 64 MiB) and only that block is handed to GMime's parser, which
// does the RFC 5322 / RFC 2047 work: unfolding, address lists and groups,
// encoded words in any charset iconv knows.
#include "core/mail/header_summary.h"

#include <gmime/gmime.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/strings/str_join.h"
#include "core/mail/gmime_util.h"
#include "core/mail/utf8.h"
#include "core/util/limits.h"
#include "core/util/logging.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

using mail_internal::GPtr;
using mail_internal::InitGMimeOnce;

struct ReferencesFree {
  void operator()(GMimeReferences* r) const {
    if (r != nullptr) g_mime_references_free(r);
  }
};

// Where the header block ends: the offset of the empty line that separates it
// from the body (RFC 5322 section 2.1), or the whole text if there is none.
// Stops looking (and returns a value > kMaxHeaderBlock) once past that size,
// so a 64 MiB body without an empty line is not scanned to the end.
size_t HeaderBlockEnd(std::string_view msg) {
  size_t pos = 0;  // start of the current line
  while (pos < msg.size() && pos <= kMaxHeaderBlock) {
    if (msg[pos] == '\n') return pos;
    if (msg[pos] == '\r' && pos + 1 < msg.size() && msg[pos + 1] == '\n') return pos;
    size_t nl = msg.find('\n', pos);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return pos > kMaxHeaderBlock ? pos : msg.size();
}

// RFC 5322 section 3.6.8: field-name = 1*ftext, ftext = %d33-57 / %d59-126.
bool IsFieldName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c < 33 || c > 126 || c == ':') return false;
  }
  return true;
}

// The first line must be a header field "name:" (possibly with WSP before
// the colon, RFC 5322 section 4.5.8 obsolete syntax).
bool StartsWithHeaderField(std::string_view block) {
  size_t colon = block.find(':');
  size_t nl = block.find('\n');
  if (colon == std::string_view::npos || (nl != std::string_view::npos && nl < colon)) {
    return false;
  }
  std::string_view name = block.substr(0, colon);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  return IsFieldName(name);
}

// A header value fit for a listing: control characters (the TAB that
// unfolding leaves, stray CR or LF) become spaces, ends trimmed, valid UTF-8,
// at most kMaxHeaderValue bytes.
std::string Clean(std::string_view s) {
  std::string v(s);
  for (char& c : v) {
    if ((static_cast<unsigned char>(c) < 0x20) || c == 0x7f) c = ' ';
  }
  return ToValidUtf8(SV(absl::StripAsciiWhitespace(v)), limits::kMaxHeaderValue);
}

std::string Clean(const char* s) { return s == nullptr ? std::string() : Clean(std::string_view(s)); }

std::string DisplayForm(InternetAddressMailbox* mb) {
  const char* addr = internet_address_mailbox_get_addr(mb);
  std::string a = addr == nullptr ? "" : std::string(absl::StripAsciiWhitespace(addr));
  const char* name = internet_address_get_name(INTERNET_ADDRESS(mb));
  std::string n = name == nullptr ? "" : std::string(absl::StripAsciiWhitespace(name));
  if (a.empty()) return n;
  if (n.empty()) return a;
  return absl::StrCat(n, " <", a, ">");
}

// Appends each mailbox of `list` (group members flattened) in display form,
// stopping at `cap` entries.
void CollectMailboxes(InternetAddressList* list, size_t cap, std::vector<std::string>* out) {
  if (list == nullptr) return;
  int n = internet_address_list_length(list);
  for (int i = 0; i < n && out->size() < cap; ++i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(ia)) {
      CollectMailboxes(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), cap, out);
    } else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
      std::string d = DisplayForm(INTERNET_ADDRESS_MAILBOX(ia));
      if (!d.empty()) out->push_back(Clean(d));
    }
  }
}

// The msg-ids of a Message-ID or In-Reply-To value, each in angle brackets.
std::vector<std::string> MessageIds(const char* value) {
  std::vector<std::string> ids;
  if (value == nullptr) return ids;
  std::unique_ptr<GMimeReferences, ReferencesFree> refs(g_mime_references_parse(nullptr, value));
  if (refs == nullptr) return ids;
  int n = g_mime_references_length(refs.get());
  for (int i = 0; i < n; ++i) {
    const char* id = g_mime_references_get_message_id(refs.get(), i);
    if (id != nullptr && *id != '\0') ids.push_back(absl::StrCat("<", id, ">"));
  }
  return ids;
}

// The message's header block parsed by GMime (the checks and errors of
// ExtractHeaderSummary).
absl::StatusOr<GPtr<GMimeMessage>> ParseHeaderBlock(std::string_view rfc5322) {
  if (rfc5322.size() > limits::kMaxBodySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("message of ", rfc5322.size(), " bytes exceeds the limit of ",
                     limits::kMaxBodySize));
  }
  size_t end = HeaderBlockEnd(rfc5322);
  if (end > kMaxHeaderBlock) {
    return absl::InvalidArgumentError(
        absl::StrCat("header block exceeds ", kMaxHeaderBlock, " bytes"));
  }
  std::string_view block = rfc5322.substr(0, end);
  if (!StartsWithHeaderField(block)) {
    return absl::InvalidArgumentError("no header fields (the message must start with one)");
  }

  InitGMimeOnce();
  // The block followed by an empty line, so GMime sees an empty body.
  std::string text = absl::StrCat(AV(block), "\n");
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(text.data(), text.size()));
  GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GPtr<GMimeMessage> msg(g_mime_parser_construct_message(parser.get(), nullptr));
  if (msg == nullptr) return absl::InvalidArgumentError("not an RFC 5322 message");
  if (g_mime_header_list_get_count(g_mime_object_get_header_list(GMIME_OBJECT(msg.get()))) == 0) {
    return absl::InvalidArgumentError("no header fields");
  }
  return msg;
}

// The addresses (addr-spec, trimmed) of every mailbox in `list`, group
// members flattened; a mailbox without an address gives "".
void CollectAddresses(InternetAddressList* list, std::vector<std::string>* out) {
  if (list == nullptr) return;
  int n = internet_address_list_length(list);
  for (int i = 0; i < n; ++i) {
    InternetAddress* ia = internet_address_list_get_address(list, i);
    if (INTERNET_ADDRESS_IS_GROUP(ia)) {
      CollectAddresses(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), out);
    } else if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
      const char* addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
      out->push_back(addr == nullptr ? "" : std::string(absl::StripAsciiWhitespace(addr)));
    }
  }
}

}  // namespace

absl::StatusOr<AuthorFields> ExtractAuthorFields(std::string_view rfc5322) {
  absl::StatusOr<GPtr<GMimeMessage>> msg = ParseHeaderBlock(rfc5322);
  if (!msg.ok()) return msg.status();
  GMimeHeaderList* headers = g_mime_object_get_header_list(GMIME_OBJECT(msg->get()));
  AuthorFields out;
  int n = g_mime_header_list_get_count(headers);
  for (int i = 0; i < n; ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(headers, i);
    const char* name = g_mime_header_get_name(h);
    if (name == nullptr) continue;
    std::vector<std::string>* into = nullptr;
    if (absl::EqualsIgnoreCase(name, "From")) {
      ++out.from_fields;
      into = &out.from;
    } else if (absl::EqualsIgnoreCase(name, "Sender")) {
      ++out.sender_fields;
      into = &out.sender;
    } else {
      continue;
    }
    // The raw value: an encoded word in a display name must not be decoded
    // into address syntax before the address list is parsed.
    const char* raw = g_mime_header_get_raw_value(h);
    if (raw == nullptr) continue;
    size_t before = into->size();
    InternetAddressList* list = internet_address_list_parse(nullptr, raw);
    if (list != nullptr) {
      CollectAddresses(list, into);
      g_object_unref(list);
    }
    // A field that names no mailbox at all is kept as one empty address, so
    // that no rule can read "nothing to check" as "nothing wrong".
    if (into->size() == before) into->push_back("");
  }
  return out;
}

absl::StatusOr<v1::HeaderSummary> ExtractHeaderSummary(std::string_view rfc5322) {
  absl::StatusOr<GPtr<GMimeMessage>> parsed = ParseHeaderBlock(rfc5322);
  if (!parsed.ok()) return parsed.status();
  GPtr<GMimeMessage> msg = *std::move(parsed);
  GMimeObject* obj = GMIME_OBJECT(msg.get());

  v1::HeaderSummary summary;
  std::vector<std::string> from;
  CollectMailboxes(g_mime_message_get_from(msg.get()), limits::kMaxSummaryList, &from);
  summary.set_from(ToValidUtf8(absl::StrJoin(from, ", "), limits::kMaxHeaderValue));

  std::vector<std::string> list;
  CollectMailboxes(g_mime_message_get_to(msg.get()), limits::kMaxSummaryList, &list);
  for (std::string& s : list) summary.add_to(std::move(s));
  list.clear();
  CollectMailboxes(g_mime_message_get_cc(msg.get()), limits::kMaxSummaryList, &list);
  for (std::string& s : list) summary.add_cc(std::move(s));

  // RFC 5322 3.6.2 Sender and Reply-To (IMAP's ENVELOPE shows them; RFC
  // 3501 7.4.2). Bcc is never summarised: the summary travels to every
  // recipient domain.
  list.clear();
  CollectMailboxes(g_mime_message_get_sender(msg.get()), limits::kMaxSummaryList, &list);
  for (std::string& s : list) summary.add_sender(std::move(s));
  list.clear();
  CollectMailboxes(g_mime_message_get_reply_to(msg.get()), limits::kMaxSummaryList, &list);
  for (std::string& s : list) summary.add_reply_to(std::move(s));

  summary.set_subject(Clean(g_mime_message_get_subject(msg.get())));
  summary.set_date(Clean(g_mime_object_get_header(obj, "Date")));
  std::vector<std::string> ids = MessageIds(g_mime_object_get_header(obj, "Message-ID"));
  if (!ids.empty()) summary.set_message_id(Clean(ids[0]));
  ids = MessageIds(g_mime_object_get_header(obj, "In-Reply-To"));
  summary.set_in_reply_to(Clean(absl::StrJoin(ids, " ")));
  return summary;
}

std::pair<std::string, std::string> SplitDisplayForm(std::string_view display) {
  std::string_view d = SV(absl::StripAsciiWhitespace(AV(display)));
  size_t lt = d.rfind('<');
  if (lt == std::string_view::npos || d.back() != '>') return {"", std::string(d)};
  std::string_view addr = d.substr(lt + 1, d.size() - lt - 2);
  std::string_view name = SV(absl::StripAsciiWhitespace(AV(d.substr(0, lt))));
  return {std::string(name), std::string(addr)};
}

std::vector<std::string> SplitJoinedMailboxes(std::string_view joined) {
  std::vector<std::string> out;
  std::string_view rest = joined;
  while (!rest.empty()) {
    size_t comma = rest.find(", ");
    size_t lt = rest.find('<');
    bool named = comma == std::string_view::npos
                     ? lt != std::string_view::npos
                     : (lt != std::string_view::npos && lt < comma) ||
                           rest.substr(0, comma).find('@') == std::string_view::npos;
    size_t cut;
    if (named) {
      size_t gt = rest.find('>');
      cut = gt == std::string_view::npos ? rest.size() : gt + 1;
    } else {
      cut = comma == std::string_view::npos ? rest.size() : comma;
    }
    out.emplace_back(rest.substr(0, cut));
    rest.remove_prefix(cut);
    while (!rest.empty() && (rest.front() == ',' || rest.front() == ' ')) rest.remove_prefix(1);
  }
  return out;
}

std::string FormatRfc5322Date(absl::Time t) {
  static constexpr const char* kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  absl::CivilSecond cs = absl::ToCivilSecond(t, absl::UTCTimeZone());
  int weekday = static_cast<int>(absl::GetWeekday(cs));  // Monday == 0
  return absl::StrFormat("%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[weekday],
                         cs.day(), kMonths[cs.month() - 1], cs.year(), cs.hour(), cs.minute(),
                         cs.second());
}

std::string PrependHeaders(std::string_view rfc5322,
                           const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t nl = rfc5322.find('\n');
  const char* eol = (nl != std::string_view::npos && nl > 0 && rfc5322[nl - 1] == '\r') ? "\r\n" : "\n";
  std::string out;
  for (const auto& [name, value] : fields) {
    PM_CHECK(IsFieldName(name)) << "invalid header field name '" << name << "'";
    std::string v = value;
    for (char& c : v) {
      if (c == '\r' || c == '\n' || c == '\0') c = ' ';
    }
    absl::StrAppend(&out, name, ": ", v, eol);
  }
  out.append(rfc5322);
  return out;
}

}  // namespace pullmail
