// The sender node's delivery schedule, as pure logic: given the outcome of
// one attempt to hand a notification to a recipient domain, decide whether
// the delivery is done, is retried (and when), or bounces back to the sender.
// It works on plain values (no storage, no clock, no RPC): the sender node
// and the simulator feed it what happened and store what it decides.
//
// Schedule: after the n-th failed attempt the next is due
//   initial * multiplier^(n-1), capped at max, times a uniform factor in
//   [1 - jitter, 1 + jitter]
// after `now`. A temporary failure whose next attempt would fall at or after
// the message's expiry bounces with status 4.4.7 (RFC 3463 "delivery time
// expired"); a permanent refusal bounces at once with a 5.x.x status.
//
// Configured in a node's TOML file (core/config/node_config.h):
//   [sender.retry]
//   initial_seconds = 30    # delay after the first failure, > 0
//   multiplier = 2.0        # >= 1
//   max_seconds = 3600      # cap on one delay, >= initial_seconds
//   jitter = 0.2            # 0 <= jitter < 1
#ifndef PULLMAIL_CORE_LOGIC_OUTBOX_H_
#define PULLMAIL_CORE_LOGIC_OUTBOX_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/util/random.h"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace pullmail {

struct RetryPolicy {
  absl::Duration initial = absl::Seconds(30);
  double multiplier = 2.0;
  absl::Duration max = absl::Hours(1);
  double jitter = 0.2;
};

// Reads a [sender.retry]-style table: initial_seconds, multiplier,
// max_seconds, jitter (integers or floats); absent keys keep the defaults
// above. InvalidArgument naming `where` and the field for an unknown key, a
// non-number, or a value out of range (see the file comment). Thread-safe.
absl::StatusOr<RetryPolicy> ParseRetryPolicy(const toml::table& table,
                                             std::string_view where = "[sender.retry]");

// The time of the next attempt after `attempts` failed attempts (values
// below 1 count as 1), drawing the jitter factor from `rng`. Always later
// than `now`. Not thread-safe only in so far as `rng` is not.
absl::Time NextAttemptTime(const RetryPolicy& policy, uint32_t attempts, absl::Time now,
                           Random& rng);

enum class AttemptOutcome { kAccepted, kTemporaryFailure, kPermanentFailure };

// Classifies the gRPC status code (as a number; the same numbering as
// absl::StatusCode) of a Notify reply or of the call itself: OK and
// ALREADY_EXISTS (stored before) -> kAccepted; otherwise core's one
// classification (core/logic/status_class.h): retryable -> kTemporaryFailure,
// permanent -> kPermanentFailure (docs/PROTOCOL.md section 7.2).
AttemptOutcome ClassifyNotifyResult(int grpc_code);

// The RFC 3463 status for a permanent refusal with this gRPC code:
// NOT_FOUND 5.1.1 (no such user), PERMISSION_DENIED / UNAUTHENTICATED 5.7.1,
// INVALID_ARGUMENT / OUT_OF_RANGE 5.6.0, FAILED_PRECONDITION 5.7.0,
// UNIMPLEMENTED 5.5.1, anything else 5.0.0.
std::string PermanentStatusCode(int grpc_code);

struct OutboxStep {
  enum Kind { kDelivered, kRetry, kBounce } kind = kDelivered;
  absl::Time next_attempt = absl::InfinitePast();  // kRetry only
  std::string bounce_reason;                       // kBounce only: for the sender
  std::string status_code;  // kBounce only: "4.4.7" expiry, "5.x.x" refusal
};

// What to do after an attempt that ended with `outcome`:
//   kAccepted          -> kDelivered;
//   kTemporaryFailure  -> kRetry at NextAttemptTime(policy, attempts, now),
//                         unless that is at or after `expires` -> kBounce 4.4.7
//                         ("expired after N attempts; last error: <error>");
//   kPermanentFailure  -> kBounce 5.7.1 ("refused: <error>").
// `attempts` counts every attempt so far, this one included.
OutboxStep AfterAttempt(const RetryPolicy& policy, AttemptOutcome outcome, std::string_view error,
                        uint32_t attempts, absl::Time now, absl::Time expires, Random& rng);

// The same from the gRPC code itself, with the finer 5.x.x status of
// PermanentStatusCode for a permanent refusal.
OutboxStep AfterNotifyResult(const RetryPolicy& policy, int grpc_code, std::string_view error,
                             uint32_t attempts, absl::Time now, absl::Time expires, Random& rng);

// True when a bounce's RFC 3463 status says the delivery time expired
// (X.4.7: 4.4.7 from AfterAttempt, or a relayed MTA's 5.4.7) rather than a
// refusal: how an outcome is classified, by code and never by the text.
bool IsDeliveryTimeExpired(std::string_view status_code);

// True once `now` has reached `expires`: a queued delivery never attempted
// but already expired is bounced without an attempt.
bool IsExpired(absl::Time expires, absl::Time now);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_OUTBOX_H_
