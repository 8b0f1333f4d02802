// KnownRecipients (see known_recipients.h).
#include "core/logic/known_recipients.h"

#include "core/util/strings.h"

namespace pullmail {

KnownRecipients::KnownRecipients(absl::Duration ttl, size_t max_entries)
    : ttl_(ttl), max_entries_(max_entries) {}

bool KnownRecipients::Known(std::string_view address, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = until_.find(AV(address));
  return it != until_.end() && now < it->second;
}

void KnownRecipients::Confirmed(std::string_view address, absl::Time now) {
  if (ttl_ <= absl::ZeroDuration() || max_entries_ == 0) return;
  absl::MutexLock lock(&mu_);
  const absl::Time until = now + ttl_;
  until_[std::string(address)] = until;
  order_.emplace_back(std::string(address), until);
  // Forget the oldest entries past the bound. An address confirmed again has
  // older places in order_ too: those are skipped (their until differs).
  while (until_.size() > max_entries_ || order_.size() > 2 * max_entries_) {
    auto [oldest, when] = std::move(order_.front());
    order_.pop_front();
    auto it = until_.find(oldest);
    if (it != until_.end() && it->second == when) until_.erase(it);
  }
}

size_t KnownRecipients::size() {
  absl::MutexLock lock(&mu_);
  return until_.size();
}

}  // namespace pullmail
