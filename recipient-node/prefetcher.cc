// Prefetcher (see prefetcher.h).
#include "recipient-node/prefetcher.h"

#include <map>

#include "core/logic/body_cache_key.h"
#include "core/util/logging.h"
#include "rpc/metrics.h"

namespace pullmail {

Prefetcher::Prefetcher(BodyFetcher* fetcher, Clock* clock, Random* rng)
    : fetcher_(fetcher), clock_(clock), schedule_(fetcher->limits(), rng) {
  for (int i = 0; i < fetcher->limits().max_in_flight; ++i) {
    workers_.emplace_back([this] { Work(); });
  }
}

Prefetcher::~Prefetcher() { Stop(); }

void Prefetcher::Offer(const std::vector<StoredNotification>& wanted) {
  std::vector<PrefetchCandidate> candidates;
  std::map<std::string, const StoredNotification*> by_key;
  for (const StoredNotification& n : wanted) {
    std::string key = BodyCacheKey(n);
    if (!by_key.emplace(key, &n).second) continue;
    candidates.push_back({std::move(key), n.signing_domain, n.expires});
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_) return;
  for (const PrefetchCandidate& c : schedule_.Pick(std::move(candidates), clock_->Now())) {
    queue_.push_back(*by_key.at(c.key));
  }
  cv_.notify_all();
}

void Prefetcher::Work() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    StoredNotification n = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    absl::StatusOr<bool> r = fetcher_->EnsureCached(n);
    if (r.ok() && !*r) {
      Metrics::Global().Add("pullmail_prefetches_total");
      PM_LOG(INFO) << "prefetched " << n.message_id << " before its expiry";
    } else if (!r.ok()) {
      Metrics::Global().Add("pullmail_prefetch_failures_total");
      PM_LOG(INFO) << "prefetch of " << n.message_id << " from " << n.signing_domain
                   << " failed: " << r.status();
    }
    lock.lock();
    schedule_.Done(BodyCacheKey(n), r.ok(), clock_->Now());
    if (!r.ok()) {
      PM_LOG(INFO) << "prefetches from " << n.signing_domain << " wait until "
                   << absl::FormatTime(schedule_.NextAttempt(n.signing_domain));
    }
  }
}

void Prefetcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
}

int Prefetcher::running() {
  std::lock_guard<std::mutex> lock(mu_);
  return schedule_.in_flight() - static_cast<int>(queue_.size());
}

int Prefetcher::in_flight() {
  std::lock_guard<std::mutex> lock(mu_);
  return schedule_.in_flight();
}

}  // namespace pullmail
