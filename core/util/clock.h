// Time as core's logic sees it. Logic never calls system_clock or sleeps; it
// is handed a Clock. Programs pass SystemClock; tests pass FakeClock; the
// simulator passes a clock that reads SimGrid's virtual time.
#ifndef PULLMAIL_CORE_UTIL_CLOCK_H_
#define PULLMAIL_CORE_UTIL_CLOCK_H_

#include <cstdint>

#include "absl/time/time.h"

namespace pullmail {

class Clock {
 public:
  virtual ~Clock() = default;
  // The current time. Thread-safety is the implementation's to state.
  virtual absl::Time Now() const = 0;
  // How long to wait on the wall clock for `d` of this clock to pass (what a
  // program hands to a condition variable). The identity but for a
  // compressed clock.
  virtual absl::Duration WallDuration(absl::Duration d) const { return d; }
};

// Wall-clock time. Thread-safe. The returned object lives forever.
Clock& SystemClock();

// A clock that moves only when told. Not thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000))
      : now_(start) {}
  absl::Time Now() const override { return now_; }
  void Advance(absl::Duration d) { now_ += d; }
  void Set(absl::Time t) { now_ = t; }

 private:
  absl::Time now_;
};

// A compressed clock for end-to-end runs (the programs' --clock-speed): it
// runs `speed` times as fast as `base` and equals it at `origin`, so that
// processes given the same origin and speed agree on the time, and a day of
// retention, retries and expiry passes in minutes. Thread-safe if `base` is;
// `base` is not owned. `speed` must be > 0.
class ScaledClock : public Clock {
 public:
  ScaledClock(const Clock* base, double speed, absl::Time origin)
      : base_(base), speed_(speed), origin_(origin) {}
  absl::Time Now() const override { return origin_ + (base_->Now() - origin_) * speed_; }
  absl::Duration WallDuration(absl::Duration d) const override { return d / speed_; }
  double speed() const { return speed_; }

 private:
  const Clock* base_;
  double speed_;
  absl::Time origin_;
};

// The wire's time unit (milliseconds since the Unix epoch) to and from absl.
inline int64_t ToUnixMs(absl::Time t) { return absl::ToUnixMillis(t); }
inline absl::Time FromUnixMs(int64_t ms) { return absl::FromUnixMillis(ms); }

}  // namespace pullmail

#endif  // PULLMAIL_CORE_UTIL_CLOCK_H_
