// The node actor loop (see node_loop.h).
#include "sim/node_loop.h"

#include <algorithm>
#include <cmath>

namespace pullmail::sim {

void NodeLoop::AddLazy(double at, const Event& e) {
  // Bucket k holds (k - 1) * q < at <= k * q and runs at k * q.
  const int64_t k = static_cast<int64_t>(std::ceil(at / quantum_));
  auto [it, inserted] = lazy_.try_emplace(k);
  if (inserted) lazy_keys_.push(k);
  it->second.push_back(e);
}

double NodeLoop::NextLazy() const {
  return lazy_keys_.empty() ? std::numeric_limits<double>::infinity()
                            : static_cast<double>(lazy_keys_.top()) * quantum_;
}

void NodeLoop::RunLazyBucket() {
  const int64_t k = lazy_keys_.top();
  lazy_keys_.pop();
  auto it = lazy_.find(k);
  std::vector<Event> bucket = std::move(it->second);
  lazy_.erase(it);
  // In time order (a total order, so the run is deterministic).
  EventLater later;
  std::sort(bucket.begin(), bucket.end(), [&](const Event& x, const Event& y) { return later(y, x); });
  for (const Event& e : bucket) {
    if (e.kind & kPromote) {
      Event x = e;
      x.kind &= ~kPromote;
      events_.push(x);
    } else {
      OnEvent(e);
    }
  }
}

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
    if (NextLazy() <= now) {
      RunLazyBucket();
      continue;
    }
    const double next =
        std::min({events_.empty() ? kInf : events_.top().t, NextWake(), NextLazy()});
    if (activities_.empty()) {
      if (next == kInf) return;  // nothing can ever happen again
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
