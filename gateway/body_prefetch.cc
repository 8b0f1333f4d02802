// Concurrent read-ahead of FETCH bodies (see body_prefetch.h).
#include "gateway/body_prefetch.h"

#include <algorithm>

namespace pullmail::gateway {

BodyPrefetch::BodyPrefetch(ReadFn read, std::vector<Item> items, size_t window,
                           uint64_t max_bytes_ahead)
    : read_(std::move(read)),
      items_(std::move(items)),
      window_(std::max<size_t>(window, 1)),
      max_bytes_ahead_(max_bytes_ahead),
      pending_(items_.size()) {}

BodyPrefetch::~BodyPrefetch() {
  for (size_t i = taken_; i < next_; ++i) {
    if (pending_[i].valid()) pending_[i].wait();
  }
}

void BodyPrefetch::Launch(size_t i) {
  // Bytes of bodies started and not yet taken: what read-ahead holds.
  uint64_t ahead = 0;
  for (size_t j = i; j < next_; ++j) ahead += items_[j].size;
  while (next_ < items_.size() && next_ - i < window_) {
    bool must = next_ == i;  // the item being taken is read whatever its size
    if (!must && ahead + items_[next_].size > max_bytes_ahead_) break;
    ahead += items_[next_].size;
    uint32_t uid = items_[next_].uid;
    pending_[next_] = std::async(std::launch::async, [this, uid] { return read_(uid); });
    ++next_;
  }
}

absl::StatusOr<BodyPrefetch::Result> BodyPrefetch::Take(size_t i) {
  // Items skipped since the last Take: let their reads finish (their results
  // are dropped); the destructor would wait for them anyway.
  for (; taken_ < i; ++taken_) {
    if (taken_ < next_ && pending_[taken_].valid()) pending_[taken_].wait();
  }
  if (next_ <= i) next_ = i;  // never start what was skipped
  Launch(i);
  taken_ = i + 1;
  return pending_[i].get();
}

}  // namespace pullmail::gateway
