// How a transfer between two hosts is simulated. By default every transfer is
// a SimGrid flow (flow-level model: it shares link bandwidth with the other
// flows on its route). Transfers smaller than network.small_flow_bytes can
// instead be computed in closed form -- the same model's latency and
// bandwidth factors, the route's latency and its narrowest link, but no
// contention -- and delivered as a timer. Such control messages (notification
// batches of a few KB, replies, fetch requests) are latency-bound, so this
// changes their timing by microseconds while saving most of SimGrid's per-flow
// cost at scale. Their bytes are counted either way.
#ifndef PULLMAIL_SIM_NET_H_
#define PULLMAIL_SIM_NET_H_

#include <simgrid/s4u.hpp>

#include <cstdint>
#include "absl/container/flat_hash_map.h"
#include <utility>

namespace pullmail::sim {

class Net {
 public:
  // `small_flow_bytes`: transfers below it are timers (0 = none are).
  explicit Net(uint64_t small_flow_bytes);
  bool IsSmall(uint64_t bytes) const { return bytes < small_flow_bytes_; }
  // Seconds a `bytes` transfer from `a` to `b` takes on an idle route.
  double IdleTransferTime(simgrid::s4u::Host* a, simgrid::s4u::Host* b, uint64_t bytes);

 private:
  struct Route {
    double latency;
    double bandwidth;
  };
  uint64_t small_flow_bytes_;
  double latency_factor_ = 1, bandwidth_factor_ = 1;
  absl::flat_hash_map<std::pair<simgrid::s4u::Host*, simgrid::s4u::Host*>, Route> routes_;
};

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_NET_H_
