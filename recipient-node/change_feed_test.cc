// The change tracker (change_feed.h): who a change wakes, and the one
// reading per change that every stream of the folder sends from.
#include "recipient-node/change_feed.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

namespace pullmail {
namespace {

// A folder as the store would read it: entries with modseqs, removed UIDs.
struct FakeFolder {
  std::map<uint32_t, MailboxEntry> entries;
  std::vector<std::pair<uint32_t, uint64_t>> expunged;  // (uid, modseq)
  uint32_t uid_next = 1;
  uint64_t modseq = 1;
  int loads = 0;
  bool fail = false;

  void Add() {
    MailboxEntry e;
    e.uid = uid_next++;
    e.modseq = ++modseq;
    entries[e.uid] = e;
  }
  void Expunge(uint32_t uid) {
    entries.erase(uid);
    expunged.push_back({uid, ++modseq});
  }
  absl::StatusOr<FolderChanges> Changes(uint64_t from) {
    ++loads;
    if (fail) return absl::UnavailableError("database busy");
    FolderChanges c;
    c.folder.name = "INBOX";
    c.folder.uid_validity = 1;
    c.folder.uid_next = uid_next;
    c.folder.highest_modseq = modseq;
    c.by_state.push_back({EntryState::kShown, static_cast<uint32_t>(entries.size()), 0});
    for (const auto& [uid, e] : entries) {
      if (e.modseq > from) c.changed.push_back(e);
    }
    for (const auto& [uid, m] : expunged) {
      if (m > from) c.expunged.push_back(uid);
    }
    return c;
  }
};

std::vector<std::string> Kinds(const absl::StatusOr<std::vector<v1::WatchEvent>>& events) {
  std::vector<std::string> out;
  if (!events.ok()) return {events.status().ToString()};
  for (const v1::WatchEvent& e : *events) {
    out.push_back(e.uid() > 0 ? e.kind() + ":" + std::to_string(e.uid()) : e.kind());
  }
  return out;
}

TEST(ChangeFeedTest, AChangeWakesOnlyItsFolder) {
  ChangeFeed feed;
  auto inbox = feed.Subscribe("bob@b.example", "INBOX");
  auto other = feed.Subscribe("bob@b.example", "Other");
  auto carol = feed.Subscribe("carol@b.example", "INBOX");
  const uint64_t i0 = inbox->Version(), o0 = other->Version(), c0 = carol->Version();
  feed.Notify("bob@b.example", "Other");
  EXPECT_EQ(inbox->Version(), i0);
  EXPECT_EQ(other->Version(), o0 + 1);
  EXPECT_EQ(carol->Version(), c0);
  // Folder names are normalised; "" is INBOX.
  feed.Notify("bob@b.example", "inbox");
  feed.Notify("bob@b.example", "");
  EXPECT_EQ(inbox->Version(), i0 + 2);
  EXPECT_EQ(carol->Version(), c0);
  // A change whose folders are unknown wakes every folder of the user.
  feed.NotifyUser("bob@b.example");
  EXPECT_EQ(inbox->Version(), i0 + 3);
  EXPECT_EQ(other->Version(), o0 + 2);
  EXPECT_EQ(carol->Version(), c0);
}

TEST(ChangeFeedTest, NextWaitsForAChangeAndSendsItsEvents) {
  ChangeFeed feed;
  FakeFolder f;
  f.Add();
  auto load = [&](uint64_t from) { return f.Changes(from); };
  auto sub = feed.Subscribe("bob@b.example", "INBOX");
  ASSERT_TRUE(sub->Start(load).ok());
  // Nothing changed: nothing read, nothing sent.
  EXPECT_TRUE(Kinds(sub->Next(absl::ZeroDuration(), load)).empty());
  EXPECT_EQ(f.loads, 1);
  f.Add();
  std::thread t([&] { feed.Notify("bob@b.example", "INBOX"); });
  // Without the change this would wait an hour.
  EXPECT_EQ(Kinds(sub->Next(absl::Hours(1), load)), (std::vector<std::string>{"exists:2"}));
  t.join();
  // Another folder's change is not this stream's.
  feed.Notify("bob@b.example", "Other");
  EXPECT_TRUE(Kinds(sub->Next(absl::ZeroDuration(), load)).empty());
  EXPECT_EQ(f.loads, 2);
}

TEST(ChangeFeedTest, OneReadingPerChangeForEveryStreamOfTheFolder) {
  ChangeFeed feed;
  FakeFolder f;
  f.Add();
  f.Add();
  auto load = [&](uint64_t from) { return f.Changes(from); };
  std::vector<std::unique_ptr<ChangeFeed::Subscription>> subs;
  for (int i = 0; i < 5; ++i) {
    subs.push_back(feed.Subscribe("bob@b.example", "INBOX"));
    ASSERT_TRUE(subs.back()->Start(load).ok());
  }
  EXPECT_EQ(f.loads, 1);  // the first stream's start read the folder
  f.Expunge(1);
  feed.Notify("bob@b.example", "INBOX");
  f.Add();
  feed.Notify("bob@b.example", "INBOX");
  for (auto& sub : subs) {
    EXPECT_EQ(Kinds(sub->Next(absl::ZeroDuration(), load)),
              (std::vector<std::string>{"expunge", "exists:3"}));
  }
  EXPECT_EQ(f.loads, 2);
  EXPECT_EQ(feed.readings(), 2u);
  EXPECT_EQ(feed.shared(), 4u);
  // A stream that starts now gets only what comes after.
  auto late = feed.Subscribe("bob@b.example", "INBOX");
  ASSERT_TRUE(late->Start(load).ok());
  EXPECT_EQ(f.loads, 2);
  f.Add();
  feed.Notify("bob@b.example", "INBOX");
  EXPECT_EQ(Kinds(late->Next(absl::ZeroDuration(), load)), (std::vector<std::string>{"exists:4"}));
  EXPECT_EQ(Kinds(subs[0]->Next(absl::ZeroDuration(), load)),
            (std::vector<std::string>{"exists:4"}));
}

TEST(ChangeFeedTest, AStreamFarBehindGetsOneExpungeForWhatItMissed) {
  ChangeFeed feed;
  FakeFolder f;
  auto load = [&](uint64_t from) { return f.Changes(from); };
  auto quick = feed.Subscribe("bob@b.example", "INBOX");
  auto slow = feed.Subscribe("bob@b.example", "INBOX");
  ASSERT_TRUE(quick->Start(load).ok());
  ASSERT_TRUE(slow->Start(load).ok());
  const size_t n = ChangeFeed::kMaxLog + 10;
  for (size_t i = 0; i < n; ++i) {
    f.Add();
    feed.Notify("bob@b.example", "INBOX");
    EXPECT_EQ(Kinds(quick->Next(absl::ZeroDuration(), load)).size(), 1u);
  }
  std::vector<std::string> missed = Kinds(slow->Next(absl::ZeroDuration(), load));
  ASSERT_EQ(missed.size(), ChangeFeed::kMaxLog + 1);
  EXPECT_EQ(missed.front(), "expunge");
  EXPECT_EQ(missed.back(), "exists:" + std::to_string(n));
}

TEST(ChangeFeedTest, AFailedReadingIsReadAgainByTheNextStream) {
  ChangeFeed feed;
  FakeFolder f;
  auto load = [&](uint64_t from) { return f.Changes(from); };
  auto a = feed.Subscribe("bob@b.example", "INBOX");
  auto b = feed.Subscribe("bob@b.example", "INBOX");
  ASSERT_TRUE(a->Start(load).ok());
  ASSERT_TRUE(b->Start(load).ok());
  f.Add();
  feed.Notify("bob@b.example", "INBOX");
  f.fail = true;
  EXPECT_FALSE(a->Next(absl::ZeroDuration(), load).ok());
  f.fail = false;
  EXPECT_EQ(Kinds(b->Next(absl::ZeroDuration(), load)), (std::vector<std::string>{"exists:1"}));
}

TEST(ChangeFeedTest, NothingIsKeptForFoldersNobodyWatches) {
  ChangeFeed feed;
  FakeFolder f;
  auto load = [&](uint64_t from) { return f.Changes(from); };
  feed.Notify("bob@b.example", "INBOX");  // nobody subscribed: no state
  {
    auto sub = feed.Subscribe("bob@b.example", "INBOX");
    ASSERT_TRUE(sub->Start(load).ok());
    EXPECT_EQ(sub->Version(), 0u);
    feed.Notify("bob@b.example", "INBOX");
    EXPECT_EQ(sub->Version(), 1u);
  }
  // The last subscription dropped the folder's state: a new one reads the
  // folder again and starts from zero.
  auto again = feed.Subscribe("bob@b.example", "INBOX");
  EXPECT_EQ(again->Version(), 0u);
  ASSERT_TRUE(again->Start(load).ok());
  EXPECT_EQ(f.loads, 2);
}

}  // namespace
}  // namespace pullmail
