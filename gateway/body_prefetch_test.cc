#include "gateway/body_prefetch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"

namespace pullmail::gateway {
namespace {

// A reader that records how many reads run at once.
struct Recorder {
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  std::mutex mu;
  std::set<uint32_t> read;

  absl::StatusOr<BodyPrefetch::Result> Read(uint32_t uid) {
    int now = ++running;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    {
      std::lock_guard<std::mutex> lock(mu);
      read.insert(uid);
    }
    --running;
    if (uid == 13) return absl::UnavailableError("sender node down");
    BodyPrefetch::Result r;
    r.info.set_uid(uid);
    r.body = absl::StrCat("body of ", uid);
    return r;
  }
};

std::vector<BodyPrefetch::Item> Items(uint32_t n, uint64_t size) {
  std::vector<BodyPrefetch::Item> items;
  for (uint32_t uid = 1; uid <= n; ++uid) items.push_back({uid, size});
  return items;
}

TEST(BodyPrefetch, ResultsComeInOrderWithReadsOverlapping) {
  Recorder rec;
  BodyPrefetch p([&](uint32_t uid) { return rec.Read(uid); }, Items(40, 100), 8, 1 << 20);
  for (size_t i = 0; i < 12; ++i) {
    auto r = p.Take(i);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->info.uid(), i + 1);
    EXPECT_EQ(r->body, absl::StrCat("body of ", i + 1));
  }
  EXPECT_GT(rec.peak.load(), 1);   // reads overlapped
  EXPECT_LE(rec.peak.load(), 8);   // never more than the window
}

TEST(BodyPrefetch, AnErrorBelongsToItsOwnItem) {
  Recorder rec;
  BodyPrefetch p([&](uint32_t uid) { return rec.Read(uid); }, Items(20, 100), 4, 1 << 20);
  for (size_t i = 0; i < 12; ++i) ASSERT_TRUE(p.Take(i).ok());
  EXPECT_EQ(p.Take(12).status().code(), absl::StatusCode::kUnavailable);  // uid 13
  EXPECT_TRUE(p.Take(13).ok());
}

TEST(BodyPrefetch, ByteBudgetLimitsReadAheadButNeverTheItemTaken) {
  Recorder rec;
  // Each body is larger than the budget: only the one being taken is read.
  BodyPrefetch p([&](uint32_t uid) { return rec.Read(uid); }, Items(10, 1000), 8, 500);
  for (size_t i = 0; i < 10; ++i) ASSERT_TRUE(p.Take(i).ok());
  EXPECT_EQ(rec.peak.load(), 1);
}

TEST(BodyPrefetch, SkippedItemsAreNotWaitedForAndStopEarlyReadsNoFurther) {
  Recorder rec;
  {
    BodyPrefetch p([&](uint32_t uid) { return rec.Read(uid); }, Items(100, 10), 4, 1 << 20);
    ASSERT_TRUE(p.Take(0).ok());
    auto r = p.Take(50);  // 2..50 skipped (e.g. expunged meanwhile)
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->info.uid(), 51u);
  }  // the destructor waits for what is still running
  std::lock_guard<std::mutex> lock(rec.mu);
  EXPECT_LE(rec.read.size(), 12u);  // at most two windows' worth, not 100
  EXPECT_EQ(rec.running.load(), 0);
}

}  // namespace
}  // namespace pullmail::gateway
