// The Watch stream's rules (watch_rules.h): events from a folder's changes,
// the count they carry, and the reopen back-off.
#include "core/logic/watch_rules.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pullmail {
namespace {

MailboxEntry Entry(uint32_t uid, uint64_t modseq, EntryState state = EntryState::kShown) {
  MailboxEntry e;
  e.user = "bob@b.example";
  e.folder = "INBOX";
  e.uid = uid;
  e.modseq = modseq;
  e.state = state;
  return e;
}

// A folder of `shown` visible and `held` invisible messages.
FolderChanges Folder(uint32_t uid_next, uint64_t modseq, uint32_t shown, uint32_t held = 0,
                     uint32_t validity = 7) {
  FolderChanges c;
  c.folder.name = "INBOX";
  c.folder.uid_validity = validity;
  c.folder.uid_next = uid_next;
  c.folder.highest_modseq = modseq;
  c.by_state.push_back({EntryState::kShown, shown, 0});
  if (held > 0) c.by_state.push_back({EntryState::kHeld, held, held});
  return c;
}

std::vector<std::string> Kinds(const std::vector<v1::WatchEvent>& events) {
  std::vector<std::string> out;
  for (const v1::WatchEvent& e : events) {
    out.push_back(e.uid() > 0 ? e.kind() + ":" + std::to_string(e.uid()) : e.kind());
  }
  return out;
}

TEST(WatchRulesTest, StartCountsOnlyVisibleMessages) {
  WatchCursor c = StartWatch(Folder(11, 40, 8, 2));
  EXPECT_EQ(c.last_uid, 10u);
  EXPECT_EQ(c.modseq, 40u);
  EXPECT_EQ(c.messages, 8u);
  EXPECT_EQ(c.uid_validity, 7u);
}

TEST(WatchRulesTest, NewVisibleMessagesAreExistsInUidOrderWithTheCountAfter) {
  WatchCursor c = StartWatch(Folder(4, 10, 3));
  FolderChanges now = Folder(7, 13, 5, 1);
  now.changed = {Entry(4, 11), Entry(5, 12, EntryState::kHeld), Entry(6, 13)};
  std::vector<v1::WatchEvent> ev = WatchEvents(now, "INBOX", &c);
  EXPECT_EQ(Kinds(ev), (std::vector<std::string>{"exists:4", "exists:6"}));
  for (const v1::WatchEvent& e : ev) {
    EXPECT_EQ(e.messages(), 5u);  // the whole folder's visible count, not the new ones'
    EXPECT_EQ(e.folder(), "INBOX");
  }
  EXPECT_EQ(c.last_uid, 6u);
  EXPECT_EQ(c.modseq, 13u);
  EXPECT_EQ(c.messages, 5u);
}

// The defect this replaces: after a first event, every later change was
// compared with the count of new messages only, so an expunge came out as
// "flags" and a flag change as "expunge".
TEST(WatchRulesTest, KindsStayRightAfterEarlierEvents) {
  WatchCursor c = StartWatch(Folder(4, 10, 3));
  FolderChanges one = Folder(5, 11, 4);
  one.changed = {Entry(4, 11)};
  EXPECT_EQ(Kinds(WatchEvents(one, "INBOX", &c)), (std::vector<std::string>{"exists:4"}));

  FolderChanges flag = Folder(5, 12, 4);
  flag.changed = {Entry(2, 12)};
  std::vector<v1::WatchEvent> ev = WatchEvents(flag, "INBOX", &c);
  EXPECT_EQ(Kinds(ev), (std::vector<std::string>{"flags"}));
  EXPECT_EQ(ev[0].messages(), 4u);

  FolderChanges gone = Folder(5, 13, 3);
  gone.expunged = {3};
  ev = WatchEvents(gone, "INBOX", &c);
  EXPECT_EQ(Kinds(ev), (std::vector<std::string>{"expunge"}));
  EXPECT_EQ(ev[0].messages(), 3u);

  FolderChanges again = Folder(5, 14, 2);
  again.expunged = {1};
  EXPECT_EQ(Kinds(WatchEvents(again, "INBOX", &c)), (std::vector<std::string>{"expunge"}));
  EXPECT_EQ(c.messages, 2u);
}

TEST(WatchRulesTest, NothingVisibleChangedSendsNothing) {
  WatchCursor c = StartWatch(Folder(4, 10, 3));
  // No change at all (another folder's change never wakes the stream, but a
  // store call that changed nothing may).
  EXPECT_TRUE(WatchEvents(Folder(4, 10, 3), "INBOX", &c).empty());
  // A held copy arrives: invisible, so no news; its UID is passed over.
  FolderChanges held = Folder(5, 11, 3, 1);
  held.changed = {Entry(4, 11, EntryState::kHeld)};
  EXPECT_TRUE(WatchEvents(held, "INBOX", &c).empty());
  EXPECT_EQ(c.last_uid, 4u);
  EXPECT_EQ(c.modseq, 11u);
}

TEST(WatchRulesTest, HidingAnAnnouncedMessageIsAnExpunge) {
  WatchCursor c = StartWatch(Folder(4, 10, 3));
  FolderChanges revoked = Folder(4, 11, 2, 1);
  revoked.changed = {Entry(2, 11, EntryState::kRevoked)};
  EXPECT_EQ(Kinds(WatchEvents(revoked, "INBOX", &c)), (std::vector<std::string>{"expunge"}));
}

TEST(WatchRulesTest, AnyUidThatLeftIsAnExpungeEvenOneNeverAnnounced) {
  // APPEND then EXPUNGE between two reads: another session may have listed
  // UID 4 meanwhile, so its leaving is news.
  WatchCursor c = StartWatch(Folder(4, 10, 3));
  FolderChanges both = Folder(5, 12, 3);
  both.expunged = {4};
  EXPECT_EQ(Kinds(WatchEvents(both, "INBOX", &c)), (std::vector<std::string>{"expunge"}));
  EXPECT_EQ(c.last_uid, 4u);
}

TEST(WatchRulesTest, EveryKindAtOnceInOrder) {
  WatchCursor c = StartWatch(Folder(4, 10, 3));
  FolderChanges all = Folder(6, 15, 4);
  all.expunged = {1};
  all.changed = {Entry(2, 12), Entry(5, 15), Entry(4, 14)};
  EXPECT_EQ(Kinds(WatchEvents(all, "INBOX", &c)),
            (std::vector<std::string>{"expunge", "flags", "exists:4", "exists:5"}));
}

TEST(WatchRulesTest, ANewUidValidityStartsOver) {
  WatchCursor c = StartWatch(Folder(40, 100, 30));
  FolderChanges fresh = Folder(2, 3, 1, 0, /*validity=*/8);
  std::vector<v1::WatchEvent> ev = WatchEvents(fresh, "Drafts", &c);
  EXPECT_EQ(Kinds(ev), (std::vector<std::string>{"expunge"}));
  EXPECT_EQ(ev[0].folder(), "Drafts");
  EXPECT_EQ(c.uid_validity, 8u);
  EXPECT_EQ(c.last_uid, 1u);
  EXPECT_EQ(c.modseq, 3u);
}

TEST(WatchRulesTest, ReopenBackOffDoublesToItsCap) {
  EXPECT_EQ(WatchReopenDelay(0), absl::ZeroDuration());
  EXPECT_EQ(WatchReopenDelay(1), kWatchReopenFirst);
  EXPECT_EQ(WatchReopenDelay(2), 2 * kWatchReopenFirst);
  EXPECT_EQ(WatchReopenDelay(3), 4 * kWatchReopenFirst);
  EXPECT_EQ(WatchReopenDelay(6), kWatchReopenMax);
  EXPECT_EQ(WatchReopenDelay(1000000), kWatchReopenMax);
  EXPECT_GT(kWatchStreamLife, kWatchReopenMax);
}

}  // namespace
}  // namespace pullmail
