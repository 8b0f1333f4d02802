// Fetch deadlines, the minimum-rate rule and the prefetch schedule (see
// fetch_schedule.h).
#include "core/logic/fetch_schedule.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

absl::Status FieldError(std::string_view where, std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(AV(where), ": ", AV(field), ": ", AV(why)));
}

}  // namespace

absl::StatusOr<FetchLimits> ParseFetchLimits(const toml::table& table, std::string_view where) {
  FetchLimits l;
  for (const auto& [k, v] : table) {
    std::string_view key = k.str();
    if (key == "backoff") {
      const toml::table* t = v.as_table();
      if (t == nullptr) return FieldError(where, key, "must be a table");
      auto p = ParseRetryPolicy(*t, absl::StrCat(AV(where), ".backoff"));
      if (!p.ok()) return p.status();
      l.backoff = *p;
      continue;
    }
    const auto* i = v.as_integer();
    if (i == nullptr) return FieldError(where, key, "must be an integer");
    const int64_t x = i->get();
    if (key == "max_in_flight" || key == "max_per_domain") {
      if (x < 1 || x > 256) return FieldError(where, key, "must be in 1..256");
      (key == "max_in_flight" ? l.max_in_flight : l.max_per_domain) = static_cast<int>(x);
    } else if (key == "min_bytes_per_second") {
      if (x < 1) return FieldError(where, key, "must be >= 1");
      l.min_bytes_per_second = static_cast<uint64_t>(x);
    } else if (key == "grace_seconds") {
      if (x < 0 || x > 3600) return FieldError(where, key, "must be in 0..3600");
      l.grace = absl::Seconds(x);
    } else if (key == "max_duration_seconds") {
      if (x < 1 || x > 86'400) return FieldError(where, key, "must be in 1..86400");
      l.max_duration = absl::Seconds(x);
    } else {
      return FieldError(where, key,
                        "unknown key (max_in_flight, max_per_domain, min_bytes_per_second, "
                        "grace_seconds, max_duration_seconds, backoff)");
    }
  }
  return l;
}

absl::Time FetchDeadline(const FetchLimits& limits, absl::Time started, uint64_t body_size) {
  const absl::Duration transfer =
      absl::Seconds(static_cast<double>(body_size) / static_cast<double>(limits.min_bytes_per_second));
  return started + std::min(limits.grace + transfer, limits.max_duration);
}

FetchProgress CheckFetchProgress(const FetchLimits& limits, absl::Time started,
                                 uint64_t body_size, uint64_t received, absl::Time now) {
  if (received >= body_size) return FetchProgress::kContinue;  // done; Finish decides
  if (now >= FetchDeadline(limits, started, body_size)) return FetchProgress::kDeadline;
  const absl::Duration over = now - started - limits.grace;
  if (over <= absl::ZeroDuration()) return FetchProgress::kContinue;
  const double owed = absl::ToDoubleSeconds(over) * static_cast<double>(limits.min_bytes_per_second);
  return static_cast<double>(received) < owed ? FetchProgress::kTooSlow : FetchProgress::kContinue;
}

std::string_view FetchProgressName(FetchProgress p) {
  switch (p) {
    case FetchProgress::kContinue: return "continue";
    case FetchProgress::kTooSlow: return "too_slow";
    case FetchProgress::kDeadline: return "deadline";
  }
  return "continue";
}

FetchSchedule::FetchSchedule(FetchLimits limits, Random* rng) : limits_(limits), rng_(rng) {}

std::vector<PrefetchCandidate> FetchSchedule::Pick(std::vector<PrefetchCandidate> candidates,
                                                   absl::Time now) {
  std::sort(candidates.begin(), candidates.end(),
            [](const PrefetchCandidate& a, const PrefetchCandidate& b) {
              return a.expires != b.expires ? a.expires < b.expires : a.key < b.key;
            });
  std::vector<PrefetchCandidate> out;
  for (PrefetchCandidate& c : candidates) {
    if (static_cast<int>(in_flight_.size()) >= limits_.max_in_flight) break;
    if (in_flight_.count(c.key)) continue;
    DomainState& d = domains_[c.domain];
    if (d.next > now || d.in_flight >= limits_.max_per_domain) continue;
    ++d.in_flight;
    in_flight_.emplace(c.key, c.domain);
    out.push_back(std::move(c));
  }
  return out;
}

void FetchSchedule::Done(const std::string& key, bool ok, absl::Time now) {
  auto it = in_flight_.find(key);
  if (it == in_flight_.end()) return;
  const std::string domain = it->second;
  in_flight_.erase(it);
  DomainState& d = domains_[domain];
  --d.in_flight;
  Outcome(domain, ok, now);
}

void FetchSchedule::Outcome(const std::string& domain, bool ok, absl::Time now) {
  DomainState& d = domains_[domain];
  if (ok) {
    d.failures = 0;
    d.next = absl::InfinitePast();
  } else {
    ++d.failures;
    d.next = NextAttemptTime(limits_.backoff, d.failures, now, *rng_);
  }
}

absl::Time FetchSchedule::NextAttempt(const std::string& domain) const {
  auto it = domains_.find(domain);
  return it == domains_.end() ? absl::InfinitePast() : it->second.next;
}

int FetchSchedule::in_flight(const std::string& domain) const {
  auto it = domains_.find(domain);
  return it == domains_.end() ? 0 : it->second.in_flight;
}

}  // namespace pullmail
