// DNS directory records: names, tag=value syntax, DNS response parsing and
// zone lines (see dns_record.h and docs/PROTOCOL.md section 5.2).
#include "core/directory/dns_record.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/crypto/encoding.h"
#include "core/directory/toml_directory.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

constexpr size_t kEd25519PublicKeySize = 32;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && absl::ascii_isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A tag=value list (RFC 6376 section 3.2), in order. A trailing ';' is allowed.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseTags(std::string_view txt) {
  if (txt.size() > dns_limits::kMaxTxtRecord) {
    return absl::InvalidArgumentError(absl::StrCat("record is ", txt.size(), " bytes, limit ",
                                                   dns_limits::kMaxTxtRecord));
  }
  std::vector<std::pair<std::string, std::string>> tags;
  std::set<std::string> seen;
  std::vector<absl::string_view> parts = absl::StrSplit(AV(txt), ';');
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view part = Trim(SV(parts[i]));
    if (part.empty()) {
      if (i + 1 == parts.size()) break;  // trailing ';'
      return absl::InvalidArgumentError("empty tag");
    }
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("tag without '=': '", absl::CHexEscape(AV(part)), "'"));
    }
    std::string name(Trim(part.substr(0, eq)));
    std::string value(Trim(part.substr(eq + 1)));
    if (name.empty()) return absl::InvalidArgumentError("empty tag name");
    for (char c : name) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
        return absl::InvalidArgumentError(absl::StrCat("bad tag name '", absl::CHexEscape(name), "'"));
      }
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("tag ", name, " appears twice"));
    }
    tags.emplace_back(std::move(name), std::move(value));
  }
  if (tags.empty() || tags[0].first != "v") {
    return absl::InvalidArgumentError("tag v must come first");
  }
  if (tags[0].second != kDnsRecordVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("v=", absl::CHexEscape(tags[0].second), ", expected v=", AV(kDnsRecordVersion)));
  }
  return tags;
}

const std::string* Tag(const std::vector<std::pair<std::string, std::string>>& tags,
                       std::string_view name) {
  for (const auto& [n, v] : tags) {
    if (n == name) return &v;
  }
  return nullptr;
}

bool StartsPullmailRecord(std::string_view txt) {
  txt = Trim(txt);
  if (txt.size() < 2 || txt[0] != 'v') return false;
  txt.remove_prefix(1);
  txt = Trim(txt);
  if (txt.empty() || txt[0] != '=') return false;
  txt.remove_prefix(1);
  txt = Trim(txt);
  if (txt.substr(0, kDnsRecordVersion.size()) != kDnsRecordVersion) return false;
  txt.remove_prefix(kDnsRecordVersion.size());
  txt = Trim(txt);
  return txt.empty() || txt[0] == ';';
}

// A zone-file character-string: quoted, '"' and '\' escaped, non-printable
// bytes as \DDD (RFC 1035 section 5.1).
std::string QuoteCharacterString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      absl::StrAppend(&out, "\\", absl::Dec(u, absl::kZeroPad3));
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string QuoteTxt(std::string_view text) {
  std::vector<std::string> strings;
  do {
    strings.push_back(QuoteCharacterString(text.substr(0, 255)));
    text.remove_prefix(std::min<size_t>(255, text.size()));
  } while (!text.empty());
  return absl::StrJoin(strings, " ");
}

// --- DNS message reading (RFC 1035 section 4.1) ---

class Reader {
 public:
  explicit Reader(std::string_view msg) : msg_(msg) {}
  bool U8(size_t at, uint8_t* v) const {
    if (at >= msg_.size()) return false;
    *v = static_cast<uint8_t>(msg_[at]);
    return true;
  }
  bool U16(size_t at, uint16_t* v) const {
    if (at + 2 > msg_.size()) return false;
    *v = static_cast<uint16_t>((static_cast<uint8_t>(msg_[at]) << 8) | static_cast<uint8_t>(msg_[at + 1]));
    return true;
  }
  bool U32(size_t at, uint32_t* v) const {
    uint16_t hi, lo;
    if (!U16(at, &hi) || !U16(at + 2, &lo)) return false;
    *v = (uint32_t{hi} << 16) | lo;
    return true;
  }
  // Skips a (possibly compressed) name starting at `at`; sets *next to the
  // byte after it in the message (not after a pointer's target).
  bool SkipName(size_t at, size_t* next) const {
    size_t pos = at;
    for (int labels = 0; labels < 128; ++labels) {
      uint8_t len;
      if (!U8(pos, &len)) return false;
      if (len == 0) {
        *next = pos + 1;
        return true;
      }
      if ((len & 0xC0) == 0xC0) {  // a pointer ends the name here
        if (pos + 2 > msg_.size()) return false;
        *next = pos + 2;
        return true;
      }
      if ((len & 0xC0) != 0) return false;  // reserved label types
      pos += 1 + len;
    }
    return false;
  }
  std::string_view Slice(size_t at, size_t n) const { return msg_.substr(at, n); }
  size_t size() const { return msg_.size(); }

 private:
  std::string_view msg_;
};

}  // namespace

std::string DomainRecordName(std::string_view domain) {
  return absl::StrCat("_pullmail.", absl::AsciiStrToLower(AV(domain)));
}

std::string KeyRecordName(std::string_view domain, std::string_view key_id) {
  return absl::StrCat(AV(key_id), "._pmkey.", absl::AsciiStrToLower(AV(domain)));
}

bool ValidDnsKeyId(std::string_view id) {
  if (id.empty() || id.size() > dns_limits::kMaxKeyIdLabel) return false;
  if (id.front() == '-' || id.back() == '-') return false;
  for (char c : id) {
    if (!(absl::ascii_isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'z') || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<DomainRecord> ParseDomainRecord(std::string_view txt) {
  ASSIGN_OR_RETURN(auto tags, ParseTags(txt));
  DomainRecord r;
  for (const char* name : {"r", "s"}) {
    const std::string* v = Tag(tags, name);
    if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat("tag ", name, " missing"));
    if (!IsValidEndpoint(*v)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tag ", name, ": '", absl::CHexEscape(*v), "' is not host:port with a port 1..65535"));
    }
    (name[0] == 'r' ? r.recipient_endpoint : r.sender_endpoint) = *v;
  }
  if (const std::string* k = Tag(tags, "k"); k != nullptr && !k->empty()) {
    std::set<std::string> seen;
    for (absl::string_view raw_id : absl::StrSplit(AV(*k), ',')) {
      std::string_view id = Trim(SV(raw_id));
      if (!ValidDnsKeyId(id)) {
        return absl::InvalidArgumentError(
            absl::StrCat("tag k: '", absl::CHexEscape(AV(id)), "' is not a key id ([a-z0-9-], 1..63)"));
      }
      if (!seen.insert(std::string(id)).second) continue;
      if (r.key_ids.size() == dns_limits::kMaxKeysPerDomain) {
        return absl::InvalidArgumentError(
            absl::StrCat("tag k: more than ", dns_limits::kMaxKeysPerDomain, " key ids"));
      }
      r.key_ids.emplace_back(id);
    }
  }
  return r;
}

std::string FormatDomainRecord(const DomainRecord& record) {
  std::string out = absl::StrCat("v=", AV(kDnsRecordVersion), "; r=", record.recipient_endpoint,
                                 "; s=", record.sender_endpoint);
  if (!record.key_ids.empty()) absl::StrAppend(&out, "; k=", absl::StrJoin(record.key_ids, ","));
  return out;
}

absl::StatusOr<std::string> ParseKeyRecord(std::string_view txt) {
  ASSIGN_OR_RETURN(auto tags, ParseTags(txt));
  const std::string* k = Tag(tags, "k");
  if (k != nullptr && absl::AsciiStrToLower(*k) != "ed25519") {
    return absl::InvalidArgumentError(absl::StrCat("k=", absl::CHexEscape(*k), ": only ed25519"));
  }
  const std::string* p = Tag(tags, "p");
  if (p == nullptr) return absl::InvalidArgumentError("tag p missing");
  std::string b64;
  for (char c : *p) {
    if (!absl::ascii_isspace(static_cast<unsigned char>(c))) b64 += c;  // RFC 6376 3.6.1
  }
  if (b64.empty()) return absl::PermissionDeniedError("key revoked (empty p=)");
  absl::StatusOr<std::string> raw = Base64Decode(b64);
  if (!raw.ok()) return absl::InvalidArgumentError("tag p: bad base64");
  if (raw->size() != kEd25519PublicKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("tag p: Ed25519 public key must be 32 bytes, got ", raw->size()));
  }
  return *std::move(raw);
}

std::string FormatKeyRecord(std::string_view raw_public_key) {
  return absl::StrCat("v=", AV(kDnsRecordVersion), "; k=ed25519; p=", Base64Encode(raw_public_key));
}

absl::StatusOr<std::string> SelectPullmailRecord(const std::vector<std::string>& records) {
  const std::string* found = nullptr;
  for (const std::string& r : records) {
    if (!StartsPullmailRecord(r)) continue;
    if (found != nullptr) return absl::InvalidArgumentError("more than one v=pm1 record");
    found = &r;
  }
  if (found == nullptr) return absl::NotFoundError("no v=pm1 record");
  return *found;
}

absl::StatusOr<TxtAnswer> ParseTxtResponse(std::string_view message) {
  if (message.size() > dns_limits::kMaxResponse) {
    return absl::InvalidArgumentError("DNS response too large");
  }
  Reader r(message);
  uint16_t flags, qd, an;
  if (!r.U16(2, &flags) || !r.U16(4, &qd) || !r.U16(6, &an) || message.size() < 12) {
    return absl::InvalidArgumentError("DNS response shorter than its header");
  }
  if ((flags & 0x8000) == 0) return absl::InvalidArgumentError("DNS message is not a response");
  TxtAnswer out;
  out.rcode = flags & 0x000F;
  size_t pos = 12;
  for (uint16_t i = 0; i < qd; ++i) {
    if (!r.SkipName(pos, &pos) || pos + 4 > r.size()) {
      return absl::InvalidArgumentError("DNS response: truncated question");
    }
    pos += 4;
  }
  bool any = false;
  uint32_t min_ttl = 0;
  for (uint16_t i = 0; i < an; ++i) {
    uint16_t type, klass, rdlen;
    uint32_t ttl;
    if (!r.SkipName(pos, &pos) || !r.U16(pos, &type) || !r.U16(pos + 2, &klass) ||
        !r.U32(pos + 4, &ttl) || !r.U16(pos + 8, &rdlen) || pos + 10 + rdlen > r.size()) {
      return absl::InvalidArgumentError("DNS response: truncated answer");
    }
    size_t rdata = pos + 10;
    pos = rdata + rdlen;
    if (type != 16 || klass != 1) continue;  // CNAME, RRSIG, ...
    if (out.records.size() == dns_limits::kMaxTxtRecordsPerName) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", dns_limits::kMaxTxtRecordsPerName, " TXT records"));
    }
    std::string text;
    size_t at = rdata;
    while (at < pos) {
      uint8_t len = static_cast<uint8_t>(message[at]);
      if (at + 1 + len > pos) return absl::InvalidArgumentError("DNS response: bad TXT string");
      text.append(message.substr(at + 1, len));
      at += 1 + len;
    }
    if (text.size() > dns_limits::kMaxTxtRecord) {
      return absl::InvalidArgumentError(absl::StrCat("TXT record of ", text.size(), " bytes, limit ",
                                                     dns_limits::kMaxTxtRecord));
    }
    if (ttl & 0x80000000u) ttl = 0;
    min_ttl = any ? std::min(min_ttl, ttl) : ttl;
    any = true;
    out.records.push_back(std::move(text));
  }
  out.ttl = absl::Seconds(min_ttl);
  return out;
}

absl::StatusOr<std::string> FormatZoneLines(const DomainEntry& entry,
                                            const std::vector<std::string>& key_order,
                                            absl::Duration ttl) {
  if (entry.recipient_endpoint.empty() || entry.sender_endpoint.empty()) {
    return absl::InvalidArgumentError("a domain record needs both endpoints");
  }
  std::vector<std::string> ids;
  for (const std::string& id : key_order) {
    if (entry.keys.count(id) && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  for (const auto& [id, _] : entry.keys) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  }
  if (ids.size() > dns_limits::kMaxKeysPerDomain) {
    return absl::InvalidArgumentError(
        absl::StrCat(ids.size(), " keys; at most ", dns_limits::kMaxKeysPerDomain, " may be published"));
  }
  for (const std::string& id : ids) {
    if (!ValidDnsKeyId(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("key id '", id, "' cannot be published in DNS ([a-z0-9-], 1..63)"));
    }
  }
  DomainRecord record{entry.recipient_endpoint, entry.sender_endpoint, ids};
  int64_t secs = absl::ToInt64Seconds(ttl);
  std::string domain = absl::AsciiStrToLower(entry.domain);
  std::string out = absl::StrCat(DomainRecordName(domain), ". ", secs, " IN TXT ",
                                 QuoteTxt(FormatDomainRecord(record)), "\n");
  for (const std::string& id : ids) {
    absl::StrAppend(&out, KeyRecordName(domain, id), ". ", secs, " IN TXT ",
                    QuoteTxt(FormatKeyRecord(entry.keys.at(id))), "\n");
  }
  return out;
}

}  // namespace pullmail
