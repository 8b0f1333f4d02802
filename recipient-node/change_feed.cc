// The recipient node's change tracker: see change_feed.h.
#include "recipient-node/change_feed.h"

#include <chrono>
#include <utility>

#include "core/storage/types.h"

namespace pullmail {

std::unique_ptr<ChangeFeed::Subscription> ChangeFeed::Subscribe(const std::string& user,
                                                                std::string_view folder) {
  std::string name = NormalizeFolderName(folder.empty() ? std::string_view(kInbox) : folder);
  std::lock_guard<std::mutex> lock(mu_);
  std::unique_ptr<Entry>& e = users_[user][name];
  if (e == nullptr) e = std::make_unique<Entry>();
  ++e->subscribers;
  return std::unique_ptr<Subscription>(new Subscription(this, user, std::move(name), e.get()));
}

void ChangeFeed::Unsubscribe(const std::string& user, const std::string& folder) {
  std::lock_guard<std::mutex> lock(mu_);
  auto u = users_.find(user);
  if (u == users_.end()) return;
  auto f = u->second.find(folder);
  if (f == u->second.end() || --f->second->subscribers > 0) return;
  u->second.erase(f);
  if (u->second.empty()) users_.erase(u);
}

void ChangeFeed::Notify(const std::string& user, std::string_view folder) {
  const std::string name = NormalizeFolderName(folder.empty() ? std::string_view(kInbox) : folder);
  std::lock_guard<std::mutex> lock(mu_);
  auto u = users_.find(user);
  if (u == users_.end()) return;
  auto f = u->second.find(name);
  if (f == u->second.end()) return;
  ++f->second->version;
  f->second->cv.notify_all();
}

void ChangeFeed::NotifyUser(const std::string& user) {
  std::lock_guard<std::mutex> lock(mu_);
  auto u = users_.find(user);
  if (u == users_.end()) return;
  for (auto& [name, e] : u->second) {
    ++e->version;
    e->cv.notify_all();
  }
}

uint64_t ChangeFeed::shared_readings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shared_;
}

uint64_t ChangeFeed::loaded_readings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return loaded_;
}

ChangeFeed::Subscription::~Subscription() { feed_->Unsubscribe(user_, folder_); }

uint64_t ChangeFeed::Subscription::Version() {
  std::lock_guard<std::mutex> lock(feed_->mu_);
  return entry_->version;
}

uint64_t ChangeFeed::Subscription::Wait(uint64_t seen, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(feed_->mu_);
  entry_->cv.wait_for(lock, absl::ToChronoMicroseconds(timeout),
                      [&] { return entry_->version != seen; });
  return entry_->version;
}

absl::StatusOr<std::shared_ptr<const FolderChanges>> ChangeFeed::Subscription::Read(
    uint64_t version, uint64_t from_modseq,
    absl::FunctionRef<absl::StatusOr<FolderChanges>()> load) {
  std::lock_guard<std::mutex> read_lock(entry_->read_mu);
  if (entry_->reading != nullptr && entry_->read_from == from_modseq &&
      entry_->read_version >= version) {
    std::lock_guard<std::mutex> lock(feed_->mu_);
    ++feed_->shared_;
    return entry_->reading;
  }
  // Every change counted up to here has committed before its Notify: this
  // reading includes them all.
  const uint64_t now = Version();
  absl::StatusOr<FolderChanges> read = load();
  if (!read.ok()) return read.status();
  entry_->reading = std::make_shared<const FolderChanges>(*std::move(read));
  entry_->read_version = now;
  entry_->read_from = from_modseq;
  {
    std::lock_guard<std::mutex> lock(feed_->mu_);
    ++feed_->loaded_;
  }
  return entry_->reading;
}

}  // namespace pullmail
