#include "core/logic/known_recipients.h"

#include <gtest/gtest.h>

#include <string>

namespace pullmail {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

TEST(KnownRecipients, RemembersConfirmedAddressesForTheTtlOnly) {
  KnownRecipients known(absl::Seconds(60), 100);
  EXPECT_FALSE(known.Known("bob@b.example", kT0));
  known.Confirmed("bob@b.example", kT0);
  EXPECT_TRUE(known.Known("bob@b.example", kT0));
  EXPECT_TRUE(known.Known("bob@b.example", kT0 + absl::Seconds(59)));
  EXPECT_FALSE(known.Known("bob@b.example", kT0 + absl::Seconds(60)));
  // Exactly as asked: another spelling is the node's to judge.
  EXPECT_FALSE(known.Known("Bob@b.example", kT0));
  EXPECT_FALSE(known.Known("amy@b.example", kT0));
  // Confirmed again: a new ttl from then.
  known.Confirmed("bob@b.example", kT0 + absl::Seconds(50));
  EXPECT_TRUE(known.Known("bob@b.example", kT0 + absl::Seconds(100)));
  EXPECT_EQ(known.size(), 1u);
}

TEST(KnownRecipients, BoundedOldestForgottenFirst) {
  KnownRecipients known(absl::Hours(1), 3);
  for (int i = 0; i < 5; ++i) {
    known.Confirmed("u" + std::to_string(i) + "@b.example", kT0 + absl::Seconds(i));
  }
  EXPECT_EQ(known.size(), 3u);
  const absl::Time now = kT0 + absl::Seconds(10);
  EXPECT_FALSE(known.Known("u0@b.example", now));
  EXPECT_FALSE(known.Known("u1@b.example", now));
  EXPECT_TRUE(known.Known("u2@b.example", now));
  EXPECT_TRUE(known.Known("u4@b.example", now));
  // One address confirmed over and over stays, and the bound holds.
  for (int i = 0; i < 50; ++i) known.Confirmed("hot@b.example", kT0 + absl::Seconds(20 + i));
  EXPECT_TRUE(known.Known("hot@b.example", kT0 + absl::Seconds(80)));
  EXPECT_LE(known.size(), 3u);
}

TEST(KnownRecipients, ZeroTtlOrSizeRemembersNothing) {
  KnownRecipients off(absl::ZeroDuration(), 100);
  off.Confirmed("bob@b.example", kT0);
  EXPECT_FALSE(off.Known("bob@b.example", kT0));
  KnownRecipients none(absl::Seconds(60), 0);
  none.Confirmed("bob@b.example", kT0);
  EXPECT_FALSE(none.Known("bob@b.example", kT0));
  EXPECT_EQ(none.size(), 0u);
}

}  // namespace
}  // namespace pullmail
