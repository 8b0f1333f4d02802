// BodyFetcher (see body_fetcher.h).
#include "recipient-node/body_fetcher.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/logic/body_cache_key.h"
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

}  // namespace

BodyFetcher::BodyFetcher(const NodeConfig* config, const Directory* directory,
                         RecipientStore* store, FetchLimits limits, Clock* clock)
    : config_(config), directory_(directory), store_(store), limits_(limits), clock_(clock) {
  watchdog_ = std::thread([this] { Watch(); });
}

BodyFetcher::~BodyFetcher() {
  Shutdown();
  if (watchdog_.joinable()) watchdog_.join();
}

void BodyFetcher::Shutdown() {
  std::lock_guard<std::mutex> g(mu_);
  if (stopping_) return;
  stopping_ = true;
  for (Active* a : active_) {
    if (a->ctx != nullptr) a->ctx->TryCancel();
  }
  cv_.notify_all();
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
  std::shared_ptr<std::mutex> lock;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto& slot = in_flight_[key];
    if (!slot) slot = std::make_shared<std::mutex>();
    lock = slot;
  }
  absl::StatusOr<bool> result;
  {
    std::lock_guard<std::mutex> one_fetch(*lock);
    result = [&]() -> absl::StatusOr<bool> {
      ASSIGN_OR_RETURN(bool cached, store_->HasBody(key));
      if (cached) {
        Metrics::Global().Add("pullmail_cache_hits_total");
        return true;
      }
      absl::Status s = Fetch(n);
      std::string label = s.ok() ? "ok"
                          : absl::StartsWith(s.message(), "too_slow") ? "too_slow"
                          : s.code() == absl::StatusCode::kUnavailable ? "unavailable"
                          : s.code() == absl::StatusCode::kDataLoss    ? "verify_failed"
                          : s.code() == absl::StatusCode::kPermissionDenied ? "denied"
                                                                            : "error";
      Metrics::Global().Add(absl::StrCat("pullmail_fetches_total{result=\"", label, "\"}"));
      if (!s.ok()) return s;
      return false;
    }();
  }
  {
    // The last one out drops the per-key lock, so that the map does not
    // grow with every body ever read.
    std::lock_guard<std::mutex> g(mu_);
    lock.reset();
    auto it = in_flight_.find(key);
    if (it != in_flight_.end() && it->second.use_count() == 1) in_flight_.erase(it);
  }
  return result;
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
  std::string body;
  body.reserve(std::min<uint64_t>(n.body_size, limits::kMaxBodySize));
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
    const size_t before = body.size();
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
    req.set_offset(body.size());
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
      body.append(chunk.data());
      active.received.store(body.size());
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
    FetchStep step = AfterFetchAttempt(policy, attempt, FromGrpc(last), before, body.size(),
                                       n.body_size, n.signing_domain);
    if (step.kind == FetchStep::kDone) break;
    if (cut != FetchProgress::kContinue || stopping) break;
    if (step.kind == FetchStep::kFail) return step.error;
    PM_LOG(INFO) << "fetch of " << n.message_id << " broke at " << body.size() << "/"
                 << n.body_size << " bytes (" << last.error_message() << "); resuming";
  }
  if (body.size() != n.body_size) {
    if (stopping) return absl::UnavailableError("the node is shutting down; try again later");
    if (cut != FetchProgress::kContinue) {
      PM_LOG(WARNING) << "fetch of " << n.message_id << " from " << n.signing_domain
                      << " cut off (" << FetchProgressName(cut) << ") at " << body.size() << "/"
                      << n.body_size << " bytes";
      return absl::UnavailableError(absl::StrCat(
          AV(FetchProgressName(cut)), ": the sender node of ", n.signing_domain,
          " sent ", body.size(), " of ", n.body_size, " bytes in ",
          absl::FormatDuration(clock_->Now() - active.started),
          ", below the minimum rate or past the deadline; try again later"));
    }
    return absl::UnavailableError(
        absl::StrCat("the sender node of ", n.signing_domain,
                     " is temporarily unavailable; try again later (", last.error_message(), ")"));
  }
  RETURN_IF_ERROR(verifier.Finish());
  RETURN_IF_ERROR(store_->PutBody(BodyCacheKey(n), body));
  PM_LOG(INFO) << "fetched " << n.message_id << " (" << body.size() << " bytes) from "
               << n.signing_domain;
  return absl::OkStatus();
}

}  // namespace pullmail
