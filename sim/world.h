// The simulated world, generated once from a scenario and shared read-only by
// the pull and the push world: domains and their users, the hosts
// ("providers") that the domains share, the bots of each spam campaign with
// their on/off schedules, the directory with every domain's Ed25519 key, and
// every message of the run in creation order.
//
// Memory is what limits scale, so users are indices (user u lives in domain
// user_domain[u] and is "u<u>@<domain>"), a message is a 48-byte record, and
// its recipients are a slice of one flat array, grouped by domain: one group
// is one notification (message, recipient domain).
#ifndef PULLMAIL_SIM_WORLD_H_
#define PULLMAIL_SIM_WORLD_H_

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/crypto/ed25519.h"
#include "absl/container/flat_hash_map.h"
#include "core/directory/memory_directory.h"
#include "sim/reader.h"
#include "sim/scenario.h"

namespace pullmail::sim {

// A recipient entry with this bit set is an address that does not exist at
// domain (entry & ~kInvalidRecipient).
inline constexpr uint32_t kInvalidRecipient = 0x80000000u;

struct Domain {
  std::string name;          // "d12.example" (legit) or "s3.example" (spam)
  uint32_t first_user = 0;   // legit: users [first_user, first_user + users)
  uint32_t users = 0;
  int provider = -1;         // legit: the host of its sender and recipient node
  int campaign = -1;         // spam: the campaign that owns it
};

// Alternating up/down periods, generated up front so that any world can ask
// "is this host up at t?" in O(log n).
class Schedule {
 public:
  Schedule() = default;  // always up
  // Exponential periods over [0, horizon) with the given availability.
  Schedule(const Availability& a, double horizon, Random& rng);
  // The up periods [begin, end), ascending and disjoint, as a schedule.
  static Schedule FromUpPeriods(const std::vector<std::pair<double, double>>& up);
  // Its up periods over [0, horizon).
  std::vector<std::pair<double, double>> UpPeriods(double horizon) const;
  bool IsUp(double t) const;
  // The first time >= t at which the host is up (t itself if it is up).
  double NextUp(double t) const;
  // Whether the state stays the same over (a, b]: no flip in between (a
  // connection open at a is still open at b).
  bool SteadyBetween(double a, double b) const;

 private:
  bool up_at_zero_ = true;
  std::vector<double> toggles_;  // times at which the state flips, ascending
};

struct Bot {
  int campaign = 0;
  Schedule schedule;       // online periods: exponential on/off, daily cycle, lifetime
  bool reachable = true;   // accepts inbound connections (not behind NAT)
  bool bulletproof = false;  // its bodies are served by an always-up host
};

struct Message {
  double created = 0;        // s since the start of the run
  uint32_t sender_user = 0;  // legit: the user; spam: the bot's index
  uint32_t sender_domain = 0;
  uint32_t origin = 0;       // node: provider index, or providers + bot index
  uint32_t body_size = 0;    // bytes of the RFC 5322 message
  uint32_t body_id = 0;      // identity of the body (same id = same SHA-256)
  uint32_t rcpt_begin = 0;   // into World::rcpts
  uint16_t rcpt_count = 0;
  uint16_t notif_count = 0;  // recipient domains
  uint32_t notif_begin = 0;  // global index of its first notification
  uint16_t campaign = 0;     // 0 = legitimate, c + 1 = campaigns[c]
};

// An explicit world instead of a generated one (tests/parity): the very
// sequence of events a test also drives through the real nodes. Every domain
// is a legitimate domain on its own provider host; users are numbered over
// all domains in order ("u<n>@<domain>"); every message has its own body
// unless two give the same `body`; readers do only what `reads` says.
struct WorldScript {
  struct Domain {
    std::string name;
    uint32_t users = 1;
    std::vector<std::pair<double, double>> down;  // [from, to) when its host is down
  };
  struct Rcpt {
    uint32_t user = 0;       // global user index
    bool exists = true;      // false: "nx<domain>@<domain>" at `domain`
    uint32_t domain = 0;     // only for !exists
  };
  struct Msg {
    double created = 0;
    uint32_t domain = 0;       // sending domain
    uint32_t sender_user = 0;  // global user index (a user of `domain`)
    uint32_t body = 0;         // same value = same body (same SHA-256)
    uint32_t body_size = 1000;
    std::vector<Rcpt> rcpts;
  };
  struct Read {
    uint32_t msg = 0;
    uint32_t user = 0;
    double delay = 0;          // s after the copy became visible
    bool report = false;       // reports it as spam after reading
  };
  struct Recall {
    uint32_t msg = 0;
    double at = 0;             // s since the start
  };
  std::vector<Domain> domains;
  std::vector<Msg> messages;   // in creation order
  std::vector<Read> reads;
  std::vector<Recall> recalls;
};

class World {
 public:
  // Generates everything from the scenario and its seed. Deterministic.
  static absl::StatusOr<std::unique_ptr<World>> Generate(const Scenario& scenario);
  // The world a script describes (legit retention, keys and every other
  // parameter from `scenario`; its [domains], [legit] traffic and campaigns
  // are not used).
  static absl::StatusOr<std::unique_ptr<World>> FromScript(const Scenario& scenario,
                                                           const WorldScript& script);

  const Scenario& scenario() const { return scenario_; }

  // --- Domains and users --------------------------------------------------
  int legit_domains() const { return legit_domains_; }
  const std::vector<Domain>& domains() const { return domains_; }
  uint32_t users() const { return static_cast<uint32_t>(user_domain_.size()); }
  uint32_t UserDomain(uint32_t user) const { return user_domain_[user]; }
  // "u<user>@<domain>"; for an invalid entry "nx<domain>@<domain>".
  std::string RecipientAddress(uint32_t entry) const;
  uint32_t RecipientDomain(uint32_t entry) const {
    return (entry & kInvalidRecipient) ? (entry & ~kInvalidRecipient) : user_domain_[entry];
  }
  // The user index of "u<digits>@<domain>" if it is a user of `domain`.
  std::optional<uint32_t> ParseUser(std::string_view address, uint32_t domain) const;
  std::string SenderAddress(const Message& m) const;

  // --- Hosts ----------------------------------------------------------------
  // Nodes [0, providers) are providers; [providers, providers + bots) bots.
  int providers() const { return providers_; }
  int nodes() const { return providers_ + static_cast<int>(bots_.size()); }
  bool IsBot(uint32_t node) const { return node >= static_cast<uint32_t>(providers_); }
  const std::vector<Bot>& bots() const { return bots_; }
  const std::vector<std::vector<uint32_t>>& provider_domains() const { return provider_domains_; }
  // Whether `node` is up at time t.
  bool NodeUp(uint32_t node, double t) const;
  // Whether a fetch of a body `node` sent can be served at t: a provider or
  // a reachable bot that is up, or a bot whose campaign serves bodies from
  // a bulletproof host.
  bool NodeServes(uint32_t node, double t) const;
  // Whether `node` is down at t and never up again (a bot past its lifetime).
  bool GoneForGood(uint32_t node, double t) const {
    return IsBot(node) && !std::isfinite(NodeSchedule(node).NextUp(t));
  }
  // Whether the bodies `node` sent are served by a bulletproof host.
  bool Bulletproof(uint32_t node) const { return IsBot(node) && bots_[node - providers_].bulletproof; }
  // When a DNS blocklist lists the host `node` (scenario [push] dnsbl_*):
  // a bot with probability dnsbl_coverage, an exponential time after its
  // first message; infinity for providers and for bots never listed. Both
  // worlds refuse a listed host's sessions (push_world.h, pull_world.h).
  double ListedAt(uint32_t node) const { return listed_at_[node]; }
  const Schedule& NodeSchedule(uint32_t node) const;

  // --- Keys and the directory -----------------------------------------------
  const MemoryDirectory& directory() const { return directory_; }
  const SigningKey& Key(uint32_t domain) const { return keys_[domain]; }
  static constexpr std::string_view kKeyId = "k1";

  // --- Messages ---------------------------------------------------------------
  const std::vector<Message>& messages() const { return messages_; }
  const std::vector<uint32_t>& rcpts() const { return rcpts_; }
  uint64_t notifications() const { return notifications_; }
  // The messages each node sends, as indices into messages(), in order.
  const std::vector<std::vector<uint32_t>>& node_messages() const { return node_messages_; }
  uint64_t copies() const { return rcpts_.size(); }
  double Expires(const Message& m) const;
  bool IsSpam(const Message& m) const { return m.campaign != 0; }
  int SubjectBytes(const Message& m) const;
  // The 32 bytes that stand for the body's SHA-256 (a hash of body_id).
  using Hash = std::array<char, 32>;
  Hash BodyHash(uint32_t body_id) const;
  static std::string_view View(const Hash& h) { return std::string_view(h.data(), h.size()); }
  // The k-th notification (recipient domain group) of `m`: its recipients
  // are rcpts()[begin, end).
  struct Group {
    uint32_t domain;
    uint32_t begin, end;
  };
  Group NotificationGroup(const Message& m, int k) const;
  // "m<index, 25 digits>@<sender domain>" (as long as a real id);
  // ParseMessageIndex inverts it.
  std::string MessageId(uint32_t index) const;
  static std::optional<uint32_t> ParseMessageIndex(std::string_view message_id);

  // What the reader of copy (message, user) does: DrawReader's hash, or the
  // script's reads.
  ReaderChoice Reader(uint32_t message, uint32_t user, bool spam) const;
  // When the sender of message `index` recalls it (infinity: never): the
  // script's recalls, or a share [legit] recall_share of legitimate messages
  // (a hash of seed and message), recall_delay after creation.
  double RecallAt(uint32_t index) const;
  bool scripted() const { return scripted_; }

  // A bound on the end of all activity: last creation + longest retention +
  // a day's margin for retries and reads (recipients keep every body they
  // hold, so nothing is scheduled past the last expiry).
  double horizon() const { return horizon_; }

 private:
  explicit World(const Scenario& s) : scenario_(s) {}
  absl::Status BuildDomains();
  absl::Status BuildKeys();
  absl::Status BuildCampaigns(Random& rng);
  void GenerateLegit(Random& rng);
  void GenerateCampaign(int c, Random& rng);
  void SortMessages();
  void ListBots();  // fills listed_at_ (after SortMessages)
  // Appends recipients (sorted by domain, unique) and fills m's slices.
  void AddRecipients(Message& m, std::vector<uint32_t>& entries);

  Scenario scenario_;
  int legit_domains_ = 0;
  int providers_ = 0;
  std::vector<Domain> domains_;
  std::vector<uint32_t> user_domain_;
  std::vector<std::vector<uint32_t>> provider_domains_;
  std::vector<Schedule> provider_schedules_;
  std::vector<Bot> bots_;
  std::vector<double> listed_at_;  // per node, see ListedAt
  std::vector<std::vector<uint32_t>> campaign_domains_;
  std::vector<int> campaign_first_bot_;
  MemoryDirectory directory_;
  std::vector<SigningKey> keys_;
  std::vector<Message> messages_;
  std::vector<uint32_t> rcpts_;
  std::vector<std::vector<uint32_t>> node_messages_;
  uint64_t notifications_ = 0;
  uint32_t next_body_id_ = 0;
  double horizon_ = 0;
  bool scripted_ = false;
  absl::flat_hash_map<uint64_t, ReaderChoice> script_reads_;  // msg << 32 | user
  absl::flat_hash_map<uint32_t, double> script_recalls_;
};

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_WORLD_H_
