// Login penalties (see login_throttle.h).
#include "core/logic/login_throttle.h"

#include <toml++/toml.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/config/node_config.h"
#include "core/util/strings.h"

namespace pullmail {

absl::Duration LoginThrottle::PenaltyFor(int failures) const {
  if (failures <= 0 || config_.max <= absl::ZeroDuration()) return absl::ZeroDuration();
  absl::Duration d = config_.initial;
  for (int i = 1; i < failures && d < config_.max; ++i) d *= 2;
  return std::min(d, config_.max);
}

int LoginThrottle::FailuresLocked(const std::string& key, absl::Time now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  if (now - it->second.last >= config_.forget_after) {
    entries_.erase(it);
    return 0;
  }
  return it->second.failures;
}

void LoginThrottle::BumpLocked(const std::string& key, absl::Time now) {
  if (entries_.size() >= config_.max_tracked && !entries_.contains(key)) {
    // Forget the stale ones, then, if still full, the oldest one.
    absl::erase_if(entries_, [&](const auto& kv) {
      return now - kv.second.last >= config_.forget_after;
    });
    if (entries_.size() >= config_.max_tracked) {
      auto oldest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a,
                                                                          const auto& b) {
        return a.second.last < b.second.last;
      });
      if (oldest != entries_.end()) entries_.erase(oldest);
    }
  }
  int failures = FailuresLocked(key, now);
  Entry& e = entries_[key];
  e.failures = std::min(failures + 1, 1 << 20);
  e.last = now;
}

absl::Duration LoginThrottle::Delay(std::string_view user, std::string_view client,
                                    absl::Time now) {
  absl::MutexLock lock(&mu_);
  int failures = FailuresLocked(absl::StrCat("u:", AV(user)), now);
  if (!client.empty()) {
    failures = std::max(failures, FailuresLocked(absl::StrCat("c:", AV(client)), now));
  }
  return PenaltyFor(failures);
}

void LoginThrottle::RecordFailure(std::string_view user, std::string_view client, absl::Time now) {
  absl::MutexLock lock(&mu_);
  BumpLocked(absl::StrCat("u:", AV(user)), now);
  if (!client.empty()) BumpLocked(absl::StrCat("c:", AV(client)), now);
}

void LoginThrottle::RecordSuccess(std::string_view user, std::string_view client) {
  absl::MutexLock lock(&mu_);
  entries_.erase(absl::StrCat("u:", AV(user)));
  if (!client.empty()) entries_.erase(absl::StrCat("c:", AV(client)));
}

absl::StatusOr<LoginPenaltyConfig> ParseLoginPenaltyConfig(const NodeConfig& config) {
  LoginPenaltyConfig c;
  const toml::table* t = config.Section("auth");
  if (t == nullptr) return c;
  auto read = [&](const char* name, absl::Duration unit, absl::Duration* out) -> absl::Status {
    const toml::node* n = t->get(name);
    if (n == nullptr) return absl::OkStatus();
    std::optional<int64_t> v = n->value<int64_t>();
    if (!v.has_value() || *v < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.path, ": [auth] ", name, " must be a whole number >= 0"));
    }
    *out = unit * *v;
    return absl::OkStatus();
  };
  if (absl::Status s = read("login_penalty_initial_ms", absl::Milliseconds(1), &c.initial);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = read("login_penalty_max_ms", absl::Milliseconds(1), &c.max); !s.ok()) {
    return s;
  }
  if (absl::Status s = read("login_penalty_forget_s", absl::Seconds(1), &c.forget_after);
      !s.ok()) {
    return s;
  }
  if (c.max > absl::ZeroDuration() && c.initial > c.max) {
    return absl::InvalidArgumentError(
        absl::StrCat(config.path, ": [auth] login_penalty_initial_ms exceeds login_penalty_max_ms"));
  }
  return c;
}

}  // namespace pullmail
