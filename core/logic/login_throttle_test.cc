// Login penalties (core/logic/login_throttle.h): growing, capped, per user
// and per client, forgotten after a while, never a lock-out.
#include "core/logic/login_throttle.h"

#include <gtest/gtest.h>

#include "core/util/clock.h"

namespace pullmail {
namespace {

TEST(LoginThrottle, PenaltyDoublesUpToTheCap) {
  LoginThrottle t;  // Dovecot's figures: 2 s, doubling, 15 s at most
  EXPECT_EQ(t.PenaltyFor(0), absl::ZeroDuration());
  EXPECT_EQ(t.PenaltyFor(1), absl::Seconds(2));
  EXPECT_EQ(t.PenaltyFor(2), absl::Seconds(4));
  EXPECT_EQ(t.PenaltyFor(3), absl::Seconds(8));
  EXPECT_EQ(t.PenaltyFor(4), absl::Seconds(15));
  EXPECT_EQ(t.PenaltyFor(1000000), absl::Seconds(15));
}

TEST(LoginThrottle, FortyFailuresSlowButNeverLockOut) {
  FakeClock clock;
  LoginThrottle t;
  EXPECT_EQ(t.Delay("ann@a.example", "192.0.2.1", clock.Now()), absl::ZeroDuration());
  for (int i = 0; i < 40; ++i) {
    absl::Duration d = t.Delay("ann@a.example", "192.0.2.1", clock.Now());
    EXPECT_LE(d, absl::Seconds(15));
    clock.Advance(d);
    t.RecordFailure("ann@a.example", "192.0.2.1", clock.Now());
  }
  // The attacker's next try waits the cap; so does the real user's, from
  // anywhere (the user is penalised), but the attempt is then checked.
  EXPECT_EQ(t.Delay("ann@a.example", "192.0.2.1", clock.Now()), absl::Seconds(15));
  EXPECT_EQ(t.Delay("ann@a.example", "198.51.100.7", clock.Now()), absl::Seconds(15));
  // Another user from the attacking address waits too (per address).
  EXPECT_EQ(t.Delay("bob@a.example", "192.0.2.1", clock.Now()), absl::Seconds(15));
  // Another user elsewhere does not.
  EXPECT_EQ(t.Delay("bob@a.example", "198.51.100.7", clock.Now()), absl::ZeroDuration());
  // A success clears that user and that address.
  t.RecordSuccess("ann@a.example", "198.51.100.7");
  EXPECT_EQ(t.Delay("ann@a.example", "198.51.100.7", clock.Now()), absl::ZeroDuration());
  EXPECT_EQ(t.Delay("bob@a.example", "192.0.2.1", clock.Now()), absl::Seconds(15));
}

TEST(LoginThrottle, ForgottenAfterQuiet) {
  FakeClock clock;
  LoginThrottle t;
  t.RecordFailure("ann@a.example", "", clock.Now());
  t.RecordFailure("ann@a.example", "", clock.Now());
  EXPECT_EQ(t.Delay("ann@a.example", "", clock.Now()), absl::Seconds(4));
  clock.Advance(absl::Minutes(59));
  EXPECT_EQ(t.Delay("ann@a.example", "", clock.Now()), absl::Seconds(4));
  clock.Advance(absl::Minutes(1));
  EXPECT_EQ(t.Delay("ann@a.example", "", clock.Now()), absl::ZeroDuration());
  // A fresh failure then starts again from the first step.
  t.RecordFailure("ann@a.example", "", clock.Now());
  EXPECT_EQ(t.Delay("ann@a.example", "", clock.Now()), absl::Seconds(2));
}

TEST(LoginThrottle, BoundedMemoryOnlyShortensWaits) {
  FakeClock clock;
  LoginPenaltyConfig c;
  c.max_tracked = 10;
  LoginThrottle t(c);
  for (int i = 0; i < 100; ++i) {
    clock.Advance(absl::Seconds(1));
    t.RecordFailure("u" + std::to_string(i) + "@a.example", "", clock.Now());
  }
  EXPECT_EQ(t.Delay("u99@a.example", "", clock.Now()), absl::Seconds(2));
  EXPECT_EQ(t.Delay("u0@a.example", "", clock.Now()), absl::ZeroDuration());
}

TEST(LoginThrottle, ZeroMaxTurnsItOff) {
  FakeClock clock;
  LoginPenaltyConfig c;
  c.max = absl::ZeroDuration();
  LoginThrottle t(c);
  for (int i = 0; i < 5; ++i) t.RecordFailure("ann@a.example", "x", clock.Now());
  EXPECT_EQ(t.Delay("ann@a.example", "x", clock.Now()), absl::ZeroDuration());
}

}  // namespace
}  // namespace pullmail
