// The RecipientStore contract, run against every back end; plus SQLite-only
// durability checks (close and reopen).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/imap/imap_mime.h"
#include "core/logic/body_cache_key.h"
#include "core/logic/body_retention.h"
#include "core/storage/memory_store.h"
#include "core/storage/pg_store.h"
#include "core/storage/sqlite_db.h"  // kStoredBodyChunkSize: where the edges are
#include "core/storage/sqlite_store.h"
#include "core/storage/storage_test_util.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

using ::pullmail::testing::Backend;
using ::pullmail::testing::TempDir;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
const std::string kAlice = "alice@r.example";
const std::string kBob = "bob@r.example";

std::string Hash(char c) { return std::string(32, c); }

StoredNotification MakeNotification(const std::string& message_id, char body = 'h',
                                    const std::string& domain = "s.example") {
  StoredNotification n;
  n.signing_domain = domain;
  n.message_id = message_id;
  n.envelope_sender = "sender@" + domain;
  n.signed_bytes = std::string("\x0a\x00signed", 8) + message_id;
  n.body_sha256 = Hash(body);
  n.body_size = 1234;
  n.fetch_token = std::string(32, '\x01');
  n.summary = "summary-" + message_id;
  n.created = kT0;
  n.expires = kT0 + absl::Hours(24);
  n.received = kT0 + absl::Milliseconds(5);
  return n;
}

std::vector<uint32_t> Uids(const std::vector<MailboxEntry>& entries) {
  std::vector<uint32_t> out;
  for (const auto& e : entries) out.push_back(e.uid);
  return out;
}

class RecipientStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kMemory) {
      store_ = NewMemoryRecipientStore();
    } else if (GetParam() == Backend::kPostgres) {
      pg_ = std::make_unique<::pullmail::testing::PgTestSchema>();
      if (!pg_->ok()) GTEST_SKIP() << pg_->skip_reason();
      auto db = OpenPgDb(pg_->url());
      PM_ASSERT_OK(db);
      store_ = NewPgRecipientStore(*std::move(db));
    } else {
      auto s = OpenSqliteRecipientStore(dir_.File("recipient.db"));
      PM_ASSERT_OK(s);
      store_ = *std::move(s);
    }
  }

  // Inserts a notification for `users` into INBOX; returns its result.
  InsertResult Insert(const std::string& message_id, const std::vector<std::string>& users,
                      char body = 'h') {
    auto r = store_->InsertNotification(MakeNotification(message_id, body), users,
                                        EntryState::kShown, "");
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : InsertResult();
  }

  TempDir dir_;
  std::unique_ptr<::pullmail::testing::PgTestSchema> pg_;  // outlives store_
  std::unique_ptr<RecipientStore> store_;
};

// --- Notifications -------------------------------------------------------------

TEST_P(RecipientStoreContract, InsertStoresNotificationAndOneInboxEntryPerUser) {
  StoredNotification n = MakeNotification("m1");
  auto r = store_->InsertNotification(n, {kAlice, kBob}, EntryState::kHeld, "new domain");
  PM_ASSERT_OK(r);
  EXPECT_FALSE(r->duplicate);
  EXPECT_GT(r->notification_id, 0);
  ASSERT_EQ(r->entries.size(), 2u);
  for (const MailboxEntry& e : r->entries) {
    EXPECT_EQ(e.folder, "INBOX");
    EXPECT_EQ(e.uid, 1u);
    EXPECT_EQ(e.notification_id, r->notification_id);
    EXPECT_EQ(e.state, EntryState::kHeld);
    EXPECT_EQ(e.reason, "new domain");
    EXPECT_TRUE(e.flags.empty());
    EXPECT_EQ(e.internal_date, n.received);
  }

  auto got = store_->GetNotification(r->notification_id);
  PM_ASSERT_OK(got);
  EXPECT_EQ(got->id, r->notification_id);
  EXPECT_EQ(got->signing_domain, n.signing_domain);
  EXPECT_EQ(got->message_id, "m1");
  EXPECT_EQ(got->envelope_sender, n.envelope_sender);
  EXPECT_EQ(got->signed_bytes, n.signed_bytes);
  EXPECT_EQ(got->body_sha256, n.body_sha256);
  EXPECT_EQ(got->body_size, n.body_size);
  EXPECT_EQ(got->fetch_token, n.fetch_token);
  EXPECT_EQ(got->summary, n.summary);
  EXPECT_EQ(got->created, n.created);
  EXPECT_EQ(got->expires, n.expires);
  EXPECT_EQ(got->received, n.received);
  EXPECT_FALSE(got->revoked);

  auto entry = store_->GetEntry(kBob, "INBOX", 1);
  PM_ASSERT_OK(entry);
  EXPECT_EQ(entry->user, kBob);
  EXPECT_EQ(entry->state, EntryState::kHeld);
  auto inbox = store_->GetFolder(kAlice, "INBOX");
  PM_ASSERT_OK(inbox);
  EXPECT_EQ(inbox->messages, 1u);
  EXPECT_EQ(inbox->unseen, 1u);
  EXPECT_EQ(inbox->uid_next, 2u);

  PM_EXPECT_CODE(store_->GetNotification(r->notification_id + 100), kNotFound);
}

TEST_P(RecipientStoreContract, DuplicateIsStoredOnce) {
  InsertResult first = Insert("m1", {kAlice});
  StoredNotification again = MakeNotification("m1");
  again.envelope_sender = "changed@s.example";
  auto second = store_->InsertNotification(again, {kAlice, kBob}, EntryState::kShown, "");
  PM_ASSERT_OK(second);
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(second->notification_id, first.notification_id);
  EXPECT_TRUE(second->entries.empty());
  EXPECT_EQ(store_->GetFolder(kAlice, "INBOX")->messages, 1u);
  PM_EXPECT_CODE(store_->GetFolder(kBob, "INBOX"), kNotFound);  // nothing created for bob
  EXPECT_EQ(store_->GetNotification(first.notification_id)->envelope_sender, "sender@s.example");

  // Same message id from another signing domain is a different notification.
  auto other = store_->InsertNotification(MakeNotification("m1", 'h', "t.example"), {kAlice},
                                          EntryState::kShown, "");
  PM_ASSERT_OK(other);
  EXPECT_FALSE(other->duplicate);
  EXPECT_NE(other->notification_id, first.notification_id);

  auto found = store_->FindNotification("s.example", "m1");
  PM_ASSERT_OK(found);
  EXPECT_EQ(found->id, first.notification_id);
  PM_EXPECT_CODE(store_->FindNotification("u.example", "m1"), kNotFound);
  // The id alone, as the intake's duplicate check asks.
  auto id = store_->FindNotificationId("s.example", "m1");
  PM_ASSERT_OK(id);
  EXPECT_EQ(*id, first.notification_id);
  auto other_id = store_->FindNotificationId("t.example", "m1");
  PM_ASSERT_OK(other_id);
  EXPECT_EQ(*other_id, other->notification_id);
  PM_EXPECT_CODE(store_->FindNotificationId("u.example", "m1"), kNotFound);
  PM_EXPECT_CODE(store_->FindNotificationId("s.example", "m2"), kNotFound);
}

TEST_P(RecipientStoreContract, GetNotificationsAnswersEachIdInOrder) {
  InsertResult a = Insert("m1", {kAlice});
  InsertResult b = Insert("m2", {kAlice}, 'y');
  auto got = store_->GetNotifications({b.notification_id, 9999, a.notification_id,
                                       b.notification_id});
  PM_ASSERT_OK(got);
  ASSERT_EQ(got->size(), 4u);
  ASSERT_TRUE((*got)[0].has_value());
  EXPECT_EQ((*got)[0]->message_id, "m2");
  EXPECT_EQ((*got)[0]->id, b.notification_id);
  EXPECT_FALSE((*got)[1].has_value());
  ASSERT_TRUE((*got)[2].has_value());
  EXPECT_EQ((*got)[2]->message_id, "m1");
  EXPECT_EQ((*got)[2]->body_sha256, store_->GetNotification(a.notification_id)->body_sha256);
  ASSERT_TRUE((*got)[3].has_value());
  EXPECT_EQ((*got)[3]->id, b.notification_id);
  auto none = store_->GetNotifications({});
  PM_ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
  // The store still takes writes afterwards (the read transaction ended).
  Insert("m3", {kAlice});
}

TEST_P(RecipientStoreContract, FindNotificationIdsAnswersEachKeyInOrder) {
  auto first = store_->InsertNotification(MakeNotification("m1"), {kAlice}, EntryState::kShown, "");
  PM_ASSERT_OK(first);
  auto other = store_->InsertNotification(MakeNotification("m1", 'h', "t.example"), {kAlice},
                                          EntryState::kShown, "");
  PM_ASSERT_OK(other);
  auto ids = store_->FindNotificationIds({{"t.example", "m1"},
                                          {"s.example", "m2"},
                                          {"s.example", "m1"},
                                          {"u.example", "m1"},
                                          {"s.example", "m1"}});
  PM_ASSERT_OK(ids);
  ASSERT_EQ(ids->size(), 5u);
  EXPECT_EQ((*ids)[0], std::optional<int64_t>(other->notification_id));
  EXPECT_EQ((*ids)[1], std::nullopt);
  EXPECT_EQ((*ids)[2], std::optional<int64_t>(first->notification_id));
  EXPECT_EQ((*ids)[3], std::nullopt);
  EXPECT_EQ((*ids)[4], std::optional<int64_t>(first->notification_id));
  auto none = store_->FindNotificationIds({});
  PM_ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
  // The store still takes writes afterwards (the lookups' read transaction ended).
  PM_ASSERT_OK(store_->InsertNotification(MakeNotification("m3"), {kAlice}, EntryState::kShown, ""));
}

TEST_P(RecipientStoreContract, BatchInsertInOrderWithDuplicatesInsideTheBatch) {
  Insert("m0", {kAlice});
  std::vector<NotificationInsert> batch(4);
  batch[0].notification = MakeNotification("m1");
  batch[0].placements = {{kAlice}, {kBob, "Junk", EntryState::kSuppressed, "spam"}};
  batch[1].notification = MakeNotification("m0");  // stored before
  batch[1].placements = {{kAlice}};
  batch[2].notification = MakeNotification("m2");
  batch[2].placements = {{kAlice}};
  batch[3].notification = MakeNotification("m1");  // earlier in this batch
  batch[3].placements = {{kAlice}};
  auto results = store_->InsertNotifications(batch);
  PM_ASSERT_OK(results);
  ASSERT_EQ(results->size(), 4u);
  EXPECT_FALSE((*results)[0].duplicate);
  EXPECT_TRUE((*results)[1].duplicate);
  EXPECT_FALSE((*results)[2].duplicate);
  EXPECT_TRUE((*results)[3].duplicate);
  EXPECT_EQ((*results)[3].notification_id, (*results)[0].notification_id);
  ASSERT_EQ((*results)[0].entries.size(), 2u);
  EXPECT_EQ((*results)[0].entries[0].uid, 2u);  // alice's INBOX already had m0
  EXPECT_EQ((*results)[0].entries[1].folder, "Junk");
  EXPECT_EQ((*results)[0].entries[1].state, EntryState::kSuppressed);
  EXPECT_EQ((*results)[2].entries[0].uid, 3u);
  EXPECT_EQ(store_->GetFolder(kAlice, "INBOX")->messages, 3u);
  EXPECT_EQ(store_->GetFolder(kBob, "Junk")->messages, 1u);
}

TEST_P(RecipientStoreContract, InvalidBatchStoresNothing) {
  std::vector<NotificationInsert> batch(2);
  batch[0].notification = MakeNotification("m1");
  batch[0].placements = {{kAlice}};
  batch[1].notification = MakeNotification("m2");
  batch[1].placements = {{kAlice, "INBOX"}, {kAlice, "inbox"}};  // same folder twice
  PM_EXPECT_CODE(store_->InsertNotifications(batch), kInvalidArgument);
  batch[1].placements = {{""}};
  PM_EXPECT_CODE(store_->InsertNotifications(batch), kInvalidArgument);
  PM_EXPECT_CODE(store_->FindNotification("s.example", "m1"), kNotFound);
  PM_EXPECT_CODE(store_->GetFolder(kAlice, "INBOX"), kNotFound);
}

// What a local APPEND needs: the entry is born with its flags (sorted,
// unique), in one commit, and counts as seen when \Seen is among them.
TEST_P(RecipientStoreContract, PlacementFlagsAreTheNewEntrysFlags) {
  PM_ASSERT_OK(store_->EnsureFolder(kAlice, "Sent"));
  std::vector<NotificationInsert> batch(1);
  batch[0].notification = MakeNotification("local1");
  EntryPlacement p;
  p.user = kAlice;
  p.folder = "Sent";
  p.flags = {"\\Seen", "$Label1", "\\Seen", "\\Draft"};
  batch[0].placements = {p};
  auto results = store_->InsertNotifications(batch);
  PM_ASSERT_OK(results);
  ASSERT_EQ((*results)[0].entries.size(), 1u);
  const std::vector<std::string> want = {"$Label1", "\\Draft", "\\Seen"};
  EXPECT_EQ((*results)[0].entries[0].flags, want);
  auto e = store_->GetEntry(kAlice, "Sent", (*results)[0].entries[0].uid);
  PM_ASSERT_OK(e);
  EXPECT_EQ(e->flags, want);
  EXPECT_EQ(e->internal_date, TruncateToMicros(batch[0].notification.received));
  auto f = store_->GetFolder(kAlice, "Sent");
  PM_ASSERT_OK(f);
  EXPECT_EQ(f->messages, 1u);
  EXPECT_EQ(f->unseen, 0u);
  // Without flags, as before: no flags, unseen.
  InsertResult plain = Insert("m9", {kAlice});
  ASSERT_EQ(plain.entries.size(), 1u);
  EXPECT_TRUE(plain.entries[0].flags.empty());
  EXPECT_EQ(store_->GetFolder(kAlice, "INBOX")->unseen, 1u);
}

TEST_P(RecipientStoreContract, NotificationsByBodyHashAndRevoke) {
  InsertResult a = Insert("m1", {kAlice}, 'x');
  InsertResult b = Insert("m2", {kBob}, 'x');
  Insert("m3", {kBob}, 'y');
  auto same = store_->NotificationsByBodyHash(Hash('x'));
  PM_ASSERT_OK(same);
  ASSERT_EQ(same->size(), 2u);
  EXPECT_EQ((*same)[0].id, a.notification_id);
  EXPECT_EQ((*same)[1].id, b.notification_id);
  EXPECT_TRUE(store_->NotificationsByBodyHash(Hash('z'))->empty());

  PM_ASSERT_OK(store_->MarkNotificationRevoked(a.notification_id));
  PM_ASSERT_OK(store_->MarkNotificationRevoked(a.notification_id));
  EXPECT_TRUE(store_->GetNotification(a.notification_id)->revoked);
  EXPECT_FALSE(store_->GetNotification(b.notification_id)->revoked);
  PM_EXPECT_CODE(store_->MarkNotificationRevoked(9999), kNotFound);
}

// --- Folders -----------------------------------------------------------------

TEST_P(RecipientStoreContract, FoldersAndUidValidity) {
  auto inbox = store_->EnsureFolder(kAlice, "inbox");  // INBOX is case-insensitive
  PM_ASSERT_OK(inbox);
  EXPECT_EQ(inbox->name, "INBOX");
  EXPECT_EQ(inbox->uid_next, 1u);
  EXPECT_EQ(inbox->messages, 0u);
  auto again = store_->EnsureFolder(kAlice, "INBOX");
  EXPECT_EQ(again->uid_validity, inbox->uid_validity);

  auto work = store_->EnsureFolder(kAlice, "Work");
  auto bob_inbox = store_->EnsureFolder(kBob, "INBOX");
  PM_ASSERT_OK(work);
  PM_ASSERT_OK(bob_inbox);
  std::set<uint32_t> validities = {inbox->uid_validity, work->uid_validity,
                                   bob_inbox->uid_validity};
  EXPECT_EQ(validities.size(), 3u);
  EXPECT_GT(inbox->uid_validity, 0u);

  PM_EXPECT_CODE(store_->GetFolder(kAlice, "work"), kNotFound);  // other names are exact
  auto folders = store_->ListFolders(kAlice);
  PM_ASSERT_OK(folders);
  ASSERT_EQ(folders->size(), 2u);
  EXPECT_EQ((*folders)[0].name, "INBOX");
  EXPECT_EQ((*folders)[1].name, "Work");
  EXPECT_TRUE(store_->ListFolders("nobody@r.example")->empty());

  // A deleted folder's name comes back with a new UIDVALIDITY.
  PM_ASSERT_OK(store_->DeleteFolder(kAlice, "Work"));
  PM_EXPECT_CODE(store_->GetFolder(kAlice, "Work"), kNotFound);
  auto work2 = store_->EnsureFolder(kAlice, "Work");
  PM_ASSERT_OK(work2);
  EXPECT_EQ(validities.count(work2->uid_validity), 0u);
  PM_EXPECT_CODE(store_->DeleteFolder(kAlice, "inbox"), kFailedPrecondition);
  PM_EXPECT_CODE(store_->DeleteFolder(kAlice, "Nope"), kNotFound);
  PM_EXPECT_CODE(store_->EnsureFolder(kAlice, ""), kInvalidArgument);
  PM_EXPECT_CODE(store_->EnsureFolder("", "INBOX"), kInvalidArgument);
}

TEST_P(RecipientStoreContract, DeleteFolderRemovesItsEntries) {
  InsertResult r = Insert("m1", {kAlice});
  PM_ASSERT_OK(store_->EnsureFolder(kAlice, "Old"));
  PM_ASSERT_OK(store_->CopyEntries(kAlice, "INBOX", {1}, "Old", false));
  EXPECT_EQ(store_->EntriesForNotification(r.notification_id)->size(), 2u);
  PM_ASSERT_OK(store_->DeleteFolder(kAlice, "Old"));
  EXPECT_EQ(store_->EntriesForNotification(r.notification_id)->size(), 1u);
  PM_ASSERT_OK(store_->EnsureFolder(kAlice, "Old"));
  EXPECT_EQ(store_->GetFolder(kAlice, "Old")->messages, 0u);
  EXPECT_EQ(store_->GetFolder(kAlice, "Old")->uid_next, 1u);
}

// --- Entries -----------------------------------------------------------------

TEST_P(RecipientStoreContract, UidsAscendAndAreNeverReusedAfterExpunge) {
  for (int i = 1; i <= 3; ++i) Insert(absl::StrCat("m", i), {kAlice});
  EXPECT_EQ(Uids(*store_->ListEntries(kAlice, "INBOX", 0, 0)), (std::vector<uint32_t>{1, 2, 3}));
  PM_ASSERT_OK(store_->SetFlags(kAlice, "INBOX", {3}, FlagOp::kAdd, {"\\Deleted"}));
  EXPECT_EQ(*store_->Expunge(kAlice, "INBOX", std::nullopt), (std::vector<uint32_t>{3}));
  InsertResult r = Insert("m4", {kAlice});
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_EQ(r.entries[0].uid, 4u);  // not 3 again
  EXPECT_EQ(Uids(*store_->ListEntries(kAlice, "INBOX", 0, 0)), (std::vector<uint32_t>{1, 2, 4}));
  auto inbox = store_->GetFolder(kAlice, "INBOX");
  EXPECT_EQ(inbox->uid_next, 5u);
  EXPECT_EQ(inbox->messages, 3u);
}

TEST_P(RecipientStoreContract, ListEntriesFromUidWithLimit) {
  for (int i = 1; i <= 5; ++i) Insert(absl::StrCat("m", i), {kAlice});
  EXPECT_EQ(Uids(*store_->ListEntries(kAlice, "INBOX", 3, 0)), (std::vector<uint32_t>{3, 4, 5}));
  EXPECT_EQ(Uids(*store_->ListEntries(kAlice, "INBOX", 2, 2)), (std::vector<uint32_t>{2, 3}));
  EXPECT_TRUE(store_->ListEntries(kAlice, "INBOX", 6, 0)->empty());
  PM_EXPECT_CODE(store_->ListEntries(kAlice, "Nope", 0, 0), kNotFound);
  PM_EXPECT_CODE(store_->GetEntry(kAlice, "INBOX", 9), kNotFound);
  PM_EXPECT_CODE(store_->GetEntry(kAlice, "Nope", 1), kNotFound);
}

TEST_P(RecipientStoreContract, FlagsAddRemoveReplace) {
  for (int i = 1; i <= 3; ++i) Insert(absl::StrCat("m", i), {kAlice});
  uint64_t modseq_before = store_->GetFolder(kAlice, "INBOX")->highest_modseq;

  auto added = store_->SetFlags(kAlice, "INBOX", {2, 1, 99}, FlagOp::kAdd,
                                {"\\Seen", "$Label", "\\Seen"});
  PM_ASSERT_OK(added);
  ASSERT_EQ(added->size(), 2u);  // 99 skipped; ascending order
  EXPECT_EQ((*added)[0].uid, 1u);
  EXPECT_EQ((*added)[0].flags, (std::vector<std::string>{"$Label", "\\Seen"}));
  EXPECT_GT((*added)[0].modseq, modseq_before);
  EXPECT_NE((*added)[0].modseq, (*added)[1].modseq);
  auto inbox = store_->GetFolder(kAlice, "INBOX");
  EXPECT_EQ(inbox->unseen, 1u);
  EXPECT_EQ(inbox->highest_modseq, std::max((*added)[0].modseq, (*added)[1].modseq));

  // A no-op change keeps the modseq.
  auto same = store_->SetFlags(kAlice, "INBOX", {1}, FlagOp::kAdd, {"\\Seen"});
  EXPECT_EQ((*same)[0].modseq, (*added)[0].modseq);

  auto removed = store_->SetFlags(kAlice, "INBOX", {1}, FlagOp::kRemove, {"\\Seen", "\\Flagged"});
  PM_ASSERT_OK(removed);
  EXPECT_EQ((*removed)[0].flags, (std::vector<std::string>{"$Label"}));
  EXPECT_GT((*removed)[0].modseq, (*added)[1].modseq);
  EXPECT_EQ(store_->GetFolder(kAlice, "INBOX")->unseen, 2u);

  auto replaced = store_->SetFlags(kAlice, "INBOX", {2}, FlagOp::kReplace, {"\\Flagged", "\\Answered"});
  PM_ASSERT_OK(replaced);
  EXPECT_EQ((*replaced)[0].flags, (std::vector<std::string>{"\\Answered", "\\Flagged"}));
  EXPECT_EQ(store_->GetEntry(kAlice, "INBOX", 2)->flags,
            (std::vector<std::string>{"\\Answered", "\\Flagged"}));
  EXPECT_EQ(store_->GetFolder(kAlice, "INBOX")->unseen, 3u);
  PM_EXPECT_CODE(store_->SetFlags(kAlice, "Nope", {1}, FlagOp::kAdd, {"\\Seen"}), kNotFound);
}

TEST_P(RecipientStoreContract, CopyAndMoveWithCopyUidMapping) {
  for (int i = 1; i <= 4; ++i) Insert(absl::StrCat("m", i), {kAlice});
  PM_ASSERT_OK(store_->SetFlags(kAlice, "INBOX", {2}, FlagOp::kAdd, {"\\Seen", "$Work"}));
  auto archive = store_->EnsureFolder(kAlice, "Archive");
  PM_ASSERT_OK(archive);

  auto copied = store_->CopyEntries(kAlice, "INBOX", {4, 2, 77}, "Archive", false);
  PM_ASSERT_OK(copied);
  EXPECT_EQ(copied->uid_validity, archive->uid_validity);
  EXPECT_EQ(copied->src, (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(copied->dst, (std::vector<uint32_t>{1, 2}));
  auto c1 = store_->GetEntry(kAlice, "Archive", 1);
  PM_ASSERT_OK(c1);
  EXPECT_EQ(c1->flags, (std::vector<std::string>{"$Work", "\\Seen"}));
  EXPECT_EQ(c1->notification_id, store_->GetEntry(kAlice, "INBOX", 2)->notification_id);
  EXPECT_EQ(store_->GetFolder(kAlice, "INBOX")->messages, 4u);  // copy keeps the source

  auto moved = store_->CopyEntries(kAlice, "INBOX", {1, 3}, "Archive", true);
  PM_ASSERT_OK(moved);
  EXPECT_EQ(moved->src, (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(moved->dst, (std::vector<uint32_t>{3, 4}));
  EXPECT_EQ(Uids(*store_->ListEntries(kAlice, "INBOX", 0, 0)), (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(Uids(*store_->ListEntries(kAlice, "Archive", 0, 0)),
            (std::vector<uint32_t>{1, 2, 3, 4}));
  auto archive_after = store_->GetFolder(kAlice, "Archive");
  EXPECT_EQ(archive_after->messages, 4u);
  EXPECT_EQ(archive_after->unseen, 3u);

  PM_EXPECT_CODE(store_->CopyEntries(kAlice, "INBOX", {2}, "Missing", false), kNotFound);
  PM_EXPECT_CODE(store_->CopyEntries(kAlice, "Missing", {2}, "Archive", false), kNotFound);
}

TEST_P(RecipientStoreContract, ExpungeOnlyDeleted) {
  for (int i = 1; i <= 5; ++i) Insert(absl::StrCat("m", i), {kAlice});
  PM_ASSERT_OK(store_->SetFlags(kAlice, "INBOX", {1, 3, 5}, FlagOp::kAdd, {"\\Deleted"}));
  // UID EXPUNGE 3:4 removes only 3 (4 is not \Deleted).
  EXPECT_EQ(*store_->Expunge(kAlice, "INBOX", std::vector<uint32_t>{3, 4}),
            (std::vector<uint32_t>{3}));
  EXPECT_EQ(*store_->Expunge(kAlice, "INBOX", std::nullopt), (std::vector<uint32_t>{1, 5}));
  EXPECT_TRUE(store_->Expunge(kAlice, "INBOX", std::nullopt)->empty());
  EXPECT_EQ(Uids(*store_->ListEntries(kAlice, "INBOX", 0, 0)), (std::vector<uint32_t>{2, 4}));
  EXPECT_EQ(store_->GetFolder(kAlice, "INBOX")->messages, 2u);
  PM_EXPECT_CODE(store_->Expunge(kAlice, "Nope", std::nullopt), kNotFound);
}

// RFC 3501 2.3.2: "\\deleted" is \\Deleted. Before the flag rule moved to
// core/mail/flags.h a client's lower-case spelling was stored as a keyword:
// EXPUNGE removed nothing and the folder counted the message unseen.
TEST_P(RecipientStoreContract, SystemFlagsInAnyLetterCase) {
  for (int i = 1; i <= 3; ++i) Insert(absl::StrCat("m", i), {kAlice});
  auto set = store_->SetFlags(kAlice, "INBOX", {2}, FlagOp::kAdd, {"\\deleted", "\\SEEN", "$Work"});
  PM_ASSERT_OK(set);
  EXPECT_EQ((*set)[0].flags, (std::vector<std::string>{"$Work", "\\Deleted", "\\Seen"}));
  EXPECT_EQ(store_->GetFolder(kAlice, "INBOX")->unseen, 2u);
  auto again = store_->SetFlags(kAlice, "INBOX", {2}, FlagOp::kAdd, {"\\Seen", "$work"});
  EXPECT_EQ((*again)[0].flags.size(), 3u);
  auto removed = store_->SetFlags(kAlice, "INBOX", {2}, FlagOp::kRemove, {"\\seen"});
  EXPECT_EQ((*removed)[0].flags, (std::vector<std::string>{"$Work", "\\Deleted"}));
  EXPECT_EQ(*store_->Expunge(kAlice, "INBOX", std::nullopt), (std::vector<uint32_t>{2}));
}

// RFC 3501 6.4.7 / RFC 6851 3.3: COPY and MOVE into the same folder give the
// messages new UIDs (the store used to refuse, so MOVE into the selected
// mailbox failed).
TEST_P(RecipientStoreContract, CopyAndMoveIntoTheSameFolder) {
  for (int i = 1; i <= 2; ++i) Insert(absl::StrCat("m", i), {kAlice});
  auto copied = store_->CopyEntries(kAlice, "INBOX", {1}, "INBOX", false);
  PM_ASSERT_OK(copied);
  EXPECT_EQ(copied->dst, (std::vector<uint32_t>{3}));
  auto moved = store_->CopyEntries(kAlice, "INBOX", {2}, "inbox", true);
  PM_ASSERT_OK(moved);
  EXPECT_EQ(moved->src, (std::vector<uint32_t>{2}));
  EXPECT_EQ(moved->dst, (std::vector<uint32_t>{4}));
  EXPECT_EQ(Uids(*store_->ListEntries(kAlice, "INBOX", 0, 0)), (std::vector<uint32_t>{1, 3, 4}));
  auto folder = store_->GetFolder(kAlice, "INBOX");
  EXPECT_EQ(folder->messages, 3u);
  EXPECT_EQ(folder->uid_next, 5u);
}

TEST_P(RecipientStoreContract, MoveEntryGivesNewUidAndState) {
  InsertResult r1 = Insert("m1", {kAlice});
  Insert("m2", {kAlice});
  PM_ASSERT_OK(store_->SetFlags(kAlice, "INBOX", {1}, FlagOp::kAdd, {"$Keep"}));

  // Suppression: to Junk (created on demand) with state and reason.
  auto junk = store_->MoveEntry(kAlice, "INBOX", 1, "Junk", EntryState::kSuppressed, "k reports");
  PM_ASSERT_OK(junk);
  EXPECT_EQ(junk->folder, "Junk");
  EXPECT_EQ(junk->uid, 1u);
  EXPECT_EQ(junk->state, EntryState::kSuppressed);
  EXPECT_EQ(junk->reason, "k reports");
  EXPECT_EQ(junk->flags, (std::vector<std::string>{"$Keep"}));
  EXPECT_EQ(junk->notification_id, r1.notification_id);
  PM_EXPECT_CODE(store_->GetEntry(kAlice, "INBOX", 1), kNotFound);

  // Release of a held entry: same folder, renumbered above every seen UID.
  auto released = store_->MoveEntry(kAlice, "INBOX", 2, "INBOX", EntryState::kShown, "");
  PM_ASSERT_OK(released);
  EXPECT_EQ(released->uid, 3u);
  EXPECT_EQ(Uids(*store_->ListEntries(kAlice, "INBOX", 0, 0)), (std::vector<uint32_t>{3}));
  PM_EXPECT_CODE(store_->MoveEntry(kAlice, "INBOX", 2, "Junk", EntryState::kShown, ""), kNotFound);
}

// RFC 7162: a mod-sequence is at least 1, so a new folder says 1 and every
// change goes above what a client of the empty folder was told.
TEST_P(RecipientStoreContract, NewFolderHighestModseqIsOneAndChangesGoAbove) {
  auto empty = store_->EnsureFolder(kAlice, "Empty");
  PM_ASSERT_OK(empty);
  EXPECT_EQ(empty->highest_modseq, 1u);
  InsertResult r = Insert("m1", {kAlice});
  ASSERT_EQ(r.entries.size(), 1u);
  EXPECT_GT(r.entries[0].modseq, 1u);
  EXPECT_EQ(store_->GetFolder(kAlice, "INBOX")->highest_modseq, r.entries[0].modseq);
}

// RFC 7162 3.1.3 STORE UNCHANGEDSINCE: checked and applied in one
// transaction, entry by entry.
TEST_P(RecipientStoreContract, SetFlagsUnchangedSince) {
  for (int i = 1; i <= 3; ++i) Insert(absl::StrCat("m", i), {kAlice});
  PM_ASSERT_OK(store_->SetFlags(kAlice, "INBOX", {2}, FlagOp::kAdd, {"$Changed"}));
  uint64_t m1 = store_->GetEntry(kAlice, "INBOX", 1)->modseq;
  uint64_t m2 = store_->GetEntry(kAlice, "INBOX", 2)->modseq;
  ASSERT_GT(m2, m1);
  auto r = store_->SetFlagsUnchangedSince(kAlice, "INBOX", {3, 1, 2, 99}, FlagOp::kAdd,
                                          {"\\Flagged"}, m2 - 1);
  PM_ASSERT_OK(r);
  EXPECT_EQ(r->modified, (std::vector<uint32_t>{2}));
  EXPECT_EQ(Uids(r->entries), (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(store_->GetEntry(kAlice, "INBOX", 2)->flags, (std::vector<std::string>{"$Changed"}));
  EXPECT_EQ(store_->GetEntry(kAlice, "INBOX", 1)->flags, (std::vector<std::string>{"\\Flagged"}));
  // UNCHANGEDSINCE 0 always fails for an existing message.
  auto zero = store_->SetFlagsUnchangedSince(kAlice, "INBOX", {1}, FlagOp::kAdd, {"\\Seen"}, 0);
  PM_ASSERT_OK(zero);
  EXPECT_EQ(zero->modified, (std::vector<uint32_t>{1}));
  EXPECT_TRUE(zero->entries.empty());
  // Without a limit it is SetFlags.
  auto plain = store_->SetFlagsUnchangedSince(kAlice, "INBOX", {2}, FlagOp::kAdd, {"\\Seen"},
                                              std::nullopt);
  PM_ASSERT_OK(plain);
  EXPECT_TRUE(plain->modified.empty());
  EXPECT_EQ(Uids(plain->entries), (std::vector<uint32_t>{2}));
  PM_EXPECT_CODE(store_->SetFlagsUnchangedSince(kAlice, "Nope", {1}, FlagOp::kAdd, {"\\Seen"}, 5),
                 kNotFound);
}

// RFC 7162 3.2.5.2 VANISHED (EARLIER): every way an entry leaves a folder
// is remembered with the modseq of that change, until the folder goes.
TEST_P(RecipientStoreContract, ExpungedSinceRemembersEveryRemoval) {
  for (int i = 1; i <= 5; ++i) Insert(absl::StrCat("m", i), {kAlice});
  PM_ASSERT_OK(store_->EnsureFolder(kAlice, "Archive"));
  uint64_t start = store_->GetFolder(kAlice, "INBOX")->highest_modseq;
  EXPECT_TRUE(store_->ExpungedSince(kAlice, "INBOX", 0)->empty());

  PM_ASSERT_OK(store_->SetFlags(kAlice, "INBOX", {2}, FlagOp::kAdd, {"\\Deleted"}));
  EXPECT_EQ(*store_->Expunge(kAlice, "INBOX", std::nullopt), (std::vector<uint32_t>{2}));
  uint64_t after_expunge = store_->GetFolder(kAlice, "INBOX")->highest_modseq;
  EXPECT_GT(after_expunge, start);
  PM_ASSERT_OK(store_->CopyEntries(kAlice, "INBOX", {4}, "Archive", true));
  uint64_t after_move = store_->GetFolder(kAlice, "INBOX")->highest_modseq;
  EXPECT_GT(after_move, after_expunge);
  PM_ASSERT_OK(store_->MoveEntry(kAlice, "INBOX", 5, "INBOX", EntryState::kShown, ""));
  uint64_t after_release = store_->GetFolder(kAlice, "INBOX")->highest_modseq;

  EXPECT_EQ(*store_->ExpungedSince(kAlice, "INBOX", start), (std::vector<uint32_t>{2, 4, 5}));
  EXPECT_EQ(*store_->ExpungedSince(kAlice, "INBOX", after_expunge - 1),
            (std::vector<uint32_t>{2, 4, 5}));
  EXPECT_EQ(*store_->ExpungedSince(kAlice, "INBOX", after_expunge), (std::vector<uint32_t>{4, 5}));
  EXPECT_EQ(*store_->ExpungedSince(kAlice, "INBOX", after_move), (std::vector<uint32_t>{5}));
  EXPECT_TRUE(store_->ExpungedSince(kAlice, "INBOX", after_release)->empty());
  EXPECT_TRUE(store_->ExpungedSince(kAlice, "Archive", 0)->empty());
  PM_EXPECT_CODE(store_->ExpungedSince(kAlice, "Nope", 0), kNotFound);

  // A deleted folder's removals go with it (a new one has a new UIDVALIDITY).
  PM_ASSERT_OK(store_->CopyEntries(kAlice, "Archive", {1}, "INBOX", true));
  EXPECT_EQ(*store_->ExpungedSince(kAlice, "Archive", 0), (std::vector<uint32_t>{1}));
  PM_ASSERT_OK(store_->DeleteFolder(kAlice, "Archive"));
  PM_ASSERT_OK(store_->EnsureFolder(kAlice, "Archive"));
  EXPECT_TRUE(store_->ExpungedSince(kAlice, "Archive", 0)->empty());
}

TEST_P(RecipientStoreContract, SetEntryState) {
  Insert("m1", {kAlice});
  uint64_t before = store_->GetEntry(kAlice, "INBOX", 1)->modseq;
  PM_ASSERT_OK(store_->SetEntryState(kAlice, "INBOX", 1, EntryState::kRevoked, "sender revoked"));
  auto e = store_->GetEntry(kAlice, "INBOX", 1);
  EXPECT_EQ(e->state, EntryState::kRevoked);
  EXPECT_EQ(e->reason, "sender revoked");
  EXPECT_GT(e->modseq, before);
  PM_EXPECT_CODE(store_->SetEntryState(kAlice, "INBOX", 2, EntryState::kShown, ""), kNotFound);
}

TEST_P(RecipientStoreContract, EntriesForNotificationAcrossUsersAndFolders) {
  InsertResult r = Insert("m1", {kBob, kAlice});
  Insert("m2", {kAlice});
  PM_ASSERT_OK(store_->EnsureFolder(kAlice, "Archive"));
  PM_ASSERT_OK(store_->CopyEntries(kAlice, "INBOX", {1}, "Archive", false));
  auto entries = store_->EntriesForNotification(r.notification_id);
  PM_ASSERT_OK(entries);
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].user, kAlice);
  EXPECT_EQ((*entries)[0].folder, "Archive");
  EXPECT_EQ((*entries)[1].user, kAlice);
  EXPECT_EQ((*entries)[1].folder, "INBOX");
  EXPECT_EQ((*entries)[2].user, kBob);

  PM_ASSERT_OK(store_->SetFlags(kBob, "INBOX", {1}, FlagOp::kAdd, {"\\Deleted"}));
  PM_ASSERT_OK(store_->Expunge(kBob, "INBOX", std::nullopt));
  PM_ASSERT_OK(store_->MoveEntry(kAlice, "Archive", 1, "Junk", EntryState::kSuppressed, ""));
  entries = store_->EntriesForNotification(r.notification_id);
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].folder, "INBOX");
  EXPECT_EQ((*entries)[1].folder, "Junk");
  EXPECT_TRUE(store_->EntriesForNotification(12345)->empty());
}

// --- Body cache ----------------------------------------------------------------

TEST_P(RecipientStoreContract, BodyCache) {
  std::string body(150'000, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7 + i / 300);
  EXPECT_FALSE(*store_->HasBody(Hash('b')));
  PM_EXPECT_CODE(store_->GetBody(Hash('b')), kNotFound);
  PM_ASSERT_OK(store_->PutBody(Hash('b'), body));
  PM_ASSERT_OK(store_->PutBody(Hash('b'), "a different body"));  // idempotent: first kept
  EXPECT_TRUE(*store_->HasBody(Hash('b')));
  EXPECT_EQ(*store_->CachedBodySize(Hash('b')), body.size());
  EXPECT_EQ(*store_->GetBody(Hash('b')), body);
  EXPECT_EQ(*store_->ReadCachedBody(Hash('b'), 65'536, 65'536), body.substr(65'536, 65'536));
  EXPECT_EQ(*store_->ReadCachedBody(Hash('b'), body.size() - 3, 65'536), body.substr(body.size() - 3));
  EXPECT_EQ(*store_->ReadCachedBody(Hash('b'), body.size(), 10), "");
  PM_EXPECT_CODE(store_->ReadCachedBody(Hash('b'), body.size() + 1, 10), kOutOfRange);
  PM_EXPECT_CODE(store_->ReadCachedBody(Hash('c'), 0, 10), kNotFound);
  PM_EXPECT_CODE(store_->CachedBodySize(Hash('c')), kNotFound);
  PM_ASSERT_OK(store_->DeleteBody(Hash('b')));
  PM_ASSERT_OK(store_->DeleteBody(Hash('b')));
  EXPECT_FALSE(*store_->HasBody(Hash('b')));
  PM_ASSERT_OK(store_->PutBody(Hash('e'), ""));
  EXPECT_EQ(*store_->GetBody(Hash('e')), "");
  EXPECT_EQ(*store_->CachedBodySize(Hash('e')), 0u);
}

// Each cached body has its MIME structure record beside it, written with
// it (PutBody and PutBodies), kept with the first body, replaceable (a body
// cached before records were kept gets one later), dropped with the body.
TEST_P(RecipientStoreContract, BodyStructureRecordsGoWithTheirBodies) {
  const std::string mail =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\ntext\r\n--b\r\n"
      "Content-Type: application/octet-stream\r\n\r\nxyz\r\n--b--\r\n";
  PM_EXPECT_CODE(store_->GetBodyStructure(Hash('s')), kNotFound);
  PM_ASSERT_OK(store_->PutBody(Hash('s'), mail));
  PM_ASSERT_OK(store_->PutBody(Hash('s'), "Subject: another\r\n\r\nx"));  // first kept
  absl::StatusOr<std::string> rec = store_->GetBodyStructure(Hash('s'));
  PM_ASSERT_OK(rec);
  EXPECT_EQ(*rec, MimeRecordOf(mail));
  absl::StatusOr<MimeEntity> tree = MimeFromRecordBytes(*rec, mail.size());
  PM_ASSERT_OK(tree);
  EXPECT_EQ(tree->parts.size(), 2u);
  std::vector<absl::Status> r = store_->PutBodies({{Hash('t'), "plain"}, {Hash('u'), mail}});
  for (const absl::Status& s : r) PM_EXPECT_OK(s);
  EXPECT_EQ(*store_->GetBodyStructure(Hash('t')), MimeRecordOf("plain"));
  EXPECT_EQ(*store_->GetBodyStructure(Hash('u')), MimeRecordOf(mail));
  PM_ASSERT_OK(store_->PutBodyStructure(Hash('s'), "replaced"));
  EXPECT_EQ(*store_->GetBodyStructure(Hash('s')), "replaced");
  PM_EXPECT_CODE(store_->PutBodyStructure(Hash('v'), "no body"), kNotFound);
  PM_EXPECT_CODE(store_->GetBodyStructure(Hash('v')), kNotFound);
  PM_ASSERT_OK(store_->DeleteBody(Hash('s')));
  PM_EXPECT_CODE(store_->GetBodyStructure(Hash('s')), kNotFound);
  PM_ASSERT_OK(store_->PutBody(Hash('s'), "Subject: new\r\n\r\nx"));
  EXPECT_EQ(*store_->GetBodyStructure(Hash('s')), MimeRecordOf("Subject: new\r\n\r\nx"));
}

// A batched fetch's bodies in one call: each lands (or keeps the body
// already cached), one status per body, in order.
TEST_P(RecipientStoreContract, PutBodiesStoresEachAndKeepsTheFirst) {
  PM_ASSERT_OK(store_->PutBody(Hash('p'), "first"));
  const std::string big(100'000, 'x');
  std::vector<absl::Status> r = store_->PutBodies(
      {{Hash('o'), "one"}, {Hash('p'), "second"}, {Hash('q'), big}, {Hash('r'), ""}});
  ASSERT_EQ(r.size(), 4u);
  for (const absl::Status& s : r) PM_EXPECT_OK(s);
  EXPECT_EQ(*store_->GetBody(Hash('o')), "one");
  EXPECT_EQ(*store_->GetBody(Hash('p')), "first");
  EXPECT_EQ(*store_->GetBody(Hash('q')), big);
  EXPECT_EQ(*store_->CachedBodySize(Hash('r')), 0u);
  EXPECT_TRUE(store_->PutBodies({}).empty());
}

// A FETCH set's lookups: every UID asked for, in the order asked (repeats
// and gaps included), more than one batch of the SQLite back end's IN list.
TEST_P(RecipientStoreContract, GetEntriesForReadAnswersEachUidInOrder) {
  std::vector<InsertResult> inserted;
  for (int i = 0; i < 70; ++i) inserted.push_back(Insert(absl::StrCat("m", i), {kAlice}));
  PM_ASSERT_OK(store_->SetFlags(kAlice, "INBOX", {5}, FlagOp::kAdd, {"\\Seen"}));
  std::vector<uint32_t> uids;
  for (int u = 70; u >= 1; u -= 3) uids.push_back(static_cast<uint32_t>(u));
  uids.push_back(5);
  uids.push_back(999);  // never given
  uids.push_back(5);
  auto got = store_->GetEntriesForRead(kAlice, "inbox", uids);
  PM_ASSERT_OK(got);
  ASSERT_EQ(got->size(), uids.size());
  for (size_t i = 0; i < uids.size(); ++i) {
    if (uids[i] == 999) {
      EXPECT_FALSE((*got)[i].has_value());
      continue;
    }
    ASSERT_TRUE((*got)[i].has_value()) << uids[i];
    const EntryForRead& r = *(*got)[i];
    EXPECT_EQ(r.entry.uid, uids[i]);
    EXPECT_EQ(r.entry.folder, "INBOX");
    EXPECT_EQ(r.notification.id, inserted[uids[i] - 1].notification_id);
    EXPECT_EQ(r.notification.message_id, absl::StrCat("m", uids[i] - 1));
    EXPECT_EQ(r.notification.summary, absl::StrCat("summary-m", uids[i] - 1));
    EXPECT_EQ(r.entry.flags, uids[i] == 5 ? std::vector<std::string>{"\\Seen"}
                                          : std::vector<std::string>{});
    EXPECT_EQ(r.entry.modseq, store_->GetEntry(kAlice, "INBOX", uids[i])->modseq);
  }
  auto one = store_->GetEntriesForRead(kAlice, "INBOX", {7});  // a one-message FETCH
  PM_ASSERT_OK(one);
  ASSERT_EQ(one->size(), 1u);
  ASSERT_TRUE((*one)[0].has_value());
  EXPECT_EQ((*one)[0]->notification.message_id, "m6");
  EXPECT_FALSE((*store_->GetEntriesForRead(kAlice, "INBOX", {71}))[0].has_value());
  EXPECT_TRUE(store_->GetEntriesForRead(kAlice, "INBOX", {})->empty());
  PM_EXPECT_CODE(store_->GetEntriesForRead(kAlice, "Nope", {1}), kNotFound);
  PM_EXPECT_CODE(store_->GetEntriesForRead(kBob, "INBOX", {1}), kNotFound);
}

// A read mark found along with the entry (SQLite) is the store's mark, as
// IsReadCounted gives it; a back end that does not look it up says nothing.
TEST_P(RecipientStoreContract, GetEntriesForReadGivesTheReadMarkOrNothing) {
  std::vector<InsertResult> inserted;
  for (int i = 0; i < 40; ++i) inserted.push_back(Insert(absl::StrCat("m", i), {kAlice, kBob}));
  auto made = store_->MarkReadsCounted({{kAlice, inserted[2].notification_id},
                                        {kAlice, inserted[35].notification_id},
                                        {kBob, inserted[4].notification_id}});
  PM_ASSERT_OK(made);
  std::vector<uint32_t> uids;
  for (uint32_t u = 1; u <= 40; ++u) uids.push_back(u);
  for (const std::vector<uint32_t>& set : {uids, std::vector<uint32_t>{3}}) {
    auto got = store_->GetEntriesForRead(kAlice, "INBOX", set);
    PM_ASSERT_OK(got);
    ASSERT_EQ(got->size(), set.size());
    for (size_t i = 0; i < set.size(); ++i) {
      ASSERT_TRUE((*got)[i].has_value());
      const EntryForRead& r = *(*got)[i];
      if (!r.read_counted.has_value()) continue;  // not looked up: fine
      EXPECT_EQ(*r.read_counted, *store_->IsReadCounted(kAlice, r.notification.id)) << set[i];
      EXPECT_EQ(*r.read_counted, set[i] == 3 || set[i] == 36) << set[i];  // not Bob's mark
    }
  }
  if (GetParam() == Backend::kSqlite) {
    auto got = store_->GetEntriesForRead(kAlice, "INBOX", {3, 5});
    ASSERT_TRUE((*got)[0]->read_counted.has_value());  // the SQLite store looks it up
    EXPECT_TRUE(*(*got)[0]->read_counted);
    EXPECT_FALSE(*(*got)[1]->read_counted);
  }
}

// ReadCachedBodies: HasBodies' answer for every key in order, and bytes only
// whole, only for bodies within max_each, within max_total in all.
TEST_P(RecipientStoreContract, ReadCachedBodiesReadsSmallBodiesWholeWithinItsBounds) {
  std::vector<std::string> keys, bodies;
  for (int i = 0; i < 40; ++i) {
    keys.push_back(Hash('b') + absl::StrCat("d", i));
    bodies.push_back(i == 7 ? std::string() : std::string(100 + i * 10, static_cast<char>('a' + i % 26)));
    if (i % 4 != 1) PM_ASSERT_OK(store_->PutBody(keys.back(), bodies.back()));
  }
  const std::string big(300'000, 'z');  // more than one SQLite chunk
  keys.push_back(Hash('c') + "dbig");
  bodies.push_back(big);
  PM_ASSERT_OK(store_->PutBody(keys.back(), big));
  keys.push_back(keys[3]);
  bodies.push_back(bodies[3]);
  keys.push_back(Hash('b'));  // a prefix of every key: not cached
  bodies.push_back("");
  for (size_t max_each : {size_t{1} << 20, size_t{300}}) {
    for (size_t max_total : {size_t{1} << 30, size_t{2000}, size_t{0}}) {
      auto got = store_->ReadCachedBodies(keys, max_each, max_total);
      PM_ASSERT_OK(got);
      ASSERT_EQ(got->size(), keys.size());
      size_t total = 0, with_bytes = 0;
      for (size_t i = 0; i < keys.size(); ++i) {
        const bool cached = i < 40 ? i % 4 != 1 : i < keys.size() - 1;
        EXPECT_EQ((*got)[i].cached, cached) << i;
        if (!(*got)[i].bytes.has_value()) continue;
        ++with_bytes;
        EXPECT_TRUE(cached) << i;
        EXPECT_EQ(*(*got)[i].bytes, bodies[i]) << i;  // whole, never partial
        EXPECT_LE((*got)[i].bytes->size(), max_each) << i;
        if (i != 42) total += (*got)[i].bytes->size();  // 42 repeats 3
      }
      EXPECT_LE(total, max_total);
      if (GetParam() == Backend::kSqlite && max_total == (size_t{1} << 30)) {
        // The SQLite store reads every small body along (not the big one:
        // it is more than one chunk).
        EXPECT_FALSE((*got)[40].bytes.has_value());
        EXPECT_EQ(with_bytes, max_each == 300 ? 17u : 31u);
      }
    }
  }
  auto one = store_->ReadCachedBodies({keys[0]}, 1 << 20, 1 << 20);
  PM_ASSERT_OK(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_TRUE((*one)[0].cached);
  if ((*one)[0].bytes) {
    EXPECT_EQ(*(*one)[0].bytes, bodies[0]);
  }
  EXPECT_FALSE((*store_->ReadCachedBodies({keys[1]}, 1 << 20, 1 << 20))[0].cached);
  EXPECT_TRUE(store_->ReadCachedBodies({}, 1 << 20, 1 << 20)->empty());
}

// An IMAP refresh's read: the folder, its entries counted by state, the
// entries changed above a modseq and the UIDs removed above it.
TEST_P(RecipientStoreContract, ListFolderChangesHasTheChangesAndCountsByState) {
  for (int i = 0; i < 6; ++i) Insert(absl::StrCat("m", i), {kAlice});
  PM_ASSERT_OK(store_->SetFlags(kAlice, "INBOX", {1, 2}, FlagOp::kAdd, {"\\Seen"}));
  auto before = store_->GetFolder(kAlice, "INBOX");
  PM_ASSERT_OK(before);
  const uint64_t modseq = before->highest_modseq;
  PM_ASSERT_OK(store_->SetFlags(kAlice, "INBOX", {4}, FlagOp::kAdd, {"\\Flagged"}));
  PM_ASSERT_OK(store_->SetEntryState(kAlice, "INBOX", 5, EntryState::kHeld, "held again"));
  PM_ASSERT_OK(store_->SetFlags(kAlice, "INBOX", {3}, FlagOp::kAdd, {"\\Deleted"}));
  PM_ASSERT_OK(store_->Expunge(kAlice, "INBOX", std::nullopt));
  Insert("m6", {kAlice});  // UID 7

  auto c = store_->ListFolderChanges(kAlice, "inbox", modseq);
  PM_ASSERT_OK(c);
  auto after = store_->GetFolder(kAlice, "INBOX");
  EXPECT_EQ(c->folder.name, "INBOX");
  EXPECT_EQ(c->folder.uid_validity, after->uid_validity);
  EXPECT_EQ(c->folder.uid_next, 8u);
  EXPECT_EQ(c->folder.highest_modseq, after->highest_modseq);
  EXPECT_EQ(c->folder.messages, 6u);  // every entry, as GetFolder counts
  EXPECT_EQ(c->folder.unseen, 4u);
  std::map<EntryState, std::pair<uint32_t, uint32_t>> by_state;
  for (const StateCount& s : c->by_state) by_state[s.state] = {s.entries, s.unseen};
  EXPECT_EQ(by_state, (std::map<EntryState, std::pair<uint32_t, uint32_t>>{
                          {EntryState::kShown, {5, 3}}, {EntryState::kHeld, {1, 1}}}));
  std::vector<uint32_t> changed;
  for (const MailboxEntry& e : c->changed) {
    changed.push_back(e.uid);
    EXPECT_GT(e.modseq, modseq);
    EXPECT_EQ(e.modseq, store_->GetEntry(kAlice, "INBOX", e.uid)->modseq);
  }
  EXPECT_EQ(changed, (std::vector<uint32_t>{4, 5, 7}));
  EXPECT_EQ(c->changed[1].state, EntryState::kHeld);
  EXPECT_EQ(c->changed[0].flags, std::vector<std::string>{"\\Flagged"});
  EXPECT_EQ(c->expunged, std::vector<uint32_t>{3});

  auto none = store_->ListFolderChanges(kAlice, "INBOX", after->highest_modseq);
  PM_ASSERT_OK(none);
  EXPECT_TRUE(none->changed.empty());
  EXPECT_TRUE(none->expunged.empty());
  EXPECT_EQ(none->folder.messages, 6u);
  PM_EXPECT_CODE(store_->ListFolderChanges(kAlice, "Nope", 1), kNotFound);
  PM_EXPECT_CODE(store_->ListFolderChanges(kBob, "INBOX", 1), kNotFound);
}

TEST_P(RecipientStoreContract, HasBodiesAnswersEachKeyInOrder) {
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) {
    keys.push_back(Hash('a') + absl::StrCat("d", i));
    if (i % 3 == 0) PM_ASSERT_OK(store_->PutBody(keys.back(), absl::StrCat("body ", i)));
  }
  keys.push_back(keys[3]);
  keys.push_back(Hash('a'));  // a prefix of every key: not cached
  auto got = store_->HasBodies(keys);
  PM_ASSERT_OK(got);
  ASSERT_EQ(got->size(), keys.size());
  for (size_t i = 0; i < 40; ++i) EXPECT_EQ((*got)[i], i % 3 == 0) << i;
  EXPECT_TRUE((*got)[40]);
  EXPECT_FALSE((*got)[41]);
  EXPECT_EQ(*store_->HasBodies({keys[3]}), std::vector<bool>{true});
  EXPECT_EQ(*store_->HasBodies({keys[4]}), std::vector<bool>{false});
  EXPECT_TRUE(store_->HasBodies({})->empty());
}

// Keys are opaque: the same hash under two scopes (core's BodyCacheKey: one
// per sending domain) is two entries, and a key that is a prefix of another
// finds nothing of the other's.
TEST_P(RecipientStoreContract, BodyCacheKeysAreOpaqueAndExact) {
  const std::string a = Hash('k') + "da.example", b = Hash('k') + "db.example";
  PM_ASSERT_OK(store_->PutBody(a, "from a"));
  EXPECT_FALSE(*store_->HasBody(b));
  EXPECT_FALSE(*store_->HasBody(Hash('k')));
  EXPECT_FALSE(*store_->HasBody(a + "x"));
  PM_EXPECT_CODE(store_->ReadCachedBody(b, 0, 10), kNotFound);
  PM_ASSERT_OK(store_->PutBody(b, "from b, longer"));
  EXPECT_EQ(*store_->GetBody(a), "from a");
  EXPECT_EQ(*store_->GetBody(b), "from b, longer");
  PM_ASSERT_OK(store_->DeleteBody(a));
  EXPECT_FALSE(*store_->HasBody(a));
  EXPECT_EQ(*store_->ReadCachedBody(b, 8, 100), "longer");
}

// Cached bodies around the SQLite back end's chunk edges: exactly one
// chunk, one byte more, several chunks, and 0 bytes; slices that straddle
// edges; reads at the end; delete and cache again.
// A body written in pieces (StartBody) is invisible until Finish, reads
// back exactly, whatever the pieces' sizes against the stored chunks; a
// writer dropped before Finish leaves nothing, and neither does one whose
// pieces do not add up; a body cached meanwhile under the key stays.
TEST_P(RecipientStoreContract, BodyWriterCommitsOnlyAtFinish) {
  constexpr uint64_t kC = kStoredBodyChunkSize;
  char tag = 'a';
  for (uint64_t size : {uint64_t{0}, uint64_t{10}, kC, 5 * kC + 17}) {
    for (size_t piece : {size_t{1000}, size_t{kC}, size_t{3 * kC + 5}}) {
      const std::string key = Hash(tag++);
      std::string body(size, '\0');
      for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>(i * 31 + i / 777 + piece);
      auto w = store_->StartBody(key, size);
      PM_ASSERT_OK(w);
      for (size_t pos = 0; pos < size; pos += piece) {
        PM_ASSERT_OK((*w)->Append(std::string_view(body).substr(pos, piece)));
        EXPECT_FALSE(*store_->HasBody(key)) << size << " " << piece;
        PM_EXPECT_CODE(store_->ReadCachedBody(key, 0, 1), kNotFound);
      }
      PM_ASSERT_OK((*w)->Finish());
      w->reset();
      EXPECT_TRUE(*store_->HasBody(key));
      EXPECT_EQ(*store_->CachedBodySize(key), size);
      EXPECT_EQ(*store_->GetBody(key), body) << size << " " << piece;
      if (size > kC) {
        EXPECT_EQ(*store_->ReadCachedBody(key, kC - 3, 10), body.substr(kC - 3, 10));
      }
    }
  }
  // Dropped before Finish: nothing cached, and a later writer of the key
  // starts clean.
  const std::string key = Hash('w');
  const std::string body(2 * kC + 9, 'q');
  {
    auto w = store_->StartBody(key, body.size());
    PM_ASSERT_OK(w);
    PM_ASSERT_OK((*w)->Append(std::string_view(body).substr(0, kC + 4)));
  }
  EXPECT_FALSE(*store_->HasBody(key));
  {
    auto w = store_->StartBody(key, body.size());
    PM_ASSERT_OK(w);
    PM_ASSERT_OK((*w)->Append(std::string_view(body).substr(0, 5)));
    PM_EXPECT_CODE((*w)->Finish(), kInvalidArgument);  // short
  }
  EXPECT_FALSE(*store_->HasBody(key));
  {
    auto w = store_->StartBody(key, 4);
    PM_ASSERT_OK(w);
    PM_EXPECT_CODE((*w)->Append("12345"), kInvalidArgument);  // long
  }
  EXPECT_FALSE(*store_->HasBody(key));
  // Cached meanwhile (PutBody): that body stays, with its chunks.
  {
    auto w = store_->StartBody(key, body.size());
    PM_ASSERT_OK(w);
    PM_ASSERT_OK((*w)->Append(std::string_view(body).substr(0, kC + 1)));
    PM_ASSERT_OK(store_->PutBody(key, body));
    PM_ASSERT_OK((*w)->Append(std::string_view(body).substr(kC + 1)));
    PM_ASSERT_OK((*w)->Finish());
  }
  EXPECT_EQ(*store_->GetBody(key), body);
  // A writer dropped after someone else cached the key takes nothing away.
  {
    auto w = store_->StartBody(key, body.size());
    PM_ASSERT_OK(w);
    PM_ASSERT_OK((*w)->Append(std::string_view(body).substr(0, kC)));
  }
  EXPECT_EQ(*store_->GetBody(key), body);
}

TEST_P(RecipientStoreContract, BodyCacheAcrossChunkEdges) {
  constexpr uint64_t kC = kStoredBodyChunkSize;
  char tag = 'A';
  for (uint64_t size : {uint64_t{0}, kC, kC + 1, 3 * kC + 17}) {
    const std::string hash = Hash(tag++);
    std::string body(size, '\0');
    for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>(i * 13 + i / 509 + size);
    PM_ASSERT_OK(store_->PutBody(hash, body));
    EXPECT_EQ(*store_->CachedBodySize(hash), size);
    EXPECT_EQ(*store_->GetBody(hash), body) << size;
    EXPECT_EQ(*store_->ReadCachedBody(hash, 0, size + 1), body) << size;
    struct Slice {
      uint64_t offset;
      size_t len;
    };
    for (Slice sl : {Slice{0, kC}, Slice{kC - 1, 1}, Slice{kC - 1, 2}, Slice{kC - 10, 20},
                     Slice{kC, 1}, Slice{kC - 5, kC + 10}, Slice{size - 1, 5},
                     Slice{1, size - 1}}) {
      if (sl.offset > size || size == 0) continue;
      auto got = store_->ReadCachedBody(hash, sl.offset, sl.len);
      PM_ASSERT_OK(got);
      EXPECT_EQ(*got, body.substr(sl.offset, sl.len))
          << "size " << size << " offset " << sl.offset << " len " << sl.len;
    }
    EXPECT_EQ(*store_->ReadCachedBody(hash, size, 65'536), "") << size;
    PM_EXPECT_CODE(store_->ReadCachedBody(hash, size + 1, 1), kOutOfRange);
    std::string joined;
    for (uint64_t off = 0; off < size; off += 65'536) {
      joined += *store_->ReadCachedBody(hash, off, 65'536);
    }
    EXPECT_EQ(joined, body) << size;
  }
  // Delete, then cache a different body under the same hash: no chunk of
  // the first one is left to mix in.
  const std::string big = Hash('A' + 3);
  PM_ASSERT_OK(store_->DeleteBody(big));
  EXPECT_FALSE(*store_->HasBody(big));
  PM_EXPECT_CODE(store_->ReadCachedBody(big, 0, 1), kNotFound);
  const std::string smaller(kC + 3, 'z');
  PM_ASSERT_OK(store_->PutBody(big, smaller));
  EXPECT_EQ(*store_->GetBody(big), smaller);
  EXPECT_EQ(*store_->ReadCachedBody(big, kC, 100), "zzz");
}

// Many PutBody calls at once (a FETCH set's first reads; the SQLite back end
// commits them in groups): each returns after its body is stored, every body
// reads back whole, and a key put twice at once keeps one of the two bodies
// whole.
TEST_P(RecipientStoreContract, ConcurrentPutBodyAllLand) {
  constexpr int kThreads = 8, kEach = 12;
  auto body_of = [](int t, int i) {
    std::string b(static_cast<size_t>(1 + (t * 7919 + i * 104'729) % 150'000), '\0');
    for (size_t k = 0; k < b.size(); ++k) b[k] = static_cast<char>(k * 31 + t * 5 + i);
    return b;
  };
  std::vector<std::thread> threads;
  std::vector<std::vector<absl::Status>> results(kThreads, std::vector<absl::Status>(kEach + 1));
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string key = absl::StrCat(Hash('p'), "/", t, "/", i);
        results[t][i] = store_->PutBody(key, body_of(t, i));
        // Read back at once: stored when PutBody returned.
        if (results[t][i].ok()) {
          auto got = store_->GetBody(key);
          if (!got.ok() || *got != body_of(t, i)) results[t][i] = absl::DataLossError(key);
        }
      }
      results[t][kEach] = store_->PutBody(Hash('s'), std::string(70'000 + t, static_cast<char>('a' + t)));
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i <= kEach; ++i) EXPECT_TRUE(results[t][i].ok()) << t << "/" << i << ": " << results[t][i];
    for (int i = 0; i < kEach; ++i) {
      EXPECT_EQ(*store_->GetBody(absl::StrCat(Hash('p'), "/", t, "/", i)), body_of(t, i));
    }
  }
  std::string shared = *store_->GetBody(Hash('s'));
  ASSERT_GE(shared.size(), 70'000u);
  const int t = static_cast<int>(shared.size() - 70'000);
  ASSERT_LT(t, kThreads);
  EXPECT_EQ(shared, std::string(70'000 + t, static_cast<char>('a' + t)));
}

// --- Reads counted for reputation ---------------------------------------------

TEST_P(RecipientStoreContract, AReadIsMarkedCountedOncePerUserAndMessage) {
  InsertResult a = Insert("m1", {kAlice, kBob}, 'x');
  InsertResult b = Insert("m2", {kAlice}, 'x');
  EXPECT_FALSE(*store_->IsReadCounted(kAlice, a.notification_id));
  auto made = store_->MarkReadsCounted({{kAlice, a.notification_id},
                                        {kAlice, a.notification_id},  // twice in one call
                                        {kBob, a.notification_id},    // another reader
                                        {kAlice, b.notification_id},  // another message
                                        {kAlice, 9999}});             // unknown
  PM_ASSERT_OK(made);
  EXPECT_EQ(*made, (std::vector<bool>{true, false, true, true, false}));
  EXPECT_TRUE(*store_->IsReadCounted(kAlice, a.notification_id));
  EXPECT_TRUE(*store_->IsReadCounted(kBob, a.notification_id));
  EXPECT_FALSE(*store_->IsReadCounted(kBob, b.notification_id));
  EXPECT_FALSE(*store_->IsReadCounted(kAlice, 9999));
  auto again = store_->MarkReadsCounted({{kAlice, b.notification_id}, {kBob, b.notification_id}});
  PM_ASSERT_OK(again);
  EXPECT_EQ(*again, (std::vector<bool>{false, true}));
  auto none = store_->MarkReadsCounted({});
  PM_ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(RecipientStoreContract, ConcurrentMarksOfOneReadCountOnce) {
  InsertResult a = Insert("ma", {kAlice}, 'x');
  constexpr int kThreads = 4;
  std::atomic<int> made{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto r = store_->MarkReadsCounted({{kAlice, a.notification_id}});
        EXPECT_TRUE(r.ok()) << r.status();
        if (r.ok() && (*r)[0]) ++made;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(made.load(), 1);
}

// --- Reports -------------------------------------------------------------------

TEST_P(RecipientStoreContract, UserReports) {
  InsertResult a = Insert("m1", {kAlice, kBob}, 'x');
  InsertResult b = Insert("m2", {kAlice}, 'x');
  InsertResult c = Insert("m3", {kAlice}, 'y');
  EXPECT_TRUE(*store_->RecordReport(kBob, a.notification_id, 1, kT0));
  EXPECT_FALSE(*store_->RecordReport(kBob, a.notification_id, 1, kT0));  // same verdict again
  EXPECT_TRUE(*store_->RecordReport(kAlice, a.notification_id, 1, kT0));
  EXPECT_TRUE(*store_->RecordReport(kAlice, b.notification_id, 1, kT0));
  EXPECT_TRUE(*store_->RecordReport(kAlice, c.notification_id, 1, kT0));
  EXPECT_TRUE(*store_->RecordReport(kAlice, b.notification_id, 2, kT0 + absl::Seconds(1)));
  PM_EXPECT_CODE(store_->RecordReport(kAlice, 9999, 1, kT0), kNotFound);

  auto by_hash = store_->ReportsForBodyHash(Hash('x'));
  PM_ASSERT_OK(by_hash);
  ASSERT_EQ(by_hash->size(), 3u);
  EXPECT_EQ((*by_hash)[0].user, kAlice);
  EXPECT_EQ((*by_hash)[0].notification_id, a.notification_id);
  EXPECT_EQ((*by_hash)[1].user, kBob);
  EXPECT_EQ((*by_hash)[2].notification_id, b.notification_id);
  EXPECT_EQ((*by_hash)[2].verdict, 2);  // changed its mind
  EXPECT_EQ((*by_hash)[2].time, kT0 + absl::Seconds(1));
  EXPECT_EQ(store_->ReportsForBodyHash(Hash('y'))->size(), 1u);
  EXPECT_EQ(store_->ReportsForSigningDomain("s.example")->size(), 4u);
  EXPECT_TRUE(store_->ReportsForSigningDomain("t.example")->empty());
}

TEST_P(RecipientStoreContract, PeerReportsRejectReplays) {
  PeerReport r;
  r.peer_domain = "p.example";
  r.report_id = "rep1";
  r.body_sha256 = Hash('x');
  r.verdict = 1;
  r.count = 3;
  r.time = kT0;
  EXPECT_TRUE(*store_->RecordPeerReport(r));
  EXPECT_FALSE(*store_->RecordPeerReport(r));
  PeerReport other = r;
  other.peer_domain = "a.example";
  EXPECT_TRUE(*store_->RecordPeerReport(other));
  auto got = store_->PeerReportsForBodyHash(Hash('x'));
  PM_ASSERT_OK(got);
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].peer_domain, "a.example");
  EXPECT_EQ((*got)[1].peer_domain, "p.example");
  EXPECT_EQ((*got)[1].count, 3u);
  EXPECT_EQ((*got)[1].time, kT0);
  EXPECT_TRUE(store_->PeerReportsForBodyHash(Hash('y'))->empty());
}

// --- Spam-policy state -----------------------------------------------------

// An update that appends `add` to the state and counts its runs.
struct Appender {
  std::string add;
  int runs = 0;
  std::string seen;  // the old state it was last given
  absl::StatusOr<std::string> operator()(std::string_view old) {
    ++runs;
    seen = std::string(old);
    return absl::StrCat(AV(old), add);
  }
};

TEST_P(RecipientStoreContract, PolicyStateStartsEmptyAndUpdatesInPlace) {
  EXPECT_EQ(*store_->GetPolicyState(), "");
  Appender a{"one"};
  PM_ASSERT_OK(store_->UpdatePolicyState(std::ref(a)));
  EXPECT_EQ(a.seen, "");
  EXPECT_EQ(*store_->GetPolicyState(), "one");
  // Any bytes, NUL included.
  const std::string binary("\x00\xff\n\x00 two", 8);
  Appender b{binary};
  PM_ASSERT_OK(store_->UpdatePolicyState(std::ref(b)));
  EXPECT_EQ(b.seen, "one");
  EXPECT_EQ(*store_->GetPolicyState(), "one" + binary);
  // A failing update changes nothing and its error comes back as is.
  PM_EXPECT_CODE(store_->UpdatePolicyState([](std::string_view) -> absl::StatusOr<std::string> {
    return absl::InvalidArgumentError("no");
  }), kInvalidArgument);
  EXPECT_EQ(*store_->GetPolicyState(), "one" + binary);
}

TEST_P(RecipientStoreContract, ReportWithPolicyCommitsBothOrNeither) {
  InsertResult a = Insert("ma", {kAlice, kBob}, 'x');
  Appender first{"A"};
  EXPECT_TRUE(*store_->RecordReportWithPolicy(kAlice, a.notification_id, 1, kT0,
                                              std::ref(first)));
  EXPECT_EQ(first.runs, 1);
  EXPECT_EQ(*store_->GetPolicyState(), "A");
  EXPECT_EQ(store_->ReportsForBodyHash(Hash('x'))->size(), 1u);

  // Counted once: the same verdict again writes nothing and does not run.
  Appender again{"B"};
  EXPECT_FALSE(*store_->RecordReportWithPolicy(kAlice, a.notification_id, 1, kT0,
                                               std::ref(again)));
  EXPECT_EQ(again.runs, 0);
  EXPECT_EQ(*store_->GetPolicyState(), "A");
  // An unknown notification: NotFound, nothing run.
  PM_EXPECT_CODE(store_->RecordReportWithPolicy(kAlice, 9999, 1, kT0, std::ref(again)),
                 kNotFound);
  EXPECT_EQ(again.runs, 0);

  // A failing update: the report is not recorded either, so it counts later.
  auto fail = [](std::string_view) -> absl::StatusOr<std::string> {
    return absl::UnavailableError("policy says no");
  };
  PM_EXPECT_CODE(store_->RecordReportWithPolicy(kBob, a.notification_id, 1, kT0, fail),
                 kUnavailable);
  EXPECT_EQ(store_->ReportsForBodyHash(Hash('x'))->size(), 1u);
  EXPECT_EQ(*store_->GetPolicyState(), "A");
  Appender bob{"B"};
  EXPECT_TRUE(*store_->RecordReportWithPolicy(kBob, a.notification_id, 1, kT0, std::ref(bob)));
  EXPECT_EQ(bob.seen, "A");
  EXPECT_EQ(*store_->GetPolicyState(), "AB");

  // A changed verdict is a new report: it runs.
  Appender changed{"C"};
  EXPECT_TRUE(*store_->RecordReportWithPolicy(kAlice, a.notification_id, 2,
                                              kT0 + absl::Seconds(1), std::ref(changed)));
  EXPECT_EQ(changed.runs, 1);
  EXPECT_EQ(*store_->GetPolicyState(), "ABC");
  auto reports = store_->ReportsForBodyHash(Hash('x'));
  ASSERT_EQ(reports->size(), 2u);
  EXPECT_EQ((*reports)[0].user, kAlice);
  EXPECT_EQ((*reports)[0].verdict, 2);
  // The plain call is the same record without a state change.
  EXPECT_FALSE(*store_->RecordReport(kBob, a.notification_id, 1, kT0));
  EXPECT_EQ(*store_->GetPolicyState(), "ABC");
}

TEST_P(RecipientStoreContract, PeerReportWithPolicyCommitsBothOrNeither) {
  PeerReport r{"p.example", "rep1", Hash('x'), 1, 3, kT0};
  PM_EXPECT_CODE(store_->RecordPeerReportWithPolicy(
                     r, [](std::string_view) -> absl::StatusOr<std::string> {
                       return absl::InternalError("broken");
                     }),
                 kInternal);
  EXPECT_TRUE(store_->PeerReportsForBodyHash(Hash('x'))->empty());
  EXPECT_EQ(*store_->GetPolicyState(), "");
  Appender first{"P"};
  EXPECT_TRUE(*store_->RecordPeerReportWithPolicy(r, std::ref(first)));
  EXPECT_EQ(first.runs, 1);
  EXPECT_EQ(*store_->GetPolicyState(), "P");
  // A replay: nothing written, nothing run.
  Appender replay{"Q"};
  EXPECT_FALSE(*store_->RecordPeerReportWithPolicy(r, std::ref(replay)));
  EXPECT_EQ(replay.runs, 0);
  EXPECT_EQ(*store_->GetPolicyState(), "P");
  EXPECT_FALSE(*store_->RecordPeerReport(r));
  ASSERT_EQ(store_->PeerReportsForBodyHash(Hash('x'))->size(), 1u);
}

TEST_P(RecipientStoreContract, ConcurrentReportsNeverLoseAPolicyUpdate) {
  // Each report's update reads the stored count and writes count + 1; if two
  // ever ran on the same old state, the final count would be short.
  InsertResult a = Insert("ma", {kAlice}, 'x');
  constexpr int kThreads = 4, kEach = 15;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto fresh = store_->RecordReportWithPolicy(
            absl::StrCat("u", t, "-", i, "@r.example"), a.notification_id, 1, kT0,
            [](std::string_view old) -> absl::StatusOr<std::string> {
              int n = 0;
              if (!old.empty() && !absl::SimpleAtoi(AV(old), &n)) return absl::InternalError("bad");
              return absl::StrCat(n + 1);
            });
        EXPECT_TRUE(fresh.ok() && *fresh) << fresh.status();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(*store_->GetPolicyState(), absl::StrCat(kThreads * kEach));
  EXPECT_EQ(store_->ReportsForBodyHash(Hash('x'))->size(), size_t{kThreads * kEach});
}

TEST_P(RecipientStoreContract, ConcurrentInsertsGetDistinctUids) {
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = store_->InsertNotification(MakeNotification(absl::StrCat("t", t, "-", i)),
                                            {kAlice}, EntryState::kShown, "");
        EXPECT_TRUE(r.ok()) << r.status();
      }
    });
  }
  for (auto& th : threads) th.join();
  auto entries = store_->ListEntries(kAlice, "INBOX", 0, 0);
  PM_ASSERT_OK(entries);
  ASSERT_EQ(entries->size(), size_t{kThreads * kEach});
  for (size_t i = 0; i < entries->size(); ++i) EXPECT_EQ((*entries)[i].uid, i + 1);
}

// --- Space of expunged mail (core/logic/body_retention.h) ---------------------

const std::string kCarol = "carol@r.example";

// A user's own copy (IMAP APPEND), as the node stores it: no signed bytes,
// the owner as envelope sender, no expiry.
StoredNotification MakeLocal(const std::string& message_id, const std::string& owner, char body) {
  StoredNotification n = MakeNotification(message_id, body, "r.example");
  n.signed_bytes.clear();
  n.fetch_token.clear();
  n.envelope_sender = owner;
  n.expires = absl::InfiniteFuture();
  return n;
}

class ReleaseContract : public RecipientStoreContract {
 protected:
  // Stores `n` with its body (as Append does: body first) for `user` in
  // `folder`; returns the row id.
  int64_t Store(const StoredNotification& n, const std::string& user, const std::string& body,
                const std::string& folder = "INBOX") {
    EXPECT_TRUE(store_->PutBody(BodyCacheKey(n), body).ok());
    NotificationInsert ins;
    ins.notification = n;
    EntryPlacement p;
    p.user = user;
    p.folder = folder;
    ins.placements.push_back(p);
    auto r = store_->InsertNotifications({ins});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->size() != 1 || (*r)[0].entries.size() != 1) return 0;
    return (*r)[0].notification_id;
  }
  // Flags every entry of the user's folder \Deleted and expunges them.
  void ExpungeAll(const std::string& user, const std::string& folder = "INBOX") {
    auto entries = store_->ListEntries(user, folder, 1, 0);
    ASSERT_TRUE(entries.ok()) << entries.status();
    PM_ASSERT_OK(store_->SetFlags(user, folder, Uids(*entries), FlagOp::kAdd, {"\\Deleted"}));
    auto gone = store_->Expunge(user, folder, std::nullopt);
    PM_ASSERT_OK(gone);
    EXPECT_EQ(gone->size(), entries->size());
  }
  // Passes until nothing due is left.
  RecipientStore::ReleaseStats Release(absl::Time now) {
    RecipientStore::ReleaseStats total;
    for (int i = 0; i < 100; ++i) {
      auto s = store_->ReleaseUnreferenced(now, kReleaseBatch);
      EXPECT_TRUE(s.ok()) << s.status();
      if (!s.ok()) break;
      total.examined += s->examined;
      total.rows_dropped += s->rows_dropped;
      total.bodies_dropped += s->bodies_dropped;
      total.body_bytes_dropped += s->body_bytes_dropped;
      if (!s->more) break;
    }
    return total;
  }
  // A row inserted after the others (SQLite keeps the newest row: its id
  // would be given out again).
  void Later(const std::string& message_id) { Insert(message_id, {kCarol}, 'z'); }
};

TEST_P(ReleaseContract, AnExpungedAppendedCopyGoesWithItsBody) {
  StoredNotification n = MakeLocal("local.1", kAlice, 'a');
  const int64_t id = Store(n, kAlice, "my draft");
  Later("later");
  // Nothing is released while the entry is there.
  EXPECT_EQ(Release(kT0).examined, 0u);
  ExpungeAll(kAlice);
  RecipientStore::ReleaseStats s = Release(kT0);
  EXPECT_EQ(s.examined, 1u);
  EXPECT_EQ(s.rows_dropped, 1u);
  EXPECT_EQ(s.bodies_dropped, 1u);
  EXPECT_EQ(s.body_bytes_dropped, 8u);
  EXPECT_FALSE(*store_->HasBody(BodyCacheKey(n)));
  EXPECT_TRUE(absl::IsNotFound(store_->GetNotification(id).status()));
  EXPECT_TRUE(absl::IsNotFound(store_->FindNotification("r.example", "local.1").status()));
  EXPECT_TRUE(store_->NotificationsByBodyHash(n.body_sha256)->empty());
  EXPECT_EQ(Release(kT0).examined, 0u);  // the queue is empty
}

// The same bytes APPENDed twice share one body: it goes with the last copy.
TEST_P(ReleaseContract, AnOwnBodyStaysWhileAnotherCopyOfItIsKept) {
  StoredNotification a = MakeLocal("local.a", kAlice, 'a');
  StoredNotification b = MakeLocal("local.b", kAlice, 'a');
  ASSERT_EQ(BodyCacheKey(a), BodyCacheKey(b));
  Store(a, kAlice, "same bytes");
  Store(b, kAlice, "same bytes", "Sent");
  Later("later");
  ExpungeAll(kAlice);
  RecipientStore::ReleaseStats s = Release(kT0);
  EXPECT_EQ(s.rows_dropped, 1u);
  EXPECT_EQ(s.bodies_dropped, 0u);
  EXPECT_EQ(*store_->GetBody(BodyCacheKey(b)), "same bytes");
  ExpungeAll(kAlice, "Sent");
  s = Release(kT0);
  EXPECT_EQ(s.rows_dropped, 1u);
  EXPECT_EQ(s.bodies_dropped, 1u);
  EXPECT_FALSE(*store_->HasBody(BodyCacheKey(b)));
}

// Two users' notifications from one domain with one body share the cached
// body: one user's EXPUNGE leaves the other reading the same bytes; the
// body goes with the last entry; the rows stay (a re-delivery is still a
// duplicate) until their expiry plus skew, then go with their reports and
// read marks. Another domain's body of the same hash is never touched.
TEST_P(ReleaseContract, ASharedBodyGoesOnlyWithTheLastEntryOfAnyUser) {
  StoredNotification n1 = MakeNotification("m1", 'h');
  StoredNotification n2 = MakeNotification("m2", 'h');
  StoredNotification other = MakeNotification("m3", 'h', "t.example");
  ASSERT_EQ(BodyCacheKey(n1), BodyCacheKey(n2));
  ASSERT_NE(BodyCacheKey(n1), BodyCacheKey(other));
  const std::string body(300 * 1024, 'b');  // more than one chunk
  const int64_t id1 = Store(n1, kAlice, body);
  const int64_t id2 = Store(n2, kBob, body);
  Store(other, kCarol, "the other domain's");
  Later("later");
  PM_ASSERT_OK(store_->RecordReport(kAlice, id1, 1, kT0));
  PM_ASSERT_OK(store_->MarkReadsCounted({{kAlice, id1}}));

  ExpungeAll(kAlice);
  RecipientStore::ReleaseStats s = Release(kT0);
  EXPECT_EQ(s.examined, 1u);
  EXPECT_EQ(s.bodies_dropped, 0u);
  EXPECT_EQ(s.rows_dropped, 0u);
  // Bob still reads it, byte for byte.
  EXPECT_EQ(*store_->GetBody(BodyCacheKey(n2)), body);
  EXPECT_EQ(*store_->ReadCachedBody(BodyCacheKey(n2), 262144, 10), std::string(10, 'b'));
  // Alice's row stays: a re-delivery of m1 is a duplicate and places nothing.
  auto again = store_->InsertNotification(n1, {kAlice}, EntryState::kShown, "");
  PM_ASSERT_OK(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->notification_id, id1);
  EXPECT_TRUE(store_->ListEntries(kAlice, "INBOX", 1, 0)->empty());
  EXPECT_TRUE(*store_->IsReadCounted(kAlice, id1));

  ExpungeAll(kBob);
  s = Release(kT0);
  EXPECT_EQ(s.bodies_dropped, 1u);
  EXPECT_EQ(s.body_bytes_dropped, body.size());
  EXPECT_EQ(s.rows_dropped, 0u);
  EXPECT_FALSE(*store_->HasBody(BodyCacheKey(n1)));
  EXPECT_EQ(*store_->GetBody(BodyCacheKey(other)), "the other domain's");
  EXPECT_TRUE(store_->FindNotification("s.example", "m2").ok());

  // Not yet: expired, but within the skew.
  EXPECT_EQ(Release(n1.expires + absl::Seconds(1)).examined, 0u);
  s = Release(RowKeptUntil(n1.expires));
  EXPECT_EQ(s.examined, 2u);
  EXPECT_EQ(s.rows_dropped, 2u);
  EXPECT_TRUE(absl::IsNotFound(store_->GetNotification(id1).status()));
  EXPECT_TRUE(absl::IsNotFound(store_->GetNotification(id2).status()));
  EXPECT_TRUE(store_->ReportsForBodyHash(n1.body_sha256)->empty());
  EXPECT_FALSE(*store_->IsReadCounted(kAlice, id1));
  EXPECT_EQ(store_->NotificationsByBodyHash(n1.body_sha256)->size(), 1u);  // the other domain's
  EXPECT_EQ(Release(RowKeptUntil(n1.expires) + absl::Hours(1)).examined, 0u);
}

// One notification for two users: one user's expunge frees nothing.
TEST_P(ReleaseContract, ARowAnotherUserStillHasIsKept) {
  StoredNotification n = MakeNotification("m1", 'h');
  PM_ASSERT_OK(store_->PutBody(BodyCacheKey(n), "body"));
  auto r = store_->InsertNotification(n, {kAlice, kBob}, EntryState::kShown, "");
  PM_ASSERT_OK(r);
  ExpungeAll(kAlice);
  RecipientStore::ReleaseStats s = Release(RowKeptUntil(n.expires));
  EXPECT_EQ(s.examined, 1u);
  EXPECT_EQ(s.bodies_dropped + s.rows_dropped, 0u);
  EXPECT_EQ(*store_->GetBody(BodyCacheKey(n)), "body");
  EXPECT_EQ(store_->GetNotification(r->notification_id)->message_id, "m1");
  // Forgotten until its next removal.
  EXPECT_EQ(Release(RowKeptUntil(n.expires)).examined, 0u);
}

// COPY and MOVE keep the row referenced: the body stays.
TEST_P(ReleaseContract, CopiedAndMovedCopiesKeepTheBody) {
  StoredNotification n = MakeLocal("local.1", kAlice, 'a');
  Store(n, kAlice, "kept");
  Later("later");
  PM_ASSERT_OK(store_->EnsureFolder(kAlice, "Work"));
  PM_ASSERT_OK(store_->EnsureFolder(kAlice, "Archive"));
  PM_ASSERT_OK(store_->CopyEntries(kAlice, "INBOX", {1}, "Work", /*move=*/false));
  ExpungeAll(kAlice);
  PM_ASSERT_OK(store_->CopyEntries(kAlice, "Work", {1}, "Archive", /*move=*/true));
  RecipientStore::ReleaseStats s = Release(kT0);
  EXPECT_EQ(s.bodies_dropped + s.rows_dropped, 0u);
  EXPECT_EQ(*store_->GetBody(BodyCacheKey(n)), "kept");
  PM_ASSERT_OK(store_->MoveEntry(kAlice, "Archive", 1, "INBOX", EntryState::kShown, ""));
  EXPECT_EQ(Release(kT0).bodies_dropped, 0u);
  ExpungeAll(kAlice);
  EXPECT_EQ(Release(kT0).bodies_dropped, 1u);
}

TEST_P(ReleaseContract, DeleteFolderReleasesItsRows) {
  StoredNotification n = MakeLocal("local.1", kAlice, 'a');
  const int64_t id = Store(n, kAlice, "draft", "Drafts");
  Later("later");
  PM_ASSERT_OK(store_->DeleteFolder(kAlice, "Drafts"));
  RecipientStore::ReleaseStats s = Release(kT0);
  EXPECT_EQ(s.rows_dropped, 1u);
  EXPECT_EQ(s.bodies_dropped, 1u);
  EXPECT_TRUE(absl::IsNotFound(store_->GetNotification(id).status()));
}

TEST_P(ReleaseContract, EachCallIsBounded) {
  for (int i = 0; i < 5; ++i) Store(MakeLocal(absl::StrCat("local.", i), kAlice, 'a' + i), kAlice, "x");
  Later("later");
  ExpungeAll(kAlice);
  auto s = store_->ReleaseUnreferenced(kT0, 2);
  PM_ASSERT_OK(s);
  EXPECT_EQ(s->examined, 2u);
  EXPECT_TRUE(s->more);
  s = store_->ReleaseUnreferenced(kT0, 3);
  PM_ASSERT_OK(s);
  EXPECT_EQ(s->examined, 3u);
  EXPECT_FALSE(s->more);
  EXPECT_EQ(store_->ReleaseUnreferenced(kT0, 3)->examined, 0u);
}

// A fetch that finishes after the pass looked at its expunged copy (nothing
// was cached then) queues the row again, and the next pass drops the body.
TEST_P(ReleaseContract, ABodyCachedAfterThePassIsRequeued) {
  StoredNotification n = MakeNotification("m1", 'h');
  auto r = store_->InsertNotification(n, {kAlice}, EntryState::kShown, "");
  PM_ASSERT_OK(r);
  StoredNotification kept = MakeNotification("m2", 'k');
  auto k = store_->InsertNotification(kept, {kBob}, EntryState::kShown, "");
  PM_ASSERT_OK(k);
  ExpungeAll(kAlice);
  EXPECT_EQ(Release(kT0).bodies_dropped, 0u);  // nothing cached yet
  PM_ASSERT_OK(store_->PutBody(BodyCacheKey(n), "late"));
  PM_ASSERT_OK(store_->PutBody(BodyCacheKey(kept), "read"));
  PM_ASSERT_OK(store_->RequeueUnreferenced({r->notification_id, k->notification_id, 999999}));
  RecipientStore::ReleaseStats s = Release(kT0);
  EXPECT_EQ(s.examined, 1u);  // not the referenced one, not the unknown one
  EXPECT_EQ(s.bodies_dropped, 1u);
  EXPECT_FALSE(*store_->HasBody(BodyCacheKey(n)));
  EXPECT_EQ(*store_->GetBody(BodyCacheKey(kept)), "read");
}

// APPEND stores its body, then its row, then confirms the body: a pass that
// ran in between (an older copy of the same bytes expunged) took it, and
// the APPEND puts it again; a pass after the row keeps it.
TEST_P(ReleaseContract, ConfirmBodySeesAPassBetweenBodyAndRow) {
  StoredNotification old = MakeLocal("local.old", kAlice, 'a');
  StoredNotification fresh = MakeLocal("local.new", kAlice, 'a');
  const std::string key = BodyCacheKey(fresh);
  Store(old, kAlice, "same");
  Later("later");
  ExpungeAll(kAlice);
  PM_ASSERT_OK(store_->PutBody(key, "same"));  // APPEND: body first (already there)
  EXPECT_EQ(Release(kT0).bodies_dropped, 1u);  // the pass, in between
  NotificationInsert ins;
  ins.notification = fresh;
  ins.placements.push_back(EntryPlacement{.user = kAlice});
  PM_ASSERT_OK(store_->InsertNotifications({ins}));
  EXPECT_FALSE(*store_->ConfirmBody(key));
  PM_ASSERT_OK(store_->PutBody(key, "same"));
  EXPECT_TRUE(*store_->ConfirmBody(key));
  EXPECT_EQ(Release(kT0).bodies_dropped, 0u);
  EXPECT_EQ(*store_->GetBody(key), "same");
}

// APPENDs of the same bytes, EXPUNGEs and release passes at once: a copy's
// body is there from its APPEND's end to its EXPUNGE, and goes once no copy
// is left.
TEST_P(ReleaseContract, ConcurrentAppendExpungeAndPassesNeverLoseAKeptBody) {
  const std::string key = BodyCacheKey(MakeLocal("x", kAlice, 'c'));
  constexpr int kRounds = 60;
  constexpr int kWriters = 3;
  std::atomic<bool> stop{false};
  std::atomic<int> seq{0};
  std::atomic<int> lost{0};
  auto append = [&](const std::string& folder) -> absl::Status {
    StoredNotification n = MakeLocal(absl::StrCat("local.", seq++), kAlice, 'c');
    RETURN_IF_ERROR(store_->PutBody(key, "shared bytes"));
    NotificationInsert ins;
    ins.notification = n;
    ins.placements.push_back(EntryPlacement{.user = kAlice, .folder = folder});
    RETURN_IF_ERROR(store_->InsertNotifications({ins}).status());
    ASSIGN_OR_RETURN(bool there, store_->ConfirmBody(key));
    if (!there) RETURN_IF_ERROR(store_->PutBody(key, "shared bytes"));
    return absl::OkStatus();
  };
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    const std::string folder = absl::StrCat("F", w);
    PM_ASSERT_OK(store_->EnsureFolder(kAlice, folder));
    writers.emplace_back([&, folder] {
      for (int i = 0; i < kRounds; ++i) {
        EXPECT_TRUE(append(folder).ok());
        // This copy is in the folder: its body must be there.
        if (!*store_->HasBody(key)) ++lost;
        auto e = store_->ListEntries(kAlice, folder, 1, 0);
        if (!e.ok()) continue;
        EXPECT_TRUE(store_->SetFlags(kAlice, folder, Uids(*e), FlagOp::kAdd, {"\\Deleted"}).ok());
        EXPECT_TRUE(store_->Expunge(kAlice, folder, std::nullopt).ok());
      }
    });
  }
  std::thread passer([&] {
    while (!stop.load()) EXPECT_TRUE(store_->ReleaseUnreferenced(kT0, 16).ok());
  });
  for (std::thread& t : writers) t.join();
  stop = true;
  passer.join();
  EXPECT_EQ(lost.load(), 0);
  Insert("later", {kCarol}, 'z');
  Release(kT0);
  EXPECT_FALSE(*store_->HasBody(key));
  // And one kept copy keeps it through passes.
  PM_ASSERT_OK(append("INBOX"));
  Insert("later2", {kCarol}, 'y');
  Release(kT0);
  EXPECT_EQ(*store_->GetBody(key), "shared bytes");
}

INSTANTIATE_TEST_SUITE_P(Backends, ReleaseContract,
                         ::testing::Values(Backend::kMemory, Backend::kSqlite, Backend::kPostgres),
                         ::pullmail::testing::BackendName);

INSTANTIATE_TEST_SUITE_P(Backends, RecipientStoreContract,
                         ::testing::Values(Backend::kMemory, Backend::kSqlite, Backend::kPostgres),
                         ::pullmail::testing::BackendName);

// --- SQLite only ---------------------------------------------------------------

TEST(SqliteRecipientStore, SurvivesCloseAndReopen) {
  TempDir dir;
  const std::string path = dir.File("r.db");
  uint32_t inbox_validity = 0, work_validity = 0;
  int64_t id1 = 0;
  {
    auto store = OpenSqliteRecipientStore(path);
    PM_ASSERT_OK(store);
    RecipientStore& s = **store;
    auto r = s.InsertNotification(MakeNotification("m1", 'x'), {kAlice, kBob}, EntryState::kShown,
                                  "");
    PM_ASSERT_OK(r);
    id1 = r->notification_id;
    PM_ASSERT_OK(s.InsertNotification(MakeNotification("m2", 'y'), {kAlice}, EntryState::kHeld,
                                      "why"));
    PM_ASSERT_OK(s.SetFlags(kAlice, "INBOX", {1}, FlagOp::kAdd, {"\\Seen", "$K"}));
    PM_ASSERT_OK(s.EnsureFolder(kAlice, "Work"));
    PM_ASSERT_OK(s.CopyEntries(kAlice, "INBOX", {1}, "Work", false));
    PM_ASSERT_OK(s.SetFlags(kBob, "INBOX", {1}, FlagOp::kAdd, {"\\Deleted"}));
    PM_ASSERT_OK(s.Expunge(kBob, "INBOX", std::nullopt));
    PM_ASSERT_OK(s.PutBody(Hash('x'), "cached body"));
    PM_ASSERT_OK(s.RecordReport(kAlice, id1, 1, kT0));
    PeerReport pr{"p.example", "rep1", Hash('x'), 1, 2, kT0};
    PM_ASSERT_OK(s.RecordPeerReport(pr));
    PM_ASSERT_OK(s.MarkNotificationRevoked(id1));
    PM_ASSERT_OK(s.RecordReportWithPolicy(kBob, id1, 1, kT0, [](std::string_view) {
      return absl::StatusOr<std::string>("counted");
    }));
    inbox_validity = s.GetFolder(kAlice, "INBOX")->uid_validity;
    work_validity = s.GetFolder(kAlice, "Work")->uid_validity;
  }
  auto store = OpenSqliteRecipientStore(path);
  PM_ASSERT_OK(store);
  RecipientStore& s = **store;
  auto dup = s.InsertNotification(MakeNotification("m1", 'x'), {kAlice}, EntryState::kShown, "");
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->notification_id, id1);
  EXPECT_TRUE(s.GetNotification(id1)->revoked);
  auto inbox = s.GetFolder(kAlice, "INBOX");
  EXPECT_EQ(inbox->uid_validity, inbox_validity);
  EXPECT_EQ(inbox->messages, 2u);
  EXPECT_EQ(inbox->unseen, 1u);
  EXPECT_EQ(s.GetFolder(kAlice, "Work")->uid_validity, work_validity);
  EXPECT_EQ(s.GetEntry(kAlice, "INBOX", 1)->flags, (std::vector<std::string>{"$K", "\\Seen"}));
  EXPECT_EQ(s.GetEntry(kAlice, "INBOX", 2)->state, EntryState::kHeld);
  EXPECT_EQ(s.GetEntry(kAlice, "INBOX", 2)->reason, "why");
  EXPECT_EQ(s.GetEntry(kAlice, "Work", 1)->flags, (std::vector<std::string>{"$K", "\\Seen"}));
  EXPECT_TRUE(s.ListEntries(kBob, "INBOX", 0, 0)->empty());
  EXPECT_EQ(s.GetFolder(kBob, "INBOX")->uid_next, 2u);
  EXPECT_EQ(*s.GetBody(Hash('x')), "cached body");
  EXPECT_EQ(s.ReportsForBodyHash(Hash('x'))->size(), 2u);
  EXPECT_EQ(*s.GetPolicyState(), "counted");
  EXPECT_FALSE(*s.RecordPeerReport(PeerReport{"p.example", "rep1", Hash('x'), 1, 2, kT0}));
  // A new folder after reopen still gets a never-used UIDVALIDITY.
  auto fresh = s.EnsureFolder(kAlice, "Fresh");
  EXPECT_NE(fresh->uid_validity, inbox_validity);
  EXPECT_NE(fresh->uid_validity, work_validity);
  EXPECT_NE(fresh->uid_validity, s.GetFolder(kBob, "INBOX")->uid_validity);
}

// A body whose writing a crash cut off (its writer flushed chunk rows and
// then neither finished nor dropped them) leaves chunk rows without a size
// row: the next open removes them, and the database's foreign keys hold
// again. The crash is made by writing such rows as a flush does.
TEST(SqliteRecipientStore, ReopenDropsTheChunksOfAnUnfinishedBody) {
  TempDir dir;
  const std::string path = dir.File("r.db");
  {
    auto store = OpenSqliteRecipientStore(path);
    PM_ASSERT_OK(store);
    PM_ASSERT_OK((*store)->PutBody(Hash('k'), "kept"));
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  auto rows = [raw](const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw, sql.c_str(), -1, &st, nullptr), SQLITE_OK)
        << sqlite3_errmsg(raw);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) ++n;
    sqlite3_finalize(st);
    return n;
  };
  rows("PRAGMA foreign_keys=OFF");
  for (int idx = 0; idx < 4; ++idx) {
    rows(absl::StrCat("INSERT INTO cached_body_chunks(sha256, idx, data) VALUES(x'",
                      absl::BytesToHexString(Hash('u')), "', ", idx, ", zeroblob(262144))"));
  }
  EXPECT_EQ(rows("SELECT idx FROM cached_body_chunks"), 5);
  auto store = OpenSqliteRecipientStore(path);
  PM_ASSERT_OK(store);
  EXPECT_FALSE(*(*store)->HasBody(Hash('u')));
  EXPECT_EQ(*(*store)->GetBody(Hash('k')), "kept");
  EXPECT_EQ(rows("SELECT idx FROM cached_body_chunks"), 1);  // the kept body's one chunk
  EXPECT_EQ(rows("PRAGMA foreign_key_check"), 0);
  sqlite3_close(raw);
}

// The release queue is written with the expunge: closed (or killed) before
// any pass, the store frees the space after reopening. The newest row stays
// while it is the newest (SQLite would give its id out again).
TEST(SqliteRecipientStore, ReleaseQueueSurvivesReopenAndKeepsTheNewestId) {
  TempDir dir;
  const std::string path = dir.File("r.db");
  StoredNotification n = MakeLocal("local.1", kAlice, 'a');
  int64_t id = 0;
  {
    auto store = OpenSqliteRecipientStore(path);
    PM_ASSERT_OK(store);
    RecipientStore& s = **store;
    PM_ASSERT_OK(s.PutBody(BodyCacheKey(n), "draft"));
    auto r = s.InsertNotification(n, {kAlice}, EntryState::kShown, "");
    PM_ASSERT_OK(r);
    id = r->notification_id;
    PM_ASSERT_OK(s.SetFlags(kAlice, "INBOX", {1}, FlagOp::kAdd, {"\\Deleted"}));
    PM_ASSERT_OK(s.Expunge(kAlice, "INBOX", std::nullopt));
  }
  auto store = OpenSqliteRecipientStore(path);
  PM_ASSERT_OK(store);
  RecipientStore& s = **store;
  auto r = s.ReleaseUnreferenced(kT0, 10);
  PM_ASSERT_OK(r);
  EXPECT_EQ(r->bodies_dropped, 1u);
  EXPECT_EQ(r->rows_dropped, 0u);  // the newest row
  EXPECT_FALSE(*s.HasBody(BodyCacheKey(n)));
  EXPECT_TRUE(s.GetNotification(id).ok());
  auto later = s.InsertNotification(MakeNotification("m2"), {kBob}, EntryState::kShown, "");
  PM_ASSERT_OK(later);
  EXPECT_GT(later->notification_id, id);
  EXPECT_EQ(s.ReleaseUnreferenced(kT0, 10)->examined, 0u);  // looked at again a little later
  r = s.ReleaseUnreferenced(kT0 + absl::Seconds(10), 10);
  PM_ASSERT_OK(r);
  EXPECT_EQ(r->rows_dropped, 1u);
  EXPECT_TRUE(absl::IsNotFound(s.GetNotification(id).status()));
}

// A database of schema 10 kept the rows and bodies of expunged mail: the
// migration queues every row no entry refers to, and the pass frees them.
TEST(SqliteRecipientStore, MigrationQueuesWhatOlderVersionsKept) {
  TempDir dir;
  const std::string path = dir.File("r.db");
  StoredNotification n = MakeLocal("local.1", kAlice, 'a');
  {
    auto db = SqliteDb::Open(path, SqliteOptions(), /*max_version=*/10);
    PM_ASSERT_OK(db);
    auto s = NewSqliteRecipientStore(*db);
    PM_ASSERT_OK(s->PutBody(BodyCacheKey(n), "old draft"));
    PM_ASSERT_OK(s->InsertNotification(n, {kAlice}, EntryState::kShown, ""));
    PM_ASSERT_OK(s->InsertNotification(MakeNotification("m2"), {kBob}, EntryState::kShown, ""));
    PM_ASSERT_OK(s->SetFlags(kAlice, "INBOX", {1}, FlagOp::kAdd, {"\\Deleted"}));
    PM_ASSERT_OK(s->Expunge(kAlice, "INBOX", std::nullopt));
    EXPECT_EQ(s->ReleaseUnreferenced(kT0, 10)->examined, 0u);  // no queue at version 10
  }
  auto store = OpenSqliteRecipientStore(path);
  PM_ASSERT_OK(store);
  auto r = (*store)->ReleaseUnreferenced(kT0, 10);
  PM_ASSERT_OK(r);
  EXPECT_EQ(r->examined, 1u);
  EXPECT_EQ(r->rows_dropped, 1u);
  EXPECT_EQ(r->bodies_dropped, 1u);
  EXPECT_FALSE(*(*store)->HasBody(BodyCacheKey(n)));
}

}  // namespace
}  // namespace pullmail
