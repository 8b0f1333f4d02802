// The body of every node actor: private timers (a message is created, a user
// reads, a held copy is reviewed, a body expires) plus the SimGrid activities
// the node drives (transfers and CPU work). The loop sleeps in one
// Activity::wait_any_for until either the next timer or the next activity
// completion, so a node costs nothing while idle.
//
// Timers come in two kinds. Exact ones fire at their time. Lazy ones (for
// slow, numerous bookkeeping such as "this unread copy reaches its expiry")
// may be delayed up to `quantum` seconds: they are kept in buckets of that
// width and a whole bucket is handled at its end, in time order. With a
// quantum of 0 every timer is exact. Lazy timers keep the exact heap small
// and save most wake-ups when a node holds millions of pending copies.
//
// Each actor waits only on activities it started itself: a transfer between
// two hosts is started (and its completion handled) by the node that drives
// that exchange (see docs/SIMULATION.md, "Model"). Nothing ever needs to wake
// another actor, which keeps the loop free of cross-actor signalling.
#ifndef PULLMAIL_SIM_NODE_LOOP_H_
#define PULLMAIL_SIM_NODE_LOOP_H_

#include <simgrid/s4u.hpp>

#include "absl/container/flat_hash_map.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <functional>
#include <queue>
#include <vector>

namespace pullmail::sim {

struct Event {
  double t;
  double aux;      // event-specific (e.g. when a copy was held)
  uint32_t a;      // event-specific (usually a message index)
  uint32_t b;      // event-specific (usually a copy index)
  uint16_t kind;
  uint16_t extra;  // event-specific small number (e.g. retries so far)
};

// Earliest first; ties broken on every field so the order is total and the
// run is deterministic.
struct EventLater {
  bool operator()(const Event& x, const Event& y) const {
    if (x.t != y.t) return x.t > y.t;
    if (x.kind != y.kind) return x.kind > y.kind;
    if (x.a != y.a) return x.a > y.a;
    if (x.b != y.b) return x.b > y.b;
    return x.extra > y.extra;
  }
};

class NodeLoop {
 public:
  explicit NodeLoop(double quantum = 0) : quantum_(quantum) {}
  virtual ~NodeLoop() = default;

  // Runs until nothing is scheduled and nothing is in flight. Call from the
  // actor's body.
  void Run();

  // An exact timer. Far-off ones wait in the lazy buckets and move to the
  // exact queue one quantum ahead of their time, so that queue stays small.
  void Schedule(double t, uint16_t kind, uint32_t a = 0, uint32_t b = 0, uint16_t extra = 0,
                double aux = 0) {
    if (quantum_ > 0 && t > Now() + 2 * quantum_) {
      AddLazy(t - quantum_, Event{t, aux, a, b, static_cast<uint16_t>(kind | kPromote), extra});
      return;
    }
    events_.push(Event{t, aux, a, b, kind, extra});
  }
  // A timer that may run up to one quantum late (exact when quantum is 0).
  void ScheduleLazy(double t, uint16_t kind, uint32_t a = 0, uint32_t b = 0, uint16_t extra = 0,
                    double aux = 0) {
    if (quantum_ <= 0) {
      events_.push(Event{t, aux, a, b, kind, extra});
    } else {
      AddLazy(t, Event{t, aux, a, b, kind, extra});
    }
  }
  // Tracks an activity; OnActivity(tag) runs when it completes.
  void Track(simgrid::s4u::ActivityPtr activity, uint64_t tag) {
    activities_.push_back(std::move(activity));
    tags_.push_back(tag);
  }
  // `t` rounded up to the next quantum boundary (t itself with no quantum).
  double QuantumCeil(double t) const {
    return quantum_ > 0 ? std::ceil(t / quantum_) * quantum_ : t;
  }
  static double Now() { return simgrid::s4u::Engine::get_clock(); }

 protected:
  virtual void OnEvent(const Event& e) = 0;
  virtual void OnActivity(uint64_t tag) = 0;
  // The next time this node must wake for a reason other than its timers
  // (e.g. its next message creation); +inf if none.
  virtual double NextWake() const { return std::numeric_limits<double>::infinity(); }
  // Called when the clock reaches NextWake().
  virtual void OnWake() {}

 private:
  static constexpr uint16_t kPromote = 0x8000;  // a lazy entry that is an exact timer
  // Files `e` in the bucket that runs at the first quantum boundary >= at.
  void AddLazy(double at, const Event& e);
  double NextLazy() const;
  void RunLazyBucket();

  double quantum_;
  std::priority_queue<Event, std::vector<Event>, EventLater> events_;
  // Lazy timers by bucket index, and the indices of the non-empty buckets
  // (a min-heap).
  absl::flat_hash_map<int64_t, std::vector<Event>> lazy_;
  std::priority_queue<int64_t, std::vector<int64_t>, std::greater<int64_t>> lazy_keys_;
  std::vector<simgrid::s4u::ActivityPtr> activities_;
  std::vector<uint64_t> tags_;
};

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_NODE_LOOP_H_
