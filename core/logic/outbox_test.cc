// Tests for the sender's retry schedule, driven by a fake clock and a seeded
// random source: exponential spacing within the jitter bounds, the cap, one
// bounce at expiry, immediate bounce on a permanent refusal, determinism,
// the gRPC code table and the [sender.retry] parser.
#include "core/logic/outbox.h"

#include <toml++/toml.h>

#include <vector>

#include "core/util/clock.h"
#include "core/util/random.h"
#include "core/util/toml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::HasSubstr;

struct Trace {
  std::vector<absl::Time> attempts;  // when each attempt was made
  std::vector<absl::Duration> delays;
  int bounces = 0;
  OutboxStep last;
};

// A delivery whose every attempt fails with `code`, run until it bounces
// (or is delivered): the sender node's loop without storage or RPC.
Trace RunDelivery(const RetryPolicy& policy, int code, absl::Duration lifetime, uint64_t seed,
          int max_steps = 10000) {
  FakeClock clock;
  SeededRandom rng(seed);
  const absl::Time expires = clock.Now() + lifetime;
  Trace t;
  for (uint32_t n = 1; static_cast<int>(n) <= max_steps; ++n) {
    t.attempts.push_back(clock.Now());
    OutboxStep step = AfterNotifyResult(policy, code, "UNAVAILABLE: connection refused", n,
                                        clock.Now(), expires, rng);
    t.last = step;
    if (step.kind == OutboxStep::kBounce) {
      ++t.bounces;
      break;
    }
    if (step.kind == OutboxStep::kDelivered) break;
    EXPECT_GT(step.next_attempt, clock.Now());
    EXPECT_LT(step.next_attempt, expires);
    t.delays.push_back(step.next_attempt - clock.Now());
    clock.Set(step.next_attempt);
  }
  return t;
}

TEST(OutboxTest, ExponentialWithinJitterThenCappedThenOneBounceAtExpiry) {
  RetryPolicy p;  // 30 s, x2, 1 h cap, 20% jitter
  const absl::Duration lifetime = absl::Hours(24);
  Trace t = RunDelivery(p, 14 /* UNAVAILABLE */, lifetime, 42);
  ASSERT_EQ(t.bounces, 1);
  EXPECT_EQ(t.last.status_code, "4.4.7");
  EXPECT_THAT(t.last.bounce_reason, HasSubstr("expired after"));
  EXPECT_THAT(t.last.bounce_reason, HasSubstr("connection refused"));

  // Delay k (after the k-th failure) is 30 s * 2^(k-1), capped at 1 h, +-20%.
  ASSERT_GT(t.delays.size(), 20u);
  for (size_t k = 0; k < t.delays.size(); ++k) {
    double base = std::min(30.0 * std::pow(2.0, static_cast<double>(k)), 3600.0);
    double got = absl::ToDoubleSeconds(t.delays[k]);
    EXPECT_GE(got, base * 0.8 - 1e-6) << "delay " << k;
    EXPECT_LE(got, base * 1.2 + 1e-6) << "delay " << k;
  }
  // The first seven double (30..1920 s); from 3840 s on the cap holds.
  EXPECT_LT(absl::ToDoubleSeconds(t.delays[0]), 37);
  EXPECT_GT(absl::ToDoubleSeconds(t.delays[7]), 3600 * 0.8 - 1e-6);
  // The last attempt happened before expiry; the bounce came instead of an
  // attempt that would have been at or after it, so it is within one capped
  // delay of the expiry.
  absl::Time start = t.attempts.front();
  EXPECT_LT(t.attempts.back(), start + lifetime);
  EXPECT_GT(t.attempts.back(), start + lifetime - absl::Seconds(3600 * 1.2));
  // About 24 h / 1 h attempts after the ramp: 7 ramp + ~20-30 capped.
  EXPECT_GT(t.attempts.size(), 25u);
  EXPECT_LT(t.attempts.size(), 40u);
}

TEST(OutboxTest, JitterSpreadsAcrossTheWholeBand) {
  RetryPolicy p;
  SeededRandom rng(7);
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  double lo = 1e9, hi = 0;
  for (int i = 0; i < 2000; ++i) {
    double f = absl::ToDoubleSeconds(NextAttemptTime(p, 1, now, rng) - now) / 30.0;
    lo = std::min(lo, f);
    hi = std::max(hi, f);
  }
  EXPECT_GE(lo, 0.8);
  EXPECT_LE(hi, 1.2);
  EXPECT_LT(lo, 0.81);  // the band is used, not one point of it
  EXPECT_GT(hi, 1.19);

  RetryPolicy none;
  none.jitter = 0;
  EXPECT_EQ(NextAttemptTime(none, 3, now, rng), now + absl::Seconds(120));
  EXPECT_EQ(NextAttemptTime(none, 0, now, rng), now + absl::Seconds(30));  // 0 counts as 1
  EXPECT_EQ(NextAttemptTime(none, 1000000, now, rng), now + absl::Hours(1));  // no overflow
}

TEST(OutboxTest, DeterministicWithTheSameSeed) {
  RetryPolicy p;
  Trace a = RunDelivery(p, 14, absl::Hours(6), 1234);
  Trace b = RunDelivery(p, 14, absl::Hours(6), 1234);
  Trace c = RunDelivery(p, 14, absl::Hours(6), 999);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_NE(a.attempts, c.attempts);
}

TEST(OutboxTest, PermanentRefusalBouncesAtOnce) {
  RetryPolicy p;
  Trace t = RunDelivery(p, 7 /* PERMISSION_DENIED */, absl::Hours(24), 1);
  EXPECT_EQ(t.attempts.size(), 1u);
  EXPECT_EQ(t.bounces, 1);
  EXPECT_EQ(t.last.status_code, "5.7.1");
  EXPECT_THAT(t.last.bounce_reason, HasSubstr("refused"));

  Trace nf = RunDelivery(p, 5 /* NOT_FOUND: no such user */, absl::Hours(24), 1);
  EXPECT_EQ(nf.attempts.size(), 1u);
  EXPECT_EQ(nf.last.status_code, "5.1.1");

  SeededRandom rng(1);
  absl::Time now = absl::FromUnixSeconds(1000);
  OutboxStep s = AfterAttempt(p, AttemptOutcome::kPermanentFailure, "bad_signature", 1, now,
                              now + absl::Hours(1), rng);
  EXPECT_EQ(s.kind, OutboxStep::kBounce);
  EXPECT_EQ(s.status_code, "5.7.1");
  EXPECT_THAT(s.bounce_reason, HasSubstr("bad_signature"));
}

TEST(OutboxTest, ARelayedSmtpRefusalBouncesWithTheServersEnhancedCode) {
  RetryPolicy p;
  SeededRandom rng(1);
  absl::Time now = absl::FromUnixSeconds(1000);
  OutboxStep s = AfterNotifyResult(p, 9 /* FAILED_PRECONDITION */,
                                   "smtp_rejected: 550 5.1.1 <x@legacy.example>: User unknown", 1,
                                   now, now + absl::Hours(1), rng);
  EXPECT_EQ(s.kind, OutboxStep::kBounce);
  EXPECT_EQ(s.status_code, "5.1.1");
  // Without a quoted reply the code's own mapping stays.
  OutboxStep plain = AfterNotifyResult(p, 9, "smtp_not_configured: no smarthost", 1, now,
                                       now + absl::Hours(1), rng);
  EXPECT_EQ(plain.status_code, "5.7.0");
}

TEST(OutboxTest, AcceptedIsDelivered) {
  RetryPolicy p;
  Trace ok = RunDelivery(p, 0, absl::Hours(1), 1);
  EXPECT_EQ(ok.attempts.size(), 1u);
  EXPECT_EQ(ok.last.kind, OutboxStep::kDelivered);
  EXPECT_EQ(ok.bounces, 0);
  Trace dup = RunDelivery(p, 6 /* ALREADY_EXISTS */, absl::Hours(1), 1);
  EXPECT_EQ(dup.last.kind, OutboxStep::kDelivered);
}

TEST(OutboxTest, ExpiredBeforeFirstAttempt) {
  absl::Time now = absl::FromUnixSeconds(5000);
  EXPECT_TRUE(IsExpired(now, now));
  EXPECT_TRUE(IsExpired(now - absl::Seconds(1), now));
  EXPECT_FALSE(IsExpired(now + absl::Seconds(1), now));
  // A temporary failure at or past expiry bounces, never retries.
  SeededRandom rng(3);
  OutboxStep s = AfterAttempt(RetryPolicy{}, AttemptOutcome::kTemporaryFailure, "expired in queue",
                              1, now, now, rng);
  EXPECT_EQ(s.kind, OutboxStep::kBounce);
  EXPECT_EQ(s.status_code, "4.4.7");
  EXPECT_EQ(s.bounce_reason, "expired after 1 attempt; last error: expired in queue");
}

TEST(OutboxTest, ClassifiesGrpcCodes) {
  const AttemptOutcome A = AttemptOutcome::kAccepted, T = AttemptOutcome::kTemporaryFailure,
                       P = AttemptOutcome::kPermanentFailure;
  // Index = gRPC code 0..16.
  const AttemptOutcome want[] = {A, T, T, P, T, P, A, P, T, P, T, P, P, T, T, P, P};
  for (int code = 0; code <= 16; ++code) {
    EXPECT_EQ(ClassifyNotifyResult(code), want[code]) << "code " << code;
  }
  EXPECT_EQ(ClassifyNotifyResult(-1), P);
  EXPECT_EQ(ClassifyNotifyResult(99), P);
}

TEST(OutboxTest, ParsesRetryTable) {
  auto doc = ParseToml(
      "[sender.retry]\ninitial_seconds = 5\nmultiplier = 3\nmax_seconds = 600.5\njitter = 0\n",
      "n.toml");
  ASSERT_TRUE(doc.ok()) << doc.status();
  auto p = ParseRetryPolicy(*(*doc)["sender"]["retry"].as_table());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->initial, absl::Seconds(5));
  EXPECT_EQ(p->multiplier, 3.0);
  EXPECT_EQ(p->max, absl::Seconds(600.5));
  EXPECT_EQ(p->jitter, 0.0);

  auto empty = ParseToml("", "e.toml");
  auto d = ParseRetryPolicy(*empty);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->initial, absl::Seconds(30));
  EXPECT_EQ(d->max, absl::Hours(1));

  struct Bad {
    const char* text;
    const char* field;
  };
  for (const Bad& b : std::vector<Bad>{{"initial_seconds = 0", "initial_seconds"},
                                       {"initial_seconds = \"30\"", "initial_seconds"},
                                       {"multiplier = 0.5", "multiplier"},
                                       {"max_seconds = 10\ninitial_seconds = 20", "max_seconds"},
                                       {"jitter = 1.0", "jitter"},
                                       {"jitter = -0.1", "jitter"},
                                       {"max_seconds = nan", "max_seconds"},
                                       {"intial_seconds = 3", "intial_seconds"}}) {
    auto t = ParseToml(b.text, "x.toml");
    ASSERT_TRUE(t.ok()) << b.text;
    auto r = ParseRetryPolicy(*t, "x.toml [sender.retry]");
    ASSERT_FALSE(r.ok()) << b.text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("x.toml [sender.retry]"));
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(b.field)) << b.text;
  }
}

TEST(OutboxTest, ExpiryIsClassifiedByTheStatusCode) {
  SeededRandom rng(1);
  RetryPolicy p;
  const absl::Time now = absl::FromUnixSeconds(1000);
  // A retry that would fall after expiry bounces 4.4.7: expired.
  OutboxStep late = AfterNotifyResult(p, static_cast<int>(absl::StatusCode::kUnavailable), "down", 5,
                                      now, now + absl::Seconds(1), rng);
  ASSERT_EQ(late.kind, OutboxStep::kBounce);
  EXPECT_TRUE(IsDeliveryTimeExpired(late.status_code));
  // A refusal whose text says "expired" is still a refusal (5.7.0).
  OutboxStep refused = AfterNotifyResult(p, static_cast<int>(absl::StatusCode::kFailedPrecondition),
                                         "expired: expired at 1000", 1, now, now + absl::Hours(1), rng);
  ASSERT_EQ(refused.kind, OutboxStep::kBounce);
  EXPECT_FALSE(IsDeliveryTimeExpired(refused.status_code));
  EXPECT_TRUE(IsDeliveryTimeExpired("5.4.7"));
  EXPECT_FALSE(IsDeliveryTimeExpired("4.4.1"));
  EXPECT_FALSE(IsDeliveryTimeExpired(""));
  EXPECT_FALSE(IsDeliveryTimeExpired("x4.4.7"));
}

}  // namespace
}  // namespace pullmail
