// SenderNode: submission, revocation, abuse reports, channels and the
// worker's wake-up (see sender_node.h).
#include "sender-node/sender_node.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/config/gateway_config.h"
#include "core/crypto/token.h"
#include "core/envelope/envelope.h"
#include "core/logic/sender_rules.h"
#include "core/storage/open_store.h"
#include "core/util/address.h"
#include "core/util/logging.h"
#include "core/util/random.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "rpc/node_base.h"
#include "rpc/grpc_status.h"
#include "rpc/metrics.h"
#include "rpc/tls.h"

namespace pullmail {

absl::StatusOr<std::unique_ptr<SenderNode>> SenderNode::Open(const NodeConfig& config,
                                                             Clock* clock,
                                                             const SignatureScheme* scheme) {
  Parts parts;
  parts.config = config;
  parts.clock = clock;
  parts.scheme = scheme;
  ASSIGN_OR_RETURN(parts.store, OpenSenderStore(config.SenderStoreLocation()));
  ASSIGN_OR_RETURN(parts.base, OpenNodeBase(config, clock));
  if (const toml::table* retry = config.Section("sender", "retry")) {
    ASSIGN_OR_RETURN(parts.retry, ParseRetryPolicy(*retry));
  }
  // The same [gateway] section the gateway reads: its relay_listen is where
  // notifications for legacy domains go.
  ASSIGN_OR_RETURN(GatewayConfig gateway, ParseGatewayConfig(config));
  parts.relay_endpoint = gateway.relay_listen;
  return FromParts(std::move(parts));
}

std::unique_ptr<SenderNode> SenderNode::FromParts(Parts parts) {
  std::unique_ptr<SenderNode> node(new SenderNode(std::move(parts.config)));
  node->store_ = std::move(parts.store);
  node->users_ = std::move(parts.base.users);
  node->directory_ = std::move(parts.base.directory);
  node->key_ = std::move(parts.base.key);
  node->auth_ = std::move(parts.base.auth);
  node->clock_ = parts.clock;
  node->scheme_ = parts.scheme;
  node->retry_ = parts.retry;
  node->relay_endpoint_ = std::move(parts.relay_endpoint);
  return node;
}

SubmissionContext SenderNode::MakeSubmissionContext() {
  SubmissionContext ctx;
  ctx.local_domain = config_.domain;
  ctx.sender_endpoint = config_.sender_listen;
  ctx.key_id = config_.key_id;
  ctx.key = key_.get();
  ctx.retention = config_.retention;
  ctx.now = clock().Now();
  ctx.random = &SecureRandom();
  ctx.directory = directory_.get();
  ctx.scheme = scheme_;
  if (users_ != nullptr) {
    ctx.user_exists = [this](const std::string& address) {
      ASSIGN_OR_RETURN(std::string key, UserKey(address));
      return users_->GetUser(key).status();
    };
  }
  return ctx;
}

namespace {

// Bridge's request as Submit's input (origin bridged, envelope_from as given).
SubmissionInput BridgeInput(const v1::BridgeRequest& request) {
  SubmissionInput in;
  in.from = request.envelope_from();
  in.to.assign(request.to().begin(), request.to().end());
  in.origin = v1::ORIGIN_BRIDGED_SMTP;
  return in;
}

}  // namespace

absl::StatusOr<v1::SubmitResponse> SenderNode::Bridge(const v1::BridgeRequest& request) {
  SubmissionInput in = BridgeInput(request);
  if (request.check_only()) {
    RETURN_IF_ERROR(CheckBridgeRecipients(in.to, MakeSubmissionContext()));
    return v1::SubmitResponse();
  }
  in.message = request.message();
  PM_LOG(DEBUG) << "bridging SMTP mail from <" << in.from << "> via "
                << request.client().substr(0, 512);
  return Submit(in);
}

absl::StatusOr<std::vector<absl::StatusOr<v1::SubmitResponse>>> SenderNode::BridgeBatch(
    const v1::BridgeBatchRequest& request) {
  if (request.requests_size() == 0 ||
      static_cast<size_t>(request.requests_size()) > kMaxBridgeBatch) {
    return absl::InvalidArgumentError(absl::StrCat("a batch holds 1 to ", kMaxBridgeBatch,
                                                   " requests, not ", request.requests_size()));
  }
  std::vector<SubmissionInput> inputs;
  std::vector<const SubmissionInput*> to_submit;
  std::vector<size_t> index;  // inputs[i] answers request index[i]
  std::vector<absl::StatusOr<v1::SubmitResponse>> out(
      request.requests_size(), absl::InvalidArgumentError("check_only is not for a batch"));
  for (int i = 0; i < request.requests_size(); ++i) {
    const v1::BridgeRequest& r = request.requests(i);
    if (r.check_only()) continue;
    inputs.push_back(BridgeInput(r));
    inputs.back().message = r.message();
    index.push_back(static_cast<size_t>(i));
  }
  for (const SubmissionInput& in : inputs) to_submit.push_back(&in);
  std::vector<absl::StatusOr<v1::SubmitResponse>> results = SubmitMany(to_submit);
  for (size_t i = 0; i < results.size(); ++i) out[index[i]] = std::move(results[i]);
  return out;
}

std::vector<absl::Status> SenderNode::PutGrouped(
    const std::vector<SenderStore::PutRequest>& requests) {
  // At most this many messages per transaction (their bodies are in memory
  // anyway, held by their callers).
  constexpr size_t kMaxGroup = 64;
  std::vector<PendingPut> mine(requests.size());
  std::unique_lock<std::mutex> lock(put_mu_);
  for (size_t i = 0; i < requests.size(); ++i) {
    mine[i].request = requests[i];
    put_queue_.push_back(&mine[i]);
  }
  auto all_done = [&mine] {
    for (const PendingPut& p : mine) {
      if (!p.done) return false;
    }
    return true;
  };
  while (!all_done()) {
    if (put_leader_) {
      put_cv_.wait(lock);
      continue;
    }
    put_leader_ = true;
    const size_t n = std::min(put_queue_.size(), kMaxGroup);
    std::vector<PendingPut*> group(put_queue_.begin(), put_queue_.begin() + n);
    put_queue_.erase(put_queue_.begin(), put_queue_.begin() + n);
    lock.unlock();
    std::vector<SenderStore::PutRequest> batch;
    batch.reserve(group.size());
    for (PendingPut* p : group) batch.push_back(p->request);
    std::vector<absl::Status> results = store_->PutMessages(batch);
    Metrics::Global().Add("pullmail_submission_commits_total");
    lock.lock();
    for (size_t i = 0; i < group.size(); ++i) {
      group[i]->status = i < results.size() ? results[i] : absl::InternalError("no result");
      group[i]->done = true;
    }
    put_leader_ = false;
    put_cv_.notify_all();
  }
  std::vector<absl::Status> out;
  out.reserve(mine.size());
  for (PendingPut& p : mine) out.push_back(std::move(p.status));
  return out;
}

absl::StatusOr<std::optional<v1::SubmitResponse>> SenderNode::AnswerRetry(
    const OutboundMessage& prepared) {
  absl::StatusOr<std::string> id =
      store_->FindByIdempotencyKey(prepared.sender, prepared.idempotency_key);
  if (absl::IsNotFound(id.status())) return std::nullopt;
  RETURN_IF_ERROR(id.status());
  ASSIGN_OR_RETURN(OutboundMessage stored, store_->GetMessage(*id));
  RETURN_IF_ERROR(CheckSubmissionRetry(prepared, stored));
  ASSIGN_OR_RETURN(std::vector<Delivery> deliveries, store_->ListDeliveries(*id));
  Metrics::Global().Add("pullmail_submissions_retried_total");
  PM_LOG(INFO) << "retried submission of " << *id << " by " << stored.sender
               << " (same idempotency key): stored once";
  return SubmitResponseFor(stored, deliveries);
}

absl::StatusOr<v1::SubmitResponse> SenderNode::Submit(const SubmissionInput& input) {
  return std::move(SubmitMany({&input})[0]);
}

std::vector<absl::StatusOr<v1::SubmitResponse>> SenderNode::SubmitMany(
    const std::vector<const SubmissionInput*>& inputs) {
  std::vector<absl::StatusOr<v1::SubmitResponse>> out(inputs.size(),
                                                      absl::InternalError("not submitted"));
  SubmissionContext ctx = MakeSubmissionContext();
  std::vector<std::optional<Submission>> subs(inputs.size());
  std::vector<SenderStore::PutRequest> puts;
  std::vector<size_t> put_index;  // puts[i] stores inputs[put_index[i]]
  for (size_t i = 0; i < inputs.size(); ++i) {
    absl::StatusOr<Submission> sub = PrepareSubmission(*inputs[i], ctx);
    if (!sub.ok()) {
      out[i] = sub.status();
      continue;
    }
    if (!sub->message.idempotency_key.empty()) {
      absl::StatusOr<std::optional<v1::SubmitResponse>> prior = AnswerRetry(sub->message);
      if (!prior.ok()) {
        out[i] = prior.status();
        continue;
      }
      if (prior->has_value()) {
        out[i] = **std::move(prior);
        continue;
      }
    }
    subs[i] = *std::move(sub);
    puts.push_back(SenderStore::PutRequest{&subs[i]->message, inputs[i]->message,
                                           &subs[i]->deliveries});
    put_index.push_back(i);
  }
  if (puts.empty()) return out;
  std::vector<absl::Status> stored = PutGrouped(puts);
  bool any = false;
  for (size_t k = 0; k < put_index.size(); ++k) {
    const size_t i = put_index[k];
    const Submission& sub = *subs[i];
    absl::Status put = k < stored.size() ? stored[k] : absl::InternalError("no result");
    if (!sub.message.idempotency_key.empty() && absl::IsAlreadyExists(put)) {
      // A concurrent retry with the same key committed first.
      absl::StatusOr<std::optional<v1::SubmitResponse>> prior = AnswerRetry(sub.message);
      if (!prior.ok() || prior->has_value()) {
        out[i] = prior.ok() ? **std::move(prior) : absl::StatusOr<v1::SubmitResponse>(prior.status());
        continue;
      }
    }
    if (!put.ok()) {
      out[i] = put;
      continue;
    }
    any = true;
    Metrics::Global().Add("pullmail_submissions_total");
    out[i] = SubmitResponseFor(sub.message, sub.deliveries);
    PM_LOG(INFO) << "submitted " << sub.message.message_id << " from " << sub.message.sender
                 << " (" << sub.message.body_size << " bytes) to " << sub.deliveries.size()
                 << " domain(s)" << (inputs[i]->origin == v1::ORIGIN_BRIDGED_SMTP ? ", bridged" : "");
  }
  if (any) Wake();
  return out;
}

absl::StatusOr<v1::RevokeResponse> SenderNode::Revoke(std::string_view user,
                                                      std::string_view message_id,
                                                      std::string_view reason) {
  ASSIGN_OR_RETURN(OutboundMessage msg, store_->GetMessage(message_id));
  RETURN_IF_ERROR(CheckRevoker(msg, user));  // core/logic/sender_rules.h
  RETURN_IF_ERROR(store_->MarkRevoked(message_id));
  RETURN_IF_ERROR(store_->DeleteBody(message_id));
  ASSIGN_OR_RETURN(std::vector<Delivery> deliveries, store_->ListDeliveries(message_id));

  v1::Revocation rev;
  rev.set_version(1);
  rev.set_message_id(std::string(message_id));
  rev.set_signing_domain(config_.domain);
  rev.set_revoked_unix_ms(ToUnixMs(clock().Now()));
  rev.set_reason(std::string(reason.substr(0, 256)));
  ASSIGN_OR_RETURN(v1::SignedRevocation signed_rev,
                   SignRevocation(rev, config_.domain, config_.key_id, *key_, scheme_));

  RevocationPlan plan = PlanRevocation(deliveries);
  v1::RevokeResponse resp;
  resp.set_already_fetched(plan.already_fetched);
  for (size_t i = 0; i < plan.deliveries.size(); ++i) {
    if (plan.changed[i]) RETURN_IF_ERROR(store_->UpdateDelivery(plan.deliveries[i]));
  }
  for (size_t i : plan.notify) {
    const Delivery& d = plan.deliveries[i];
    auto channel = RecipientChannel(d.domain);
    if (!channel.ok()) continue;
    auto stub = v1::RecipientService::NewStub(*channel);
    grpc::ClientContext cctx;
    cctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::RevokeResult result;
    grpc::Status s = stub->Revoke(&cctx, signed_rev, &result);
    if (s.ok()) {
      resp.set_domains_notified(resp.domains_notified() + 1);
    } else {
      PM_LOG(WARNING) << "revocation of " << message_id << " to " << d.domain
                      << " failed: " << s.error_message()
                      << " (its fetches are refused regardless)";
    }
  }
  PM_LOG(INFO) << "revoked " << message_id << "; told " << resp.domains_notified() << " domain(s)";
  return resp;
}

absl::StatusOr<v1::ListSentResponse> SenderNode::ListSent(std::string_view user, uint32_t limit) {
  ASSIGN_OR_RETURN(std::vector<OutboundMessage> msgs,
                   store_->ListMessages(UserKey(user).value_or(""), limit ? limit : 100));
  v1::ListSentResponse resp;
  for (const OutboundMessage& m : msgs) {
    v1::SentMessage* s = resp.add_messages();
    s->set_message_id(m.message_id);
    s->mutable_summary()->ParseFromString(m.summary);
    s->set_body_size(m.body_size);
    s->set_created_unix_ms(ToUnixMs(m.created));
    s->set_expires_unix_ms(ToUnixMs(m.expires));
    s->set_revoked(m.revoked);
    ASSIGN_OR_RETURN(std::vector<Delivery> deliveries, store_->ListDeliveries(m.message_id));
    for (const Delivery& d : deliveries) {
      v1::DeliveryStatus* ds = s->add_deliveries();
      ds->set_domain(d.domain);
      ds->set_state(std::string(DeliveryStateName(d.state)));
      ds->set_attempts(d.attempts);
      ds->set_next_attempt_unix_ms(ToUnixMs(d.next_attempt));
      ds->set_last_error(d.last_error);
    }
  }
  return resp;
}

absl::Status SenderNode::ReportAbuse(const v1::SignedSpamReport& signed_report) {
  ASSIGN_OR_RETURN(v1::SpamReport report,
                   VerifySpamReport(signed_report, *directory_, clock().Now(), nullptr, scheme_));
  ASSIGN_OR_RETURN(OutboundMessage msg, store_->GetMessage(report.message_id()));
  // The reporter in its one spelling: the signing domain, which
  // VerifySpamReport holds to normal form and to be reporter_domain's
  // (SameDomain); reporter_domain itself may be spelt otherwise.
  const std::string& reporter = signed_report.signing_domain();
  // Only a domain we notified about this message may complain about it.
  ASSIGN_OR_RETURN(std::vector<Delivery> deliveries, store_->ListDeliveries(msg.message_id));
  if (absl::Status s = CheckAbuseReporter(deliveries, reporter); !s.ok()) {
    Metrics::Global().Add("pullmail_abuse_reports_rejected_total{reason=\"not_a_recipient\"}");
    return s;
  }
  ASSIGN_OR_RETURN(bool fresh,
                   store_->RecordAbuseReport(msg.sender, reporter,
                                             report.report_id(), report.verdict(), clock().Now()));
  if (!fresh) return absl::AlreadyExistsError("replayed report: report_id seen before");
  Metrics::Global().Add(absl::StrCat("pullmail_abuse_reports_total{verdict=\"",
                                     report.verdict() == v1::VERDICT_SPAM ? "spam" : "not_spam",
                                     "\"}"));
  PM_LOG(INFO) << "abuse report from " << reporter << " against " << msg.sender
               << " (message " << msg.message_id << ")";
  return absl::OkStatus();
}

absl::StatusOr<Route> SenderNode::RouteFor(const std::string& domain) const {
  // THE routing rule is core's (core/logic/routing.h).
  return RouteNotifications(directory_->Lookup(domain), domain, config_.domain, relay_endpoint_);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> SenderNode::RecipientChannel(
    const std::string& domain) {
  ASSIGN_OR_RETURN(Route route, RouteFor(domain));
  return ChannelFor(route);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> SenderNode::ChannelFor(const Route& route) {
  return channels_.Get(route.endpoint, route.peer);
}

void SenderNode::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  woken_ = true;
  cv_.notify_all();
}

bool SenderNode::WaitForWork(absl::Time deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  // `deadline` is on the node's clock; the wait is on the wall clock.
  absl::Duration left = clock_->WallDuration(deadline - clock_->Now());
  if (left < absl::ZeroDuration()) left = absl::ZeroDuration();
  cv_.wait_for(lock, absl::ToChronoMilliseconds(left) + std::chrono::milliseconds(1),
               [this] { return woken_ || stop_; });
  const bool woken = woken_;
  woken_ = false;
  return woken;
}

void SenderNode::Gather(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMicroseconds(clock_->WallDuration(d)),
               [this] { return stop_; });
}

void SenderNode::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = true;
  cv_.notify_all();
}

bool SenderNode::stopped() {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

}  // namespace pullmail
