#include "core/logic/body_retention.h"

#include "core/util/limits.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'750'000'000);

// A read message stays: no age, however long, drops a body a recipient holds.
TEST(BodyRetentionTest, ABodyIsNeverDroppedByAge) {
  for (absl::Time t : {absl::UnixEpoch(), absl::FromUnixSeconds(1'750'000'000),
                       absl::FromUnixSeconds(1'750'000'000) + absl::Hours(24 * 3650)}) {
    EXPECT_FALSE(RecipientBodyDropTime(t).has_value());
  }
}

// A row that an entry refers to again (or still) keeps everything and
// leaves the queue, whatever its age.
TEST(BodyRetentionTest, AReferencedRowKeepsItsBodyAndRow) {
  for (bool local : {false, true}) {
    ReleaseFacts f;
    f.local = local;
    f.expires = kNow - absl::Hours(24 * 365);
    f.has_entries = true;
    f.body_cached = true;
    f.key_referenced = true;
    ReleaseDecision d = DecideRelease(f, kNow);
    EXPECT_FALSE(d.drop_body);
    EXPECT_FALSE(d.drop_row);
    EXPECT_FALSE(d.revisit.has_value());
  }
}

// An APPENDed copy's row and body go with its last entry.
TEST(BodyRetentionTest, AnAppendedCopyGoesWithItsLastEntry) {
  ReleaseFacts f;
  f.local = true;
  f.expires = absl::InfiniteFuture();
  f.body_cached = true;
  ReleaseDecision d = DecideRelease(f, kNow);
  EXPECT_TRUE(d.drop_body);
  EXPECT_TRUE(d.drop_row);
  EXPECT_FALSE(d.revisit.has_value());
}

// Another copy of the same key (the owner stored the same bytes twice, or
// another user's notification from the same domain) keeps the body.
TEST(BodyRetentionTest, ABodyAnotherEntryNeedsStays) {
  for (bool local : {false, true}) {
    ReleaseFacts f;
    f.local = local;
    f.expires = local ? absl::InfiniteFuture() : kNow - absl::Hours(1);
    f.body_cached = true;
    f.key_referenced = true;
    ReleaseDecision d = DecideRelease(f, kNow);
    EXPECT_FALSE(d.drop_body) << local;
    EXPECT_TRUE(d.drop_row) << local;  // the row itself is not needed
  }
}

// An accepted notification's row outlives its body until expiry plus skew:
// a re-delivery before then must be found a duplicate.
TEST(BodyRetentionTest, AnAcceptedRowStaysUntilItsExpiryPlusSkew) {
  ReleaseFacts f;
  f.expires = kNow + absl::Hours(24 * 30);
  f.body_cached = true;
  ReleaseDecision d = DecideRelease(f, kNow);
  EXPECT_TRUE(d.drop_body);
  EXPECT_FALSE(d.drop_row);
  ASSERT_TRUE(d.revisit.has_value());
  EXPECT_EQ(*d.revisit, f.expires + absl::Milliseconds(limits::kMaxClockSkewMs));
  EXPECT_EQ(*d.revisit, RowKeptUntil(f.expires));

  // Expired, but within the skew: still kept.
  f.body_cached = false;
  d = DecideRelease(f, f.expires + absl::Seconds(1));
  EXPECT_FALSE(d.drop_body);
  EXPECT_FALSE(d.drop_row);
  EXPECT_EQ(d.revisit, RowKeptUntil(f.expires));

  // Past it: the row goes.
  d = DecideRelease(f, RowKeptUntil(f.expires));
  EXPECT_TRUE(d.drop_row);
  EXPECT_FALSE(d.drop_body);  // nothing cached
  EXPECT_FALSE(d.revisit.has_value());
}

// A body that is not cached is never "dropped" (nothing to count).
TEST(BodyRetentionTest, NothingCachedNothingDropped) {
  ReleaseFacts f;
  f.local = true;
  f.expires = absl::InfiniteFuture();
  EXPECT_FALSE(DecideRelease(f, kNow).drop_body);
}

}  // namespace
}  // namespace pullmail
