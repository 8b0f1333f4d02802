// The push baseline (see push_world.h). Its actors mirror the pull world's:
// a recipient provider pulls in, on its tick, one SMTP session per sending
// host with everything that host has due for it.
#include "sim/push_world.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "core/logic/body_retention.h"
#include "core/logic/outbox.h"
#include "core/util/logging.h"
#include "sim/node_loop.h"
#include "sim/reader.h"
#include "sim/sim_clock.h"

namespace pullmail::sim {
namespace {

namespace sg4 = simgrid::s4u;

enum EventKind : uint16_t {
  kTick = 1,     // recipient: take one SMTP session from each sender with mail due
  kRelease,      // recipient: a stored body leaves (a = bytes)
  kFail,         // recipient was down: the session times out (a = batch)
  kLocalDone,    // a session inside one host completes (a = batch)
};

}  // namespace

class PushNode : public NodeLoop {
 public:
  PushNode(PushWorld* w, uint32_t node)
      : NodeLoop(w->sc_.run.time_quantum), w_(w), node_(node), rng_(Mix64(w->sc_.run.seed, 0x9054, node)) {
    provider_ = !w_->world_.IsBot(node);
    messages_ = &w_->world_.node_messages()[node];
  }

  void Body() {
    if (provider_) {
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
      w_->Submit((*messages_)[cursor_++], now);
    }
  }

  void OnEvent(const Event& e) override {
    switch (e.kind) {
      case kTick: Tick(); break;
      case kRelease: w_->m_.recipient_storage.Add(-static_cast<double>(e.a), Now()); break;
      case kFail: Failed(e.a); break;
      case kLocalDone: Arrived(e.a); break;
      default: PM_CHECK(false) << "unknown event " << e.kind;
    }
  }

  void OnActivity(uint64_t tag) override { Arrived(tag); }

 private:
  // What the receiving MTA answers the whole session.
  enum class Verdict : uint8_t { kAccept, kBlocklisted, kGreylisted };
  struct Batch {
    uint32_t sender;
    Verdict verdict = Verdict::kAccept;
    std::vector<PushWorld::Pending> items;
  };

  const World& world() const { return w_->world_; }
  const Scenario& sc() const { return w_->sc_; }
  WorldMetrics& metrics() { return w_->m_; }

  void Tick() {
    const double now = Now();
    auto& dirty = w_->dirty_[node_];
    std::vector<uint32_t> still;
    for (uint32_t s : dirty) {
      auto& q = w_->outbox_[s][node_];
      if (!q.empty() && world().GoneForGood(s, now)) {
        // A bot taken down (bot_mean_lifetime) never sends what it queued:
        // those copies were never delivered.
        for (const PushWorld::Pending& p : q) Bounce(p);
        q.clear();
      }
      if (!q.empty() && inflight_ < sc().network.max_inflight && world().NodeUp(s, now)) {
        std::vector<PushWorld::Pending> due;
        auto keep = std::partition(q.begin(), q.end(),
                                   [now](const PushWorld::Pending& p) { return p.next_attempt > now; });
        if (keep == q.begin()) {
          due.swap(q);  // all due: the common case
        } else {
          due.assign(keep, q.end());
          q.erase(keep, q.end());
          // partition does not keep order: put the due ones back in queue order.
          std::sort(due.begin(), due.end(), [](const PushWorld::Pending& x, const PushWorld::Pending& y) {
            return x.msg != y.msg ? x.msg < y.msg : x.k < y.k;
          });
        }
        std::vector<PushWorld::Pending> send;
        for (const PushWorld::Pending& p : due) {
          const Message& m = world().messages()[p.msg];
          if (p.attempts == 0 && IsExpired(AtSimTime(world().Expires(m)), clock_.Now())) {
            Bounce(p);
          } else {
            send.push_back(p);
          }
        }
        if (!send.empty()) Start(s, std::move(send));
      }
      if (!q.empty()) {
        still.push_back(s);
      } else {
        w_->dirty_flag_[node_][s] = 0;
      }
    }
    dirty = std::move(still);
    if (w_->uncreated_ > 0 || !dirty.empty() || inflight_ > 0) {
      Schedule(now + sc().network.notify_interval, kTick);
    } else {
      ticking_ = false;
    }
  }

  void Start(uint32_t sender, std::vector<PushWorld::Pending> items) {
    const uint64_t id = next_batch_++;
    auto b = std::make_unique<Batch>();
    b->sender = sender;
    b->items = std::move(items);
    for (PushWorld::Pending& p : b->items) ++p.attempts;
    ++inflight_;
    const double now = Now();
    batches_[id] = std::move(b);
    Batch& batch = *batches_[id];
    if (!world().NodeUp(node_, now)) {
      metrics().notify_attempts_failed += batch.items.size();
      Schedule(now + sc().network.connect_timeout, kFail, static_cast<uint32_t>(id));
      return;
    }
    const PushConfig& push = sc().push;
    uint64_t envelope = w_->wire_.SmtpConnectionBytes(sender, node_), body = 0;
    // STARTTLS: one handshake per session (SMTP keeps no connection between
    // sessions), then every command, reply and the DATA content in TLS
    // records: the second EHLO, QUIT and their replies here, each
    // transaction's below.
    const bool tls = world().IsBot(sender) ? push.bot_starttls : push.starttls;
    uint64_t tls_records = 0;
    if (tls) {
      envelope += w_->wire_.SmtpStartTlsBytes(sender, node_);
      tls_records += 4;
      ++metrics().tls_handshakes;
    }
    // Before DATA: the blocklist, then greylisting (Postfix's order:
    // reject_rbl_client before check_policy_service).
    if (now >= world().ListedAt(sender)) {
      batch.verdict = Verdict::kBlocklisted;
      ++metrics().dnsbl_sessions_refused;
    } else if (w_->Greylisted(node_, sender, now)) {
      batch.verdict = Verdict::kGreylisted;
      ++metrics().greylist_deferrals;
    }
    const bool accepts_all = w_->accepts_all_[node_];
    for (const PushWorld::Pending& p : batch.items) {
      const Message& m = world().messages()[p.msg];
      const World::Group g = world().NotificationGroup(m, p.k);
      // MAIL, each RCPT, and DATA or RSET: a record each way per command.
      tls_records += 2 * (2 + (g.end - g.begin));
      if (batch.verdict == Verdict::kBlocklisted) {
        envelope += w_->wire_.SmtpRefusedTransactionBytes(
            p.msg, g, "554 5.7.1 Service unavailable; Client host blocked using a DNS blocklist");
        continue;
      }
      if (batch.verdict == Verdict::kGreylisted) {
        envelope += w_->wire_.SmtpRefusedTransactionBytes(
            p.msg, g, "450 4.7.1 Recipient address rejected: Greylisted, try again later");
        continue;
      }
      uint32_t valid = 0;
      for (uint32_t j = g.begin; j < g.end; ++j) valid += !(world().rcpts()[j] & kInvalidRecipient);
      const bool data = accepts_all || valid > 0;
      if (accepts_all) {
        envelope += w_->wire_.SmtpAcceptAllTransactionBytes(p.msg, g);
      } else {
        envelope += w_->wire_.SmtpTransactionBytes(p.msg, g, valid);
      }
      if (data) {
        body += m.body_size;
        // The content with its end-of-data line (as many records as it
        // takes), then the 250 reply.
        tls_records += (m.body_size + kTlsMaxRecord - 1) / kTlsMaxRecord + 1;
      }
    }
    metrics().AddBytes(ByteKind::kPushEnvelope, envelope);
    metrics().AddBytes(ByteKind::kPushBody, body);
    if (tls) {
      metrics().AddBytes(ByteKind::kTls,
                         static_cast<uint64_t>(push.tls_handshake_bytes +
                                               sc().network.tls_certificate_extra_bytes) +
                             TlsRecordBytes(tls_records));
    }
    metrics().notifications_sent += batch.items.size();
    sg4::Host* a = w_->hosts_[sender];
    sg4::Host* h = w_->hosts_[node_];
    if (a == h) {
      Schedule(now, kLocalDone, static_cast<uint32_t>(id));
    } else if (w_->net_.IsSmall(envelope + body)) {
      ++metrics().timed_transfers;
      Schedule(now + w_->net_.IdleTransferTime(a, h, envelope + body), kLocalDone,
               static_cast<uint32_t>(id));
    } else {
      ++metrics().transfers;
      Track(sg4::Comm::sendto_async(a, h, envelope + body), id);
    }
  }

  // The receiving MTA takes every transaction of the session.
  void Arrived(uint64_t id) {
    std::unique_ptr<Batch> b = std::move(batches_[id]);
    batches_.erase(id);
    --inflight_;
    const double now = Now();
    if (b->verdict == Verdict::kGreylisted) {
      Deferred(*b, "450 4.7.1 greylisted");
      return;
    }
    const bool accepts_all = w_->accepts_all_[node_];
    for (const PushWorld::Pending& p : b->items) {
      const Message& m = world().messages()[p.msg];
      const bool spam = world().IsSpam(m);
      const World::Group g = world().NotificationGroup(m, p.k);
      if (b->verdict == Verdict::kBlocklisted) {
        // A 5xx: no sender retries it. An address that does not exist is a
        // failed copy whatever else happens (as in the pull world).
        for (uint32_t j = g.begin; j < g.end; ++j) {
          const bool invalid = world().rcpts()[j] & kInvalidRecipient;
          w_->AddCopyOutcome(j, invalid ? Outcome::kFailed : Outcome::kRejected, spam);
        }
        ++metrics().notifications_rejected;
        w_->DomainDone(p.msg, now);
        continue;
      }
      bool stored = false;
      for (uint32_t j = g.begin; j < g.end; ++j) {
        const uint32_t entry = world().rcpts()[j];
        if (entry & kInvalidRecipient) {
          w_->AddCopyOutcome(j, Outcome::kFailed, spam);
          if (accepts_all) {
            // Accepted at RCPT, bounced after DATA to the envelope sender:
            // for spam a forged, innocent address (backscatter).
            ++(spam ? metrics().backscatter_bounces : metrics().legit_bounces_unknown);
            metrics().AddBytes(ByteKind::kPushBounce, w_->wire_.BounceBytes());
          }
          continue;
        }
        stored = true;
        ReaderChoice c = world().Reader(p.msg, entry, spam);
        if (c.filtered) {
          ++(spam ? metrics().filtered_push : metrics().filtered_push_legit);
          w_->AddCopyOutcome(j, Outcome::kSuppressed, spam);
          continue;
        }
        w_->AddCopyOutcome(j, Outcome::kDelivered, spam);
        ++metrics().copies_shown[spam];
        ++metrics().bodies_fetched[spam];
        if (spam) {
          ++metrics().spam_shown_per_user[entry];
          ++metrics().spam_bodies_per_user[entry];
        }
        if (c.reads) {
          // The body is in the mailbox: the read waits for nothing more
          // (read latency 0); the transport's share is arrival - creation.
          metrics().AddRead(spam, m.body_size, 0, now - m.created);
          ++metrics().copies_read[spam];
          if (spam) metrics().AddCampaignRead(m.campaign - 1);
        }
      }
      if (stored) {
        ++metrics().notifications_accepted;
        metrics().recipient_storage.Add(m.body_size, now);
        // Core's retention rule, as in the pull world: kept, not dropped by age.
        if (std::optional<absl::Time> drop = RecipientBodyDropTime(AtSimTime(now))) {
          ScheduleLazy(absl::ToDoubleSeconds(*drop - SimEpoch()), kRelease, m.body_size);
        }
      } else {
        ++metrics().notifications_rejected;
      }
      w_->DomainDone(p.msg, now);
    }
  }

  void Failed(uint32_t id) {
    std::unique_ptr<Batch> b = std::move(batches_[id]);
    batches_.erase(id);
    --inflight_;
    Deferred(*b, "421 4.4.2 connection timed out");
  }

  // A temporary failure of the whole session: MTAs (and the bots that
  // retry) queue each transaction again on core's retry schedule; a bot that
  // does not retry drops them.
  void Deferred(const Batch& b, std::string_view reply) {
    if (b.verdict == Verdict::kGreylisted && !w_->BotRetries(b.sender)) {
      for (const PushWorld::Pending& p : b.items) {
        const Message& m = world().messages()[p.msg];
        const World::Group g = world().NotificationGroup(m, p.k);
        for (uint32_t j = g.begin; j < g.end; ++j) {
          const bool invalid = world().rcpts()[j] & kInvalidRecipient;
          w_->AddCopyOutcome(j, invalid ? Outcome::kFailed : Outcome::kRejected, world().IsSpam(m));
        }
        ++metrics().greylist_dropped;
        w_->DomainDone(p.msg, Now());
      }
      return;
    }
    for (PushWorld::Pending p : b.items) {
      const Message& m = world().messages()[p.msg];
      OutboxStep step = pullmail::AfterAttempt(sc().retry, AttemptOutcome::kTemporaryFailure,
                                               reply, p.attempts,
                                               clock_.Now(), AtSimTime(world().Expires(m)), rng_);
      if (step.kind == OutboxStep::kRetry) {
        p.next_attempt = absl::ToDoubleSeconds(step.next_attempt - SimEpoch());
        w_->outbox_[b.sender][node_].push_back(p);
        if (!w_->dirty_flag_[node_][b.sender]) {
          w_->dirty_flag_[node_][b.sender] = 1;
          w_->dirty_[node_].push_back(b.sender);
        }
        if (!ticking_) {
          ticking_ = true;
          Schedule(Now() + sc().network.notify_interval, kTick);
        }
      } else {
        Bounce(p);
      }
    }
  }

  void Bounce(const PushWorld::Pending& p) {
    const Message& m = world().messages()[p.msg];
    ++metrics().bounces;
    const World::Group g = world().NotificationGroup(m, p.k);
    for (uint32_t j = g.begin; j < g.end; ++j) {
      w_->AddCopyOutcome(j, Outcome::kExpired, world().IsSpam(m));
    }
    w_->DomainDone(p.msg, Now());
  }

  PushWorld* w_;
  uint32_t node_;
  bool provider_ = false;
  SimClock clock_;
  SeededRandom rng_;
  const std::vector<uint32_t>* messages_ = nullptr;
  size_t cursor_ = 0;
  bool ticking_ = false;
  int inflight_ = 0;
  uint64_t next_batch_ = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Batch>> batches_;
};

PushWorld::PushWorld(const World& world, std::vector<simgrid::s4u::Host*> hosts, Net* net,
                     WorldMetrics* metrics)
    : world_(world),
      sc_(world.scenario()),
      wire_(world),
      m_(*metrics),
      hosts_(std::move(hosts)),
      net_(*net) {
  const int nodes = world.nodes();
  const int providers = world.providers();
  outbox_.assign(nodes, std::vector<std::vector<Pending>>(providers));
  dirty_.assign(providers, {});
  dirty_flag_.assign(providers, std::vector<uint8_t>(nodes, 0));
  remaining_.resize(world.messages().size());
  for (size_t i = 0; i < world.messages().size(); ++i) remaining_[i] = world.messages()[i].notif_count;
  copy_final_.assign(world.copies(), 0);
  uncreated_ = world.messages().size();

  // Each receiving MTA's configuration is drawn once from the seed
  // (independent of the reader draws); blocklist listings are the world's.
  const PushConfig& push = sc_.push;
  const uint64_t seed = sc_.run.seed;
  greylists_.resize(providers);
  accepts_all_.resize(providers);
  for (int p = 0; p < providers; ++p) {
    greylists_[p] = UnitFromHash(Mix64(seed ^ 0x6EE7, p)) < push.greylist_share;
    accepts_all_[p] = UnitFromHash(Mix64(seed ^ 0xBACC, p)) < push.accept_then_bounce_share;
  }
}

bool PushWorld::BotRetries(uint32_t node) const {
  return !world_.IsBot(node) ||
         UnitFromHash(Mix64(sc_.run.seed ^ 0x4E7E, node)) < sc_.push.bot_retry_fraction;
}

bool PushWorld::Greylisted(uint32_t provider, uint32_t sender, double now) {
  if (!greylists_[provider]) return false;
  const uint64_t key = (static_cast<uint64_t>(provider) << 32) | sender;
  auto [it, first_try] = grey_first_.emplace(key, now);
  if (first_try) return sc_.push.greylist_delay > 0;
  if (it->second < 0) return false;  // whitelisted
  if (now - it->second < sc_.push.greylist_delay) return true;
  it->second = -1;  // came back after the delay: passes from now on
  return false;
}

PushWorld::~PushWorld() = default;

void PushWorld::CreateActors() {
  for (int n = 0; n < world_.nodes(); ++n) {
    nodes_.push_back(std::make_unique<PushNode>(this, static_cast<uint32_t>(n)));
    PushNode* node = nodes_.back().get();
    ++running_;
    simgrid::s4u::Actor::create(absl::StrCat("push-", world_.IsBot(n) ? "bot" : "mta", n),
                                hosts_[n], [node] { node->Body(); });
  }
}

void PushWorld::Submit(uint32_t index, double now) {
  const Message& m = world_.messages()[index];
  ++m_.messages_created;
  --uncreated_;
  // The sending MTA holds the body until every domain has taken it.
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

void PushWorld::DomainDone(uint32_t index, double now) {
  PM_CHECK(remaining_[index] > 0);
  if (--remaining_[index] == 0) {
    const Message& m = world_.messages()[index];
    m_.sender_storage.Add(-static_cast<double>(m.body_size), now);
    if (world_.IsBot(m.origin)) m_.spammer_storage.Add(-static_cast<double>(m.body_size), now);
  }
}

void PushWorld::AddCopyOutcome(uint32_t copy, Outcome o, bool spam) {
  PM_CHECK(!copy_final_[copy]) << "copy " << copy << " already has an outcome";
  copy_final_[copy] = 1;
  m_.AddOutcome(o, spam);
}

bool PushWorld::CopiesAllFinal() const {
  for (uint8_t f : copy_final_) {
    if (!f) return false;
  }
  return true;
}

}  // namespace pullmail::sim
