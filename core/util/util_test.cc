#include <gtest/gtest.h>

#include "core/util/clock.h"
#include "core/util/random.h"
#include "core/util/status_macros.h"

namespace pullmail {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckQuarter(int x) {
  RETURN_IF_ERROR(Quarter(x).status());
  return absl::OkStatus();
}

TEST(StatusMacros, PropagateErrorsAndValues) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckQuarter(4).ok());
  EXPECT_FALSE(CheckQuarter(2).ok());
}

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(ToUnixMs(clock.Now()), 100'000);
  clock.Advance(absl::Milliseconds(5));
  EXPECT_EQ(ToUnixMs(clock.Now()), 100'005);
  EXPECT_EQ(FromUnixMs(100'005), clock.Now());
}

TEST(ScaledClock, RunsFasterFromItsOrigin) {
  FakeClock wall(absl::FromUnixSeconds(1000));
  ScaledClock fast(&wall, 60.0, absl::FromUnixSeconds(1000));
  EXPECT_EQ(fast.Now(), absl::FromUnixSeconds(1000));
  wall.Advance(absl::Seconds(2));
  EXPECT_EQ(fast.Now(), absl::FromUnixSeconds(1120));
  EXPECT_EQ(fast.WallDuration(absl::Minutes(1)), absl::Seconds(1));
  // Two clocks with one origin agree whenever they were made.
  ScaledClock later(&wall, 60.0, absl::FromUnixSeconds(1000));
  EXPECT_EQ(later.Now(), fast.Now());
  EXPECT_EQ(wall.WallDuration(absl::Minutes(1)), absl::Minutes(1));
}

TEST(SeededRandom, SameSeedSameSequence) {
  SeededRandom a(42), b(42), c(43);
  EXPECT_EQ(a.Bytes(33), b.Bytes(33));
  EXPECT_NE(a.Bytes(16), c.Bytes(16));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_LT(a.Uniform(7), 7u);
    double d = a.UniformDouble();
    EXPECT_GE(d, 0.0);
    EXPECT_LT(d, 1.0);
  }
}

TEST(SecureRandom, ProducesDistinctTokens) {
  EXPECT_NE(SecureRandom().Bytes(32), SecureRandom().Bytes(32));
}

}  // namespace
}  // namespace pullmail
