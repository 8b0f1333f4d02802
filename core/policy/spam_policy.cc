// The spam-suppression policy. See spam_policy.h for the rules and
// docs/POLICY.md for the operator's view.
#include "core/policy/spam_policy.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/util/logging.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

// Weighted sums are compared with the threshold with a little slack, so that
// ten reports of weight 0.1 reach a threshold of 1 despite rounding.
constexpr double kEpsilon = 1e-9;
// Decayed domain counters below this are treated as gone by Prune.
constexpr double kNegligible = 1e-3;

// 3 -> "3", 2.5 -> "2.5", 0.3333 -> "0.33".
std::string Num(double v) {
  if (std::fabs(v - std::round(v)) < 0.005) return absl::StrFormat("%.0f", std::round(v) + 0.0);
  std::string s = absl::StrFormat("%.2f", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string Ratio(double v) { return absl::StrFormat("%.3g", v); }

std::string Percent(double fraction) { return absl::StrFormat("%g%%", fraction * 100); }

std::string TimeText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

std::string DurationText(absl::Duration d) { return absl::FormatDuration(d); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void Sha256(std::string_view data, uint8_t out[32]) {
  unsigned int len = 0;
  PM_CHECK(EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr) == 1 &&
           len == 32)
      << "EVP_Digest(SHA-256) failed";
}

}  // namespace

std::string_view VisibilityName(Visibility v) {
  switch (v) {
    case Visibility::kShown:
      return "shown";
    case Visibility::kHeld:
      return "held";
    case Visibility::kSuppressed:
      return "suppressed";
  }
  return "unknown";
}

std::string_view DomainStatusName(DomainStatus s) {
  switch (s) {
    case DomainStatus::kNew:
      return "new";
    case DomainStatus::kGood:
      return "good";
    case DomainStatus::kBad:
      return "bad";
  }
  return "unknown";
}

absl::StatusOr<SpamPolicy> SpamPolicy::Create(PolicyConfig config) {
  absl::Status valid = ValidatePolicyConfig(config);
  if (!valid.ok()) return valid;
  return SpamPolicy(std::move(config));
}

SpamPolicy::SpamPolicy(PolicyConfig config) : config_(std::move(config)) {
  absl::Status valid = ValidatePolicyConfig(config_);
  PM_CHECK(valid.ok()) << "SpamPolicy: invalid config: " << valid.message();
  // The sample key is derived from the configured secret so that any string
  // (including the empty default) gives a full 128-bit SipHash key.
  std::string seed = "pullmail.v1.early-reader-sample";
  seed.push_back('\0');
  seed.append(config_.sample_key);
  uint8_t digest[32];
  Sha256(seed, digest);
  std::memcpy(sample_key_.data(), digest, sample_key_.size());
}

SpamPolicy::BodyKey SpamPolicy::KeyOf(std::string_view body_sha256) {
  BodyKey key{};
  if (body_sha256.size() == key.size()) {
    std::memcpy(key.data(), body_sha256.data(), key.size());
    return key;
  }
  if (body_sha256.size() == 2 * key.size()) {
    bool ok = true;
    for (size_t i = 0; i < key.size() && ok; ++i) {
      int hi = HexValue(body_sha256[2 * i]);
      int lo = HexValue(body_sha256[2 * i + 1]);
      ok = hi >= 0 && lo >= 0;
      key[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    if (ok) return key;
  }
  // An opaque name (tests, simulations): hash it to a key.
  Sha256(body_sha256, key.data());
  return key;
}

double SpamPolicy::Net(const BodyState& b) const {
  return b.spam - config_.not_spam_weight * b.not_spam;
}

bool SpamPolicy::OverThreshold(double net) const {
  return net >= config_.spam_threshold_k - kEpsilon * std::max(1.0, config_.spam_threshold_k);
}

void SpamPolicy::AddDecayed(DomainState& d, double DomainState::*field, double amount,
                            absl::Time at) const {
  // Each counter is stored as its value at d.updated: sum of amount_i *
  // 2^(-(updated - t_i) / half_life). An event older than d.updated is added
  // already decayed, so the result does not depend on the order of events.
  if (d.updated == absl::InfinitePast()) {
    d.updated = at;
  } else if (at > d.updated) {
    double f = std::exp2(-absl::FDivDuration(at - d.updated, config_.reputation_half_life));
    d.reads *= f;
    d.spam *= f;
    d.not_spam *= f;
    d.updated = at;
  } else if (at < d.updated) {
    amount *= std::exp2(-absl::FDivDuration(d.updated - at, config_.reputation_half_life));
  }
  d.*field += amount;
}

DomainReputation SpamPolicy::ReputationOf(std::string_view domain, const DomainState* d,
                                          absl::Time now) const {
  DomainReputation rep;
  rep.domain = std::string(domain);
  if (d != nullptr) {
    double f = 1.0;
    if (now > d->updated && d->updated != absl::InfinitePast()) {
      f = std::exp2(-absl::FDivDuration(now - d->updated, config_.reputation_half_life));
    }
    rep.reads = d->reads * f;
    rep.spam = d->spam * f;
    rep.not_spam = d->not_spam * f;
    if (d->last_spam != absl::InfinitePast()) rep.last_spam = d->last_spam;
  }
  rep.net_spam = std::max(0.0, rep.spam - config_.not_spam_weight * rep.not_spam);
  rep.ratio = rep.net_spam / std::max(rep.reads, 1.0);
  if (rep.net_spam > kEpsilon && rep.ratio > config_.bad_reputation_ratio) {
    rep.status = DomainStatus::kBad;
  } else if (rep.reads < config_.min_reads_for_reputation) {
    rep.status = DomainStatus::kNew;
  } else {
    rep.status = DomainStatus::kGood;
  }
  return rep;
}

namespace {

// "a.example is new here (4 reads, fewer than 20; 0 net spam)".
std::string Describe(const DomainReputation& rep, const PolicyConfig& config) {
  switch (rep.status) {
    case DomainStatus::kNew:
      return absl::StrCat(rep.domain, " is new here (", Num(rep.reads), " reads, fewer than ",
                          Num(config.min_reads_for_reputation), "; ", Num(rep.net_spam),
                          " net spam)");
    case DomainStatus::kBad:
      return absl::StrCat(rep.domain, " has a bad reputation (", Num(rep.net_spam),
                          " net spam / ", Num(rep.reads), " reads = ratio ", Ratio(rep.ratio),
                          ", above ", Ratio(config.bad_reputation_ratio), ")");
    case DomainStatus::kGood:
      return absl::StrCat(rep.domain, " has a good reputation (", Num(rep.reads), " reads, ",
                          Num(rep.net_spam), " net spam, ratio ", Ratio(rep.ratio), ")");
  }
  return rep.domain;
}

}  // namespace

std::string SpamPolicy::BodyCounts(const BodyState& b) const {
  return absl::StrCat(b.spam_reports, " spam reports weighing ", Num(b.spam), ", ",
                      b.not_spam_reports, " not-spam weighing ", Num(b.not_spam));
}

std::optional<Decision> SpamPolicy::SuppressionFor(const BodyState* body,
                                                   const DomainReputation& rep,
                                                   bool domain_on_hold,
                                                   std::optional<absl::Time> held_since) const {
  const double net = body != nullptr ? Net(*body) : 0.0;
  if (body != nullptr && OverThreshold(net)) {
    return Decision{Visibility::kSuppressed, std::string(policy_rule::kBodyHashThreshold),
                    absl::StrCat("suppressed: ", Num(net), " net spam reports on this body (",
                                 BodyCounts(*body), "; threshold ",
                                 Num(config_.spam_threshold_k), ")"),
                    std::nullopt};
  }
  // Only a domain with enough reads to judge it (a bad domain can still be
  // short of reads: it is then held, not suppressed outright).
  if (config_.suppress_reputation_ratio > 0 && rep.reads >= config_.min_reads_for_reputation &&
      rep.ratio > config_.suppress_reputation_ratio) {
    return Decision{Visibility::kSuppressed, std::string(policy_rule::kDomainReputation),
                    absl::StrCat("suppressed: ", rep.domain, "'s spam ratio ", Ratio(rep.ratio),
                                 " (", Num(rep.net_spam), " net spam / ", Num(rep.reads),
                                 " reads) is above ", Ratio(config_.suppress_reputation_ratio)),
                    std::nullopt};
  }
  if (!domain_on_hold) return std::nullopt;
  if (body != nullptr && net >= config_.hold_complaint_threshold - kEpsilon) {
    return Decision{Visibility::kSuppressed, std::string(policy_rule::kHoldComplaints),
                    absl::StrCat("suppressed: ", Num(net), " net spam reports on this body (",
                                 BodyCounts(*body), "; limit ",
                                 Num(config_.hold_complaint_threshold), " while ", rep.domain,
                                 " is on hold)"),
                    std::nullopt};
  }
  if (held_since.has_value() && rep.status == DomainStatus::kBad && rep.last_spam.has_value() &&
      *rep.last_spam >= *held_since) {
    return Decision{Visibility::kSuppressed, std::string(policy_rule::kHoldDomainComplaints),
                    absl::StrCat("suppressed: spam reported against ", rep.domain,
                                 " since this copy was held at ", TimeText(*held_since),
                                 " (last at ", TimeText(*rep.last_spam), "); ",
                                 Describe(rep, config_)),
                    std::nullopt};
  }
  return std::nullopt;
}

bool SpamPolicy::InEarlyReaderSample(std::string_view user, std::string_view body_sha256) const {
  return InSample(user, KeyOf(body_sha256));
}

bool SpamPolicy::InSample(std::string_view user, const BodyKey& key) const {
  if (config_.early_reader_fraction <= 0) return false;
  if (config_.early_reader_fraction >= 1) return true;
  std::string data;
  data.reserve(user.size() + 1 + key.size());
  data.append(user);
  data.push_back('\0');  // so that (user, body) splits one way only
  data.append(reinterpret_cast<const char*>(key.data()), key.size());
  uint64_t h = SipHash24(sample_key_, data);
  double u = static_cast<double>(h >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  return u < config_.early_reader_fraction;
}

Decision SpamPolicy::OnNotification(std::string_view signing_domain,
                                    std::string_view body_sha256, std::string_view user,
                                    absl::Time now) {
  const BodyKey key = KeyOf(body_sha256);
  auto bit = bodies_.find(key);
  BodyState* body = bit != bodies_.end() ? &bit->second : nullptr;
  auto dit = domains_.find(AV(signing_domain));
  DomainReputation rep =
      ReputationOf(signing_domain, dit != domains_.end() ? &dit->second : nullptr, now);
  const bool on_hold = (rep.status == DomainStatus::kNew && config_.hold_new_domains) ||
                       (rep.status == DomainStatus::kBad && config_.hold_bad_domains);

  if (std::optional<Decision> s = SuppressionFor(body, rep, on_hold, std::nullopt)) {
    return *std::move(s);
  }
  if (!on_hold) {
    return Decision{Visibility::kShown, std::string(policy_rule::kDefault),
                    absl::StrCat("shown: ", Describe(rep, config_)), std::nullopt};
  }
  // Held domains' bodies are tracked so that reads and complaints during the
  // hold can be counted for ReviewHeld.
  BodyState& tracked = bodies_[key];
  tracked.last_activity = std::max(tracked.last_activity, now);
  if (InSample(user, key)) {
    return Decision{Visibility::kShown, std::string(policy_rule::kEarlyReader),
                    absl::StrCat("shown: early reader (one of ",
                                 Percent(config_.early_reader_fraction), " of recipients) while ",
                                 Describe(rep, config_)),
                    std::nullopt};
  }
  const absl::Time review_at = now + config_.hold_period;
  return Decision{
      Visibility::kHeld,
      std::string(rep.status == DomainStatus::kBad ? policy_rule::kHoldBadDomain
                                                   : policy_rule::kHoldNewDomain),
      absl::StrCat("held: ", Describe(rep, config_), "; shown first to ",
                   Percent(config_.early_reader_fraction), " of recipients, released after ",
                   DurationText(config_.hold_period), " (at ", TimeText(review_at),
                   ") if no complaints arrive"),
      review_at};
}

void SpamPolicy::OnRead(std::string_view signing_domain, std::string_view body_sha256,
                        absl::Time now) {
  auto dit = domains_.find(AV(signing_domain));
  if (dit == domains_.end()) dit = domains_.emplace(std::string(signing_domain), DomainState{}).first;
  AddDecayed(dit->second, &DomainState::reads, 1.0, now);
  auto bit = bodies_.find(KeyOf(body_sha256));
  if (bit != bodies_.end()) {
    ++bit->second.reads;
    bit->second.last_activity = std::max(bit->second.last_activity, now);
  }
}

ReportOutcome SpamPolicy::ApplyReport(std::string_view signing_domain,
                                      std::string_view body_sha256, Verdict verdict,
                                      double weight, double domain_weight, absl::Time now,
                                      std::string_view source) {
  std::string note;
  if (!std::isfinite(weight) || weight < 0) {
    note = absl::StrCat(" (invalid weight ", weight, " counted as 0)");
    weight = 0;
  }
  if (!std::isfinite(domain_weight) || domain_weight < 0) domain_weight = 0;
  const bool spam = verdict == Verdict::kSpam;

  auto dit = domains_.find(AV(signing_domain));
  if (dit == domains_.end()) dit = domains_.emplace(std::string(signing_domain), DomainState{}).first;
  DomainState& domain = dit->second;
  AddDecayed(domain, spam ? &DomainState::spam : &DomainState::not_spam, domain_weight, now);
  if (spam && domain_weight > 0) domain.last_spam = std::max(domain.last_spam, now);

  BodyState& body = bodies_[KeyOf(body_sha256)];
  const bool before = OverThreshold(Net(body));
  if (spam) {
    body.spam += weight;
    ++body.spam_reports;
  } else {
    body.not_spam += weight;
    ++body.not_spam_reports;
  }
  body.last_activity = std::max(body.last_activity, now);
  const double net = Net(body);
  const bool after = OverThreshold(net);

  ReportOutcome out;
  out.suppressed = after;
  out.newly_suppressed = after && !before;
  out.newly_unsuppressed = before && !after;
  out.applied_weight = spam ? weight : -weight * config_.not_spam_weight;
  out.net_spam = net;
  if (after) out.rule = std::string(policy_rule::kBodyHashThreshold);
  std::string state;
  if (out.newly_suppressed) {
    state = "threshold reached: unread copies suppressed";
  } else if (out.newly_unsuppressed) {
    state = "back below the threshold: suppression lifted";
  } else if (after) {
    state = "already suppressed";
  } else {
    state = "below the threshold";
  }
  out.explanation = absl::StrCat(spam ? "spam" : "not-spam", " report ", AV(source), " counted ",
                                 Num(out.applied_weight), note, "; ", Num(net),
                                 " net spam reports on this body (", BodyCounts(body),
                                 "; threshold ", Num(config_.spam_threshold_k), "): ", state);
  return out;
}

ReportOutcome SpamPolicy::OnReport(std::string_view signing_domain,
                                   std::string_view body_sha256, Verdict verdict, double weight,
                                   absl::Time now) {
  return ApplyReport(signing_domain, body_sha256, verdict, weight, weight, now,
                     absl::StrCat("(weight ", Num(weight), ")"));
}

ReportOutcome SpamPolicy::OnLocalReport(std::string_view signing_domain,
                                        std::string_view body_sha256, Verdict verdict,
                                        absl::Time now) {
  return ApplyReport(signing_domain, body_sha256, verdict, config_.local_report_weight,
                     config_.local_report_weight, now, "by a local user");
}

absl::StatusOr<ReportOutcome> SpamPolicy::OnPeerReport(std::string_view peer_domain,
                                                       std::string_view signing_domain,
                                                       std::string_view body_sha256,
                                                       Verdict verdict, uint32_t count,
                                                       bool held_here, absl::Time now) {
  auto it = config_.peer_weights.find(std::string(peer_domain));
  if (it == config_.peer_weights.end()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "untrusted_peer: ", AV(peer_domain), " is not listed in policy.peer_weights"));
  }
  if (count == 0) {
    return absl::InvalidArgumentError("peer report stands for 0 reports");
  }
  const double counted = std::min<double>(count, config_.max_peer_report_count);
  std::string source = absl::StrCat("from peer ", AV(peer_domain), " (", count, " reports");
  if (counted < count) absl::StrAppend(&source, " capped at ", Num(counted));
  absl::StrAppend(&source, " x peer weight ", Num(it->second), ")");
  const double weight = it->second * counted;
  // The domain: only corroborated reports about mail this node holds.
  double domain_weight = 0;
  size_t reporters = 0;
  if (held_here) {
    auto dit = domains_.find(AV(signing_domain));
    if (dit == domains_.end()) {
      dit = domains_.emplace(std::string(signing_domain), DomainState{}).first;
    }
    if (verdict == Verdict::kSpam && weight > 0) dit->second.spam_peers.insert(std::string(peer_domain));
    reporters = dit->second.spam_peers.size();
    if (static_cast<double>(reporters) >= config_.min_peer_reporters) {
      domain_weight = std::min(weight, config_.max_peer_domain_weight);
    }
  }
  if (!held_here) {
    absl::StrAppend(&source, "; not counted against ", AV(signing_domain),
                    ": no such message here");
  } else if (domain_weight == 0 && weight > 0) {
    absl::StrAppend(&source, "; not yet counted against ", AV(signing_domain), ": ", reporters,
                    " of ", Num(config_.min_peer_reporters), " distinct peers have reported it");
  } else if (domain_weight < weight) {
    absl::StrAppend(&source, "; counted ", Num(domain_weight), " against ", AV(signing_domain));
  }
  return ApplyReport(signing_domain, body_sha256, verdict, weight, domain_weight, now, source);
}

Decision SpamPolicy::ReviewHeld(std::string_view signing_domain, std::string_view body_sha256,
                                absl::Time held_since, absl::Time now) const {
  auto bit = bodies_.find(KeyOf(body_sha256));
  const BodyState* body = bit != bodies_.end() ? &bit->second : nullptr;
  auto dit = domains_.find(AV(signing_domain));
  DomainReputation rep =
      ReputationOf(signing_domain, dit != domains_.end() ? &dit->second : nullptr, now);

  if (std::optional<Decision> s = SuppressionFor(body, rep, /*domain_on_hold=*/true, held_since)) {
    return *std::move(s);
  }
  const double net = body != nullptr ? Net(*body) : 0.0;
  const uint32_t reads = body != nullptr ? body->reads : 0;
  const absl::Duration held_for = now - held_since;
  if (held_for < config_.hold_period) {
    const absl::Time review_at = held_since + config_.hold_period;
    return Decision{
        Visibility::kHeld,
        std::string(rep.status == DomainStatus::kBad ? policy_rule::kHoldBadDomain
                                                     : policy_rule::kHoldNewDomain),
        absl::StrCat("held: since ", TimeText(held_since), ", release at ", TimeText(review_at),
                     " if no complaints arrive (now ", Num(net), " net spam reports on this body, ",
                     reads, " early reads); ", Describe(rep, config_)),
        review_at};
  }
  if (config_.min_early_reads > 0 && reads < config_.min_early_reads &&
      held_for < config_.max_hold_period) {
    const absl::Time review_at = held_since + config_.max_hold_period;
    return Decision{Visibility::kHeld, std::string(policy_rule::kAwaitingEarlyReads),
                    absl::StrCat("held: ", reads, " early reads of ",
                                 Num(config_.min_early_reads),
                                 " needed before release; released anyway at ",
                                 TimeText(review_at), " if no complaints arrive"),
                    review_at};
  }
  return Decision{Visibility::kShown, std::string(policy_rule::kHoldReleased),
                  absl::StrCat("released: held ", DurationText(held_for),
                               " with no complaints (", Num(net),
                               " net spam reports on this body, ", reads, " early reads)"),
                  std::nullopt};
}

DomainReputation SpamPolicy::Reputation(std::string_view signing_domain, absl::Time now) const {
  auto dit = domains_.find(AV(signing_domain));
  DomainReputation rep =
      ReputationOf(signing_domain, dit != domains_.end() ? &dit->second : nullptr, now);
  rep.summary = absl::StrCat(rep.domain, ": ", AV(DomainStatusName(rep.status)), " (", Num(rep.reads),
                             " reads, ", Num(rep.net_spam), " net spam, ratio ", Ratio(rep.ratio),
                             ")");
  return rep;
}

double SpamPolicy::NetSpam(std::string_view body_sha256) const {
  auto it = bodies_.find(KeyOf(body_sha256));
  return it != bodies_.end() ? Net(it->second) : 0.0;
}

bool SpamPolicy::IsSuppressed(std::string_view body_sha256) const {
  auto it = bodies_.find(KeyOf(body_sha256));
  return it != bodies_.end() && OverThreshold(Net(it->second));
}

size_t SpamPolicy::Prune(absl::Time now) {
  size_t removed = 0;
  const absl::Time cutoff = now - config_.body_state_ttl;
  for (auto it = bodies_.begin(); it != bodies_.end();) {
    if (it->second.last_activity < cutoff) {
      bodies_.erase(it++);
      ++removed;
    } else {
      ++it;
    }
  }
  for (auto it = domains_.begin(); it != domains_.end();) {
    DomainReputation rep = ReputationOf(it->first, &it->second, now);
    if (rep.reads < kNegligible && rep.spam < kNegligible && rep.not_spam < kNegligible &&
        it->second.last_spam < cutoff) {
      domains_.erase(it++);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

PolicySnapshot SpamPolicy::Snapshot() const {
  PolicySnapshot snap;
  snap.bodies.reserve(bodies_.size());
  for (const auto& [key, b] : bodies_) {
    snap.bodies.push_back({std::string(reinterpret_cast<const char*>(key.data()), key.size()),
                           b.spam, b.not_spam, b.spam_reports, b.not_spam_reports, b.reads,
                           b.last_activity});
  }
  snap.domains.reserve(domains_.size());
  for (const auto& [name, d] : domains_) {
    PolicySnapshot::Domain out{name, d.reads, d.spam, d.not_spam, d.updated, std::nullopt, {}};
    if (d.last_spam != absl::InfinitePast()) out.last_spam = d.last_spam;
    out.spam_peers.assign(d.spam_peers.begin(), d.spam_peers.end());
    snap.domains.push_back(std::move(out));
  }
  return snap;
}

absl::Status SpamPolicy::Restore(const PolicySnapshot& snap) {
  auto bad_count = [](double v) { return !std::isfinite(v) || v < 0; };
  absl::flat_hash_map<BodyKey, BodyState> bodies;
  bodies.reserve(snap.bodies.size());
  for (const auto& b : snap.bodies) {
    if (b.sha256.size() != 32) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy snapshot: body hash of ", b.sha256.size(), " bytes, want 32"));
    }
    if (bad_count(b.spam) || bad_count(b.not_spam)) {
      return absl::InvalidArgumentError("policy snapshot: negative or non-finite body count");
    }
    bodies[KeyOf(b.sha256)] =
        BodyState{b.spam, b.not_spam, b.spam_reports, b.not_spam_reports, b.reads,
                  b.last_activity};
  }
  absl::flat_hash_map<std::string, DomainState> domains;
  domains.reserve(snap.domains.size());
  for (const auto& d : snap.domains) {
    if (d.domain.empty()) return absl::InvalidArgumentError("policy snapshot: empty domain");
    if (bad_count(d.reads) || bad_count(d.spam) || bad_count(d.not_spam)) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy snapshot: negative or non-finite count for ", d.domain));
    }
    domains[d.domain] = DomainState{d.reads, d.spam, d.not_spam, d.updated,
                                    d.last_spam.value_or(absl::InfinitePast()),
                                    std::set<std::string>(d.spam_peers.begin(), d.spam_peers.end())};
  }
  bodies_ = std::move(bodies);
  domains_ = std::move(domains);
  return absl::OkStatus();
}

}  // namespace pullmail
