// How long a recipient keeps a message body once it holds it: fetched on a
// read or a prefetch (pullmail's recipient node), or received whole (a
// classic SMTP receiver, the simulator's push world), and what it frees once
// its users expunge the mail. Pure; thread-safe.
//
// The rule: a body is kept for as long as the recipient keeps its
// mailboxes, never dropped by age. A read message stays readable: the user
// opened it, and a second read must not depend on the sender still holding
// the body (it drops it at expiry). The recipient node's body cache
// (core/storage RecipientStore::PutBody) is never evicted by age; the
// simulator (sim/pull_world.cc, sim/push_world.cc), where nobody deletes
// mail, keeps every body to the end of the run in both worlds, so that
// recipient storage compares like for like.
//
// Once no mailbox entry refers to it any more (every copy EXPUNGEd, or its
// folders deleted), the space goes back (DecideRelease), as a real mail
// system frees expunged mail:
//
// - A cached body is keyed by core's BodyCacheKey (body_cache_key.h): an
//   accepted notification's body is shared by every notification of that
//   hash from that signing domain, whoever its users; an APPENDed copy's by
//   every copy of that hash its owner stored. The body goes only when no
//   entry of any user refers to any row with the same key: one user's
//   EXPUNGE never takes a body that another's unread (or read) copy still
//   needs. The store checks that and deletes in one transaction, serialised
//   with every write that can add a reference (RecipientStore::
//   ReleaseUnreferenced), so a concurrent COPY/MOVE (it needs a referring
//   entry, which the check sees, before or after the move) or a new
//   notification (seen, or arriving after the body went: its read fetches
//   again) never finds a dangling key. An APPEND stores its body before its
//   row and confirms it after (RecipientStore::ConfirmBody): a pass that
//   dropped an older copy's body in between is seen and the body written
//   again. A fetch that finishes after a pass looked at its (expunged) copy
//   queues the row again (RecipientStore::RequeueUnreferenced), so that its
//   body does not stay behind.
// - An APPENDed copy's row goes with its last entry: nothing outside this
//   node knows its id (it was never sent), nothing can deliver it again.
// - An accepted notification's row stays, without its body, until its
//   expiry plus the clock skew a replica may have (RowKeptUntil), then goes.
//   While it stays it is what makes a sender's re-delivery of the same
//   notification a duplicate (acknowledged, stored once, never shown again:
//   a retry after a lost ack must not bring deleted mail back), and what a
//   revocation, a spam report or a trusted peer's report finds ("held here"
//   judges the signing domain, not only the body). Once it has expired the
//   acceptor refuses that notification anyway (expires > now), the sender
//   has dropped the body, and nothing else asks for the row. Its rows of
//   user reports and counted reads go with it (the spam policy's counts
//   live in its own state and stay). QRESYNC's VANISHED does not need it:
//   removed UIDs are kept per folder, apart from the rows.
//
// Work per pass is bounded (kReleaseBatch rows per transaction,
// kReleasePerPass per maintenance pass), so a mass expunge is freed over a
// few passes rather than holding the store's writer for long.
#ifndef PULLMAIL_CORE_LOGIC_BODY_RETENTION_H_
#define PULLMAIL_CORE_LOGIC_BODY_RETENTION_H_

#include <cstddef>
#include <optional>

#include "absl/time/time.h"

namespace pullmail {

// When a body stored at `stored` may be dropped by age: never (nullopt).
std::optional<absl::Time> RecipientBodyDropTime(absl::Time stored);

// What the store knows about one notification row that lost a mailbox
// entry, when the release pass looks at it.
struct ReleaseFacts {
  bool local = false;           // a user's own copy (IsLocalBody: APPEND)
  absl::Time expires;           // the notification's expiry (local: never)
  bool has_entries = false;     // an entry of any user still refers to this row
  bool body_cached = false;     // its BodyCacheKey is in the body cache
  // Some entry (of any user, any folder) refers to a row with the same
  // BodyCacheKey, this row included. Only asked when the body is cached
  // and this row has no entries.
  bool key_referenced = false;
};

struct ReleaseDecision {
  bool drop_body = false;  // delete the cached body under the row's key
  bool drop_row = false;   // delete the row (its reports and read marks)
  // The row stays: look at it again then (the store keeps it queued).
  // nullopt with drop_row false: forget it (it is referenced again).
  std::optional<absl::Time> revisit;
};

// The rule above for one row at `now`.
ReleaseDecision DecideRelease(const ReleaseFacts& facts, absl::Time now);

// Until when an accepted notification's row is kept once it has no entry:
// its expiry plus limits::kMaxClockSkewMs (a replica whose clock is behind
// would still accept a re-delivery until then).
absl::Time RowKeptUntil(absl::Time expires);

// Rows looked at per store transaction, and per maintenance pass.
inline constexpr size_t kReleaseBatch = 128;
inline constexpr size_t kReleasePerPass = 4096;

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_BODY_RETENTION_H_
