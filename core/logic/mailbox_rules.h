// The recipient's mailbox rules: what the spam policy's decisions, a
// reader's verdict, a sender's revocation and the approach of a body's expiry
// do to the copies in users' mailboxes, and where a reader's report goes.
// Pure; thread-safe. Called by recipient-node/ (suppression.cc, mailbox.cc,
// recipient_node.cc) for its stored copies and by the simulator
// (sim/pull_world.cc) for its modelled ones, so that both move the same
// copies (tests/parity checks it copy by copy).
//
// The rules, in the words of docs/PROTOCOL.md section 7:
//   placement   a new copy, and a held copy on review, goes where core's
//               SpamPolicy decision says: shown -> INBOX, held -> INBOX but
//               invisible, suppressed -> Junk with the policy's reason;
//   suppression a body newly suppressed moves every copy that is unread,
//               not in Junk, not revoked and not the user's own (APPEND) to
//               Junk, held copies included; a reader who read it keeps it;
//   verdict     the reporter's own copy goes where the verdict says (spam ->
//               Junk, not spam -> INBOX), counted or not;
//   revocation  hides every unread copy not already hidden; read copies stay;
//   reads       a reader's first read of an unread copy that is not their own
//               counts for the sender's reputation, once per user and
//               message: a BODY.PEEK read again, or \Seen cleared and the
//               copy read again, counts no more (the store keeps the mark);
//   visibility  held and revoked copies are invisible to their user (a read,
//               a report or a search finds nothing);
//   prefetch    a shown, unread, unrevoked copy of a body not cached here is
//               pinned once its expiry is within the margin and not past;
//   fan-out     a counted report goes to every trusted peer but this node,
//               and as an abuse report to the signing domain's sender node
//               (unless the message is this domain's own).
#ifndef PULLMAIL_CORE_LOGIC_MAILBOX_RULES_H_
#define PULLMAIL_CORE_LOGIC_MAILBOX_RULES_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "core/policy/spam_policy.h"
#include "core/storage/types.h"

namespace pullmail {

inline constexpr std::string_view kJunkFolder = "Junk";

// What the rules look at about one copy. Built from a MailboxEntry by
// CopyOf, or by the simulator from its model.
struct CopyFacts {
  EntryState state = EntryState::kShown;
  bool seen = false;       // \Seen set (core/mail/flags.h)
  bool in_junk = false;    // in the Junk folder
  bool local = false;      // the user's own copy (APPEND): not incoming mail
};
CopyFacts CopyOf(const MailboxEntry& e, bool local);

// Where a copy goes, and in which state, for a policy decision.
struct Placement {
  std::string folder;
  EntryState state = EntryState::kShown;
  std::string reason;  // empty for shown copies
};
Placement PlacementFor(const Decision& d);

// True when a newly suppressed body moves this copy to Junk.
bool SuppressionMoves(const CopyFacts& c);

// True when the maintenance pass, finding a shown copy of a body the policy
// holds suppressed, moves it to Junk: the suppression that should have moved
// it did not run (the node was killed between a report's commit and the
// moves, or a replica placed the copy by a count one pass old). A copy whose
// state is already kSuppressed is one the user moved back out of Junk: it
// stays where the user put it.
bool SuppressionRepairMoves(const CopyFacts& c, bool body_suppressed);

// True when a revocation hides this copy.
bool RevocationHides(const CopyFacts& c);

// True when reading this copy may count for its sender's reputation
// (SpamPolicy::OnRead). It counts if it may and the store has no mark yet
// for this user and message (RecipientStore::IsReadCounted, MarkReadsCounted).
bool ReadMayCount(const CopyFacts& c);

// True when a copy in this state is visible to its user.
bool VisibleToUser(EntryState s);

// Where the reporter's own copy goes after a verdict; nullopt: it stays.
// `local`: the user's own copy (reason text says nothing was reported).
std::optional<Placement> OwnCopyAfterVerdict(std::string_view folder, bool spam, bool local);

// True when a copy's body should be pinned (prefetched) now.
bool ShouldPrefetch(const CopyFacts& c, bool notification_revoked, absl::Time expires,
                    absl::Time now, absl::Duration margin, bool body_cached);

// Where a counted report goes.
struct ReportFanOut {
  std::vector<std::string> peers;  // trusted peers to share it with
  std::string abuse_domain;        // whose sender node gets it as an abuse report
};
ReportFanOut FanOutReport(const std::map<std::string, double>& trusted_peers,
                          std::string_view local_domain, std::string_view signing_domain);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_MAILBOX_RULES_H_
