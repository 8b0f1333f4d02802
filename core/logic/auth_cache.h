// The gateway's login cache, in the manner of Dovecot's auth cache
// (auth_cache_ttl): a successful login's bearer token is kept for a while
// under a key derived from (user, password), so that a client that logs in
// again (every mail client opens several connections and reconnects often)
// pays neither the node's password hash (scrypt) nor the Login round trip.
//
// The same security as without it:
//   - only successful logins are cached; a wrong password always goes to the
//     node (so the node's throttling and failure counting see every guess);
//   - the key is SHA-256 over a random per-process secret, the user and the
//     password: the password is never stored, and the keys are useless
//     outside this process;
//   - an entry lives at most `ttl` and never past its token's own expiry
//     (minus a margin), so a changed password or a revoked user stops
//     working within `ttl` at the latest (Dovecot: the same, with its TTL);
//   - bounded: at most `max_entries`; the oldest go first.
// Pure logic on an injected clock (`now` arguments). Thread-safe.
#ifndef PULLMAIL_CORE_LOGIC_AUTH_CACHE_H_
#define PULLMAIL_CORE_LOGIC_AUTH_CACHE_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace pullmail {

class AuthCache {
 public:
  // `secret`: random bytes (32), fresh for each process.
  AuthCache(std::string secret, absl::Duration ttl, size_t max_entries);

  // The cached token for (user, password), if a login with exactly these
  // succeeded less than ttl ago and its token has not expired.
  std::optional<std::string> Lookup(std::string_view user, std::string_view password,
                                    absl::Time now);

  // Records a successful login whose token expires at `token_expires`.
  void Insert(std::string_view user, std::string_view password, std::string token,
              absl::Time token_expires, absl::Time now);

  // Drops every entry of `user` (a token the node refused).
  void Forget(std::string_view user);

  size_t size();

 private:
  std::string Key(std::string_view user, std::string_view password) const;

  struct Entry {
    std::string user;
    std::string token;
    absl::Time until;
    absl::Time inserted;
  };
  const std::string secret_;
  const absl::Duration ttl_;
  const size_t max_entries_;
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_AUTH_CACHE_H_
