// The pull world: pullmail as designed. Sender nodes keep bodies and queue one
// signed notification per recipient domain; recipient nodes accept them with
// core's acceptor, ask core's SpamPolicy what each user sees, and fetch a body
// when a user opens a message. Every protocol decision is a call into core:
//   outbox        NextAttemptTime / AfterNotifyResult / IsExpired  (core/logic/outbox.h)
//   acceptance    AcceptNotification / MakeNotifyResult            (core/logic/acceptor.h)
//   signing       SignNotification (inside Wire)                   (core/envelope)
//   fetch         AuthorizeFetch                                   (core/logic/fetch_authorizer.h)
//   suppression   SpamPolicy::OnNotification / OnRead / OnLocalReport /
//                 ReviewHeld                                       (core/policy/spam_policy.h)
//   mailbox       PlacementFor / SuppressionMoves / RevocationHides /
//                 ShouldPrefetch / OwnCopyAfterVerdict             (core/logic/mailbox_rules.h)
//   delivery pass ExpiredInQueue / IsDeliveryTimeExpired           (core/logic/delivery_pass.h, outbox.h)
//   fetch rule    AfterFetchAttempt / CheckChunkTotal; IsRetryable (core/logic/fetch_rule.h, status_class.h)
//   revocation    PlanRevocation (sender)                          (core/logic/sender_rules.h)
// sim/ only moves bytes, keeps time and counts.
#ifndef PULLMAIL_SIM_PULL_WORLD_H_
#define PULLMAIL_SIM_PULL_WORLD_H_

#include <simgrid/s4u.hpp>

#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/logic/mailbox_rules.h"
#include "core/policy/spam_policy.h"
#include "sim/crypto_model.h"
#include "sim/metrics.h"
#include "sim/net.h"
#include "sim/sim_clock.h"
#include "sim/wire.h"
#include "sim/world.h"

namespace pullmail::sim {

class PullNode;

class PullWorld {
 public:
  // `hosts[n]` is node n's SimGrid host. `metrics` and `world` must outlive
  // this object. `cost` is the measured cost of real Ed25519, charged to the
  // hosts' CPUs as SimGrid executions.
  PullWorld(const World& world, std::vector<simgrid::s4u::Host*> hosts, Net* net,
            WorldMetrics* metrics, CryptoCost cost);
  ~PullWorld();

  // Creates one actor per node (providers and bots). Call before Engine::run.
  void CreateActors();
  // Number of node actors still running.
  int running() const { return running_; }

  // Checks every copy ended in exactly one outcome (after the run).
  bool CopiesAllFinal() const;

  // Where each copy ended, for the parity test (tests/parity): the low bits
  // are the place (kPlace*), the high bits kTrace* flags.
  enum : uint8_t {
    kPlaceNone = 0,    // never stored (failed, rejected, bounced, recalled in queue)
    kPlaceShown = 1,   // in the inbox, visible
    kPlaceJunk = 2,    // in Junk
    kPlaceHeld = 3,    // held, invisible
    kPlaceHidden = 4,  // hidden by a revocation
    kPlaceMask = 7,
    kTraceFetched = 0x10,     // its reader got the body
    kTracePrefetched = 0x20,  // its notification's body was pinned before expiry
    kTraceBounced = 0x40,     // the sender's outbox bounced its notification
    kTraceSeen = 0x80,        // read (\Seen)
  };
  const std::vector<uint8_t>& copy_trace() const { return copy_trace_; }

 private:
  friend class PullNode;

  // kReading: opened, the body not here yet (unread until it is).
  enum CopyState : uint8_t { kNone = 0, kShown = 1, kHeld = 2, kFinal = 3, kReading = 4 };
  // Per notification.
  enum : uint8_t {
    kNotifStored = 1,            // the recipient stored it
    kNotifBounced = 2,           // the sender's outbox gave up
    kNotifRevoked = 4,           // the sender revoked the delivery (PlanRevocation)
    kNotifRecipientRevoked = 8,  // the recipient applied the revocation
  };

  struct Pending {        // one notification waiting in a sender's outbox
    uint32_t msg;
    uint16_t k;           // which recipient-domain group of the message
    uint16_t attempts;
    double next_attempt;
  };
  struct CacheEntry {
    double fetched_at;
    uint32_t size;
  };
  struct Waiter {         // a reader waiting for a body being fetched
    uint32_t msg;
    uint32_t copy;
    double wait_from;     // when the user first opened it, less the copy's
                          // hold-back: the read latency counts from here
    uint16_t attempt;
  };
  struct Fetching {
    std::vector<Waiter> waiters;
  };
  struct RecipientDomain {
    std::unique_ptr<SpamPolicy> policy;
    absl::flat_hash_map<uint32_t, CacheEntry> cache;   // body id -> cached body
    absl::flat_hash_map<uint32_t, Fetching> fetching;  // body id -> fetch in flight
    // body id -> (message, copy) of copies that were unread when indexed:
    // what a suppression of the body looks at.
    absl::flat_hash_map<uint32_t, std::vector<std::pair<uint32_t, uint32_t>>> unread;
  };

  // Queues the notifications of message `index` at its sender (creation).
  void Submit(uint32_t index, double now);
  // Bookkeeping shared by the actors.
  void AddCopyOutcome(uint32_t copy, Outcome o, bool spam);
  int FindGroup(const Message& m, uint32_t domain) const;
  void SetPlace(uint32_t copy, uint8_t place);
  // What core's mailbox rules look at about a copy.
  CopyFacts FactsOf(uint32_t copy) const;
  void IndexUnread(uint32_t domain, uint32_t body, uint32_t msg, uint32_t copy);
  // A body newly suppressed at `domain`: moves what SuppressionMoves says.
  void SuppressBody(uint32_t domain, uint32_t body);
  // A sender's revocation of notification k of message `index` reaches its domain.
  void ApplyRevocation(uint32_t index, int k);
  void MarkPrefetched(uint32_t msg, int k);

  const World& world_;
  const Scenario& sc_;
  Wire wire_;
  WorldMetrics& m_;
  CryptoCost cost_;
  std::vector<simgrid::s4u::Host*> hosts_;
  Net& net_;
  std::vector<std::unique_ptr<PullNode>> nodes_;

  // outbox_[sender node][recipient provider]
  std::vector<std::vector<std::vector<Pending>>> outbox_;
  // dirty_[provider]: sender nodes whose outbox for it is not empty.
  std::vector<std::vector<uint32_t>> dirty_;
  std::vector<std::vector<uint8_t>> dirty_flag_;  // [provider][sender node]
  std::vector<RecipientDomain> rdomains_;         // legit domains
  std::vector<uint8_t> copy_state_;               // per copy (World::rcpts index)
  std::vector<uint8_t> copy_trace_;               // per copy: kPlace* | kTrace*
  std::vector<uint8_t> notif_flags_;              // per notification: kNotif*
  uint64_t uncreated_ = 0;                        // messages not created yet
  int running_ = 0;
};

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_PULL_WORLD_H_
