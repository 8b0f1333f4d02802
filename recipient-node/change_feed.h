// The recipient node's change tracker: wakes the Watch streams (IMAP IDLE
// behind the gateway) of one user's folder when that folder changes, and
// works out each change's events once for all of them.
//
// Every mailbox change calls Notify(user, folder) after its commit (a move
// calls it for both folders); a change whose folders are not known here
// (another replica's NOTIFY, recipient-node/replica_changes.cc) calls
// NotifyUser, which wakes every stream of that user. A change to a folder
// nobody watches costs one map lookup and wakes nobody; one to a watched
// folder wakes only its streams. The first stream to wake reads what
// changed in the folder since the last reading (the store's FolderChanges
// above the folder's cursor: counts, changed entries, removed UIDs), core's
// rule (core/logic/watch_rules.h) makes the events, and they go into the
// folder's log, which every stream of the folder sends from: one reading per
// change (or per burst of changes), however many streams watch.
//
// Thread-safe. State exists only while a stream is subscribed: a folder's
// counter, cursor and log are dropped with its last subscription, so memory
// follows the number of open streams, not of users or folders; a log keeps
// at most kMaxLog events.
#ifndef PULLMAIL_RECIPIENT_NODE_CHANGE_FEED_H_
#define PULLMAIL_RECIPIENT_NODE_CHANGE_FEED_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/logic/watch_rules.h"
#include "core/storage/recipient_store.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

class ChangeFeed {
 public:
  // The most events a folder's log keeps (an event leaves it once every
  // stream has taken it); a stream that falls further behind gets one
  // "expunge" for what it missed (its client re-reads the folder).
  static constexpr size_t kMaxLog = 256;

  // Reads the folder's changes above a modseq (RecipientStore::
  // ListFolderChanges); NotFound if the folder does not exist.
  using Loader = absl::FunctionRef<absl::StatusOr<FolderChanges>(uint64_t from_modseq)>;

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

    // Sets the stream's start: the folder as it is now (read with `load` if
    // no other stream of the folder has read it yet). Changes counted from
    // here on are this stream's events. NotFound if the folder does not
    // exist. Call once, before Next.
    absl::Status Start(Loader load);
    // This stream's events since the last call (or Start), in order: waits
    // up to `timeout` for a change to the folder, reads it (`load`) unless
    // another stream of the folder has, and returns what the log holds for
    // this stream (empty if nothing changed or nothing visible did). A
    // reading's error ends the call with it.
    absl::StatusOr<std::vector<v1::WatchEvent>> Next(absl::Duration timeout, Loader load);
    // The folder's change counter now (it only grows).
    uint64_t Version();

   private:
    friend class ChangeFeed;
    Subscription(ChangeFeed* feed, std::string user, std::string folder, Entry* entry)
        : feed_(feed), user_(std::move(user)), folder_(std::move(folder)), entry_(entry) {}
    ChangeFeed* feed_;
    std::string user_, folder_;
    Entry* entry_;
    bool started_ = false;
    uint64_t seen_ = 0;  // the counter as this stream last looked
    uint64_t next_ = 0;  // the log position of this stream's next event
  };

  // Subscribes to `folder` (normalised: "inbox" is INBOX; "" is INBOX).
  std::unique_ptr<Subscription> Subscribe(const std::string& user, std::string_view folder);
  // A committed change to one of the user's folders.
  void Notify(const std::string& user, std::string_view folder);
  // A committed change to the user's mailbox, folders unknown: every
  // folder of the user counts as changed.
  void NotifyUser(const std::string& user);

  // How many readings the streams made, and how many times a stream found
  // its events already read by another (for tests and metrics).
  uint64_t readings() const;
  uint64_t shared() const;

 private:
  struct Entry {
    int subscribers = 0;   // guarded by mu_
    uint64_t version = 0;  // guarded by mu_
    std::condition_variable cv;
    // The folder's reading state; guarded by read_mu (taken before mu_).
    std::mutex read_mu;
    bool primed = false;       // cursor set by a first reading
    std::string name;          // the folder's name as the store spells it
    WatchCursor cursor;
    uint64_t processed = 0;    // the counter when the last reading started
    int started = 0;           // streams past Start
    struct Logged {
      v1::WatchEvent event;
      int unread;              // started streams that have not taken it
    };
    std::deque<Logged> log;
    uint64_t log_end = 0;      // the position after the log's last event
  };
  // Drops the events every stream has taken, and the oldest beyond kMaxLog.
  static void Trim(Entry& e);
  void Unsubscribe(const std::string& user, const std::string& folder);

  mutable std::mutex mu_;
  // user -> folder -> entry; an entry lives while it has subscribers.
  std::map<std::string, std::map<std::string, std::unique_ptr<Entry>>, std::less<>> users_;
  uint64_t readings_ = 0, shared_ = 0;  // guarded by mu_
};

}  // namespace pullmail

#endif  // PULLMAIL_RECIPIENT_NODE_CHANGE_FEED_H_
