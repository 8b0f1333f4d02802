// The clock a program runs on, from its command line: the wall clock, or a
// compressed one for end-to-end runs that must see hours of retries, holds
// and expiry pass in minutes (the simulator's cross-validation runs real
// nodes this way). Flags, shared by pullmail-sender, pullmail-recipient and
// pullmail-gateway:
//   --clock_speed=S     the program's time runs S times as fast as the wall
//                       clock (default 1: the wall clock itself);
//   --clock_origin=T    Unix seconds at which the compressed clock equals
//                       the wall clock (default: when the program starts).
//                       Give every process of a run the same origin so that
//                       they agree on the time.
#ifndef PULLMAIL_RPC_PROGRAM_CLOCK_H_
#define PULLMAIL_RPC_PROGRAM_CLOCK_H_

#include "absl/status/statusor.h"
#include "core/util/clock.h"

namespace pullmail {

// The clock the flags ask for; lives forever. InvalidArgument for a speed
// that is not > 0. Call after absl::ParseCommandLine.
absl::StatusOr<Clock*> ProgramClock();

}  // namespace pullmail

#endif  // PULLMAIL_RPC_PROGRAM_CLOCK_H_
