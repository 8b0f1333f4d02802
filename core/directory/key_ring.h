// Key rotation: which of a domain's signing keys it publishes, and until
// when. A node signs with its newest key (node.toml's key_id and
// signing_key); each older key stays published until every notification it
// signed has expired (the sender's retention after the rotation, plus the
// allowed clock skew), then drops out of `pullmail dns-records`. Revoking a
// key removes it at once: receivers then reject what it signed with
// "unknown_key", also notifications still queued.
//
// The older keys live in KEYS_DIR/published.toml, written by `pullmail key
// rotate` and `pullmail key revoke`:
//
//   [keys.k1]
//   public_key = "<base64 of the raw 32-byte Ed25519 public key>"
//   retired_unix = 1765000000        # when k2 replaced it
//   publish_until_unix = 1767592000  # retired + retention + skew
//
// Pure: the CLI reads and writes the file; these functions decide.
#ifndef PULLMAIL_CORE_DIRECTORY_KEY_RING_H_
#define PULLMAIL_CORE_DIRECTORY_KEY_RING_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/directory/directory.h"

namespace pullmail {

struct RetiredKey {
  std::string id;
  std::string public_key;  // raw 32 bytes
  absl::Time retired;
  absl::Time publish_until;
};

// Parses published.toml (an empty text is no keys). InvalidArgument naming
// `source`, the key id and the field; key ids must be ValidDnsKeyId.
absl::StatusOr<std::vector<RetiredKey>> ParseRetiredKeys(std::string_view text,
                                                         std::string_view source);
std::string FormatRetiredKeys(std::string_view domain, const std::vector<RetiredKey>& keys);

// "k<N+1>" where N is the largest number among ids of the form k<digits>
// (current and retired); "k1" if there is none.
std::string NextKeyId(std::string_view current_id, const std::vector<RetiredKey>& retired);

// The older keys after replacing `current` (id, raw public key) at `now`:
// `current` joins them, published until now + keep_for; keys whose
// publish_until has passed are dropped. InvalidArgument if `new_id` is
// already in use or is not ValidDnsKeyId.
absl::StatusOr<std::vector<RetiredKey>> Rotate(std::vector<RetiredKey> retired,
                                               std::string_view current_id,
                                               std::string_view current_public_key,
                                               std::string_view new_id, absl::Time now,
                                               absl::Duration keep_for);

// How long a replaced key stays published: the sender's retention (the
// longest a notification it signed can live) plus the allowed clock skew.
absl::Duration RetiredKeyLifetime(absl::Duration retention);

// The directory entry a domain publishes at `now`: its endpoints, its
// current key and every retired key still within publish_until. `order`
// receives the key ids newest first (current, then by retirement, latest first).
DomainEntry PublishedEntry(std::string_view domain, std::string_view recipient_endpoint,
                           std::string_view sender_endpoint, std::string_view current_id,
                           std::string_view current_public_key,
                           const std::vector<RetiredKey>& retired, absl::Time now,
                           std::vector<std::string>* order);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_DIRECTORY_KEY_RING_H_
