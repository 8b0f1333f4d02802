// Core's Clock, reading SimGrid's virtual time. Simulated second 0 is
// SimEpoch() (2024-01-01T00:00:00Z). Only valid while the engine runs (or
// after it has run); not thread-safe, like everything in SimGrid's actors.
#ifndef PULLMAIL_SIM_SIM_CLOCK_H_
#define PULLMAIL_SIM_SIM_CLOCK_H_

#include <simgrid/s4u/Engine.hpp>

#include "core/util/clock.h"
#include "sim/wire.h"

namespace pullmail::sim {

class SimClock : public Clock {
 public:
  absl::Time Now() const override { return AtSimTime(simgrid::s4u::Engine::get_clock()); }
};

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_SIM_CLOCK_H_
