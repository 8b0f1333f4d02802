// The directory in DNS (docs/PROTOCOL.md section 5.2): record names, the
// syntax of the TXT records a domain publishes, and the parsing of a DNS
// response's TXT answers. Pure: no sockets, no clock. The resolver that sends
// the queries lives outside core (rpc/cares_resolver.h).
//
// A domain D publishes, in the manner of DKIM (RFC 6376 section 3.6.2):
//
//   _pullmail.D.        TXT "v=pm1; r=<recipient host:port>; s=<sender host:port>; k=<id>,<id>..."
//   <id>._pmkey.D.      TXT "v=pm1; k=ed25519; p=<base64 of the raw 32-byte public key>"
//
// Both are tag=value lists (RFC 6376 section 3.2): tags separated by ';',
// whitespace around tags and values ignored, `v` first, a tag at most once,
// unknown tags ignored (so that later versions can add some). A TXT record
// made of several character-strings is their concatenation. Among the TXT
// records at a name, those that do not start with "v=pm1" are ignored
// (other uses of the name); more than one that does is an error.
//
// A key is trusted only if its id is listed in the domain record's k= AND its
// key record exists and parses; an empty p= (as in DKIM) means "revoked".
#ifndef PULLMAIL_CORE_DIRECTORY_DNS_RECORD_H_
#define PULLMAIL_CORE_DIRECTORY_DNS_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/directory/directory.h"

namespace pullmail {

namespace dns_limits {
// Bounds on what a domain's DNS may make a node parse and keep.
inline constexpr size_t kMaxTxtRecord = 2048;      // bytes of one record, strings concatenated
inline constexpr size_t kMaxTxtRecordsPerName = 16;
inline constexpr size_t kMaxKeysPerDomain = 16;    // ids in k=
inline constexpr size_t kMaxKeyIdLabel = 63;       // a key id is one DNS label
inline constexpr size_t kMaxResponse = 65535;      // a DNS message (TCP length field)
}  // namespace dns_limits

inline constexpr std::string_view kDnsRecordVersion = "pm1";

// "_pullmail.<domain>" and "<key_id>._pmkey.<domain>" (no trailing dot).
std::string DomainRecordName(std::string_view domain);
std::string KeyRecordName(std::string_view domain, std::string_view key_id);

// A key id publishable in DNS: 1..63 of [a-z0-9-], not starting or ending
// with '-' (one lower-case DNS label, so that DNS's case-insensitivity cannot
// make two ids one).
bool ValidDnsKeyId(std::string_view key_id);

struct DomainRecord {
  std::string recipient_endpoint;    // r=
  std::string sender_endpoint;       // s=
  std::vector<std::string> key_ids;  // k=, in the published order
};

// Parses one TXT record's text. InvalidArgument naming the tag on any error:
// v missing or not first or not "pm1", r or s missing or not host:port, k
// with more than kMaxKeysPerDomain ids or an id that is not ValidDnsKeyId, a
// duplicate tag, a record over kMaxTxtRecord bytes.
absl::StatusOr<DomainRecord> ParseDomainRecord(std::string_view txt);
std::string FormatDomainRecord(const DomainRecord& record);

// Parses a key record; returns the raw 32-byte Ed25519 public key.
// InvalidArgument on bad syntax, k other than "ed25519", p not base64 of 32
// bytes; PermissionDenied ("revoked") for an empty p=.
absl::StatusOr<std::string> ParseKeyRecord(std::string_view txt);
std::string FormatKeyRecord(std::string_view raw_public_key);

// Of the TXT records at a name, the one that starts with "v=pm1" (after
// optional whitespace). NotFound when there is none, InvalidArgument when
// there are several.
absl::StatusOr<std::string> SelectPullmailRecord(const std::vector<std::string>& records);

// The TXT answers of one DNS response (RFC 1035 section 4.1).
struct TxtAnswer {
  int rcode = 0;                     // 0 NOERROR, 3 NXDOMAIN, ...
  std::vector<std::string> records;  // each TXT RR's strings concatenated
  absl::Duration ttl = absl::ZeroDuration();  // the smallest TXT RR TTL
};

// Parses a DNS response message and collects the TXT (type 16, class IN)
// records of its answer section, whatever their owner (the resolver already
// matched the question; a CNAME's target's records count). InvalidArgument on
// a truncated or malformed message, a compression loop, more than
// kMaxTxtRecordsPerName TXT answers or a record over kMaxTxtRecord bytes.
// A TTL with the top bit set counts as 0 (RFC 2181 section 8).
absl::StatusOr<TxtAnswer> ParseTxtResponse(std::string_view message);

// The zone-file lines (RFC 1035 section 5.1) that publish `entry`: the domain
// record, then one key record per key in entry.keys, in `key_order` (ids
// not in entry.keys are skipped; ids of entry.keys missing from key_order
// follow in id order). Each TXT text is quoted, split into character-strings
// of at most 255 bytes. Errors: a key id that is not ValidDnsKeyId, no
// endpoints, more than kMaxKeysPerDomain keys.
absl::StatusOr<std::string> FormatZoneLines(const DomainEntry& entry,
                                            const std::vector<std::string>& key_order,
                                            absl::Duration ttl);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_DIRECTORY_DNS_RECORD_H_
