// The directory: what a node knows about other domains. It answers, for a
// domain, where its recipient node listens (notifications go there), where
// its sender node listens (bodies are fetched there), its Ed25519 public keys
// by key id, and whether it is a legacy domain reached through a gateway.
//
// Only endpoints the directory lists for a signing domain are ever contacted;
// an endpoint that a notification merely claims is never used.
#ifndef PULLMAIL_CORE_DIRECTORY_DIRECTORY_H_
#define PULLMAIL_CORE_DIRECTORY_DIRECTORY_H_

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pullmail {

struct DomainEntry {
  std::string domain;               // lower-case
  // host:port of its recipient node; or several, comma-separated, for the
  // replicas of one node sharing a database (docs/SCALE-OUT.md): callers
  // spread their calls across them (rpc/tls.h Dial).
  std::string recipient_endpoint;
  std::string sender_endpoint;      // host:port(s) of its sender node, likewise
  std::map<std::string, std::string> keys;  // key id -> raw 32-byte Ed25519 public key
  bool legacy = false;              // reached through a gateway (SMTP)
};

// Read-only lookups. Implementations are thread-safe for concurrent reads.
class Directory {
 public:
  virtual ~Directory() = default;
  // NotFound ("unknown domain") when the domain is not listed.
  virtual absl::StatusOr<DomainEntry> Lookup(std::string_view domain) const = 0;
  // The raw public key; NotFound names which of domain or key id is unknown.
  absl::StatusOr<std::string> LookupKey(std::string_view domain, std::string_view key_id) const;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_DIRECTORY_DIRECTORY_H_
