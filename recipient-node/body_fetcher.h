// Fetch-on-read: pulls a body from the sender node the directory lists for
// the notification's signing domain (never from an endpoint the notification
// merely claims), resumes at the last verified offset when a stream breaks,
// checks size and SHA-256 against the notification (core's FetchVerifier)
// before a single byte is cached or shown, and caches it once per sending
// domain (core's BodyCacheKey).
//
// A sender node can stall: every fetch has core's deadline and minimum rate
// (core/logic/fetch_schedule.h); a watchdog thread cancels the calls that
// fall behind, and Shutdown cancels every call in flight at once.
#ifndef PULLMAIL_RECIPIENT_NODE_BODY_FETCHER_H_
#define PULLMAIL_RECIPIENT_NODE_BODY_FETCHER_H_

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "core/config/node_config.h"
#include "core/directory/directory.h"
#include "core/logic/fetch_schedule.h"
#include "core/storage/recipient_store.h"
#include "core/util/clock.h"
#include "pullmail/v1/pullmail.grpc.pb.h"
#include "rpc/channel_cache.h"

namespace pullmail {

class BodyFetcher {
 public:
  // Not owned: all must outlive this. Thread-safe. Starts the watchdog.
  BodyFetcher(const NodeConfig* config, const Directory* directory, RecipientStore* store,
              FetchLimits limits, Clock* clock);
  // Shutdown(), then joins the watchdog.
  ~BodyFetcher();

  // Makes sure the body of `n` is in the cache. Returns true if it was
  // already there (no bytes moved). Concurrent calls for one body fetch it
  // once. Errors: kUnavailable "sender node temporarily unavailable" (down,
  // unreachable, too slow or past its deadline, or this node shutting
  // down); kDataLoss (size or hash mismatch: nothing cached);
  // kPermissionDenied / kFailedPrecondition ("revoked") / kNotFound
  // ("expired") as the sender node said.
  absl::StatusOr<bool> EnsureCached(const StoredNotification& n);

  // Cancels every fetch in flight (their callers get kUnavailable at once)
  // and refuses new ones. Idempotent.
  void Shutdown();

  // The node's channels to other domains' nodes (one per peer and
  // endpoint). The recipient node sends its reports over them too, so an
  // abuse report to a sender node rides the connection its fetches opened.
  ChannelCache& channels() { return channels_; }

  const FetchLimits& limits() const { return limits_; }

 private:
  // One fetch in flight, watched by the watchdog.
  struct Active {
    absl::Time started;
    uint64_t size = 0;
    std::atomic<uint64_t> received{0};
    grpc::ClientContext* ctx = nullptr;             // the current attempt; guarded by mu_
    FetchProgress cut = FetchProgress::kContinue;   // set when the watchdog cancelled; mu_
  };

  absl::Status Fetch(const StoredNotification& n);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> SenderChannel(const std::string& domain);
  void Watch();

  const NodeConfig* config_;
  const Directory* directory_;
  RecipientStore* store_;
  const FetchLimits limits_;
  Clock* clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::set<Active*> active_;  // guarded by mu_
  ChannelCache channels_{&config_->tls};
  std::map<std::string, std::shared_ptr<std::mutex>> in_flight_;  // by BodyCacheKey
  std::thread watchdog_;
};

}  // namespace pullmail

#endif  // PULLMAIL_RECIPIENT_NODE_BODY_FETCHER_H_
