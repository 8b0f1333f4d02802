// The push baseline: classic SMTP. A sending MTA (a provider's, or a bot
// talking straight to the recipients' MX) queues each message per recipient
// domain and pushes body and envelope in one SMTP transaction; the receiving
// MTA stores the body for every domain that has at least one valid
// recipient, and every valid copy lands in a mailbox (an optional content
// filter moves a share of spam to Junk). Retries use core's outbox schedule
// so that both worlds back off alike.
//
// The receiving MTAs run the defences real receivers run (scenario [push],
// docs/SIMULATION.md "The push baseline"): a DNS blocklist before DATA,
// greylisting, a content filter with false positives, accept-then-bounce
// MTAs whose bounces for unknown recipients become backscatter, and STARTTLS
// on every session between providers.
//
// The same readers (sim/reader.h) read the same copies; push has no fetch and
// no suppression, so the pull world's figures are divided by these.
#ifndef PULLMAIL_SIM_PUSH_WORLD_H_
#define PULLMAIL_SIM_PUSH_WORLD_H_

#include <simgrid/s4u.hpp>

#include <memory>
#include <unordered_map>
#include <vector>

#include "sim/metrics.h"
#include "sim/net.h"
#include "sim/wire.h"
#include "sim/world.h"

namespace pullmail::sim {

class PushNode;

class PushWorld {
 public:
  PushWorld(const World& world, std::vector<simgrid::s4u::Host*> hosts, Net* net,
            WorldMetrics* metrics);
  ~PushWorld();

  void CreateActors();
  int running() const { return running_; }
  bool CopiesAllFinal() const;

 private:
  friend class PushNode;
  struct Pending {
    uint32_t msg;
    uint16_t k;
    uint16_t attempts;
    double next_attempt;
  };

  void Submit(uint32_t index, double now);
  void AddCopyOutcome(uint32_t copy, Outcome o, bool spam);
  // One recipient domain is done with (delivered or bounced).
  void DomainDone(uint32_t index, double now);

  // Whether the bot on `node` retries a 4xx (greylisting).
  bool BotRetries(uint32_t node) const;
  // Greylisting at `provider` for a session from `sender` at `now`: true if
  // the session is deferred (450); records the first try and whitelists the
  // host once it comes back after greylist_delay.
  bool Greylisted(uint32_t provider, uint32_t sender, double now);

  const World& world_;
  const Scenario& sc_;
  std::vector<uint8_t> greylists_;           // per provider: runs greylisting
  std::vector<uint8_t> accepts_all_;         // per provider: accept-then-bounce
  std::unordered_map<uint64_t, double> grey_first_;  // (provider, sender) -> first try;
                                                     // negative: whitelisted
  Wire wire_;
  WorldMetrics& m_;
  std::vector<simgrid::s4u::Host*> hosts_;
  Net& net_;
  std::vector<std::unique_ptr<PushNode>> nodes_;
  std::vector<std::vector<std::vector<Pending>>> outbox_;  // [sender node][provider]
  std::vector<std::vector<uint32_t>> dirty_;
  std::vector<std::vector<uint8_t>> dirty_flag_;
  std::vector<uint16_t> remaining_;  // per message: domains not done yet
  std::vector<uint8_t> copy_final_;
  uint64_t uncreated_ = 0;
  int running_ = 0;
};

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_PUSH_WORLD_H_
