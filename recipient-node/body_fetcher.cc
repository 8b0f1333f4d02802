// BodyFetcher (see body_fetcher.h).
#include "recipient-node/body_fetcher.h"

#include "absl/strings/str_cat.h"
#include "core/logic/fetch_verifier.h"
#include "core/util/logging.h"
#include "core/util/status_macros.h"
#include "rpc/grpc_status.h"
#include "rpc/metrics.h"
#include "rpc/tls.h"

namespace pullmail {
namespace {

constexpr int kMaxAttempts = 3;  // one fetch plus two resumes
constexpr auto kFetchDeadline = std::chrono::seconds(60);

bool Retryable(grpc::StatusCode c) {
  return c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::DEADLINE_EXCEEDED ||
         c == grpc::StatusCode::CANCELLED || c == grpc::StatusCode::INTERNAL ||
         c == grpc::StatusCode::UNKNOWN || c == grpc::StatusCode::OK;
}

}  // namespace

BodyFetcher::BodyFetcher(const NodeConfig* config, const Directory* directory,
                         RecipientStore* store)
    : config_(config), directory_(directory), store_(store) {}

absl::StatusOr<bool> BodyFetcher::EnsureCached(const StoredNotification& n) {
  std::shared_ptr<std::mutex> lock;
  {
    std::lock_guard<std::mutex> g(mu_);
    auto& slot = in_flight_[n.body_sha256];
    if (!slot) slot = std::make_shared<std::mutex>();
    lock = slot;
  }
  std::lock_guard<std::mutex> one_fetch(*lock);
  ASSIGN_OR_RETURN(bool cached, store_->HasBody(n.body_sha256));
  if (cached) {
    Metrics::Global().Add("pullmail_cache_hits_total");
    return true;
  }
  absl::Status s = Fetch(n);
  std::string label = s.ok() ? "ok"
                      : s.code() == absl::StatusCode::kUnavailable ? "unavailable"
                      : s.code() == absl::StatusCode::kDataLoss    ? "verify_failed"
                      : s.code() == absl::StatusCode::kPermissionDenied ? "denied"
                                                                        : "error";
  Metrics::Global().Add(absl::StrCat("pullmail_fetches_total{result=\"", label, "\"}"));
  if (!s.ok()) return s;
  return false;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> BodyFetcher::SenderChannel(
    const std::string& domain) {
  ASSIGN_OR_RETURN(DomainEntry entry, directory_->Lookup(domain));
  if (entry.sender_endpoint.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("directory lists no sender node for ", domain));
  }
  std::string key = absl::StrCat(domain, "|", entry.sender_endpoint);
  std::lock_guard<std::mutex> g(mu_);
  auto it = channels_.find(key);
  if (it != channels_.end()) return it->second;
  ASSIGN_OR_RETURN(auto ch, Dial(config_->tls, entry.sender_endpoint, domain));
  channels_[key] = ch;
  return ch;
}

absl::Status BodyFetcher::Fetch(const StoredNotification& n) {
  ASSIGN_OR_RETURN(auto channel, SenderChannel(n.signing_domain));
  auto stub = v1::SenderService::NewStub(channel);
  FetchVerifier verifier(n.body_size, n.body_sha256);
  std::string body;
  body.reserve(n.body_size);
  grpc::Status last;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const size_t before = body.size();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kFetchDeadline);
    v1::FetchRequest req;
    req.set_message_id(n.message_id);
    req.set_fetch_token(n.fetch_token);
    req.set_offset(body.size());
    req.set_recipient_domain(config_->domain);
    auto reader = stub->FetchBody(&ctx, req);
    v1::BodyChunk chunk;
    while (reader->Read(&chunk)) {
      // A peer can lie: wrong offsets, more bytes than promised, another
      // total. The verifier refuses each before anything is kept.
      if (chunk.total_size() != n.body_size) {
        ctx.TryCancel();
        reader->Finish();
        return absl::DataLossError(absl::StrCat("sender announced ", chunk.total_size(),
                                                " bytes; the notification committed to ",
                                                n.body_size));
      }
      absl::Status s = verifier.Add(chunk.offset(), chunk.data());
      if (!s.ok()) {
        ctx.TryCancel();
        reader->Finish();
        return s;
      }
      body.append(chunk.data());
      Metrics::Global().Add("pullmail_body_bytes_fetched_total", chunk.data().size());
    }
    last = reader->Finish();
    if (last.ok() && body.size() == n.body_size) break;
    if (!last.ok() && !Retryable(last.error_code())) return FromGrpc(last);
    // Resume only a stream that made progress; a node that is down fails
    // fast, and the reader gets UNAVAILABLE at once rather than a wait.
    if (body.size() == before) break;
    PM_LOG(INFO) << "fetch of " << n.message_id << " broke at " << body.size() << "/"
                 << n.body_size << " bytes (" << last.error_message() << "); resuming";
  }
  if (body.size() != n.body_size) {
    return absl::UnavailableError(
        absl::StrCat("the sender node of ", n.signing_domain,
                     " is temporarily unavailable; try again later (", last.error_message(), ")"));
  }
  RETURN_IF_ERROR(verifier.Finish());
  RETURN_IF_ERROR(store_->PutBody(n.body_sha256, body));
  PM_LOG(INFO) << "fetched " << n.message_id << " (" << body.size() << " bytes) from "
               << n.signing_domain;
  return absl::OkStatus();
}

}  // namespace pullmail
