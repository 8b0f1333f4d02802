// DeliveryWorker (see delivery_worker.h).
#include "sender-node/delivery_worker.h"

#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/logic/delivery_batch.h"
#include "core/logic/delivery_pass.h"
#include "core/mail/bounce.h"
#include "core/util/logging.h"
#include "core/util/random.h"
#include "rpc/grpc_status.h"
#include "rpc/metrics.h"

namespace pullmail {
DeliveryWorker::DeliveryWorker(SenderNode* node) : node_(node) {
  thread_ = std::thread([this] { Loop(); });
}

DeliveryWorker::~DeliveryWorker() {
  node_->Stop();
  thread_.join();
}

void DeliveryWorker::Loop() {
  while (!node_->stopped()) {
    absl::Time next = RunOnce();
    // Never sleep past a second: expiry of bodies and a changed directory
    // are noticed promptly without their own timers. Woken by new mail, let
    // what is queued with it arrive first (core's kPassGather).
    if (node_->WaitForWork(std::min(next, node_->clock().Now() + absl::Seconds(1)))) {
      node_->Gather(kPassGather);
    }
  }
}

absl::Time DeliveryWorker::RunOnce() {
  SenderStore& store = node_->store();
  absl::Time now = node_->clock().Now();
  // Claimed, not just listed: replicas sharing a PostgreSQL store each get
  // their own deliveries (docs/SCALE-OUT.md). The lease outlasts the longest
  // send (kRelayDeadline) unless configured shorter ([sender]
  // claim_lease_seconds); Apply records the attempt before it ends. A store
  // this process alone owns (SQLite) needs no lease: a node killed in the
  // middle of a pass then sends at once after its restart.
  auto due = store.ClaimDueDeliveries(now, kDuePerPass, node_->config().DeliveryClaimLease());
  if (!due.ok()) {
    PM_LOG(ERROR) << "outbox: " << due.status();
    return now + absl::Seconds(1);
  }
  std::map<std::string, std::vector<Delivery>> by_domain;
  for (Delivery& d : *due) by_domain[d.domain].push_back(std::move(d));
  for (auto& [domain, list] : by_domain) {
    SendToDomain(domain, list);
    Flush();
  }
  ExpireBodies();
  Flush();

  if (due->size() == kDuePerPass) return now;  // more waiting
  auto next = store.NextDueTime();
  if (!next.ok() || !next->has_value()) return now + absl::Seconds(1);
  return **next;
}

void DeliveryWorker::SendToDomain(const std::string& domain, std::vector<Delivery>& due) {
  absl::Time now = node_->clock().Now();
  // Each step's rule is core's (core/logic/delivery_pass.h).
  std::vector<Delivery*> live;
  std::map<const Delivery*, absl::Time> expires;  // read once per delivery here
  for (Delivery& d : due) {
    auto msg = node_->store().GetMessage(d.message_id);
    if (!msg.ok()) continue;
    if (ExpiredInQueue(msg->expires, now)) {
      d.attempts++;
      Apply(d, ExpiredInQueueCode(), std::string(kExpiredInQueue), msg->expires);
      continue;
    }
    expires[&d] = msg->expires;
    live.push_back(&d);
  }
  if (live.empty()) return;

  absl::StatusOr<Route> route = node_->RouteFor(domain);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      route.ok() ? node_->ChannelFor(*route) : route.status();
  if (!channel.ok()) {
    const int code = RouteFailureCode(channel.status());
    for (Delivery* d : live) {
      d->attempts++;
      Apply(*d, code, std::string(channel.status().message()), expires[d]);
    }
    return;
  }
  const StreamLimits limits = StreamLimitsFor(*route);
  if (live.size() > limits.max_per_stream) {
    // The rest: next pass. Give back their claim so they need not wait out
    // the lease.
    for (size_t i = limits.max_per_stream; i < live.size(); ++i) {
      live[i]->next_attempt = now;
      (void)node_->store().UpdateDelivery(*live[i]);
    }
    live.resize(limits.max_per_stream);
  }
  auto stub = v1::RecipientService::NewStub(*channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoSeconds(limits.deadline));
  auto stream = stub->NotifyStream(&ctx);
  // What is due for this domain is signed here, once, as it goes out: under
  // one signature per batch of up to 64, a lone one singly (core's
  // SignForDelivery, PROTOCOL.md 4 and 4.1). The queue keeps the prepared,
  // unsigned bytes, so a retry is signed afresh with whatever is due.
  std::vector<v1::SignedNotification> singles(live.size());
  for (size_t i = 0; i < live.size(); ++i) singles[i].ParseFromString(live[i]->signed_notification);
  absl::StatusOr<DeliverySigning> to_send =
      SignForDelivery(std::move(singles), node_->config().key_id, node_->key(), node_->scheme());
  if (!to_send.ok()) {
    // Only a broken queue gets here (mixed signing domains): send nothing,
    // retry on the schedule, and say why.
    PM_LOG(ERROR) << "notify " << domain << ": cannot batch-sign: " << to_send.status();
    for (Delivery* d : live) {
      d->attempts++;
      Apply(*d, static_cast<int>(grpc::StatusCode::UNAVAILABLE),
            std::string(to_send.status().message()), expires[d]);
    }
    return;
  }
  Metrics::Global().Add("pullmail_notification_signatures_total", to_send->signatures);
  size_t written = 0;
  uint64_t bytes = 0;
  for (const v1::SignedNotification& n : to_send->notifications) {
    grpc::WriteOptions opts;
    if (written + 1 < live.size()) opts.set_buffer_hint();
    if (!stream->Write(n, opts)) break;
    ++written;
    bytes += n.ByteSizeLong();
  }
  stream->WritesDone();
  v1::NotifyResult result;
  size_t answered = 0;
  while (answered < written && stream->Read(&result)) {
    size_t i = result.sequence() < written ? result.sequence() : answered;
    Delivery* d = live[i];
    d->attempts++;
    Apply(*d, result.code(), absl::StrCat(result.reason(), ": ", result.detail()), expires[d]);
    ++answered;
  }
  absl::Status st = FromGrpc(stream->Finish());
  Metrics::Global().Add("pullmail_notifications_sent_total", answered);
  Metrics::Global().Add("pullmail_notification_bytes_sent_total", bytes);
  if (answered < live.size()) {
    std::string err = st.ok() ? "no answer" : absl::StrCat("unreachable: ", st.message());
    const int code = UnansweredCode(st);
    for (size_t i = answered; i < live.size(); ++i) {
      live[i]->attempts++;
      Apply(*live[i], code, err, expires[live[i]]);
    }
    PM_LOG(INFO) << "notify " << domain << ": " << (live.size() - answered)
                 << " unanswered (" << err << "); will retry";
  }
}

void DeliveryWorker::Apply(Delivery& d, int code, const std::string& error, absl::Time expires) {
  absl::Time now = node_->clock().Now();
  OutboxStep step =
      AfterNotifyResult(node_->retry(), code, error, d.attempts, now, expires, SecureRandom());
  ApplyOutboxStep(step, error, d);
  updates_.push_back(Update{d, step});
}

void DeliveryWorker::Flush() {
  if (updates_.empty()) return;
  std::vector<Update> updates = std::move(updates_);
  updates_.clear();
  std::vector<Delivery> deliveries;
  deliveries.reserve(updates.size());
  for (const Update& u : updates) deliveries.push_back(u.delivery);
  // One transaction for the pass: a commit per notification (an fsync each
  // with synchronous=FULL) was what limited a busy sender.
  if (absl::Status s = node_->store().UpdateDeliveries(deliveries); !s.ok()) {
    PM_LOG(ERROR) << "outbox: cannot record " << deliveries.size() << " attempt(s): " << s;
    return;
  }
  for (const Update& u : updates) {
    if (u.step.kind == OutboxStep::kBounce) {
      Bounce(u.delivery, u.step.bounce_reason, u.step.status_code);
    }
  }
}

void DeliveryWorker::Bounce(const Delivery& d, const std::string& reason,
                            const std::string& status_code) {
  auto msg = node_->store().GetMessage(d.message_id);
  if (!msg.ok()) return;
  Metrics::Global().Add("pullmail_bounces_total");
  PM_LOG(INFO) << "bounce: " << d.message_id << " to " << d.domain << " failed (" << status_code
               << " " << reason << ")";
  if (!ShouldBounce(msg->sender, node_->config().domain)) return;

  BounceInfo info;
  info.sender = msg->sender;
  info.domain = node_->config().domain;
  info.recipients = d.recipients;
  info.message_id = d.message_id;
  info.summary.ParseFromString(msg->summary);
  info.reason = reason;
  info.status_code = status_code;
  info.when = node_->clock().Now();
  SubmissionInput in;
  in.from = MailerDaemon(node_->config().domain);
  in.to = {msg->sender};
  in.message = MakeBounceMessage(info);
  auto r = node_->Submit(in);
  if (!r.ok()) PM_LOG(ERROR) << "cannot queue bounce for " << d.message_id << ": " << r.status();
}

void DeliveryWorker::ExpireBodies() {
  absl::Time now = node_->clock().Now();
  auto expired = node_->store().ExpiredMessages(now, 100);
  if (!expired.ok()) return;
  for (const OutboundMessage& m : *expired) {
    // Deliveries still queued are bounced by SendToDomain when next due;
    // bounce them now so the sender hears at expiry, not later.
    auto deliveries = node_->store().ListDeliveries(m.message_id);
    if (deliveries.ok()) {
      for (Delivery& d : *deliveries) {
        if (!QueuedAtExpiry(d)) continue;
        d.attempts++;
        Apply(d, ExpiredInQueueCode(), std::string(kExpiredInQueue), m.expires);
      }
    }
    if (absl::Status s = node_->store().DeleteBody(m.message_id); s.ok()) {
      PM_LOG(INFO) << "expired " << m.message_id << ": body dropped";
    }
  }
}

}  // namespace pullmail
