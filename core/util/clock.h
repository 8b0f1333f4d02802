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

// The wire's time unit (milliseconds since the Unix epoch) to and from absl.
inline int64_t ToUnixMs(absl::Time t) { return absl::ToUnixMillis(t); }
inline absl::Time FromUnixMs(int64_t ms) { return absl::FromUnixMillis(ms); }

}  // namespace pullmail

#endif  // PULLMAIL_CORE_UTIL_CLOCK_H_
