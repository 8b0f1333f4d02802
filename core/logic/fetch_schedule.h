// The recipient node's rules for body fetches that a hostile sender node
// must not be able to stretch (issue 10; docs/PROTOCOL.md section 8):
//
// - Progress (CheckFetchProgress): every fetch, on read or prefetch, has a
//   total deadline (a grace period plus the body's size at the minimum rate,
//   capped) and must keep up the minimum transfer rate after the grace
//   period; a slow-drip or silent sender is cut off, not waited for.
// - Schedule (FetchSchedule): prefetches run concurrently within bounds, in
//   total and per sending domain, most urgent (earliest expiry) first, and a
//   domain whose fetches fail backs off (core's RetryPolicy schedule, with
//   jitter) so that one bad domain neither fills the slots nor is retried in
//   a loop. What to prefetch is decided elsewhere; this says when and how
//   many.
//
// Pure logic: time comes in as arguments, randomness from an injected
// Random. The node holds the threads, the gRPC calls and the cancellation.
#ifndef PULLMAIL_CORE_LOGIC_FETCH_SCHEDULE_H_
#define PULLMAIL_CORE_LOGIC_FETCH_SCHEDULE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/logic/outbox.h"
#include "core/util/random.h"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace pullmail {

struct FetchLimits {
  // Prefetches in flight at once, in total and per sending domain.
  int max_in_flight = 8;
  int max_per_domain = 2;
  // A fetch must average at least this many bytes per second once
  // `grace` has passed since it started (connection, TLS, first bytes).
  uint64_t min_bytes_per_second = 32 * 1024;
  absl::Duration grace = absl::Seconds(10);
  // Cap on one fetch's whole life, resumes included.
  absl::Duration max_duration = absl::Minutes(10);
  // How long a failing domain waits before its next prefetch: initial,
  // doubling, capped, with jitter (RetryPolicy, as the sender's queue).
  RetryPolicy backoff{.initial = absl::Seconds(30), .multiplier = 2.0, .max = absl::Hours(1),
                      .jitter = 0.2};
};

// Reads a [recipient.fetch] table: max_in_flight, max_per_domain (1..256),
// min_bytes_per_second (>= 1), grace_seconds, max_duration_seconds (> 0),
// and a [recipient.fetch.backoff] sub-table as for [sender.retry]. Absent
// keys keep the defaults above. InvalidArgument naming the field otherwise.
absl::StatusOr<FetchLimits> ParseFetchLimits(const toml::table& table,
                                             std::string_view where = "[recipient.fetch]");

// When a fetch of `body_size` bytes that started at `started` must be over:
// started + grace + body_size / min_bytes_per_second, at most
// started + max_duration.
absl::Time FetchDeadline(const FetchLimits& limits, absl::Time started, uint64_t body_size);

enum class FetchProgress {
  kContinue,
  kTooSlow,   // below the minimum rate after the grace period
  kDeadline,  // past FetchDeadline
};

// Whether a fetch that started at `started` and has received `received`
// bytes by `now` may go on. After the grace period it must have received at
// least min_bytes_per_second * (now - started - grace) bytes.
FetchProgress CheckFetchProgress(const FetchLimits& limits, absl::Time started,
                                 uint64_t body_size, uint64_t received, absl::Time now);

// "too_slow", "deadline", "continue".
std::string_view FetchProgressName(FetchProgress p);

// One body that could be prefetched.
struct PrefetchCandidate {
  std::string key;     // what identifies the fetch (the node uses BodyCacheKey)
  std::string domain;  // the signing domain, whose sender node serves it
  absl::Time expires = absl::InfiniteFuture();
};

// Which prefetches to start and when a domain may be tried again. Not
// thread-safe (the node holds a lock around it).
class FetchSchedule {
 public:
  // `rng` is not owned and must outlive this.
  FetchSchedule(FetchLimits limits, Random* rng);

  // The candidates to start now, earliest expiry first (ties: by key): not
  // already in flight, their domain not backing off at `now`, at most
  // max_per_domain in flight per domain and max_in_flight in all (counting
  // those already in flight). The ones returned are marked in flight until
  // Done. Duplicate keys count once.
  std::vector<PrefetchCandidate> Pick(std::vector<PrefetchCandidate> candidates, absl::Time now);

  // A fetch started by Pick ended. A failure (`ok` false) puts its domain in
  // backoff (one more consecutive failure); a success clears the domain's
  // failures. Unknown keys are ignored.
  void Done(const std::string& key, bool ok, absl::Time now);

  // A fetch of the domain outside the schedule (a reader's) succeeded or
  // failed: the same bookkeeping as Done, without an in-flight slot.
  void Outcome(const std::string& domain, bool ok, absl::Time now);

  // When the domain may next be prefetched from (InfinitePast if now).
  absl::Time NextAttempt(const std::string& domain) const;
  int in_flight() const { return static_cast<int>(in_flight_.size()); }
  int in_flight(const std::string& domain) const;
  const FetchLimits& limits() const { return limits_; }

 private:
  struct DomainState {
    uint32_t failures = 0;
    absl::Time next = absl::InfinitePast();
    int in_flight = 0;
  };
  FetchLimits limits_;
  Random* rng_;
  std::map<std::string, std::string> in_flight_;  // key -> domain
  std::map<std::string, DomainState> domains_;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_FETCH_SCHEDULE_H_
