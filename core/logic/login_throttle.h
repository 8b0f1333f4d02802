// Login throttling in the manner of Dovecot's auth penalty: after failed
// logins, every further attempt for the same user, or from the same client
// address, waits before its password is checked: `initial` after the first
// failure, doubling with each further one, at most `max`. Nobody is ever
// locked out: every attempt is checked after its wait, so the right password
// works (slowly) however many wrong ones an attacker sent, and a success
// clears the penalty of that user and that address. A penalty is forgotten
// `forget_after` after its last failure.
//
// Pure logic on an injected clock (times are passed in); the caller sleeps.
// rpc/user_auth applies it to the nodes' logins (per user and per gRPC
// peer), the gateway to its IMAP, POP3 and submission logins (per user and
// per client address). Thread-safe.
#ifndef PULLMAIL_CORE_LOGIC_LOGIN_THROTTLE_H_
#define PULLMAIL_CORE_LOGIC_LOGIN_THROTTLE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/config/node_config.h"

namespace pullmail {

struct LoginPenaltyConfig {
  absl::Duration initial = absl::Seconds(2);  // wait after the first failure (Dovecot: 2 s)
  absl::Duration max = absl::Seconds(15);     // the cap (Dovecot: 15 s)
  absl::Duration forget_after = absl::Hours(1);
  // Users and addresses remembered at once; past it, the oldest are
  // forgotten (which only ever shortens a wait).
  size_t max_tracked = 100'000;
};

class LoginThrottle {
 public:
  explicit LoginThrottle(LoginPenaltyConfig config = {}) : config_(config) {}

  // How long an attempt for `user` from `client` waits before its check:
  // the penalty of whichever of the two has more recent failures. An empty
  // `client` is not tracked (unknown address).
  absl::Duration Delay(std::string_view user, std::string_view client, absl::Time now);

  // The attempt failed (unknown user or wrong password): both count one more.
  void RecordFailure(std::string_view user, std::string_view client, absl::Time now);
  // The attempt succeeded: both are cleared.
  void RecordSuccess(std::string_view user, std::string_view client);

  // The wait after `failures` failures: 0, initial, 2*initial, ... max.
  absl::Duration PenaltyFor(int failures) const;

  const LoginPenaltyConfig& config() const { return config_; }

 private:
  struct Entry {
    int failures = 0;
    absl::Time last = absl::InfinitePast();
  };
  int FailuresLocked(const std::string& key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BumpLocked(const std::string& key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const LoginPenaltyConfig config_;
  absl::Mutex mu_;
  // "u:" + user or "c:" + client address.
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// The optional [auth] section of node.toml (both nodes and the gateway read
// it): login_penalty_initial_ms, login_penalty_max_ms (0 turns throttling
// off), login_penalty_forget_s. kInvalidArgument for negative values or
// initial > max. Defaults as LoginPenaltyConfig's.
absl::StatusOr<LoginPenaltyConfig> ParseLoginPenaltyConfig(const NodeConfig& config);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_LOGIN_THROTTLE_H_
