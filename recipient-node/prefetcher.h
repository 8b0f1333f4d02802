// Prefetch before expiry, off the maintenance thread: the node offers the
// bodies it wants pinned (unread, shown, close to expiry; the node decides
// which), core's FetchSchedule picks which to start within its bounds (in
// total and per sending domain, most urgent first, failing domains backing
// off), and a fixed pool of worker threads runs them through the
// BodyFetcher, whose deadline, minimum rate and Shutdown bound each one. A
// slow or hostile sender node therefore holds at most its per-domain share
// of the workers and never the maintenance thread (held-copy review,
// reports) nor the shutdown.
#ifndef PULLMAIL_RECIPIENT_NODE_PREFETCHER_H_
#define PULLMAIL_RECIPIENT_NODE_PREFETCHER_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/logic/fetch_schedule.h"
#include "core/storage/types.h"
#include "core/util/clock.h"
#include "core/util/random.h"
#include "recipient-node/body_fetcher.h"

namespace pullmail {

class Prefetcher {
 public:
  // Not owned: all must outlive this. Starts fetcher->limits().max_in_flight
  // workers. Thread-safe.
  Prefetcher(BodyFetcher* fetcher, Clock* clock, Random* rng);
  // Stop().
  ~Prefetcher();

  // Starts, without waiting for them, the fetches the schedule picks among
  // `wanted` (notifications whose bodies should be pinned; duplicates and
  // fetches already running are skipped).
  void Offer(const std::vector<StoredNotification>& wanted);

  // Lets running fetches end (call BodyFetcher::Shutdown first to cancel
  // them) and joins the workers. Idempotent; Offer does nothing afterwards.
  void Stop();

  // Fetches running now (for tests and logs).
  int running();
  // Fetches picked and not done yet, queued or running (0: idle; tests).
  int in_flight();

 private:
  void Work();

  BodyFetcher* fetcher_;
  Clock* clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  FetchSchedule schedule_;  // guarded by mu_
  std::deque<StoredNotification> queue_;  // picked, not yet taken; guarded by mu_
  bool stop_ = false;  // guarded by mu_
  std::vector<std::thread> workers_;
};

}  // namespace pullmail

#endif  // PULLMAIL_RECIPIENT_NODE_PREFETCHER_H_
