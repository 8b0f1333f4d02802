// Closed-form transfers (see net.h).
#include "sim/net.h"

#include <xbt/config.hpp>

#include <algorithm>
#include <limits>
#include <vector>

namespace pullmail::sim {

Net::Net(uint64_t small_flow_bytes) : small_flow_bytes_(small_flow_bytes) {
  // The flow model's own corrections (LV08: latency x 13.01, bandwidth x 0.97).
  try {
    latency_factor_ = simgrid::config::get_value<double>("network/latency-factor");
    bandwidth_factor_ = simgrid::config::get_value<double>("network/bandwidth-factor");
  } catch (const std::exception&) {
    latency_factor_ = bandwidth_factor_ = 1;
  }
}

double Net::IdleTransferTime(simgrid::s4u::Host* a, simgrid::s4u::Host* b, uint64_t bytes) {
  auto it = routes_.find({a, b});
  if (it == routes_.end()) {
    std::vector<simgrid::s4u::Link*> links;
    double latency = 0;
    a->route_to(b, links, &latency);
    double bw = std::numeric_limits<double>::infinity();
    for (simgrid::s4u::Link* l : links) bw = std::min(bw, l->get_bandwidth());
    it = routes_.emplace(std::make_pair(a, b), Route{latency, bw}).first;
  }
  return it->second.latency * latency_factor_ +
         static_cast<double>(bytes) / (it->second.bandwidth * bandwidth_factor_);
}

}  // namespace pullmail::sim
