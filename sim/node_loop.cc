// The node actor loop (see node_loop.h).
#include "sim/node_loop.h"

#include <algorithm>

namespace pullmail::sim {

void NodeLoop::Run() {
  namespace sg4 = simgrid::s4u;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  auto finish = [this](size_t i) {
    uint64_t tag = tags_[i];
    activities_[i] = std::move(activities_.back());
    activities_.pop_back();
    tags_[i] = tags_.back();
    tags_.pop_back();
    OnActivity(tag);
  };
  while (true) {
    const double now = Now();
    if (NextWake() <= now) {
      OnWake();
      continue;
    }
    if (!events_.empty() && events_.top().t <= now) {
      Event e = events_.top();
      events_.pop();
      OnEvent(e);
      continue;
    }
    const double next = std::min(events_.empty() ? kInf : events_.top().t, NextWake());
    if (activities_.empty()) {
      if (next == kInf) return;  // Done() or not, nothing can ever happen again
      sg4::this_actor::sleep_until(next);
      continue;
    }
    const double timeout = next == kInf ? -1.0 : std::max(0.0, next - now);
    ssize_t done = sg4::Activity::wait_any_for(activities_, timeout);
    if (done < 0) continue;
    finish(static_cast<size_t>(done));
    // Others that completed at the same instant: their state is final, so
    // reading it needs no simcall.
    for (size_t i = 0; i < activities_.size();) {
      if (activities_[i]->get_state() == sg4::Activity::State::FINISHED) {
        finish(i);
      } else {
        ++i;
      }
    }
  }
}

}  // namespace pullmail::sim
