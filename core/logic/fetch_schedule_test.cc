// Tests for the fetch rules: deadlines, the minimum-rate rule, the prefetch
// schedule's bounds (total, per domain), urgency order and per-domain backoff.
#include "core/logic/fetch_schedule.h"

#include <toml++/toml.h>

#include "core/util/random.h"
#include "core/util/toml.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

FetchLimits Limits() {
  FetchLimits l;
  l.max_in_flight = 4;
  l.max_per_domain = 2;
  l.min_bytes_per_second = 1000;
  l.grace = absl::Seconds(10);
  l.max_duration = absl::Minutes(10);
  l.backoff = RetryPolicy{.initial = absl::Seconds(30), .multiplier = 2.0,
                          .max = absl::Minutes(10), .jitter = 0.0};
  return l;
}

TEST(FetchDeadline, GraceplusSizeAtMinimumRateCapped) {
  FetchLimits l = Limits();
  EXPECT_EQ(FetchDeadline(l, kT0, 0), kT0 + absl::Seconds(10));
  EXPECT_EQ(FetchDeadline(l, kT0, 50'000), kT0 + absl::Seconds(60));
  EXPECT_EQ(FetchDeadline(l, kT0, 64 << 20), kT0 + absl::Minutes(10));
}

TEST(CheckFetchProgress, SlowDripIsCutAfterGrace) {
  FetchLimits l = Limits();
  const uint64_t size = 1'000'000;
  // Inside the grace period nothing is owed.
  EXPECT_EQ(CheckFetchProgress(l, kT0, size, 0, kT0 + absl::Seconds(9)), FetchProgress::kContinue);
  // 5 s past grace: 5,000 bytes owed.
  EXPECT_EQ(CheckFetchProgress(l, kT0, size, 4'999, kT0 + absl::Seconds(15)),
            FetchProgress::kTooSlow);
  EXPECT_EQ(CheckFetchProgress(l, kT0, size, 5'000, kT0 + absl::Seconds(15)),
            FetchProgress::kContinue);
  // One byte a second (the hostile drip) fails as soon as grace is over.
  EXPECT_EQ(CheckFetchProgress(l, kT0, size, 11, kT0 + absl::Seconds(11)),
            FetchProgress::kTooSlow);
  // A fast fetch still ends at the deadline, whatever its rate.
  EXPECT_EQ(CheckFetchProgress(l, kT0, size, size - 1, kT0 + absl::Minutes(10)),
            FetchProgress::kDeadline);
  // A complete body is never cut.
  EXPECT_EQ(CheckFetchProgress(l, kT0, size, size, kT0 + absl::Hours(1)),
            FetchProgress::kContinue);
  EXPECT_EQ(FetchProgressName(FetchProgress::kTooSlow), "too_slow");
}

PrefetchCandidate C(std::string key, std::string domain, int expires_in_s) {
  return {std::move(key), std::move(domain), kT0 + absl::Seconds(expires_in_s)};
}

std::vector<std::string> Keys(const std::vector<PrefetchCandidate>& v) {
  std::vector<std::string> out;
  for (const auto& c : v) out.push_back(c.key);
  return out;
}

TEST(FetchSchedule, BoundsPerDomainAndInTotalMostUrgentFirst) {
  SeededRandom rng(1);
  FetchSchedule s(Limits(), &rng);
  // Five from the hostile domain (most urgent), then others.
  std::vector<PrefetchCandidate> cands = {
      C("h1", "hostile", 1), C("h2", "hostile", 2), C("h3", "hostile", 3),
      C("h4", "hostile", 4), C("h5", "hostile", 5), C("a1", "a", 100),
      C("b1", "b", 50),      C("a2", "a", 90),      C("a3", "a", 80)};
  auto picked = s.Pick(cands, kT0);
  EXPECT_EQ(Keys(picked), (std::vector<std::string>{"h1", "h2", "b1", "a3"}));
  EXPECT_EQ(s.in_flight(), 4);
  EXPECT_EQ(s.in_flight("hostile"), 2);
  // Nothing more while the slots are full; in-flight keys are not repeated.
  EXPECT_TRUE(s.Pick(cands, kT0).empty());
  s.Done("b1", true, kT0);
  cands.erase(cands.begin() + 6);  // b1 is cached now: the node offers it no more
  EXPECT_EQ(Keys(s.Pick(cands, kT0)), (std::vector<std::string>{"a2"}));
  s.Done("zzz", true, kT0);  // unknown: ignored
  EXPECT_EQ(s.in_flight(), 4);
}

TEST(FetchSchedule, FailingDomainBacksOffAndOthersGoOn) {
  SeededRandom rng(1);
  FetchSchedule s(Limits(), &rng);
  auto picked = s.Pick({C("h1", "hostile", 1), C("h2", "hostile", 2)}, kT0);
  ASSERT_EQ(picked.size(), 2u);
  s.Done("h1", false, kT0 + absl::Seconds(10));
  EXPECT_EQ(s.NextAttempt("hostile"), kT0 + absl::Seconds(40));
  s.Done("h2", false, kT0 + absl::Seconds(12));  // second failure in a row: doubled
  EXPECT_EQ(s.NextAttempt("hostile"), kT0 + absl::Seconds(72));
  std::vector<PrefetchCandidate> cands = {C("h1", "hostile", 1), C("a1", "a", 100)};
  EXPECT_EQ(Keys(s.Pick(cands, kT0 + absl::Seconds(20))), (std::vector<std::string>{"a1"}));
  EXPECT_EQ(Keys(s.Pick(cands, kT0 + absl::Seconds(72))), (std::vector<std::string>{"h1"}));
  // Capped: many failures never wait past backoff.max.
  for (int i = 0; i < 40; ++i) s.Outcome("hostile", false, kT0);
  EXPECT_EQ(s.NextAttempt("hostile"), kT0 + absl::Minutes(10));
  // A success (a reader's fetch, say) clears it.
  s.Outcome("hostile", true, kT0);
  EXPECT_EQ(s.NextAttempt("hostile"), absl::InfinitePast());
}

TEST(FetchSchedule, DuplicateKeysCountOnce) {
  SeededRandom rng(1);
  FetchSchedule s(Limits(), &rng);
  EXPECT_EQ(Keys(s.Pick({C("x", "a", 1), C("x", "a", 1), C("y", "a", 2)}, kT0)),
            (std::vector<std::string>{"x", "y"}));
}

TEST(ParseFetchLimits, ReadsKeysAndRefusesBadOnes) {
  auto t = ParseToml(
      "max_in_flight = 3\nmax_per_domain = 1\nmin_bytes_per_second = 500\n"
      "grace_seconds = 2\nmax_duration_seconds = 30\n[backoff]\ninitial_seconds = 5\n",
      "t");
  ASSERT_TRUE(t.ok()) << t.status();
  auto l = ParseFetchLimits(*t);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->max_in_flight, 3);
  EXPECT_EQ(l->max_per_domain, 1);
  EXPECT_EQ(l->min_bytes_per_second, 500u);
  EXPECT_EQ(l->grace, absl::Seconds(2));
  EXPECT_EQ(l->max_duration, absl::Seconds(30));
  EXPECT_EQ(l->backoff.initial, absl::Seconds(5));
  for (const char* bad : {"max_in_flight = 0", "max_per_domain = 1000", "min_bytes_per_second = 0",
                          "grace_seconds = -1", "speed = 3", "max_in_flight = \"x\"",
                          "backoff = 3"}) {
    auto b = ParseToml(bad, "t");
    ASSERT_TRUE(b.ok()) << bad;
    EXPECT_FALSE(ParseFetchLimits(*b).ok()) << bad;
  }
}

}  // namespace
}  // namespace pullmail
