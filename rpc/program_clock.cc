// --clock_speed / --clock_origin (see program_clock.h).
#include "rpc/program_clock.h"

#include <cmath>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/util/logging.h"

ABSL_FLAG(double, clock_speed, 1.0,
          "run this program's clock S times as fast as the wall clock (end-to-end runs of "
          "retries, holds and expiry; 1 = the wall clock)");
ABSL_FLAG(int64_t, clock_origin, 0,
          "Unix seconds at which the compressed clock equals the wall clock (0 = at start); "
          "give every process of a run the same value");

namespace pullmail {

absl::StatusOr<Clock*> ProgramClock() {
  const double speed = absl::GetFlag(FLAGS_clock_speed);
  if (!(speed > 0) || !std::isfinite(speed)) {
    return absl::InvalidArgumentError(absl::StrCat("--clock_speed must be > 0, not ", speed));
  }
  if (speed == 1.0) return &SystemClock();
  const int64_t origin = absl::GetFlag(FLAGS_clock_origin);
  absl::Time t0 = origin > 0 ? absl::FromUnixSeconds(origin) : SystemClock().Now();
  PM_LOG(WARNING) << "compressed clock: " << speed << "x the wall clock from "
                  << absl::FormatTime(t0) << " (test runs only)";
  static ScaledClock* clock = new ScaledClock(&SystemClock(), speed, t0);
  return clock;
}

}  // namespace pullmail
