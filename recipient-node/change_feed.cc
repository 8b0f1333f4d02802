// The recipient node's change tracker: see change_feed.h.
#include "recipient-node/change_feed.h"

#include <chrono>
#include <limits>
#include <utility>

#include "core/storage/types.h"

namespace pullmail {
namespace {

std::string FolderKey(std::string_view folder) {
  return NormalizeFolderName(folder.empty() ? std::string_view(kInbox) : folder);
}

}  // namespace

std::unique_ptr<ChangeFeed::Subscription> ChangeFeed::Subscribe(const std::string& user,
                                                                std::string_view folder) {
  std::string name = FolderKey(folder);
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
  const std::string name = FolderKey(folder);
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

uint64_t ChangeFeed::readings() const {
  std::lock_guard<std::mutex> lock(mu_);
  return readings_;
}

uint64_t ChangeFeed::shared() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shared_;
}

void ChangeFeed::Trim(Entry& e) {
  while (!e.log.empty() && (e.log.front().unread <= 0 || e.log.size() > kMaxLog)) {
    e.log.pop_front();
  }
}

ChangeFeed::Subscription::~Subscription() {
  if (started_) {
    std::lock_guard<std::mutex> read_lock(entry_->read_mu);
    const uint64_t begin = entry_->log_end - entry_->log.size();
    for (uint64_t i = std::max(next_, begin); i < entry_->log_end; ++i) {
      --entry_->log[i - begin].unread;
    }
    --entry_->started;
    Trim(*entry_);
  }
  feed_->Unsubscribe(user_, folder_);
}

uint64_t ChangeFeed::Subscription::Version() {
  std::lock_guard<std::mutex> lock(feed_->mu_);
  return entry_->version;
}

absl::Status ChangeFeed::Subscription::Start(Loader load) {
  std::lock_guard<std::mutex> read_lock(entry_->read_mu);
  if (!entry_->primed) {
    // Every change counted up to here has committed before its Notify: the
    // reading includes them all.
    const uint64_t now = Version();
    absl::StatusOr<FolderChanges> c = load(std::numeric_limits<int64_t>::max());
    if (!c.ok()) return c.status();
    entry_->cursor = StartWatch(*c);
    entry_->name = c->folder.name;
    entry_->processed = now;
    entry_->primed = true;
    std::lock_guard<std::mutex> lock(feed_->mu_);
    ++feed_->readings_;
  }
  // Changes counted but not read yet are read by the next Next: this stream
  // gets their events too (they may have come after its client's listing).
  seen_ = entry_->processed;
  next_ = entry_->log_end;
  ++entry_->started;
  started_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::WatchEvent>> ChangeFeed::Subscription::Next(absl::Duration timeout,
                                                                           Loader load) {
  uint64_t version;
  {
    std::unique_lock<std::mutex> lock(feed_->mu_);
    entry_->cv.wait_for(lock, absl::ToChronoMicroseconds(timeout),
                        [&] { return entry_->version != seen_; });
    version = entry_->version;
  }
  std::vector<v1::WatchEvent> out;
  if (version == seen_) return out;
  seen_ = version;
  std::lock_guard<std::mutex> read_lock(entry_->read_mu);
  Entry& e = *entry_;
  if (e.processed < version) {
    // Nobody has read this change yet: read what changed since the last
    // reading, for every stream of the folder.
    const uint64_t now = Version();
    absl::StatusOr<FolderChanges> c = load(e.cursor.modseq);
    if (!c.ok()) return c.status();
    for (v1::WatchEvent& ev : WatchEvents(*c, e.name, &e.cursor)) {
      e.log.push_back({std::move(ev), e.started});
      ++e.log_end;
    }
    e.processed = now;
    std::lock_guard<std::mutex> lock(feed_->mu_);
    ++feed_->readings_;
  } else {
    std::lock_guard<std::mutex> lock(feed_->mu_);
    ++feed_->shared_;
  }
  const uint64_t begin = e.log_end - e.log.size();
  if (next_ < begin) {
    // Fallen behind the log: something changed that this stream cannot
    // name any more; its client re-reads the folder.
    v1::WatchEvent ev;
    ev.set_folder(e.name);
    ev.set_kind("expunge");
    ev.set_messages(e.cursor.messages);
    out.push_back(std::move(ev));
    next_ = begin;
  }
  for (uint64_t i = next_; i < e.log_end; ++i) {
    out.push_back(e.log[i - begin].event);
    --e.log[i - begin].unread;
  }
  next_ = e.log_end;
  Trim(e);
  return out;
}

}  // namespace pullmail
