// World generation (see world.h). Every random draw comes from a SeededRandom
// stream derived from the scenario seed and a fixed label, so the same seed
// yields the same world on every run and machine.
#include "sim/world.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/util/limits.h"
#include "core/util/logging.h"
#include "core/util/strings.h"

namespace pullmail::sim {
namespace {

// Labels of the random streams (any distinct constants).
constexpr uint64_t kStreamDomains = 0xD0;
constexpr uint64_t kStreamLegit = 0x1E;
constexpr uint64_t kStreamCampaign = 0xCA;
constexpr uint64_t kStreamSchedules = 0x5C;

uint32_t RoundCount(double v, uint32_t lo, uint32_t hi) {
  if (!(v >= lo)) return lo;
  if (v >= hi) return hi;
  return static_cast<uint32_t>(std::llround(v));
}

}  // namespace

// --- Schedule -----------------------------------------------------------------

Schedule::Schedule(const Availability& a, double horizon, Random& rng) {
  if (a.uptime >= 1.0) return;
  const double mean_down = a.mean_up * (1 - a.uptime) / a.uptime;
  up_at_zero_ = rng.UniformDouble() < a.uptime;
  bool up = up_at_zero_;
  double t = 0;
  while (t < horizon) {
    double mean = up ? a.mean_up : mean_down;
    t += -mean * std::log1p(-rng.UniformDouble());
    toggles_.push_back(t);
    up = !up;
  }
}

Schedule Schedule::FromUpPeriods(const std::vector<std::pair<double, double>>& up) {
  Schedule s;
  s.up_at_zero_ = !up.empty() && up.front().first <= 0;
  for (const auto& [begin, end] : up) {
    if (end <= begin) continue;
    if (begin > 0) s.toggles_.push_back(begin);
    s.toggles_.push_back(end);
  }
  if (!s.up_at_zero_ && up.empty()) s.toggles_.push_back(std::numeric_limits<double>::infinity());
  return s;
}

std::vector<std::pair<double, double>> Schedule::UpPeriods(double horizon) const {
  std::vector<std::pair<double, double>> up;
  bool on = up_at_zero_;
  double since = 0;
  for (double t : toggles_) {
    if (on) up.emplace_back(since, std::min(t, horizon));
    since = t;
    on = !on;
    if (t >= horizon) break;
  }
  if (on && since < horizon) up.emplace_back(since, horizon);
  return up;
}

bool Schedule::IsUp(double t) const {
  size_t flips = std::upper_bound(toggles_.begin(), toggles_.end(), t) - toggles_.begin();
  return (flips % 2 == 0) == up_at_zero_;
}

bool Schedule::SteadyBetween(double a, double b) const {
  return std::upper_bound(toggles_.begin(), toggles_.end(), a) ==
         std::upper_bound(toggles_.begin(), toggles_.end(), b);
}

double Schedule::NextUp(double t) const {
  if (IsUp(t)) return t;
  auto it = std::upper_bound(toggles_.begin(), toggles_.end(), t);
  return it == toggles_.end() ? std::numeric_limits<double>::infinity() : *it;
}

// --- World ----------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<World>> World::Generate(const Scenario& scenario) {
  std::unique_ptr<World> w(new World(scenario));
  const uint64_t seed = scenario.run.seed;
  SeededRandom domain_rng(Mix64(seed, kStreamDomains));
  if (absl::Status s = w->BuildDomains(); !s.ok()) return s;
  if (absl::Status s = w->BuildCampaigns(domain_rng); !s.ok()) return s;

  if (absl::Status s = w->BuildKeys(); !s.ok()) return s;

  SeededRandom legit_rng(Mix64(seed, kStreamLegit));
  w->GenerateLegit(legit_rng);
  for (size_t c = 0; c < scenario.campaigns.size(); ++c) {
    SeededRandom rng(Mix64(seed, kStreamCampaign, c));
    w->GenerateCampaign(static_cast<int>(c), rng);
  }
  w->SortMessages();
  w->ListBots();

  double last_created = 0, longest = scenario.legit.retention;
  for (const CampaignConfig& c : scenario.campaigns) longest = std::max(longest, c.retention);
  if (!w->messages_.empty()) last_created = w->messages_.back().created;
  w->horizon_ = last_created + longest + 86400;
  return w;
}

// Keys: one per domain, from a seed derived from the scenario seed.
absl::Status World::BuildKeys() {
  const uint64_t seed = scenario_.run.seed;
  keys_.reserve(domains_.size());
  for (size_t d = 0; d < domains_.size(); ++d) {
    std::string key_seed(32, '\0');
    SeededRandom(Mix64(seed, 0x4B, d)).Fill(reinterpret_cast<uint8_t*>(key_seed.data()), 32);
    absl::StatusOr<SigningKey> key = SigningKey::FromSeed(key_seed);
    if (!key.ok()) return key.status();
    DomainEntry e;
    e.domain = domains_[d].name;
    const bool spam = domains_[d].campaign >= 0;
    std::string host = spam ? absl::StrCat("bots-", domains_[d].campaign, ".sim")
                            : absl::StrCat("p", domains_[d].provider, ".sim");
    e.recipient_endpoint = absl::StrCat(host, ":7101");
    e.sender_endpoint = absl::StrCat(host, ":7102");
    e.keys[std::string(kKeyId)] = key->PublicKey();
    directory_.Add(std::move(e));
    keys_.push_back(*std::move(key));
  }

  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<World>> World::FromScript(const Scenario& scenario,
                                                         const WorldScript& script) {
  std::unique_ptr<World> w(new World(scenario));
  w->scripted_ = true;
  const int n = static_cast<int>(script.domains.size());
  if (n == 0) return absl::InvalidArgumentError("script: no domains");
  w->legit_domains_ = n;
  w->providers_ = n;
  w->provider_domains_.assign(n, {});
  uint32_t next_user = 0;
  double last_down = 0;
  for (int i = 0; i < n; ++i) {
    const WorldScript::Domain& sd = script.domains[i];
    Domain d;
    d.name = sd.name;
    d.first_user = next_user;
    d.users = sd.users;
    d.provider = i;
    w->provider_domains_[i].push_back(i);
    w->user_domain_.insert(w->user_domain_.end(), sd.users, static_cast<uint32_t>(i));
    next_user += sd.users;
    w->domains_.push_back(std::move(d));
    std::vector<std::pair<double, double>> up;
    double from = 0;
    for (const auto& [down, back] : sd.down) {
      if (down < from || back <= down) {
        return absl::InvalidArgumentError(absl::StrCat("script: domain ", sd.name,
                                                       ": down periods must ascend"));
      }
      if (down > from) up.emplace_back(from, down);
      from = back;
      last_down = std::max(last_down, back);
    }
    up.emplace_back(from, std::numeric_limits<double>::infinity());
    w->provider_schedules_.push_back(sd.down.empty() ? Schedule() : Schedule::FromUpPeriods(up));
  }
  if (absl::Status s = w->BuildKeys(); !s.ok()) return s;
  std::vector<uint32_t> entries;
  double last = 0;
  for (const WorldScript::Msg& sm : script.messages) {
    if (sm.created < last) return absl::InvalidArgumentError("script: messages out of order");
    if (sm.domain >= static_cast<uint32_t>(n) || sm.sender_user >= next_user ||
        w->user_domain_[sm.sender_user] != sm.domain || sm.rcpts.empty()) {
      return absl::InvalidArgumentError("script: bad message");
    }
    last = sm.created;
    Message m;
    m.created = sm.created;
    m.sender_user = sm.sender_user;
    m.sender_domain = sm.domain;
    m.origin = sm.domain;
    m.body_size = sm.body_size;
    m.body_id = sm.body;
    m.campaign = 0;
    entries.clear();
    for (const WorldScript::Rcpt& r : sm.rcpts) {
      if (r.exists && r.user >= next_user) return absl::InvalidArgumentError("script: bad user");
      entries.push_back(r.exists ? r.user : (kInvalidRecipient | r.domain));
    }
    w->AddRecipients(m, entries);
    w->messages_.push_back(m);
  }
  w->SortMessages();
  w->listed_at_.assign(w->nodes(), std::numeric_limits<double>::infinity());
  for (const WorldScript::Read& r : script.reads) {
    ReaderChoice c;
    c.reads = true;
    c.delay = r.delay;
    c.reports = r.report;
    w->script_reads_[static_cast<uint64_t>(r.msg) << 32 | r.user] = c;
  }
  for (const WorldScript::Recall& r : script.recalls) w->script_recalls_[r.msg] = r.at;
  w->horizon_ = std::max(last + scenario.legit.retention, last_down) + 86400;
  return w;
}

ReaderChoice World::Reader(uint32_t message, uint32_t user, bool spam) const {
  if (!scripted_) return DrawReader(scenario_, message, user, spam);
  auto it = script_reads_.find(static_cast<uint64_t>(message) << 32 | user);
  return it == script_reads_.end() ? ReaderChoice{} : it->second;
}

double World::RecallAt(uint32_t index) const {
  if (scripted_) {
    auto it = script_recalls_.find(index);
    return it == script_recalls_.end() ? std::numeric_limits<double>::infinity() : it->second;
  }
  const Message& m = messages_[index];
  const LegitConfig& lc = scenario_.legit;
  if (m.campaign != 0 || lc.recall_share <= 0 ||
      UnitFromHash(Mix64(scenario_.run.seed ^ 0x4EC411, index)) >= lc.recall_share) {
    return std::numeric_limits<double>::infinity();
  }
  return m.created + lc.recall_delay;
}

absl::Status World::BuildDomains() {
  const DomainsConfig& dc = scenario_.domains;
  legit_domains_ = dc.count;
  // Zipf weights, then a largest-remainder split of the users that keeps
  // every domain at min_users or more.
  std::vector<double> weight(dc.count);
  double total = 0;
  for (int i = 0; i < dc.count; ++i) total += weight[i] = std::pow(i + 1.0, -dc.zipf_alpha);
  const int64_t spare = dc.users - static_cast<int64_t>(dc.count) * dc.min_users;
  std::vector<int64_t> size(dc.count, dc.min_users);
  std::vector<std::pair<double, int>> remainder(dc.count);
  int64_t assigned = 0;
  for (int i = 0; i < dc.count; ++i) {
    double exact = spare * weight[i] / total;
    int64_t whole = static_cast<int64_t>(std::floor(exact));
    size[i] += whole;
    assigned += whole;
    remainder[i] = {-(exact - whole), i};
  }
  std::sort(remainder.begin(), remainder.end());
  for (int64_t k = 0; k < spare - assigned; ++k) ++size[remainder[k % dc.count].second];

  providers_ = std::min(scenario_.network.providers, dc.count);
  provider_domains_.assign(providers_, {});
  std::vector<int64_t> load(providers_, 0);
  user_domain_.reserve(dc.users);
  uint32_t next_user = 0;
  for (int i = 0; i < dc.count; ++i) {
    Domain d;
    d.name = absl::StrCat("d", i, ".example");
    d.first_user = next_user;
    d.users = static_cast<uint32_t>(size[i]);
    // Largest first onto the least loaded host (domains come largest first).
    int p = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    d.provider = p;
    load[p] += size[i];
    provider_domains_[p].push_back(i);
    user_domain_.insert(user_domain_.end(), d.users, static_cast<uint32_t>(i));
    next_user += d.users;
    domains_.push_back(std::move(d));
  }
  return absl::OkStatus();
}

absl::Status World::BuildCampaigns(Random& rng) {
  double horizon = scenario_.run.duration;
  for (const CampaignConfig& c : scenario_.campaigns) {
    horizon = std::max(horizon, c.start + c.duration);
  }
  // Bots stay scheduled well past the last message (they serve fetches
  // until their bodies expire). Every schedule is drawn from one stream, so
  // the length of this span decides how many draws each bot takes and so
  // every later bot's periods; toggles past the last expiry are never
  // observed. kBotScheduleTail keeps the span the worked example and the
  // scale scenario drew over while recipients still dropped bodies after
  // a [retention] recipient of 14 days (removed: core/logic/body_retention.h),
  // so that their botnets did not change with the rule.
  constexpr double kBotScheduleTail = 14 * 86400;
  double longest = scenario_.legit.retention;
  for (const CampaignConfig& c : scenario_.campaigns) longest = std::max(longest, c.retention);
  horizon += longest + kBotScheduleTail + 2 * 86400;

  SeededRandom sched_rng(Mix64(scenario_.run.seed, kStreamSchedules));
  for (int p = 0; p < providers_; ++p) {
    provider_schedules_.emplace_back(scenario_.network.provider_availability, horizon, sched_rng);
  }
  int spam_index = 0;
  for (size_t c = 0; c < scenario_.campaigns.size(); ++c) {
    const CampaignConfig& cc = scenario_.campaigns[c];
    campaign_domains_.emplace_back();
    for (int k = 0; k < cc.signing_domains; ++k) {
      Domain d;
      d.name = absl::StrCat("s", spam_index++, ".example");
      d.campaign = static_cast<int>(c);
      campaign_domains_.back().push_back(static_cast<uint32_t>(domains_.size()));
      domains_.push_back(std::move(d));
    }
    campaign_first_bot_.push_back(static_cast<int>(bots_.size()));
    for (int b = 0; b < cc.bots; ++b) {
      Bot bot;
      bot.campaign = static_cast<int>(c);
      bot.schedule = Schedule(cc.bot_availability, horizon, sched_rng);
      // The calibration draws come from their own hash streams, so that a
      // scenario that leaves them at their defaults keeps its schedules.
      const uint64_t id = Mix64(scenario_.run.seed ^ 0xB07, c, b);
      bot.reachable = UnitFromHash(Mix64(id, 1)) < cc.bot_reachable_fraction;
      bot.bulletproof = cc.body_host == "bulletproof";
      if (cc.bot_daily_hours < 24 || cc.bot_mean_lifetime > 0) {
        double gone = horizon;
        if (cc.bot_mean_lifetime > 0) {
          gone = std::min(horizon, cc.start - cc.bot_mean_lifetime *
                                                  std::log1p(-UnitFromHash(Mix64(id, 2))));
        }
        const double on = cc.bot_daily_hours * 3600;
        const double phase = UnitFromHash(Mix64(id, 3)) * 86400;  // start of its day
        std::vector<std::pair<double, double>> up;
        for (const auto& [begin, end] : bot.schedule.UpPeriods(gone)) {
          if (on >= 86400) {
            up.emplace_back(begin, end);
            continue;
          }
          // Intersect [begin, end) with the daily windows [phase + k d, + on).
          double k = std::floor((begin - phase) / 86400);
          for (double w = phase + k * 86400; w < end; w += 86400) {
            const double a = std::max(begin, w), z = std::min(end, w + on);
            if (a < z) up.emplace_back(a, z);
          }
        }
        bot.schedule = Schedule::FromUpPeriods(up);
      }
      bots_.push_back(std::move(bot));
    }
  }
  (void)rng;
  return absl::OkStatus();
}

void World::AddRecipients(Message& m, std::vector<uint32_t>& entries) {
  std::sort(entries.begin(), entries.end(), [this](uint32_t a, uint32_t b) {
    uint32_t da = RecipientDomain(a), db = RecipientDomain(b);
    return da != db ? da < db : a < b;
  });
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
  m.rcpt_begin = static_cast<uint32_t>(rcpts_.size());
  m.rcpt_count = static_cast<uint16_t>(entries.size());
  uint16_t groups = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i == 0 || RecipientDomain(entries[i]) != RecipientDomain(entries[i - 1])) ++groups;
  }
  m.notif_count = groups;
  m.notif_begin = static_cast<uint32_t>(notifications_);
  notifications_ += groups;
  rcpts_.insert(rcpts_.end(), entries.begin(), entries.end());
}

void World::GenerateLegit(Random& rng) {
  const LegitConfig& lc = scenario_.legit;
  const double total = lc.messages_per_user_per_day * users() * scenario_.run.duration / 86400.0;
  const uint64_t count = static_cast<uint64_t>(std::llround(total));
  const uint32_t n_users = users();
  messages_.reserve(messages_.size() + count);
  std::vector<uint32_t> entries;
  const uint32_t max_rcpts =
      std::min<uint32_t>(limits::kMaxRecipientsPerNotification, std::max<uint32_t>(1, n_users - 1));
  for (uint64_t i = 0; i < count; ++i) {
    Message m;
    m.created = rng.UniformDouble() * scenario_.run.duration;
    m.sender_user = static_cast<uint32_t>(rng.Uniform(n_users));
    m.sender_domain = user_domain_[m.sender_user];
    m.origin = static_cast<uint32_t>(domains_[m.sender_domain].provider);
    m.body_size = RoundCount(lc.body_size.Sample(rng), 1, limits::kMaxBodySize);
    m.body_id = next_body_id_++;
    m.campaign = 0;
    uint32_t n = RoundCount(lc.recipients.Sample(rng), 1, max_rcpts);
    entries.clear();
    for (uint32_t k = 0; k < n; ++k) {
      uint32_t r = static_cast<uint32_t>(rng.Uniform(n_users));
      if (r == m.sender_user && n_users > 1) r = (r + 1) % n_users;
      entries.push_back(r);
    }
    AddRecipients(m, entries);
    messages_.push_back(m);
  }
}

void World::GenerateCampaign(int c, Random& rng) {
  const CampaignConfig& cc = scenario_.campaigns[c];
  const uint32_t n_users = users();
  const int first_bot = campaign_first_bot_[c];
  const uint32_t campaign_body = next_body_id_++;
  const uint32_t campaign_size = RoundCount(cc.body_size.Sample(rng), 1, limits::kMaxBodySize);
  const uint32_t max_rcpts = std::min<uint32_t>(limits::kMaxRecipientsPerNotification, n_users);
  std::vector<uint32_t> entries;
  messages_.reserve(messages_.size() + cc.messages);
  for (uint64_t i = 0; i < cc.messages; ++i) {
    Message m;
    int bot = static_cast<int>(rng.Uniform(cc.bots));
    double t = cc.start + rng.UniformDouble() * cc.duration;
    // A bot sends only while it is online.
    t = bots_[first_bot + bot].schedule.NextUp(t);
    if (!std::isfinite(t)) continue;
    m.created = t;
    m.sender_user = static_cast<uint32_t>(first_bot + bot);
    m.sender_domain = campaign_domains_[c][bot % cc.signing_domains];
    m.origin = static_cast<uint32_t>(providers_ + first_bot + bot);
    if (cc.personalised) {
      m.body_size = RoundCount(cc.body_size.Sample(rng), 1, limits::kMaxBodySize);
      m.body_id = next_body_id_++;
    } else {
      m.body_size = campaign_size;
      m.body_id = campaign_body;
    }
    m.campaign = static_cast<uint16_t>(c + 1);
    uint32_t n = RoundCount(cc.recipients.Sample(rng), 1, max_rcpts);
    entries.clear();
    for (uint32_t k = 0; k < n; ++k) {
      uint32_t r = static_cast<uint32_t>(rng.Uniform(n_users));
      if (rng.UniformDouble() < cc.invalid_recipient_fraction) {
        r = kInvalidRecipient | user_domain_[r];
      }
      entries.push_back(r);
    }
    AddRecipients(m, entries);
    messages_.push_back(m);
  }
}

void World::SortMessages() {
  // Creation order; ties keep generation order, so the result is stable.
  std::stable_sort(messages_.begin(), messages_.end(),
                   [](const Message& a, const Message& b) { return a.created < b.created; });
  // Renumber notifications in creation order (their index is their id).
  uint32_t next = 0;
  node_messages_.assign(nodes(), {});
  for (uint32_t i = 0; i < messages_.size(); ++i) {
    Message& m = messages_[i];
    m.notif_begin = next;
    next += m.notif_count;
    node_messages_[m.origin].push_back(i);
  }
}

std::string World::RecipientAddress(uint32_t entry) const {
  if (entry & kInvalidRecipient) {
    uint32_t d = entry & ~kInvalidRecipient;
    return absl::StrCat("nx", d, "@", domains_[d].name);
  }
  return absl::StrCat("u", entry, "@", domains_[user_domain_[entry]].name);
}

std::optional<uint32_t> World::ParseUser(std::string_view address, uint32_t domain) const {
  size_t at = address.find('@');
  if (at == std::string_view::npos || at < 2 || address[0] != 'u') return std::nullopt;
  if (address.substr(at + 1) != domains_[domain].name) return std::nullopt;
  uint32_t u;
  if (!absl::SimpleAtoi(AV(address.substr(1, at - 1)), &u)) return std::nullopt;
  if (u >= users() || user_domain_[u] != domain) return std::nullopt;
  return u;
}

std::string World::SenderAddress(const Message& m) const {
  if (m.campaign != 0) return absl::StrCat("bot", m.sender_user, "@", domains_[m.sender_domain].name);
  return absl::StrCat("u", m.sender_user, "@", domains_[m.sender_domain].name);
}

bool World::NodeUp(uint32_t node, double t) const { return NodeSchedule(node).IsUp(t); }

bool World::NodeServes(uint32_t node, double t) const {
  if (!IsBot(node)) return NodeUp(node, t);
  const Bot& bot = bots_[node - providers_];
  if (bot.bulletproof) return true;
  return bot.reachable && bot.schedule.IsUp(t);
}

const Schedule& World::NodeSchedule(uint32_t node) const {
  if (node < static_cast<uint32_t>(providers_)) return provider_schedules_[node];
  return bots_[node - providers_].schedule;
}

double World::Expires(const Message& m) const {
  return m.created +
         (m.campaign == 0 ? scenario_.legit.retention : scenario_.campaigns[m.campaign - 1].retention);
}

int World::SubjectBytes(const Message& m) const {
  return m.campaign == 0 ? scenario_.legit.subject_bytes
                         : scenario_.campaigns[m.campaign - 1].subject_bytes;
}

World::Hash World::BodyHash(uint32_t body_id) const {
  Hash h;
  for (int i = 0; i < 4; ++i) {
    uint64_t v = Mix64(scenario_.run.seed ^ 0xB0D7, body_id, i);
    std::memcpy(h.data() + 8 * i, &v, 8);
  }
  return h;
}

World::Group World::NotificationGroup(const Message& m, int k) const {
  uint32_t i = m.rcpt_begin, end = m.rcpt_begin + m.rcpt_count;
  int group = 0;
  while (true) {
    uint32_t d = RecipientDomain(rcpts_[i]);
    uint32_t j = i + 1;
    while (j < end && RecipientDomain(rcpts_[j]) == d) ++j;
    if (group == k) return Group{d, i, j};
    ++group;
    i = j;
    PM_CHECK(i < end) << "notification group " << k << " out of range";
  }
}

std::string World::MessageId(uint32_t index) const {
  const Message& m = messages_[index];
  // As long as a real one (core/crypto/token.h NewMessageId: 26 base32
  // digits, '@', the domain), so that notifications, fetch requests and
  // reports are sized as on the wire: "m" and 25 decimal digits.
  return absl::StrCat("m", absl::StrFormat("%025u", index), "@", domains_[m.sender_domain].name);
}

std::optional<uint32_t> World::ParseMessageIndex(std::string_view id) {
  size_t at = id.find('@');
  if (at == std::string_view::npos || at < 2 || id[0] != 'm') return std::nullopt;
  uint32_t i;
  if (!absl::SimpleAtoi(AV(id.substr(1, at - 1)), &i)) return std::nullopt;
  return i;
}

void World::ListBots() {
  const PushConfig& push = scenario_.push;
  const uint64_t seed = scenario_.run.seed;
  listed_at_.assign(nodes(), std::numeric_limits<double>::infinity());
  for (int n = providers_; n < nodes(); ++n) {
    const std::vector<uint32_t>& sent = node_messages_[n];
    if (sent.empty()) continue;
    if (UnitFromHash(Mix64(seed ^ 0xD5B1, n)) >= push.dnsbl_coverage) continue;
    const double first = messages_[sent.front()].created;
    const double u = UnitFromHash(Mix64(seed ^ 0xD5B2, n));
    listed_at_[n] = first - push.dnsbl_listing_delay * std::log1p(-u);  // exponential
  }
}

}  // namespace pullmail::sim
