// BodyFetcher (see body_fetcher.h).
#include "recipient-node/body_fetcher.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/logic/body_cache_key.h"
#include "core/logic/fetch_batch.h"
#include "core/logic/fetch_rule.h"
#include "core/logic/fetch_verifier.h"
#include "core/util/limits.h"
#include "core/util/logging.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "rpc/grpc_status.h"
#include "rpc/metrics.h"
#include "rpc/tls.h"

namespace pullmail {
namespace {

// How often the watchdog compares each fetch with core's progress rule.
constexpr auto kWatchInterval = std::chrono::milliseconds(200);
// How long a sender node that answered FetchBodies with UNIMPLEMENTED is
// asked one body at a time before it is offered a batch again.
constexpr absl::Duration kNoBatchFor = absl::Minutes(10);

std::string FetchLabel(const absl::Status& s) {
  return s.ok()                                               ? "ok"
         : absl::StartsWith(s.message(), "too_slow")          ? "too_slow"
         : s.code() == absl::StatusCode::kUnavailable         ? "unavailable"
         : s.code() == absl::StatusCode::kDataLoss            ? "verify_failed"
         : s.code() == absl::StatusCode::kPermissionDenied    ? "denied"
                                                              : "error";
}

}  // namespace

BodyFetcher::BodyFetcher(const NodeConfig* config, const Directory* directory,
                         RecipientStore* store, FetchLimits limits, Clock* clock)
    : config_(config), directory_(directory), store_(store), limits_(limits), clock_(clock) {
  watchdog_ = std::thread([this] { Watch(); });
  for (int i = 0; i < kBatchWorkers; ++i) batch_threads_.emplace_back([this] { BatchWork(); });
}

BodyFetcher::~BodyFetcher() {
  Shutdown();
  if (watchdog_.joinable()) watchdog_.join();
  for (std::thread& t : batch_threads_) t.join();
}

void BodyFetcher::Shutdown() {
  std::deque<BatchJob> queued;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (Active* a : active_) {
      if (a->ctx != nullptr) a->ctx->TryCancel();
    }
    queued.swap(batches_);
    cv_.notify_all();
    batch_cv_.notify_all();
  }
  for (const BatchJob& job : queued) {
    for (const BatchItem& item : job.items) {
      Settle(item, false, absl::UnavailableError("the node is shutting down; try again later"));
    }
  }
}

void BodyFetcher::Watch() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kWatchInterval, [this] { return stopping_; });
    const absl::Time now = clock_->Now();
    for (Active* a : active_) {
      if (a->cut != FetchProgress::kContinue) continue;
      FetchProgress p = CheckFetchProgress(limits_, a->started, a->size, a->received.load(), now);
      if (p == FetchProgress::kContinue) continue;
      a->cut = p;
      if (a->ctx != nullptr) a->ctx->TryCancel();
    }
  }
}

absl::StatusOr<bool> BodyFetcher::EnsureCached(const StoredNotification& n) {
  // Per domain (core's BodyCacheKey): a body another domain sent is never
  // served for this notification, nor does its presence show.
  const std::string key = BodyCacheKey(n);
  std::shared_ptr<Flight> mine;
  {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      auto it = in_flight_.find(key);
      if (it == in_flight_.end()) break;
      // Someone is fetching it: wait, and take a batch's verdict for it.
      std::shared_ptr<Flight> f = it->second;
      f->cv.wait(lock, [&] { return f->done; });
      if (f->batch && !f->alone) {
        if (!f->status.ok()) return f->status;
        return false;  // fetched now, for this read (its batch)
      }
      // A fetch of its own that ended (the cache says how), or a batch that
      // left it: look again.
    }
    mine = std::make_shared<Flight>();
    in_flight_[key] = mine;
  }
  absl::StatusOr<bool> result = [&]() -> absl::StatusOr<bool> {
    ASSIGN_OR_RETURN(bool cached, store_->HasBody(key));
    if (cached) {
      Metrics::Global().Add("pullmail_cache_hits_total");
      return true;
    }
    absl::Status s = Fetch(n);
    Metrics::Global().Add(absl::StrCat("pullmail_fetches_total{result=\"", FetchLabel(s), "\"}"));
    if (!s.ok()) return s;
    return false;
  }();
  {
    // The map holds only fetches in flight, so that it does not grow with
    // every body ever read.
    std::lock_guard<std::mutex> g(mu_);
    mine->done = true;
    mine->status = result.status();
    auto it = in_flight_.find(key);
    if (it != in_flight_.end() && it->second == mine) in_flight_.erase(it);
    mine->cv.notify_all();
  }
  return result;
}

void BodyFetcher::FetchAhead(const std::vector<StoredNotification>& wanted) {
  std::vector<BatchJob> jobs;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) return;
    const absl::Time now = clock_->Now();
    std::map<std::string, size_t> job_of;  // domain -> its open job in `jobs`
    std::map<std::string, uint64_t> bytes_of;
    for (const StoredNotification& n : wanted) {
      auto nb = no_batch_until_.find(n.signing_domain);
      if (nb != no_batch_until_.end()) {
        if (nb->second > now) continue;
        no_batch_until_.erase(nb);
      }
      // A big body is fetched alone, streamed to the cache (Fetch): a batch
      // holds its bodies whole until each checks out.
      if (n.body_size > kHeldBodyMax) continue;
      std::string key = BodyCacheKey(n);
      if (in_flight_.count(key)) continue;  // being fetched (or twice in this set)
      auto f = std::make_shared<Flight>();
      f->batch = true;
      in_flight_[key] = f;
      auto it = job_of.find(n.signing_domain);
      // A new call once this one holds kMaxBatchBodies, or its sizes would
      // pass kMaxBatchBytes (a body larger than that has a call to itself).
      if (it == job_of.end() || jobs[it->second].items.size() >= kMaxBatchBodies ||
          (bytes_of[n.signing_domain] + n.body_size > kMaxBatchBytes &&
           !jobs[it->second].items.empty())) {
        job_of[n.signing_domain] = jobs.size();
        bytes_of[n.signing_domain] = 0;
        jobs.push_back(BatchJob{n.signing_domain, {}});
        it = job_of.find(n.signing_domain);
      }
      bytes_of[n.signing_domain] += n.body_size;
      jobs[it->second].items.push_back(BatchItem{n, std::move(key), std::move(f)});
    }
    for (BatchJob& job : jobs) batches_.push_back(std::move(job));
    if (!jobs.empty()) batch_cv_.notify_all();
  }
}

void BodyFetcher::BatchWork() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    batch_cv_.wait(lock, [this] { return stopping_ || !batches_.empty(); });
    if (stopping_) return;
    BatchJob job = std::move(batches_.front());
    batches_.pop_front();
    lock.unlock();
    RunBatch(std::move(job));
    lock.lock();
  }
}

void BodyFetcher::RequeueIfExpunged(const std::vector<int64_t>& ids) {
  // A copy expunged while its body was on the way: the release pass that
  // looked at its row found nothing cached (core/logic/body_retention.h).
  // The body is cached and served either way; a failure here only leaves
  // it to the next expunge of a copy with the same key.
  if (ids.empty()) return;
  if (absl::Status s = store_->RequeueUnreferenced(ids); !s.ok()) {
    PM_LOG(WARNING) << "release queue after a fetch: " << s;
  }
}

void BodyFetcher::Settle(const BatchItem& item, bool alone, absl::Status status) {
  if (!alone) {
    Metrics::Global().Add(
        absl::StrCat("pullmail_fetches_total{result=\"", FetchLabel(status), "\"}"));
  }
  std::lock_guard<std::mutex> g(mu_);
  Flight& f = *item.flight;
  if (f.done) return;
  f.done = true;
  f.alone = alone;
  f.status = std::move(status);
  auto it = in_flight_.find(item.key);
  if (it != in_flight_.end() && it->second == item.flight) in_flight_.erase(it);
  f.cv.notify_all();
}

void BodyFetcher::RunBatch(BatchJob job) {
  std::vector<BatchItem>& items = job.items;
  auto channel = SenderChannel(job.domain);
  if (!channel.ok()) {
    for (const BatchItem& item : items) Settle(item, false, channel.status());
    return;
  }
  auto stub = v1::SenderService::NewStub(*channel);
  v1::FetchBodiesRequest req;
  std::vector<BatchBody> bodies;
  uint64_t total = 0;
  for (const BatchItem& item : items) {
    v1::FetchRequest* r = req.add_bodies();
    r->set_message_id(item.n.message_id);
    r->set_fetch_token(item.n.fetch_token);
    r->set_offset(0);
    r->set_recipient_domain(config_->domain);
    bodies.push_back(BatchBody{item.n.body_size, item.n.body_sha256});
    total += item.n.body_size;
  }
  BatchFetchCheck check(std::move(bodies));
  // Watched as one fetch of all its bytes: core's deadline and minimum rate.
  Active active;
  active.started = clock_->Now();
  active.size = total;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(FetchDeadline(limits_, active.started, total)));
  bool refused = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    refused = stopping_;
    if (!refused) {
      active.ctx = &ctx;
      active_.insert(&active);
    }
  }
  if (refused) {
    for (const BatchItem& item : items) {
      Settle(item, false, absl::UnavailableError("the node is shutting down; try again later"));
    }
    return;
  }
  Metrics::Global().Add("pullmail_fetch_batches_total");
  auto reader = stub->FetchBodies(&ctx, req);
  v1::FetchBodiesChunk chunk;
  std::string body;  // the body being received: one at a time
  uint64_t received = 0;
  bool stop = false;
  // Verified bodies of one chunk (at most 64 KiB of data, or one body) are
  // cached in one commit (RecipientStore::PutBodies), then their reads go.
  std::vector<std::pair<size_t, std::string>> verified;
  auto put_verified = [&] {
    if (verified.empty()) return;
    std::vector<std::pair<std::string_view, std::string_view>> puts;
    for (const auto& [i, bytes] : verified) puts.emplace_back(items[i].key, bytes);
    std::vector<absl::Status> results = store_->PutBodies(puts);
    std::vector<int64_t> cached;
    for (size_t k = 0; k < verified.size(); ++k) {
      const BatchItem& item = items[verified[k].first];
      if (results[k].ok()) {
        PM_LOG(DEBUG) << "fetched " << item.n.message_id << " (" << verified[k].second.size()
                      << " bytes) from " << item.n.signing_domain << " in a batch";
        cached.push_back(item.n.id);
      }
      Settle(item, false, results[k]);
    }
    verified.clear();
    RequeueIfExpunged(cached);
  };
  while (!stop && reader->Read(&chunk)) {
    for (v1::BodyPiece& p : *chunk.mutable_pieces()) {
      BatchPiece piece;
      piece.index = p.index();
      piece.offset = p.offset();
      piece.data = p.data();
      piece.total_size = p.total_size();
      piece.last = p.last();
      piece.code = p.code();
      piece.error = p.error();
      const BatchFetchCheck::Step step = check.Add(piece);
      if (step.keep) {
        // One allocation per body (its committed size, within the limit),
        // not a doubling copy per chunk of a 16 MiB body.
        // (A kept piece is the body at its index: core checked that.)
        if (body.empty()) {
          body.reserve(std::min<uint64_t>(items[p.index()].n.body_size, limits::kMaxBodySize));
        }
        body.append(p.data());
        received += p.data().size();
        active.received.store(received);
        Metrics::Global().Add("pullmail_body_bytes_fetched_total", p.data().size());
      }
      if (step.settled) {
        const size_t i = *step.settled;
        const BatchItem& item = items[i];
        switch (check.verdict(i)) {
          case BatchVerdict::kVerified:
            verified.emplace_back(i, std::move(body));
            break;
          case BatchVerdict::kAlone:
            Settle(item, true, check.status(i));
            break;
          default:
            if (check.status(i).code() == absl::StatusCode::kDataLoss) {
              PM_LOG(WARNING) << "fetch of " << item.n.message_id << " from "
                              << item.n.signing_domain << " rejected: " << check.status(i);
            }
            Settle(item, false, check.status(i));
        }
        body.clear();
      }
      if (step.stop) {
        stop = true;
        break;
      }
    }
    put_verified();
  }
  put_verified();
  if (stop) ctx.TryCancel();
  grpc::Status last = reader->Finish();
  FetchProgress cut;
  bool stopping;
  {
    std::lock_guard<std::mutex> g(mu_);
    active.ctx = nullptr;
    active_.erase(&active);
    cut = active.cut;
    stopping = stopping_;
  }
  // gRPC's own deadline (core's FetchDeadline) may end the call before the
  // watchdog's next look: the same cut.
  if (cut == FetchProgress::kContinue && last.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    cut = FetchProgress::kDeadline;
  }
  std::string cut_text;
  if (stopping) {
    cut_text = "the node is shutting down; try again later";
  } else if (cut != FetchProgress::kContinue) {
    cut_text = absl::StrCat(AV(FetchProgressName(cut)), ": the sender node of ", job.domain,
                            " sent ", received, " of ", total, " bytes in ",
                            absl::FormatDuration(clock_->Now() - active.started),
                            ", below the minimum rate or past the deadline; try again later");
    PM_LOG(WARNING) << "batch fetch from " << job.domain << " cut off: " << cut_text;
  }
  const size_t first_open = check.current();
  check.Finish(FromGrpc(last), stop ? "" : cut_text, job.domain);
  if (last.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    std::lock_guard<std::mutex> g(mu_);
    no_batch_until_[job.domain] = clock_->Now() + kNoBatchFor;
  }
  for (size_t i = first_open; i < items.size(); ++i) {
    const bool alone = check.verdict(i) == BatchVerdict::kAlone;
    Settle(items[i], alone, check.status(i));
  }
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> BodyFetcher::SenderChannel(
    const std::string& domain) {
  ASSIGN_OR_RETURN(DomainEntry entry, directory_->Lookup(domain));
  if (entry.sender_endpoint.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("directory lists no sender node for ", domain));
  }
  return channels_.Get(entry.sender_endpoint, domain);
}

absl::Status BodyFetcher::Fetch(const StoredNotification& n) {
  ASSIGN_OR_RETURN(auto channel, SenderChannel(n.signing_domain));
  auto stub = v1::SenderService::NewStub(channel);
  FetchVerifier verifier(n.body_size, n.body_sha256);
  // A body above kHeldBodyMax goes to the cache in pieces as it comes
  // (RecipientStore::StartBody: invisible until Finish, after the hash has
  // checked), so a fetch holds at most about a flush of it; a smaller one is
  // held whole and stored with its MIME structure record (PutBody).
  const bool stream = n.body_size > kHeldBodyMax;
  std::unique_ptr<RecipientStore::BodyWriter> writer;
  if (stream) {
    ASSIGN_OR_RETURN(writer, store_->StartBody(BodyCacheKey(n), n.body_size));
  }
  std::string body;
  uint64_t received = 0;
  if (!stream) body.reserve(n.body_size);
  // Registered with the watchdog for the whole fetch, resumes included.
  Active active;
  active.started = clock_->Now();
  active.size = n.body_size;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) return absl::UnavailableError("the node is shutting down");
    active_.insert(&active);
  }
  struct Unregister {
    BodyFetcher* f;
    Active* a;
    ~Unregister() {
      std::lock_guard<std::mutex> g(f->mu_);
      f->active_.erase(a);
    }
  } unregister{this, &active};
  const auto deadline =
      absl::ToChronoTime(FetchDeadline(limits_, active.started, n.body_size));
  grpc::Status last;
  FetchProgress cut = FetchProgress::kContinue;
  bool stopping = false;
  const FetchPolicy policy;  // resume and give up by core's rule (fetch_rule.h)
  for (int attempt = 1;; ++attempt) {
    const uint64_t before = received;
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline);
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stopping_ || active.cut != FetchProgress::kContinue) break;
      active.ctx = &ctx;
    }
    v1::FetchRequest req;
    req.set_message_id(n.message_id);
    req.set_fetch_token(n.fetch_token);
    req.set_offset(received);
    req.set_recipient_domain(config_->domain);
    auto reader = stub->FetchBody(&ctx, req);
    v1::BodyChunk chunk;
    absl::Status bad;
    while (reader->Read(&chunk)) {
      // A peer can lie: wrong offsets, more bytes than promised, another
      // total. The verifier refuses each before anything is kept.
      bad = CheckChunkTotal(chunk.total_size(), n.body_size);
      if (bad.ok()) bad = verifier.Add(chunk.offset(), chunk.data());
      if (!bad.ok()) break;
      if (stream) {
        bad = writer->Append(chunk.data());
        if (!bad.ok()) break;
      } else {
        body.append(chunk.data());
      }
      received += chunk.data().size();
      active.received.store(received);
      Metrics::Global().Add("pullmail_body_bytes_fetched_total", chunk.data().size());
    }
    if (!bad.ok()) ctx.TryCancel();
    last = reader->Finish();
    {
      std::lock_guard<std::mutex> g(mu_);
      active.ctx = nullptr;
      cut = active.cut;
      stopping = stopping_;
    }
    if (!bad.ok()) return bad;
    FetchStep step = AfterFetchAttempt(policy, attempt, FromGrpc(last), before, received,
                                       n.body_size, n.signing_domain);
    if (step.kind == FetchStep::kDone) break;
    if (cut != FetchProgress::kContinue || stopping) break;
    if (step.kind == FetchStep::kFail) return step.error;
    PM_LOG(INFO) << "fetch of " << n.message_id << " broke at " << received << "/"
                 << n.body_size << " bytes (" << last.error_message() << "); resuming";
  }
  if (received != n.body_size) {
    if (stopping) return absl::UnavailableError("the node is shutting down; try again later");
    if (cut != FetchProgress::kContinue) {
      PM_LOG(WARNING) << "fetch of " << n.message_id << " from " << n.signing_domain
                      << " cut off (" << FetchProgressName(cut) << ") at " << received << "/"
                      << n.body_size << " bytes";
      return absl::UnavailableError(absl::StrCat(
          AV(FetchProgressName(cut)), ": the sender node of ", n.signing_domain,
          " sent ", received, " of ", n.body_size, " bytes in ",
          absl::FormatDuration(clock_->Now() - active.started),
          ", below the minimum rate or past the deadline; try again later"));
    }
    return absl::UnavailableError(
        absl::StrCat("the sender node of ", n.signing_domain,
                     " is temporarily unavailable; try again later (", last.error_message(), ")"));
  }
  RETURN_IF_ERROR(verifier.Finish());
  if (stream) {
    RETURN_IF_ERROR(writer->Finish());
  } else {
    RETURN_IF_ERROR(store_->PutBody(BodyCacheKey(n), body));
  }
  RequeueIfExpunged({n.id});
  PM_LOG(INFO) << "fetched " << n.message_id << " (" << received << " bytes) from "
               << n.signing_domain;
  return absl::OkStatus();
}

}  // namespace pullmail
