// The pull world (see pull_world.h).
//
// Who drives what. A provider's actor plays its domains' sender node (it
// creates its users' messages) and their recipient node. Transfers are driven
// by the recipient side: every notify_interval a recipient provider ships what
// each sender has due for it (one transfer per sender and interval, the size
// of the real serialized notifications), accepts them, and ships the replies
// back; a reader's open triggers a fetch that the same actor drives. So each
// actor waits only on its own activities, and nothing crosses actors but the
// senders' outboxes, which the recipients read on their ticks.
#include "sim/pull_world.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "core/logic/acceptor.h"
#include "core/logic/body_retention.h"
#include "core/logic/delivery_batch.h"
#include "core/logic/delivery_pass.h"
#include "core/logic/fetch_authorizer.h"
#include "core/logic/fetch_rule.h"
#include "core/logic/mailbox_rules.h"
#include "core/logic/outbox.h"
#include "core/logic/sender_rules.h"
#include "core/logic/status_class.h"
#include "core/util/logging.h"
#include "core/util/strings.h"
#include "sim/node_loop.h"
#include "sim/reader.h"

namespace pullmail::sim {
namespace {

namespace sg4 = simgrid::s4u;

enum EventKind : uint16_t {
  kTick = 1,      // recipient: ship due notifications from every sender
  kExpireBody,    // sender: a body reached its expiry
  kRead,          // recipient: a user opens a copy (extra = attempt)
  kReview,        // recipient: review a held copy (aux = held since)
  kFinal,         // recipient: an unread copy reaches its expiry
  kPin,           // recipient: prefetch before expiry (b = group)
  kCacheExpire,   // recipient: a cached body leaves (aux = fetched at)
  kFetchFlush,    // recipient: ship the fetches queued for a sender (a = node)
  kNotifyFail,    // recipient was down: the attempt times out (a = batch)
  kFetchFail,     // sender was down: the fetch times out (a = batch)
  kLocalDone,     // a transfer inside one host completes (a:b = tag)
  kRecall,        // sender: the message's sender recalls it (a = message)
};

// Activity tags: batch id << 3 | stage.
enum Stage : uint64_t {
  kNotifyArrived = 1,  // notifications reached the recipient
  kNotifyVerified,     // the recipient's CPU checked their signatures
  kAckArrived,         // the replies reached the sender
  kFetchArrived,       // fetch requests reached the sender
  kBodiesArrived,      // bodies reached the recipient
};
uint64_t Tag(uint64_t batch, Stage s) { return batch << 3 | s; }

constexpr double kReferenceFlops = 1e9;  // CryptoCost is measured on a "1 Gflop/s" host

}  // namespace

class PullNode : public NodeLoop {
 public:
  PullNode(PullWorld* w, uint32_t node)
      : NodeLoop(w->sc_.run.time_quantum), w_(w), node_(node), rng_(Mix64(w->sc_.run.seed, 0x9011, node)) {
    const World& world = w_->world_;
    provider_ = !world.IsBot(node);
    messages_ = &world.node_messages()[node];
    if (provider_) fetch_queue_.resize(world.nodes());
  }

  void Body() {
    if (provider_) {
      // Stagger the providers' ticks over one interval.
      const double interval = w_->sc_.network.notify_interval;
      Schedule(interval * (node_ + 1.0) / (w_->world_.providers() + 1.0), kTick);
      ticking_ = true;
    }
    Run();
    --w_->running_;
  }

 protected:
  // The next message creation; with a time quantum, creations are taken in
  // batches at the quantum's boundaries (they only fill queues).
  double NextWake() const override {
    if (cursor_ >= messages_->size()) return std::numeric_limits<double>::infinity();
    return QuantumCeil(w_->world_.messages()[(*messages_)[cursor_]].created);
  }

  void OnWake() override {
    const double now = Now();
    while (cursor_ < messages_->size() &&
           w_->world_.messages()[(*messages_)[cursor_]].created <= now) {
      const uint32_t index = (*messages_)[cursor_++];
      w_->Submit(index, now);
      const double expires = w_->world_.Expires(w_->world_.messages()[index]);
      ScheduleLazy(expires, kExpireBody, index);
      const double recall = w_->world_.RecallAt(index);
      if (recall < expires) Schedule(std::max(now, recall), kRecall, index);
    }
  }

  void OnEvent(const Event& e) override {
    switch (e.kind) {
      case kTick: Tick(); break;
      case kExpireBody: ExpireBody(e.a); break;
      case kRead: Read(e.a, e.b, e.extra, e.aux); break;
      case kReview: Review(e.a, e.b, e.aux); break;
      case kFinal: Final(e.a, e.b); break;
      case kPin: Pin(e.a, e.b); break;
      case kCacheExpire: CacheExpire(e.a, e.b, e.aux); break;
      case kFetchFlush: FetchFlush(e.a); break;
      case kNotifyFail: NotifyFailed(e.a); break;
      case kFetchFail: FetchFailed(e.a, "sender node unreachable"); break;
      case kLocalDone: OnActivity(static_cast<uint64_t>(e.a) << 32 | e.b); break;
      case kRecall: Recall(e.a); break;
      default: PM_CHECK(false) << "unknown event " << e.kind;
    }
  }

  void OnActivity(uint64_t tag) override {
    const uint64_t batch = tag >> 3;
    switch (static_cast<Stage>(tag & 7)) {
      case kNotifyArrived: NotifyArrived(batch); break;
      case kNotifyVerified: NotifyVerified(batch); break;
      case kAckArrived: AckArrived(batch); break;
      case kFetchArrived: FetchArrived(batch); break;
      case kBodiesArrived: BodiesArrived(batch); break;
    }
  }

 private:
  struct NotifyBatch {
    uint32_t sender;
    std::vector<PullWorld::Pending> items;
    std::vector<v1::SignedNotification> signed_n;
    size_t signatures = 0;  // Ed25519 signatures over the batch (one per 64)
    std::vector<int> codes;
    std::vector<std::string> reasons;
  };
  struct FetchItem {
    uint32_t msg;
    uint32_t domain;   // recipient domain
    uint32_t body_id;
    bool pin;
    absl::Status status;  // core's AuthorizeFetch answer
  };
  struct FetchBatch {
    uint32_t sender;
    std::vector<FetchItem> items;
  };

  const World& world() const { return w_->world_; }
  WorldMetrics& metrics() { return w_->m_; }
  const Scenario& sc() const { return w_->sc_; }
  absl::Time ClockNow() const { return clock_.Now(); }

  // Starts a transfer of `bytes` from node `from` to node `to`; OnActivity(tag)
  // runs when the last byte arrives. `lazy`: a small transfer whose arrival
  // only does bookkeeping (replies to the outbox) may be handled up to one
  // time quantum late.
  void Transfer(uint32_t from, uint32_t to, uint64_t bytes, uint64_t tag, bool lazy = false) {
    sg4::Host* a = w_->hosts_[from];
    sg4::Host* b = w_->hosts_[to];
    if (a == b || bytes == 0) {
      Schedule(Now(), kLocalDone, static_cast<uint32_t>(tag >> 32), static_cast<uint32_t>(tag));
      return;
    }
    if (w_->net_.IsSmall(bytes)) {
      ++metrics().timed_transfers;
      const double t = Now() + w_->net_.IdleTransferTime(a, b, bytes);
      if (lazy) {
        ScheduleLazy(t, kLocalDone, static_cast<uint32_t>(tag >> 32), static_cast<uint32_t>(tag));
      } else {
        Schedule(t, kLocalDone, static_cast<uint32_t>(tag >> 32), static_cast<uint32_t>(tag));
      }
      return;
    }
    ++metrics().transfers;
    Track(sg4::Comm::sendto_async(a, b, bytes), tag);
  }

  // ---- Sender side ------------------------------------------------------------

  void ExpireBody(uint32_t index) {
    const Message& m = world().messages()[index];
    const double now = Now();
    if (world().RecallAt(index) < world().Expires(m)) return;  // dropped when recalled
    metrics().sender_storage.Add(-static_cast<double>(m.body_size), now);
    if (world().IsBot(m.origin)) metrics().spammer_storage.Add(-static_cast<double>(m.body_size), now);
  }

  // The message's sender recalls it: core's PlanRevocation decides which
  // deliveries are revoked and which recipient domains are told; each told
  // domain hides what core's RevocationHides says. The revocation is applied
  // at the recipient at once (its transfer is not modelled). The body is
  // dropped, as the sender node's Revoke does.
  void Recall(uint32_t index) {
    const Message& m = world().messages()[index];
    const double now = Now();
    std::vector<Delivery> deliveries(m.notif_count);
    for (int k = 0; k < m.notif_count; ++k) {
      const uint8_t f = w_->notif_flags_[m.notif_begin + k];
      Delivery& d = deliveries[k];
      d.message_id = world().MessageId(index);
      d.domain = world().domains()[world().NotificationGroup(m, k).domain].name;
      d.state = (f & PullWorld::kNotifBounced)  ? DeliveryState::kBounced
                : (f & PullWorld::kNotifStored) ? DeliveryState::kDelivered
                                                : DeliveryState::kQueued;
    }
    RevocationPlan plan = PlanRevocation(deliveries);
    for (int k = 0; k < m.notif_count; ++k) {
      if (plan.changed[k]) w_->notif_flags_[m.notif_begin + k] |= PullWorld::kNotifRevoked;
    }
    for (size_t k : plan.notify) w_->ApplyRevocation(index, static_cast<int>(k));
    ++metrics().recalls;
    metrics().sender_storage.Add(-static_cast<double>(m.body_size), now);
  }

  // ---- Notifications (this node as recipient provider) ---------------------------

  void Tick() {
    const double now = Now();
    auto& dirty = w_->dirty_[node_];
    std::vector<uint32_t> still;
    for (uint32_t s : dirty) {
      auto& q = w_->outbox_[s][node_];
      if (!q.empty() && world().GoneForGood(s, now)) {
        // A bot taken down (bot_mean_lifetime) never sends what it queued:
        // those copies were never delivered.
        // Its queue dies with it; the copies count as expired (4.4.7).
        OutboxStep gone;
        gone.kind = OutboxStep::kBounce;
        gone.status_code = "4.4.7";
        for (const PullWorld::Pending& p : q) Bounce(p, gone);
        q.clear();
      }
      if (!q.empty() && notify_inflight_ < sc().network.max_inflight && world().NodeUp(s, now)) {
        std::vector<PullWorld::Pending> due;
        auto keep = std::partition(q.begin(), q.end(),
                                   [now](const PullWorld::Pending& p) { return p.next_attempt > now; });
        if (keep == q.begin()) {
          due.swap(q);  // all due: the common case
        } else {
          due.assign(keep, q.end());
          q.erase(keep, q.end());
          // partition does not keep order: put the due ones back in queue order.
          std::sort(due.begin(), due.end(), [](const PullWorld::Pending& x, const PullWorld::Pending& y) {
            return x.msg != y.msg ? x.msg < y.msg : x.k < y.k;
          });
        }
        std::vector<PullWorld::Pending> send;
        const bool listed = now >= world().ListedAt(s);
        if (listed) ++metrics().dnsbl_sessions_refused;
        for (const PullWorld::Pending& p : due) {
          const Message& m = world().messages()[p.msg];
          if (listed) {
            // The recipient's edge consults the same blocklist as a classic
            // MTA (scenario [push] dnsbl_*) and refuses a listed host's
            // connection: its notifications never reach core.
            RefuseListed(p);
            continue;
          }
          if (w_->notif_flags_[m.notif_begin + p.k] & PullWorld::kNotifRevoked) {
            // Recalled while queued (core's PlanRevocation): never sent.
            const World::Group g = world().NotificationGroup(m, p.k);
            for (uint32_t j = g.begin; j < g.end; ++j) {
              w_->AddCopyOutcome(j, Outcome::kRevoked, world().IsSpam(m));
            }
            continue;
          }
          // Core's delivery pass: a due delivery whose message has expired
          // bounces without an attempt, with the answer the node records.
          if (ExpiredInQueue(AtSimTime(world().Expires(m)), ClockNow())) {
            Bounce(p, AfterNotifyResult(sc().retry, ExpiredInQueueCode(), kExpiredInQueue,
                                        p.attempts, ClockNow(), AtSimTime(world().Expires(m)),
                                        rng_));
          } else {
            send.push_back(p);
          }
        }
        if (!send.empty()) StartNotify(s, std::move(send));
      }
      if (!q.empty()) {
        still.push_back(s);
      } else {
        w_->dirty_flag_[node_][s] = 0;
      }
    }
    dirty = std::move(still);
    if (w_->uncreated_ > 0 || !dirty.empty() || notify_inflight_ > 0) {
      Schedule(now + sc().network.notify_interval, kTick);
    } else {
      ticking_ = false;
    }
  }

  void EnsureTicking() {
    if (!ticking_) {
      ticking_ = true;
      Schedule(Now() + sc().network.notify_interval, kTick);
    }
  }

  void StartNotify(uint32_t sender, std::vector<PullWorld::Pending> items) {
    const uint64_t id = next_batch_++;
    auto batch = std::make_unique<NotifyBatch>();
    batch->sender = sender;
    batch->items = std::move(items);
    ++notify_inflight_;
    const double now = Now();
    for (PullWorld::Pending& p : batch->items) ++p.attempts;
    if (!world().NodeUp(node_, now)) {
      // This recipient node is down: the sender's calls time out.
      metrics().notify_attempts_failed += batch->items.size();
      notify_batches_[id] = std::move(batch);
      Schedule(now + sc().network.connect_timeout, kNotifyFail, static_cast<uint32_t>(id));
      return;
    }
    uint64_t bytes = 0, tls = 0;
    batch->signed_n.resize(batch->items.size());
    // As the sender node's delivery pass: per (signing domain, recipient
    // domain), batches of 64 under one signature (core's SignForDelivery).
    std::map<std::pair<uint32_t, uint32_t>, std::vector<size_t>> groups;
    for (size_t i = 0; i < batch->items.size(); ++i) {
      const PullWorld::Pending& p = batch->items[i];
      const Message& m = world().messages()[p.msg];
      groups[{m.sender_domain, world().NotificationGroup(m, p.k).domain}].push_back(i);
    }
    for (const auto& [key, indices] : groups) {
      // One NotifyStream call per (signing domain, recipient domain), on the
      // channel the sender node keeps for that domain (its delivery worker
      // calls once per recipient domain on each pass; ChannelFor).
      const CallBytes call = Call(notify_channels_, ChannelKey(key.first, key.second), sender, now);
      bytes += call.framing;
      tls += call.tls;
      std::vector<v1::SignedNotification> due;
      for (size_t i : indices) {
        const PullWorld::Pending& p = batch->items[i];
        absl::StatusOr<v1::SignedNotification> sn = w_->wire_.BuildNotification(p.msg, p.k);
        PM_CHECK(sn.ok()) << "core refused to sign a simulated notification: " << sn.status();
        due.push_back(*std::move(sn));
      }
      absl::StatusOr<DeliverySigning> signed_due =
          SignForDelivery(std::move(due), World::kKeyId, world().Key(key.first), &SimScheme());
      PM_CHECK(signed_due.ok()) << "core refused to batch-sign: " << signed_due.status();
      batch->signatures += std::max<size_t>(signed_due->signatures, 1);
      for (size_t j = 0; j < indices.size(); ++j) {
        bytes += GrpcMessageBytes(signed_due->notifications[j].ByteSizeLong());
        batch->signed_n[indices[j]] = std::move(signed_due->notifications[j]);
      }
    }
    metrics().notifications_sent += batch->items.size();
    // Signing (one per batch) is counted, not delayed.
    metrics().cpu_seconds_crypto += batch->signatures * w_->cost_.sign_seconds;
    metrics().AddBytes(ByteKind::kNotify, bytes);
    metrics().AddBytes(ByteKind::kTls, tls);
    notify_batches_[id] = std::move(batch);
    Transfer(sender, node_, bytes + tls, Tag(id, kNotifyArrived));
  }

  void NotifyArrived(uint64_t id) {
    NotifyBatch& b = *notify_batches_[id];
    // Checking the signatures takes this host's CPU (real Ed25519 cost, as
    // measured, whether the run signs for real or with the model).
    // The measured seconds are on this machine, taken as a 1 Gflop/s host.
    // One verification per batch signature (the other notifications of a
    // batch hit the verified tree head, as at a real recipient node).
    const double flops = b.signatures * w_->cost_.verify_seconds * kReferenceFlops;
    metrics().cpu_seconds_crypto += b.signatures * w_->cost_.verify_seconds;
    if (flops > 0) {
      Track(sg4::this_actor::exec_async(flops), Tag(id, kNotifyVerified));
    } else {
      NotifyVerified(id);
    }
  }

  void NotifyVerified(uint64_t id) {
    NotifyBatch& b = *notify_batches_[id];
    uint64_t ack_bytes = 0;
    b.codes.resize(b.items.size());
    b.reasons.resize(b.items.size());
    for (size_t i = 0; i < b.items.size(); ++i) {
      AcceptDecision d = Accept(b.items[i], b.signed_n[i]);
      v1::NotifyResult r = MakeNotifyResult(d, false);
      b.codes[i] = r.code();
      b.reasons[i] = r.reason();
      ack_bytes += GrpcMessageBytes(r.ByteSizeLong());
    }
    b.signed_n.clear();
    b.signed_n.shrink_to_fit();
    metrics().AddBytes(ByteKind::kNotifyAck, ack_bytes);
    Transfer(node_, b.sender, ack_bytes, Tag(id, kAckArrived), /*lazy=*/true);
  }

  void AckArrived(uint64_t id) {
    std::unique_ptr<NotifyBatch> b = std::move(notify_batches_[id]);
    notify_batches_.erase(id);
    --notify_inflight_;
    // A sender that went down meanwhile never saw the replies: it retries,
    // and the recipient (core) will recognise the duplicates.
    const bool lost = !world().NodeUp(b->sender, Now());
    for (size_t i = 0; i < b->items.size(); ++i) {
      if (lost) {
        AfterAttempt(b->sender, b->items[i], static_cast<int>(absl::StatusCode::kUnavailable),
                     "reply lost: sender went down");
      } else {
        AfterAttempt(b->sender, b->items[i], b->codes[i], b->reasons[i]);
      }
    }
  }

  void NotifyFailed(uint32_t id) {
    std::unique_ptr<NotifyBatch> b = std::move(notify_batches_[id]);
    notify_batches_.erase(id);
    --notify_inflight_;
    for (const PullWorld::Pending& p : b->items) {
      AfterAttempt(b->sender, p, static_cast<int>(absl::StatusCode::kUnavailable),
                   "unavailable: connection timed out");
    }
  }

  // Core's outbox decides what happens to a delivery after an attempt.
  void AfterAttempt(uint32_t sender, PullWorld::Pending p, int code, std::string_view error) {
    const Message& m = world().messages()[p.msg];
    OutboxStep step = AfterNotifyResult(sc().retry, code, error, p.attempts, ClockNow(),
                                        AtSimTime(world().Expires(m)), rng_);
    switch (step.kind) {
      case OutboxStep::kDelivered: break;
      case OutboxStep::kRetry: {
        p.next_attempt = absl::ToDoubleSeconds(step.next_attempt - SimEpoch());
        w_->outbox_[sender][node_].push_back(p);
        if (!w_->dirty_flag_[node_][sender]) {
          w_->dirty_flag_[node_][sender] = 1;
          w_->dirty_[node_].push_back(sender);
        }
        EnsureTicking();
        break;
      }
      case OutboxStep::kBounce: Bounce(p, step); break;
    }
  }

  // A notification from a blocklisted host: refused for good, as push's 554.
  // A retry of one the recipient already stored (the sender lost the reply
  // and was listed before it tried again) changes nothing for its copies:
  // they were counted when it was stored.
  void RefuseListed(const PullWorld::Pending& p) {
    const Message& m = world().messages()[p.msg];
    ++metrics().notifications_rejected;
    if (w_->notif_flags_[m.notif_begin + p.k] & PullWorld::kNotifStored) return;
    const World::Group g = world().NotificationGroup(m, p.k);
    for (uint32_t j = g.begin; j < g.end; ++j) {
      const bool invalid = world().rcpts()[j] & kInvalidRecipient;
      w_->AddCopyOutcome(j, invalid ? Outcome::kFailed : Outcome::kRejected, world().IsSpam(m));
    }
  }

  // The outbox gave up on a delivery: the copies' outcome is classified by
  // the bounce's status code (core's IsDeliveryTimeExpired), not its text.
  void Bounce(const PullWorld::Pending& p, const OutboxStep& step) {
    const Message& m = world().messages()[p.msg];
    ++metrics().bounces;
    const World::Group g = world().NotificationGroup(m, p.k);
    w_->notif_flags_[m.notif_begin + p.k] |= PullWorld::kNotifBounced;
    for (uint32_t j = g.begin; j < g.end; ++j) w_->copy_trace_[j] |= PullWorld::kTraceBounced;
    if (w_->notif_flags_[m.notif_begin + p.k] & PullWorld::kNotifStored) return;  // counted there
    const Outcome o = IsDeliveryTimeExpired(step.status_code) ? Outcome::kExpired : Outcome::kFailed;
    for (uint32_t j = g.begin; j < g.end; ++j) w_->AddCopyOutcome(j, o, world().IsSpam(m));
  }

  // The recipient node's decision on one notification: core's acceptor, then
  // core's policy for each local user.
  AcceptDecision Accept(const PullWorld::Pending& p, const v1::SignedNotification& sn) {
    const Message& m = world().messages()[p.msg];
    const World::Group g = world().NotificationGroup(m, p.k);
    const uint32_t d = g.domain;
    AcceptContext ctx;
    ctx.directory = &world().directory();
    ctx.local_domain = world().domains()[d].name;
    ctx.now = ClockNow();
    ctx.scheme = &SimScheme();
    ctx.user_exists = [this, d](std::string_view address) {
      return world().ParseUser(address, d).has_value();
    };
    ctx.find_existing = [this, d](std::string_view, std::string_view message_id)
        -> std::optional<int64_t> {
      std::optional<uint32_t> index = World::ParseMessageIndex(message_id);
      if (!index || *index >= world().messages().size()) return std::nullopt;
      const Message& mm = world().messages()[*index];
      int k = w_->FindGroup(mm, d);
      if (k < 0 || !(w_->notif_flags_[mm.notif_begin + k] & PullWorld::kNotifStored)) {
        return std::nullopt;
      }
      return static_cast<int64_t>(mm.notif_begin + k);
    };
    ctx.verified_roots = &verified_roots_;
    AcceptDecision dec = AcceptNotification(sn, ctx);
    switch (dec.outcome) {
      case AcceptDecision::kDuplicate: ++metrics().notifications_duplicate; break;
      case AcceptDecision::kReject: ++metrics().notifications_rejected; break;
      case AcceptDecision::kStore: {
        ++metrics().notifications_accepted;
        w_->notif_flags_[m.notif_begin + p.k] |= PullWorld::kNotifStored;
        const bool spam = world().IsSpam(m);
        const World::Hash hash = world().BodyHash(m.body_id);
        for (const std::string& address : dec.users) {
          std::optional<uint32_t> u = world().ParseUser(address, d);
          PM_CHECK(u.has_value()) << "acceptor kept a user the world does not know: " << address;
          uint32_t j = g.begin;
          while (j < g.end && world().rcpts()[j] != *u) ++j;
          PM_CHECK(j < g.end);
          AcceptCopy(p.msg, j, *u, address, dec.stored.signing_domain, hash, spam);
        }
        size_t invalid = 0;
        for (uint32_t j = g.begin; j < g.end; ++j) {
          if (world().rcpts()[j] & kInvalidRecipient) {
            w_->AddCopyOutcome(j, Outcome::kFailed, spam);
            ++invalid;
          }
        }
        PM_CHECK(invalid == dec.dropped.size())
            << "acceptor dropped " << dec.dropped.size() << " recipients, world has " << invalid;
        if (sc().pull.pin_margin > 0) {
          ScheduleLazy(std::max(Now(), world().Expires(m) - sc().pull.pin_margin), kPin, p.msg, p.k);
        }
        break;
      }
    }
    return dec;
  }

  void AcceptCopy(uint32_t msg, uint32_t copy, uint32_t user, const std::string& address,
                  const std::string& signing_domain, const World::Hash& hash, bool spam) {
    const uint32_t d = world().UserDomain(user);
    const double now = Now();
    Decision dec = w_->rdomains_[d].policy->OnNotification(signing_domain, World::View(hash), address,
                                                           ClockNow());
    // Core's placement: the copy's folder and state, as the node stores it.
    const Placement placed = PlacementFor(dec);
    switch (placed.state) {
      default:
      case EntryState::kSuppressed:
        w_->AddCopyOutcome(copy, Outcome::kSuppressed, spam);
        w_->SetPlace(copy, PullWorld::kPlaceJunk);
        break;
      case EntryState::kHeld: {
        w_->copy_state_[copy] = PullWorld::kHeld;
        w_->SetPlace(copy, PullWorld::kPlaceHeld);
        w_->IndexUnread(d, world().messages()[msg].body_id, msg, copy);
        ++metrics().copies_held[spam];
        double review = dec.review_at ? absl::ToDoubleSeconds(*dec.review_at - SimEpoch())
                                      : now + absl::ToDoubleSeconds(sc().policy.hold_period);
        ScheduleLazy(std::max(review, now), kReview, msg, copy, 0, now);
        break;
      }
      case EntryState::kShown:
        w_->IndexUnread(d, world().messages()[msg].body_id, msg, copy);
        Show(msg, copy, user, spam);
        break;
    }
  }

  // A copy becomes visible: the reader will open it (or not) later.
  // `hold`: how long it was held back before (0 if shown on arrival); the
  // read carries it so that the read latency counts it.
  void Show(uint32_t msg, uint32_t copy, uint32_t user, bool spam, double hold = 0) {
    const double now = Now();
    w_->copy_state_[copy] = PullWorld::kShown;
    w_->SetPlace(copy, PullWorld::kPlaceShown);
    ++metrics().copies_shown[spam];
    if (spam) ++metrics().spam_shown_per_user[user];
    ReaderChoice c = world().Reader(msg, user, spam);
    if (c.reads) {
      Schedule(now + c.delay, kRead, msg, copy, 0, hold);
    } else {
      ScheduleLazy(std::max(now, world().Expires(world().messages()[msg])), kFinal, msg, copy);
    }
  }

  void Review(uint32_t msg, uint32_t copy, double held_since) {
    if (w_->copy_state_[copy] != PullWorld::kHeld) return;
    const Message& m = world().messages()[msg];
    const bool spam = world().IsSpam(m);
    const uint32_t user = world().rcpts()[copy];
    const double now = Now();
    Decision dec = w_->rdomains_[world().UserDomain(user)].policy->ReviewHeld(
        world().domains()[m.sender_domain].name, World::View(world().BodyHash(m.body_id)),
        AtSimTime(held_since), ClockNow());
    switch (PlacementFor(dec).state) {
      case EntryState::kShown: {
        Show(msg, copy, user, spam, now - held_since);
        // Released inside the prefetch margin: the node's next pass pins it.
        const uint32_t d = world().UserDomain(user);
        if (sc().pull.pin_margin > 0 && now >= world().Expires(m) - sc().pull.pin_margin) {
          Pin(msg, static_cast<uint32_t>(w_->FindGroup(m, d)));
        }
        break;
      }
      default:
      case EntryState::kSuppressed:
        w_->AddCopyOutcome(copy, Outcome::kSuppressed, spam);
        w_->SetPlace(copy, PullWorld::kPlaceJunk);
        break;
      case EntryState::kHeld: {
        double review = dec.review_at ? absl::ToDoubleSeconds(*dec.review_at - SimEpoch())
                                      : now + absl::ToDoubleSeconds(sc().policy.hold_period);
        if (now >= world().Expires(m)) {
          // Still held when the body expires: the user never saw it (the
          // node keeps it held and invisible).
          ++metrics().held_at_expiry;
          w_->AddCopyOutcome(copy, Outcome::kSuppressed, spam);
          w_->SetPlace(copy, PullWorld::kPlaceHeld);
        } else {
          ScheduleLazy(std::max(review, now + 1), kReview, msg, copy, 0, held_since);
        }
        break;
      }
    }
  }

  // An unread copy reaches its expiry where it is. A suppression moved it
  // to Junk at once (eagerly, as the node does), so a copy still shown here
  // was never moved.
  void Final(uint32_t msg, uint32_t copy) {
    if (w_->copy_state_[copy] != PullWorld::kShown) return;
    const Message& m = world().messages()[msg];
    w_->AddCopyOutcome(copy, Outcome::kDelivered, world().IsSpam(m));
  }

  // ---- Reads and fetches ------------------------------------------------------------

  // A user opens a copy. `aux`: on the first attempt, the copy's hold-back;
  // on a retry after "temporarily unavailable", the first attempt's
  // wait_from (so the latency counts hold-back and every wait).
  void Read(uint32_t msg, uint32_t copy, uint16_t attempt, double aux) {
    const Message& m = world().messages()[msg];
    const bool spam = world().IsSpam(m);
    const uint32_t user = world().rcpts()[copy];
    const uint32_t d = world().UserDomain(user);
    PullWorld::RecipientDomain& rd = w_->rdomains_[d];
    if (attempt == 0) {
      // Only a copy still in the inbox is opened (a suppression or a recall
      // since it was shown has moved or hidden it).
      if (w_->copy_state_[copy] != PullWorld::kShown) return;
      w_->copy_state_[copy] = PullWorld::kReading;  // unread (\Seen unset) until the body is here
    } else if (w_->copy_state_[copy] != PullWorld::kReading) {
      return;
    }
    (void)spam;
    const double now = Now();
    PullWorld::Waiter waiter{msg, copy, attempt == 0 ? now - aux : aux, attempt};
    if (rd.cache.contains(m.body_id)) {
      ReadComplete(waiter, /*fetched=*/false);
      return;
    }
    auto it = rd.fetching.find(m.body_id);
    if (it != rd.fetching.end()) {
      it->second.waiters.push_back(waiter);
      return;
    }
    rd.fetching[m.body_id].waiters.push_back(waiter);
    QueueFetch(msg, d, /*pin=*/false);
  }

  void Pin(uint32_t msg, uint32_t k) {
    const Message& m = world().messages()[msg];
    const World::Group g = world().NotificationGroup(m, static_cast<int>(k));
    PullWorld::RecipientDomain& rd = w_->rdomains_[g.domain];
    if (rd.fetching.contains(m.body_id)) return;
    // Core's prefetch rule, copy by copy, as the node's maintenance pass.
    const bool revoked = w_->notif_flags_[m.notif_begin + k] & PullWorld::kNotifRevoked;
    const bool cached = rd.cache.contains(m.body_id);
    const absl::Time expires = AtSimTime(world().Expires(m));
    const absl::Duration margin = absl::Seconds(sc().pull.pin_margin);
    bool pin = false;
    for (uint32_t j = g.begin; j < g.end && !pin; ++j) {
      pin = ShouldPrefetch(w_->FactsOf(j), revoked, expires, ClockNow(), margin, cached);
    }
    if (!pin) return;
    rd.fetching[m.body_id];  // no reader waits for a pin
    QueueFetch(msg, g.domain, /*pin=*/true);
    pin_groups_[PinKey(g.domain, m.body_id)] = msg;
  }

  void QueueFetch(uint32_t msg, uint32_t domain, bool pin) {
    const Message& m = world().messages()[msg];
    auto& q = fetch_queue_[m.origin];
    q.push_back(FetchItem{msg, domain, m.body_id, pin});
    if (q.size() == 1) Schedule(Now() + sc().network.fetch_window, kFetchFlush, m.origin);
  }

  void FetchFlush(uint32_t sender) {
    auto& q = fetch_queue_[sender];
    if (q.empty()) return;
    const uint64_t id = next_batch_++;
    auto batch = std::make_unique<FetchBatch>();
    batch->sender = sender;
    batch->items = std::move(q);
    q.clear();
    const double now = Now();
    if (sc().pull.dnsbl_refuses_fetch && now >= world().ListedAt(sender) &&
        !world().Bulletproof(sender)) {
      // Listed since its notification arrived: the node will not connect.
      // Final, not "temporarily unavailable": the readers give up.
      for (const FetchItem& it : batch->items) {
        ++metrics().fetch_refused_listed;
        PullWorld::RecipientDomain& rd = w_->rdomains_[it.domain];
        auto f = rd.fetching.find(it.body_id);
        if (f == rd.fetching.end()) continue;
        for (const PullWorld::Waiter& wt : f->second.waiters) {
          AbandonRead(wt);
          FinishUnread(wt);
        }
        rd.fetching.erase(f);
      }
      return;
    }
    metrics().fetch_calls += batch->items.size();
    if (!world().NodeServes(sender, now)) {
      fetch_batches_[id] = std::move(batch);
      Schedule(now + sc().network.connect_timeout, kFetchFail, static_cast<uint32_t>(id));
      return;
    }
    uint64_t bytes = 0, tls = 0;
    for (const FetchItem& it : batch->items) {
      // One FetchBody call each, on the channel the recipient node keeps
      // for the signing domain (BodyFetcher::SenderChannel).
      const CallBytes call = Call(
          fetch_channels_, ChannelKey(it.domain, world().messages()[it.msg].sender_domain), sender,
          now);
      bytes += call.framing + w_->wire_.FetchRequestBytes(it.msg, it.domain);
      tls += call.tls;
    }
    metrics().AddBytes(ByteKind::kFetchRequest, bytes);
    metrics().AddBytes(ByteKind::kTls, tls);
    fetch_batches_[id] = std::move(batch);
    Transfer(node_, sender, bytes + tls, Tag(id, kFetchArrived));
  }

  // The sender node serves the fetches: core's AuthorizeFetch decides each.
  void FetchArrived(uint64_t id) {
    FetchBatch& b = *fetch_batches_[id];
    const double now = Now();
    if (!world().NodeServes(b.sender, now)) {
      FetchFailed(static_cast<uint32_t>(id), "sender node went down");
      return;
    }
    uint64_t bytes = 0;
    for (FetchItem& it : b.items) {
      const Message& m = world().messages()[it.msg];
      OutboundMessage om;
      om.message_id = world().MessageId(it.msg);
      om.body_size = m.body_size;
      om.created = AtSimTime(m.created);
      om.expires = AtSimTime(world().Expires(m));
      om.body_deleted = now >= world().Expires(m);
      Delivery dl;
      dl.message_id = om.message_id;
      dl.domain = world().domains()[it.domain].name;
      dl.fetch_token = w_->wire_.FetchToken(it.msg, it.domain);
      dl.state = (w_->notif_flags_[m.notif_begin + w_->FindGroup(m, it.domain)] &
                  PullWorld::kNotifRevoked)
                     ? DeliveryState::kRevoked
                     : DeliveryState::kDelivered;
      absl::StatusOr<Delivery> ok =
          AuthorizeFetch(om, {dl}, dl.domain, dl.fetch_token, 0, ClockNow());
      it.status = ok.status();
      if (ok.ok()) {
        uint64_t body = w_->wire_.BodyResponseBytes(m.body_size);
        metrics().AddBytes(it.pin ? ByteKind::kPin : ByteKind::kBody, body);
        // The call's records beyond the warm call's (counted with the
        // request): one more per 16 KiB of body.
        const uint64_t tls = GrpcCallTlsBytes(body) - kGrpcCallTls;
        metrics().AddBytes(ByteKind::kTls, tls);
        bytes += body + tls;
      }
    }
    Transfer(b.sender, node_, bytes, Tag(id, kBodiesArrived));
  }

  void BodiesArrived(uint64_t id) {
    std::unique_ptr<FetchBatch> b = std::move(fetch_batches_[id]);
    fetch_batches_.erase(id);
    const double now = Now();
    for (FetchItem& it : b->items) {
      PullWorld::RecipientDomain& rd = w_->rdomains_[it.domain];
      auto f = rd.fetching.find(it.body_id);
      std::vector<PullWorld::Waiter> waiters;
      if (f != rd.fetching.end()) {
        waiters = std::move(f->second.waiters);
        rd.fetching.erase(f);
      }
      const Message& fm = world().messages()[it.msg];
      // Core's fetch rule on what the model moved: one stream, the whole
      // body or nothing (a body is modelled by its size; the SHA-256 check
      // is not, as there are no bytes).
      const bool whole = it.status.ok() && CheckChunkTotal(fm.body_size, fm.body_size).ok();
      const FetchStep step = AfterFetchAttempt(FetchPolicy{}, 1, it.status, 0,
                                               whole ? fm.body_size : 0, fm.body_size,
                                               world().domains()[fm.sender_domain].name);
      if (step.kind != FetchStep::kDone) {
        // By code (fetch_authorizer.h): NOT_FOUND is a body gone at expiry.
        if (absl::IsNotFound(step.error)) {
          ++metrics().fetch_failures_expired;
        } else {
          ++metrics().fetch_failures_other;
        }
        for (const PullWorld::Waiter& wt : waiters) RetryRead(wt, step.error);
        continue;
      }
      if (it.pin) {
        auto pg = pin_groups_.find(PinKey(it.domain, it.body_id));
        if (pg != pin_groups_.end()) {
          w_->MarkPrefetched(it.msg, w_->FindGroup(fm, it.domain));
          pin_groups_.erase(pg);
        }
      }
      if (it.pin) ++metrics().pins;
      const Message& m = world().messages()[it.msg];
      if (!rd.cache.contains(it.body_id)) {
        rd.cache[it.body_id] = PullWorld::CacheEntry{now, m.body_size};
        metrics().recipient_storage.Add(m.body_size, now);
        // Core's retention rule: a body the node holds is not dropped by age.
        if (std::optional<absl::Time> drop = RecipientBodyDropTime(ClockNow())) {
          ScheduleLazy(absl::ToDoubleSeconds(*drop - SimEpoch()), kCacheExpire, it.domain, it.body_id,
                       0, now);
        }
      }
      for (const PullWorld::Waiter& wt : waiters) ReadComplete(wt, /*fetched=*/true);
    }
  }

  void FetchFailed(uint32_t id, std::string_view why) {
    std::unique_ptr<FetchBatch> b = std::move(fetch_batches_[id]);
    fetch_batches_.erase(id);
    for (FetchItem& it : b->items) {
      ++metrics().fetch_failures_offline;
      PullWorld::RecipientDomain& rd = w_->rdomains_[it.domain];
      if (it.pin) pin_groups_.erase(PinKey(it.domain, it.body_id));
      auto f = rd.fetching.find(it.body_id);
      if (f == rd.fetching.end()) continue;
      std::vector<PullWorld::Waiter> waiters = std::move(f->second.waiters);
      rd.fetching.erase(f);
      // A node that is down fails the stream with no progress: core's fetch
      // rule tells the reader UNAVAILABLE.
      const Message& fm = world().messages()[it.msg];
      const FetchStep step =
          AfterFetchAttempt(FetchPolicy{}, 1, absl::UnavailableError(AV(why)), 0, 0, fm.body_size,
                            world().domains()[fm.sender_domain].name);
      for (const PullWorld::Waiter& wt : waiters) RetryRead(wt, step.error);
    }
  }

  // The reader's read failed: after "temporarily unavailable" (a retryable
  // code, core's status_class.h) they try again later; otherwise, or after
  // max_retries, they give up and the copy stays unread in the inbox.
  void RetryRead(const PullWorld::Waiter& wt, const absl::Status& error) {
    if (IsRetryable(error) && wt.attempt < sc().readers.max_retries) {
      Schedule(Now() + sc().readers.retry_delay, kRead, wt.msg, wt.copy,
               static_cast<uint16_t>(wt.attempt + 1), wt.wait_from);
    } else {
      AbandonRead(wt);
      FinishUnread(wt);
    }
  }

  // The reader gives up without the body: a read that never completes.
  void AbandonRead(const PullWorld::Waiter& wt) {
    const Message& m = world().messages()[wt.msg];
    ++metrics().reads_abandoned;
    const double never = std::numeric_limits<double>::infinity();
    metrics().AddRead(world().IsSpam(m), m.body_size, never, never);
  }

  // A reader who gave up: the copy stays in the inbox, unread.
  void FinishUnread(const PullWorld::Waiter& wt) {
    if (w_->copy_state_[wt.copy] != PullWorld::kReading) return;
    w_->AddCopyOutcome(wt.copy, Outcome::kDelivered, world().IsSpam(world().messages()[wt.msg]));
    w_->SetPlace(wt.copy, PullWorld::kPlaceShown);
  }

  // The user sees the body: reputation and reports go to core's policy.
  void ReadComplete(const PullWorld::Waiter& wt, bool fetched) {
    const Message& m = world().messages()[wt.msg];
    const bool spam = world().IsSpam(m);
    if (w_->copy_state_[wt.copy] != PullWorld::kReading) return;  // moved or hidden meanwhile
    // A modelled copy is read once, so "once per user and message" holds.
    const bool read_counts = ReadMayCount(w_->FactsOf(wt.copy));
    w_->AddCopyOutcome(wt.copy, Outcome::kDelivered, spam);
    w_->copy_trace_[wt.copy] |= PullWorld::kTraceSeen | PullWorld::kTraceFetched;
    const uint32_t user = world().rcpts()[wt.copy];
    const double now = Now();
    ++metrics().copies_read[spam];
    if (spam) metrics().AddCampaignRead(m.campaign - 1);
    if (fetched) {
      ++metrics().bodies_fetched[spam];
    } else {
      ++metrics().cache_hits;
    }
    const ReaderChoice reader = world().Reader(wt.msg, user, spam);
    metrics().AddRead(spam, m.body_size, now - wt.wait_from, now - m.created - reader.delay);
    if (spam) ++metrics().spam_bodies_per_user[user];
    SpamPolicy& policy = *w_->rdomains_[world().UserDomain(user)].policy;
    const std::string& signing_domain = world().domains()[m.sender_domain].name;
    const World::Hash hash = world().BodyHash(m.body_id);
    const absl::Time t = ClockNow();
    if (read_counts) policy.OnRead(signing_domain, World::View(hash), t);
    if (reader.reports) {
      // The reporter's own copy goes where core says (Junk for spam).
      if (std::optional<Placement> own = OwnCopyAfterVerdict(kInbox, /*spam=*/true, false)) {
        w_->SetPlace(wt.copy, own->state == EntryState::kSuppressed ? PullWorld::kPlaceJunk
                                                                    : PullWorld::kPlaceShown);
      }
      ReportOutcome r = policy.OnLocalReport(signing_domain, World::View(hash), Verdict::kSpam, t);
      ++metrics().reports_spam;
      if (r.newly_suppressed) {
        ++metrics().suppress_events;
        w_->SuppressBody(world().UserDomain(user), m.body_id);
      }
    }
  }

  void CacheExpire(uint32_t domain, uint32_t body_id, double fetched_at) {
    PullWorld::RecipientDomain& rd = w_->rdomains_[domain];
    auto it = rd.cache.find(body_id);
    if (it == rd.cache.end() || it->second.fetched_at != fetched_at) return;
    metrics().recipient_storage.Add(-static_cast<double>(it->second.size), Now());
    rd.cache.erase(it);
  }

  // gRPC channels (sim/wire.h). The bytes one call on channel `key` of
  // `channels` between this host and `peer` at `now` adds to its messages:
  // `framing` (kCallOverhead, plus the HTTP/2 setup of a new connection) and
  // `tls` (the record overhead of a warm call, plus the TLS handshake of a
  // new connection). A channel opens a new connection when it has none: on
  // its first call, after it sat idle longer than grpc_idle_timeout (gRPC
  // closes an idle channel's connection), or when either host was down
  // since its last call.
  struct CallBytes {
    uint64_t framing, tls;
  };
  CallBytes Call(absl::flat_hash_map<uint64_t, double>& channels, uint64_t key, uint32_t peer,
                 double now) {
    auto [it, fresh] = channels.try_emplace(key, now);
    if (!fresh) {
      const double last = it->second;
      const double idle = sc().network.grpc_idle_timeout;
      fresh = (idle > 0 && now - last > idle) ||
              !world().NodeSchedule(node_).SteadyBetween(last, now) ||
              (!world().Bulletproof(peer) && !world().NodeSchedule(peer).SteadyBetween(last, now));
      it->second = now;
    }
    if (!fresh) return CallBytes{kCallOverhead, kGrpcCallTls};
    ++metrics().tls_handshakes;
    return CallBytes{kCallOverhead + kHttp2NewConnection,
                     kGrpcCallTls + kGrpcNewConnectionTls +
                         static_cast<uint64_t>(sc().network.tls_certificate_extra_bytes)};
  }
  static uint64_t ChannelKey(uint32_t from_domain, uint32_t to_domain) {
    return static_cast<uint64_t>(from_domain) << 32 | to_domain;
  }

  PullWorld* w_;
  uint32_t node_;
  VerifiedBatchRoots verified_roots_;
  bool provider_ = false;
  SimClock clock_;
  SeededRandom rng_;
  const std::vector<uint32_t>* messages_ = nullptr;
  size_t cursor_ = 0;
  bool ticking_ = false;
  int notify_inflight_ = 0;
  uint64_t next_batch_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<NotifyBatch>> notify_batches_;
  std::unordered_map<uint64_t, std::unique_ptr<FetchBatch>> fetch_batches_;
  std::vector<std::vector<FetchItem>> fetch_queue_;  // by sender node
  // Pins in flight: (domain, body) -> the notification pinned.
  static uint64_t PinKey(uint32_t domain, uint32_t body) {
    return static_cast<uint64_t>(domain) << 32 | body;
  }
  absl::flat_hash_map<uint64_t, uint32_t> pin_groups_;
  // Last call on each gRPC channel this host's nodes hold: notifications
  // (signing domain -> recipient domain here; kept by the sender node, the
  // recipient host drives the transfer), fetches (recipient domain here ->
  // signing domain).
  absl::flat_hash_map<uint64_t, double> notify_channels_, fetch_channels_;
};

// ---- PullWorld ------------------------------------------------------------------------

PullWorld::PullWorld(const World& world, std::vector<simgrid::s4u::Host*> hosts, Net* net,
                     WorldMetrics* metrics, CryptoCost cost)
    : world_(world),
      sc_(world.scenario()),
      wire_(world),
      m_(*metrics),
      cost_(cost),
      hosts_(std::move(hosts)),
      net_(*net) {
  const int nodes = world.nodes();
  const int providers = world.providers();
  outbox_.assign(nodes, std::vector<std::vector<Pending>>(providers));
  dirty_.assign(providers, {});
  dirty_flag_.assign(providers, std::vector<uint8_t>(nodes, 0));
  rdomains_.resize(world.legit_domains());
  for (RecipientDomain& rd : rdomains_) rd.policy = std::make_unique<SpamPolicy>(sc_.policy);
  copy_state_.assign(world.copies(), kNone);
  copy_trace_.assign(world.copies(), kPlaceNone);
  notif_flags_.assign(world.notifications(), 0);
  uncreated_ = world.messages().size();
}

PullWorld::~PullWorld() = default;

void PullWorld::CreateActors() {
  for (int n = 0; n < world_.nodes(); ++n) {
    nodes_.push_back(std::make_unique<PullNode>(this, static_cast<uint32_t>(n)));
    PullNode* node = nodes_.back().get();
    ++running_;
    simgrid::s4u::Actor::create(absl::StrCat("pull-", world_.IsBot(n) ? "bot" : "provider", n),
                                hosts_[n], [node] { node->Body(); });
  }
}

void PullWorld::Submit(uint32_t index, double now) {
  const Message& m = world_.messages()[index];
  ++m_.messages_created;
  --uncreated_;
  m_.sender_storage.Add(m.body_size, now);
  if (world_.IsBot(m.origin)) m_.spammer_storage.Add(m.body_size, now);
  for (int k = 0; k < m.notif_count; ++k) {
    const World::Group g = world_.NotificationGroup(m, k);
    const uint32_t p = static_cast<uint32_t>(world_.domains()[g.domain].provider);
    outbox_[m.origin][p].push_back(Pending{index, static_cast<uint16_t>(k), 0, now});
    if (!dirty_flag_[p][m.origin]) {
      dirty_flag_[p][m.origin] = 1;
      dirty_[p].push_back(m.origin);
    }
  }
}

void PullWorld::AddCopyOutcome(uint32_t copy, Outcome o, bool spam) {
  PM_CHECK(copy_state_[copy] != kFinal) << "copy " << copy << " already has an outcome";
  copy_state_[copy] = kFinal;
  m_.AddOutcome(o, spam);
}

void PullWorld::SetPlace(uint32_t copy, uint8_t place) {
  copy_trace_[copy] = static_cast<uint8_t>((copy_trace_[copy] & ~kPlaceMask) | place);
}

CopyFacts PullWorld::FactsOf(uint32_t copy) const {
  CopyFacts c;
  const uint8_t t = copy_trace_[copy];
  c.seen = t & kTraceSeen;
  switch (t & kPlaceMask) {
    case kPlaceHeld: c.state = EntryState::kHeld; break;
    case kPlaceJunk:
      c.state = EntryState::kSuppressed;
      c.in_junk = true;
      break;
    case kPlaceHidden: c.state = EntryState::kRevoked; break;
    default: c.state = EntryState::kShown; break;
  }
  return c;
}

void PullWorld::IndexUnread(uint32_t domain, uint32_t body, uint32_t msg, uint32_t copy) {
  std::vector<std::pair<uint32_t, uint32_t>>& v = rdomains_[domain].unread[body];
  // Drop copies that have an outcome whenever the list doubles: the index
  // stays within twice the copies still unread.
  if (v.size() >= 16 && (v.size() & (v.size() - 1)) == 0) {
    v.erase(std::remove_if(v.begin(), v.end(),
                           [this](const std::pair<uint32_t, uint32_t>& e) {
                             return copy_state_[e.second] == kFinal;
                           }),
            v.end());
  }
  v.emplace_back(msg, copy);
}

void PullWorld::SuppressBody(uint32_t domain, uint32_t body) {
  RecipientDomain& rd = rdomains_[domain];
  auto it = rd.unread.find(body);
  if (it == rd.unread.end()) return;
  std::vector<std::pair<uint32_t, uint32_t>> copies = std::move(it->second);
  rd.unread.erase(it);
  for (const auto& [msg, j] : copies) {
    // Core's rule: an unread copy not in Junk and not revoked moves (held
    // ones included); the node moves them at once.
    if (copy_state_[j] == kFinal || copy_state_[j] == kNone || !SuppressionMoves(FactsOf(j))) continue;
    const Message& m = world_.messages()[msg];
    AddCopyOutcome(j, Outcome::kSuppressed, world_.IsSpam(m));
    SetPlace(j, kPlaceJunk);
  }
}

void PullWorld::ApplyRevocation(uint32_t index, int k) {
  const Message& m = world_.messages()[index];
  const World::Group g = world_.NotificationGroup(m, k);
  notif_flags_[m.notif_begin + k] |= kNotifRecipientRevoked;
  if (!(notif_flags_[m.notif_begin + k] & kNotifStored)) return;  // never heard of: hides nothing
  for (uint32_t j = g.begin; j < g.end; ++j) {
    if (world_.rcpts()[j] & kInvalidRecipient) continue;
    if (copy_state_[j] == kNone || !RevocationHides(FactsOf(j))) continue;
    // An unread copy is hidden; one already in Junk (suppressed) keeps its
    // outcome but is hidden too.
    if (copy_state_[j] != kFinal) AddCopyOutcome(j, Outcome::kRevoked, world_.IsSpam(m));
    SetPlace(j, kPlaceHidden);
  }
}

void PullWorld::MarkPrefetched(uint32_t msg, int k) {
  const World::Group g = world_.NotificationGroup(world_.messages()[msg], k);
  for (uint32_t j = g.begin; j < g.end; ++j) copy_trace_[j] |= kTracePrefetched;
}

int PullWorld::FindGroup(const Message& m, uint32_t domain) const {
  for (int k = 0; k < m.notif_count; ++k) {
    if (world_.NotificationGroup(m, k).domain == domain) return k;
  }
  return -1;
}

bool PullWorld::CopiesAllFinal() const {
  for (uint8_t s : copy_state_) {
    if (s != kFinal) return false;
  }
  return true;
}

}  // namespace pullmail::sim
