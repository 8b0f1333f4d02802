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
//
// FetchAhead asks a sender node for many bodies in one call (FetchBodies,
// docs/PROTOCOL.md 8.1; core's rule in core/logic/fetch_batch.h) on the
// fetcher's batch threads; a read of one of them waits for its batch
// instead of opening a stream of its own, and one the batch did not settle
// (a node without FetchBodies, a stream that broke) is fetched alone.
#ifndef PULLMAIL_RECIPIENT_NODE_BODY_FETCHER_H_
#define PULLMAIL_RECIPIENT_NODE_BODY_FETCHER_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

  // Hands over bodies about to be read (ReadSet: a FETCH set's uncached
  // bodies) to be fetched in batches, one FetchBodies call per sender node
  // at a time, at most kMaxBatchBodies bodies and kMaxBatchBytes of them per
  // call, on kBatchWorkers threads; returns at once. A body above
  // kHeldBodyMax, one already being fetched, or one of a sender node that
  // answered UNIMPLEMENTED lately, is left to EnsureCached. An EnsureCached of a handed-over body waits for
  // its batch and returns false (fetched now) or the body's own error
  // (core's BatchFetchCheck verdict), or fetches it alone if the batch did
  // not settle it.
  void FetchAhead(const std::vector<StoredNotification>& wanted);

  // Cancels every fetch in flight (their callers get kUnavailable at once)
  // and refuses new ones. Idempotent.
  void Shutdown();

  // The node's channels to other domains' nodes (one per peer and
  // endpoint). The recipient node sends its reports over them too, so an
  // abuse report to a sender node rides the connection its fetches opened.
  ChannelCache& channels() { return channels_; }

  const FetchLimits& limits() const { return limits_; }

  static constexpr int kBatchWorkers = 2;
  // Bodies up to this size are held whole until their hash checks (a batch's
  // bodies, and a small one fetched alone) and cached with their MIME
  // structure record; a larger one is never batched and goes to the cache
  // in pieces as it arrives (RecipientStore::StartBody), so that a fetch
  // holds at most about a flush of it (1 MiB); its record is computed on
  // first need (a BODYSTRUCTURE or section fetch reads it whole once).
  static constexpr uint64_t kHeldBodyMax = uint64_t{4} << 20;

 private:
  // One fetch in flight, watched by the watchdog.
  struct Active {
    absl::Time started;
    uint64_t size = 0;
    std::atomic<uint64_t> received{0};
    grpc::ClientContext* ctx = nullptr;             // the current attempt; guarded by mu_
    FetchProgress cut = FetchProgress::kContinue;   // set when the watchdog cancelled; mu_
  };

  // A body being fetched (EnsureCached's own fetch, or in a batch). Its
  // waiters wait on `cv` with mu_.
  struct Flight {
    bool batch = false;
    bool done = false;    // mu_
    bool alone = false;   // batch: not settled; a waiter fetches it alone; mu_
    absl::Status status;  // batch: the body's verdict; mu_
    std::condition_variable cv;
  };
  struct BatchItem {
    StoredNotification n;
    std::string key;
    std::shared_ptr<Flight> flight;
  };
  struct BatchJob {
    std::string domain;
    std::vector<BatchItem> items;
  };

  absl::Status Fetch(const StoredNotification& n);
  void BatchWork();
  void RunBatch(BatchJob job);
  void Settle(const BatchItem& item, bool alone, absl::Status status);
  // After bodies were cached for these rows: RecipientStore::
  // RequeueUnreferenced (a copy expunged during its fetch).
  void RequeueIfExpunged(const std::vector<int64_t>& ids);
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
  std::map<std::string, std::shared_ptr<Flight>> in_flight_;  // by BodyCacheKey; mu_
  std::deque<BatchJob> batches_;                               // waiting for a batch thread; mu_
  std::condition_variable batch_cv_;                           // batches_ or stopping_
  std::map<std::string, absl::Time> no_batch_until_;           // domains without FetchBodies; mu_
  std::thread watchdog_;
  std::vector<std::thread> batch_threads_;
};

}  // namespace pullmail

#endif  // PULLMAIL_RECIPIENT_NODE_BODY_FETCHER_H_
