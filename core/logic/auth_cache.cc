// The login cache (auth_cache.h).
#include "core/logic/auth_cache.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/crypto/sha256.h"

namespace pullmail {
namespace {

// Tokens are not used in their last minute: a session may start with it.
constexpr absl::Duration kTokenMargin = absl::Minutes(1);

}  // namespace

AuthCache::AuthCache(std::string secret, absl::Duration ttl, size_t max_entries)
    : secret_(std::move(secret)), ttl_(ttl), max_entries_(max_entries) {}

std::string AuthCache::Key(std::string_view user, std::string_view password) const {
  // Length-prefixed fields: ("ab", "c") and ("a", "bc") differ.
  Sha256Hasher h;
  h.Update(secret_);
  h.Update(absl::StrCat(user.size(), ":"));
  h.Update(user);
  h.Update(absl::StrCat(password.size(), ":"));
  h.Update(password);
  return h.Finish();
}

std::optional<std::string> AuthCache::Lookup(std::string_view user, std::string_view password,
                                             absl::Time now) {
  if (max_entries_ == 0) return std::nullopt;
  std::string key = Key(user, password);
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (now >= it->second.until) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.token;
}

void AuthCache::Insert(std::string_view user, std::string_view password, std::string token,
                       absl::Time token_expires, absl::Time now) {
  if (max_entries_ == 0) return;
  absl::Time until = std::min(now + ttl_, token_expires - kTokenMargin);
  if (until <= now) return;
  std::string key = Key(user, password);
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= max_entries_ && !entries_.count(key)) {
    // Expired ones first, then the oldest.
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = now >= it->second.until ? entries_.erase(it) : std::next(it);
    }
    while (entries_.size() >= max_entries_) {
      auto oldest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
        return a.second.inserted < b.second.inserted;
      });
      entries_.erase(oldest);
    }
  }
  entries_[key] = Entry{std::string(user), std::move(token), until, now};
}

void AuthCache::Forget(std::string_view user) {
  absl::MutexLock lock(&mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.user == user ? entries_.erase(it) : std::next(it);
  }
}

size_t AuthCache::size() {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace pullmail
