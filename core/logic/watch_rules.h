// The Watch stream's rules (MailboxService.Watch, what IMAP IDLE rests on):
// which events a watched folder's changes make, and when a watcher whose
// stream ended opens it again. Pure; thread-safe (no state of its own).
// Called by recipient-node/services.cc (Watch) and gateway/imap_session.cc
// (Watcher).
//
//   events   A stream keeps a cursor: the last UID it announced (or that was
//            there when it started), the folder's HIGHESTMODSEQ and visible
//            count as last read. What changed since (the store's
//            FolderChanges above the cursor's modseq) makes, in this order:
//              "expunge"  once, if a UID left the folder (any UID: a session
//                         may have listed one the stream never announced),
//                         or a message at or below the cursor's UID became
//                         invisible (held, revoked);
//              "flags"    once, if a message at or below the cursor's UID
//                         changed and is still visible;
//              "exists"   one per message above the cursor's UID that is
//                         visible, ascending (a held copy's arrival is no
//                         news to its user);
//            and nothing at all if none of these happened. A folder whose
//            UIDVALIDITY changed (deleted and made again) gives one
//            "expunge" and a fresh cursor. Every event carries the folder's
//            visible count as read with the changes (WatchEvent.messages): a
//            hint for the client, which may already include later changes.
//   reopen   A watcher opens its stream again when it ends, whatever the
//            reason: at once after a stream that opened (the node answered;
//            it ended by its deadline, a node restart or a failover), else
//            after a back-off that doubles from kWatchReopenFirst up to
//            kWatchReopenMax with each failure in a row. A stream lives at
//            most kWatchStreamLife (its deadline), so that a node that
//            vanished without closing the connection is noticed.
#ifndef PULLMAIL_CORE_LOGIC_WATCH_RULES_H_
#define PULLMAIL_CORE_LOGIC_WATCH_RULES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/storage/recipient_store.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

// Where a Watch stream stands in its folder.
struct WatchCursor {
  uint32_t uid_validity = 0;
  uint32_t last_uid = 0;    // the highest UID announced or there at the start
  uint64_t modseq = 0;      // the folder's HIGHESTMODSEQ as last read
  uint32_t messages = 0;    // visible messages as last read
};

// The folder's visible messages (core's VisibleToUser over its counts).
uint32_t VisibleMessages(const FolderChanges& now);

// The cursor of a stream that starts on the folder as `now` shows it
// (its changes are not news).
WatchCursor StartWatch(const FolderChanges& now);

// The events for `changes` (the folder's changes above cursor->modseq, as
// RecipientStore::ListFolderChanges reads them), in the order above, each
// named `folder`; moves *cursor past them.
std::vector<v1::WatchEvent> WatchEvents(const FolderChanges& changes, const std::string& folder,
                                        WatchCursor* cursor);

// The initial metadata key a node sends once a Watch stream is set up (its
// value is "1"): the watcher then knows the stream opened before any event
// comes, and that changes from then on will be announced.
inline constexpr std::string_view kWatchOpenMetadata = "pullmail-watch-open";

inline constexpr absl::Duration kWatchReopenFirst = absl::Milliseconds(250);
inline constexpr absl::Duration kWatchReopenMax = absl::Seconds(8);
inline constexpr absl::Duration kWatchStreamLife = absl::Minutes(10);

// How long a watcher waits before opening its stream again, after
// `failures` attempts in a row that did not open (0: the last one opened).
absl::Duration WatchReopenDelay(int failures);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_WATCH_RULES_H_
