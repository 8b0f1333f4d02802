// The pull world: pullmail as designed. Sender nodes keep bodies and queue one
// signed notification per recipient domain; recipient nodes accept them with
// core's acceptor, ask core's SpamPolicy what each user sees, and fetch a body
// when a user opens a message. Every protocol decision is a call into core:
//   outbox        NextAttemptTime / AfterNotifyResult / IsExpired  (core/logic/outbox.h)
//   acceptance    AcceptNotification / MakeNotifyResult            (core/logic/acceptor.h)
//   signing       SignNotification (inside Wire)                   (core/envelope)
//   fetch         AuthorizeFetch                                   (core/logic/fetch_authorizer.h)
//   suppression   SpamPolicy::OnNotification / OnRead / OnLocalReport /
//                 ReviewHeld / IsSuppressed                        (core/policy/spam_policy.h)
// sim/ only moves bytes, keeps time and counts.
#ifndef PULLMAIL_SIM_PULL_WORLD_H_
#define PULLMAIL_SIM_PULL_WORLD_H_

#include <simgrid/s4u.hpp>

#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
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

 private:
  friend class PullNode;

  enum CopyState : uint8_t { kNone = 0, kShown = 1, kHeld = 2, kFinal = 3 };

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
  };

  // Queues the notifications of message `index` at its sender (creation).
  void Submit(uint32_t index, double now);
  // Bookkeeping shared by the actors.
  void AddCopyOutcome(uint32_t copy, Outcome o, bool spam);
  int FindGroup(const Message& m, uint32_t domain) const;

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
  std::vector<uint8_t> notif_stored_;             // per notification: stored at its recipient
  uint64_t uncreated_ = 0;                        // messages not created yet
  int running_ = 0;
};

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_PULL_WORLD_H_
