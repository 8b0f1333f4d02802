// The recipient node's change tracker: wakes the Watch streams (IMAP IDLE
// behind the gateway) of one user's folder when that folder changes, and
// lets the streams woken by one change share one reading of the folder.
//
// Every mailbox change calls Notify(user, folder) after its commit (a move
// calls it for both folders); a change whose folders are not known here
// (another replica's NOTIFY, recipient-node/replica_changes.cc) calls
// NotifyUser, which wakes every stream of that user. A change to a folder
// nobody watches costs one map lookup and wakes nobody; one to a watched
// folder wakes only its streams. What a woken stream sends is core's rule
// (core/logic/watch_rules.h).
//
// Thread-safe. State exists only while a stream is subscribed: a folder's
// counter is dropped with its last subscription, so memory follows the
// number of open streams, not of users or folders.
#ifndef PULLMAIL_RECIPIENT_NODE_CHANGE_FEED_H_
#define PULLMAIL_RECIPIENT_NODE_CHANGE_FEED_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/storage/recipient_store.h"

namespace pullmail {

class ChangeFeed {
 public:
  ChangeFeed() = default;
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

 private:
  struct Entry;

 public:
  // One stream's interest in one folder. Must not outlive the feed; used by
  // one thread at a time.
  class Subscription {
   public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

    // The folder's change counter now (it only grows).
    uint64_t Version();
    // Waits until the counter differs from `seen` or `timeout` passes;
    // returns it.
    uint64_t Wait(uint64_t seen, absl::Duration timeout);
    // The folder's changes above `from_modseq`, read after change `version`
    // (a value Version or Wait returned) had happened: `load` reads them,
    // unless another stream of this folder read them from the same modseq
    // since that change, in which case its reading is shared (the streams
    // one change wakes read the folder once between them). Readings are
    // serialised per folder.
    absl::StatusOr<std::shared_ptr<const FolderChanges>> Read(
        uint64_t version, uint64_t from_modseq,
        absl::FunctionRef<absl::StatusOr<FolderChanges>()> load);

   private:
    friend class ChangeFeed;
    Subscription(ChangeFeed* feed, std::string user, std::string folder, Entry* entry)
        : feed_(feed), user_(std::move(user)), folder_(std::move(folder)), entry_(entry) {}
    ChangeFeed* feed_;
    std::string user_, folder_;
    Entry* entry_;
  };

  // Subscribes to `folder` (normalised: "inbox" is INBOX; "" is INBOX).
  std::unique_ptr<Subscription> Subscribe(const std::string& user, std::string_view folder);
  // A committed change to one of the user's folders.
  void Notify(const std::string& user, std::string_view folder);
  // A committed change to the user's mailbox, folders unknown: every
  // folder of the user counts as changed.
  void NotifyUser(const std::string& user);

  // How many readings Read shared instead of loading, and how many it
  // loaded (for tests and metrics).
  uint64_t shared_readings() const;
  uint64_t loaded_readings() const;

 private:
  struct Entry {
    int subscribers = 0;    // guarded by mu_
    uint64_t version = 0;   // guarded by mu_
    std::condition_variable cv;
    // The last reading, for Read; guarded by read_mu.
    std::mutex read_mu;
    uint64_t read_version = 0, read_from = 0;
    std::shared_ptr<const FolderChanges> reading;
  };
  void Unsubscribe(const std::string& user, const std::string& folder);

  mutable std::mutex mu_;
  // user -> folder -> entry; an entry lives while it has subscribers.
  std::map<std::string, std::map<std::string, std::unique_ptr<Entry>>, std::less<>> users_;
  uint64_t shared_ = 0, loaded_ = 0;  // guarded by mu_
};

}  // namespace pullmail

#endif  // PULLMAIL_RECIPIENT_NODE_CHANGE_FEED_H_
