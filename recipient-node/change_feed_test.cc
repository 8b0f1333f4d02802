// The change tracker (change_feed.h): who a change wakes, and the readings
// the streams one change wakes share.
#include "recipient-node/change_feed.h"

#include <gtest/gtest.h>

#include <thread>

namespace pullmail {
namespace {

TEST(ChangeFeedTest, AChangeWakesOnlyItsFolder) {
  ChangeFeed feed;
  auto inbox = feed.Subscribe("bob@b.example", "INBOX");
  auto other = feed.Subscribe("bob@b.example", "Other");
  auto carol = feed.Subscribe("carol@b.example", "INBOX");
  const uint64_t i0 = inbox->Version(), o0 = other->Version(), c0 = carol->Version();
  feed.Notify("bob@b.example", "Other");
  EXPECT_EQ(inbox->Version(), i0);
  EXPECT_EQ(other->Wait(o0, absl::ZeroDuration()), o0 + 1);
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

TEST(ChangeFeedTest, WaitReturnsOnAChangeFromAnotherThread) {
  ChangeFeed feed;
  auto sub = feed.Subscribe("bob@b.example", "INBOX");
  const uint64_t v = sub->Version();
  std::thread t([&] { feed.Notify("bob@b.example", "INBOX"); });
  // Without the change this would wait an hour.
  EXPECT_EQ(sub->Wait(v, absl::Hours(1)), v + 1);
  t.join();
}

TEST(ChangeFeedTest, NothingIsKeptForFoldersNobodyWatches) {
  ChangeFeed feed;
  feed.Notify("bob@b.example", "INBOX");  // nobody subscribed: no state
  {
    auto sub = feed.Subscribe("bob@b.example", "INBOX");
    EXPECT_EQ(sub->Version(), 0u);
    feed.Notify("bob@b.example", "INBOX");
    EXPECT_EQ(sub->Version(), 1u);
  }
  // The last subscription dropped the counter: a new one starts again.
  auto again = feed.Subscribe("bob@b.example", "INBOX");
  EXPECT_EQ(again->Version(), 0u);
}

FolderChanges Reading(uint64_t modseq) {
  FolderChanges c;
  c.folder.name = "INBOX";
  c.folder.highest_modseq = modseq;
  return c;
}

TEST(ChangeFeedTest, StreamsWokenByOneChangeShareOneReading) {
  ChangeFeed feed;
  auto a = feed.Subscribe("bob@b.example", "INBOX");
  auto b = feed.Subscribe("bob@b.example", "INBOX");
  feed.Notify("bob@b.example", "INBOX");
  const uint64_t v = a->Version();
  int loads = 0;
  auto load = [&]() -> absl::StatusOr<FolderChanges> { return Reading(10 + ++loads); };
  auto ra = a->Read(v, 5, load);
  auto rb = b->Read(v, 5, load);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(ra->get(), rb->get());
  EXPECT_EQ(feed.shared_readings(), 1u);
  EXPECT_EQ(feed.loaded_readings(), 1u);
  // From another modseq, or after a later change: read again.
  ASSERT_TRUE(b->Read(v, 6, load).ok());
  EXPECT_EQ(loads, 2);
  feed.Notify("bob@b.example", "INBOX");
  ASSERT_TRUE(a->Read(a->Version(), 6, load).ok());
  EXPECT_EQ(loads, 3);
  // A failed reading is not kept.
  feed.Notify("bob@b.example", "INBOX");
  auto fail = [&]() -> absl::StatusOr<FolderChanges> { return absl::UnavailableError("busy"); };
  EXPECT_FALSE(a->Read(a->Version(), 6, fail).ok());
  ASSERT_TRUE(b->Read(b->Version(), 6, load).ok());
  EXPECT_EQ(loads, 4);
}

}  // namespace
}  // namespace pullmail
