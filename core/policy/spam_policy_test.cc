// Unit tests of the spam-suppression policy, driven by a FakeClock: body hash
// threshold, not-spam offsets, peer weights, reputation decay, hold-back
// (sample, release, suppression), explanations, persistence and pruning.
#include "core/policy/spam_policy.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/policy/siphash.h"
#include "core/util/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = "good.example";
constexpr char kNew[] = "new.example";

std::string Body(int i) { return absl::StrCat("body-", i); }  // opaque names -> hashed keys
std::string User(int i) { return absl::StrCat("user", i, "@rcpt.example"); }

class SpamPolicyTest : public ::testing::Test {
 protected:
  // A policy with the given config where kGood already has a good reputation.
  SpamPolicy MakePolicy(PolicyConfig config = {}) {
    absl::StatusOr<SpamPolicy> policy = SpamPolicy::Create(std::move(config));
    EXPECT_TRUE(policy.ok()) << policy.status();
    for (int i = 0; i < 100; ++i) policy->OnRead(kGood, Body(100000 + i), clock_.Now());
    return *std::move(policy);
  }

  // The first user (from `start`) that is (or is not) in the early-reader sample.
  static std::string FindUser(const SpamPolicy& p, const std::string& body, bool in_sample,
                              int start = 0) {
    for (int i = start; i < start + 100000; ++i) {
      if (p.InEarlyReaderSample(User(i), body) == in_sample) return User(i);
    }
    ADD_FAILURE() << "no user found";
    return "";
  }

  FakeClock clock_;
};

// --- SipHash --------------------------------------------------------------------

TEST(SipHashTest, ReferenceVectors) {
  // Key 00 01 .. 0f, message 00 01 .. (n-1): vectors from the SipHash paper and
  // the reference implementation's vectors.h.
  SipKey key;
  for (int i = 0; i < 16; ++i) key[i] = static_cast<uint8_t>(i);
  std::string msg;
  for (int i = 0; i < 15; ++i) msg.push_back(static_cast<char>(i));
  EXPECT_EQ(SipHash24(key, ""), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(SipHash24(key, msg), 0xa129ca6149be45e5ULL);
}

// --- Body hash threshold ---------------------------------------------------------

TEST_F(SpamPolicyTest, ThresholdExactlyAtK) {
  SpamPolicy p = MakePolicy();  // k = 3
  const std::string body = Body(1);
  EXPECT_EQ(p.OnNotification(kGood, body, User(1), clock_.Now()).visibility, Visibility::kShown);

  ReportOutcome r1 = p.OnLocalReport(kGood, body, Verdict::kSpam, clock_.Now());
  ReportOutcome r2 = p.OnLocalReport(kGood, body, Verdict::kSpam, clock_.Now());
  EXPECT_FALSE(r1.newly_suppressed);
  EXPECT_FALSE(r2.newly_suppressed);
  EXPECT_FALSE(r2.suppressed);
  EXPECT_DOUBLE_EQ(r2.net_spam, 2);
  EXPECT_THAT(r2.explanation, HasSubstr("below the threshold"));
  EXPECT_EQ(p.OnNotification(kGood, body, User(2), clock_.Now()).visibility, Visibility::kShown);

  ReportOutcome r3 = p.OnLocalReport(kGood, body, Verdict::kSpam, clock_.Now());
  EXPECT_TRUE(r3.newly_suppressed);
  EXPECT_TRUE(r3.suppressed);
  EXPECT_EQ(r3.rule, policy_rule::kBodyHashThreshold);
  EXPECT_THAT(r3.explanation, HasSubstr("3 net spam reports on this body"));
  EXPECT_THAT(r3.explanation, HasSubstr("threshold 3"));
  EXPECT_THAT(r3.explanation, HasSubstr("unread copies suppressed"));

  ReportOutcome r4 = p.OnLocalReport(kGood, body, Verdict::kSpam, clock_.Now());
  EXPECT_FALSE(r4.newly_suppressed) << "only the crossing report triggers a sweep";
  EXPECT_TRUE(r4.suppressed);

  Decision d = p.OnNotification(kGood, body, User(3), clock_.Now());
  EXPECT_EQ(d.visibility, Visibility::kSuppressed);
  EXPECT_EQ(d.rule, policy_rule::kBodyHashThreshold);
  EXPECT_THAT(d.explanation, HasSubstr("suppressed: 4 net spam reports on this body"));
  EXPECT_THAT(d.explanation, HasSubstr("4 spam reports weighing 4, 0 not-spam weighing 0"));
  EXPECT_THAT(d.explanation, HasSubstr("threshold 3"));
  // Another body from the same good domain is unaffected.
  EXPECT_EQ(p.OnNotification(kGood, Body(2), User(3), clock_.Now()).visibility,
            Visibility::kShown);
}

TEST_F(SpamPolicyTest, FractionalWeightsReachThresholdDespiteRounding) {
  SpamPolicy p = MakePolicy();
  const std::string body = Body(1);
  for (int i = 0; i < 9; ++i) {
    EXPECT_FALSE(p.OnReport(kGood, body, Verdict::kSpam, 0.3, clock_.Now()).suppressed) << i;
  }
  // 0.3 * 10 is 2.9999999999999996 in doubles; it must still count as 3.
  EXPECT_TRUE(p.OnReport(kGood, body, Verdict::kSpam, 0.3, clock_.Now()).newly_suppressed);
}

TEST_F(SpamPolicyTest, NotSpamReportsOffsetSpamReports) {
  SpamPolicy p = MakePolicy();
  const std::string body = Body(1);
  for (int i = 0; i < 3; ++i) p.OnLocalReport(kGood, body, Verdict::kSpam, clock_.Now());
  EXPECT_TRUE(p.IsSuppressed(body));

  ReportOutcome ns = p.OnLocalReport(kGood, body, Verdict::kNotSpam, clock_.Now());
  EXPECT_TRUE(ns.newly_unsuppressed);
  EXPECT_FALSE(ns.suppressed);
  EXPECT_DOUBLE_EQ(ns.applied_weight, -1);
  EXPECT_DOUBLE_EQ(ns.net_spam, 2);
  EXPECT_THAT(ns.explanation, HasSubstr("3 spam reports weighing 3, 1 not-spam weighing 1"));
  EXPECT_EQ(p.OnNotification(kGood, body, User(9), clock_.Now()).visibility, Visibility::kShown);

  // One more spam report brings it back over.
  EXPECT_TRUE(p.OnLocalReport(kGood, body, Verdict::kSpam, clock_.Now()).newly_suppressed);
}

TEST_F(SpamPolicyTest, NotSpamWeightScalesNotSpamReports) {
  PolicyConfig config;
  config.not_spam_weight = 0.5;
  SpamPolicy p = MakePolicy(config);
  const std::string body = Body(1);
  p.OnLocalReport(kGood, body, Verdict::kNotSpam, clock_.Now());
  for (int i = 0; i < 3; ++i) p.OnLocalReport(kGood, body, Verdict::kSpam, clock_.Now());
  EXPECT_DOUBLE_EQ(p.NetSpam(body), 2.5);
  EXPECT_FALSE(p.IsSuppressed(body));
  p.OnReport(kGood, body, Verdict::kSpam, 0.5, clock_.Now());
  EXPECT_TRUE(p.IsSuppressed(body));
}

TEST_F(SpamPolicyTest, LocalReportWeightIsApplied) {
  PolicyConfig config;
  config.local_report_weight = 1.5;
  SpamPolicy p = MakePolicy(config);
  EXPECT_FALSE(p.OnLocalReport(kGood, Body(1), Verdict::kSpam, clock_.Now()).suppressed);
  ReportOutcome r = p.OnLocalReport(kGood, Body(1), Verdict::kSpam, clock_.Now());
  EXPECT_TRUE(r.newly_suppressed);
  EXPECT_DOUBLE_EQ(r.net_spam, 3);
}

TEST_F(SpamPolicyTest, InvalidWeightCountsAsZero) {
  SpamPolicy p = MakePolicy();
  ReportOutcome r = p.OnReport(kGood, Body(1), Verdict::kSpam, -5, clock_.Now());
  EXPECT_DOUBLE_EQ(r.applied_weight, 0);
  EXPECT_THAT(r.explanation, HasSubstr("invalid weight"));
  r = p.OnReport(kGood, Body(1), Verdict::kSpam, std::nan(""), clock_.Now());
  EXPECT_DOUBLE_EQ(r.net_spam, 0);
}

TEST_F(SpamPolicyTest, RawHexAndOpaqueBodyNamesAgree) {
  SpamPolicy p = MakePolicy();
  std::string raw(32, '\0');
  for (int i = 0; i < 32; ++i) raw[i] = static_cast<char>(0xa0 + i);
  std::string hex;
  for (unsigned char c : raw) absl::StrAppend(&hex, absl::Hex(c, absl::kZeroPad2));
  p.OnLocalReport(kGood, raw, Verdict::kSpam, clock_.Now());
  p.OnLocalReport(kGood, hex, Verdict::kSpam, clock_.Now());
  std::string upper = hex;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  EXPECT_TRUE(p.OnLocalReport(kGood, upper, Verdict::kSpam, clock_.Now()).newly_suppressed);
  EXPECT_TRUE(p.IsSuppressed(raw));
  EXPECT_FALSE(p.IsSuppressed("some other body"));
}

// --- Peers ------------------------------------------------------------------------------

TEST_F(SpamPolicyTest, TrustedPeerReportsCountWithTheirWeight) {
  PolicyConfig config;
  config.peer_weights = {{"peer.example", 0.5}, {"muted.example", 0}};
  SpamPolicy p = MakePolicy(config);
  const std::string body = Body(1);

  absl::StatusOr<ReportOutcome> r =
      p.OnPeerReport("peer.example", kGood, body, Verdict::kSpam, 2, /*held_here=*/true, clock_.Now());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->applied_weight, 1.0);
  EXPECT_THAT(r->explanation, HasSubstr("from peer peer.example (2 reports x peer weight 0.5)"));
  r = p.OnPeerReport("peer.example", kGood, body, Verdict::kSpam, 3, /*held_here=*/true, clock_.Now());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->suppressed);
  EXPECT_DOUBLE_EQ(r->net_spam, 2.5);

  // A zero-weight peer is known but counts for nothing.
  r = p.OnPeerReport("muted.example", kGood, body, Verdict::kSpam, 10, /*held_here=*/true, clock_.Now());
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->net_spam, 2.5);

  EXPECT_TRUE(p.OnLocalReport(kGood, body, Verdict::kSpam, clock_.Now()).newly_suppressed);
}

TEST_F(SpamPolicyTest, UntrustedPeerIsRejectedAndCountsNothing) {
  PolicyConfig config;
  config.peer_weights = {{"peer.example", 1.0}};
  SpamPolicy p = MakePolicy(config);
  absl::StatusOr<ReportOutcome> r =
      p.OnPeerReport("stranger.example", kGood, Body(1), Verdict::kSpam, 5, /*held_here=*/true, clock_.Now());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("untrusted_peer"));
  EXPECT_DOUBLE_EQ(p.NetSpam(Body(1)), 0);
  EXPECT_DOUBLE_EQ(p.Reputation(kGood, clock_.Now()).spam, 0);

  r = p.OnPeerReport("peer.example", kGood, Body(1), Verdict::kSpam, 0, /*held_here=*/true, clock_.Now());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

// Issue 10: one trusted peer's report about a message this node never saw
// made its signing domain "1 net spam / 0 reads" and held all its new mail.
// Peer reports judge a domain only about mail held here, only once several
// distinct peers agree, and at most max_peer_domain_weight each.
TEST_F(SpamPolicyTest, OnePeerReportDoesNotCondemnADomain) {
  PolicyConfig config;
  config.peer_weights = {{"p1.example", 1.0}, {"p2.example", 1.0}, {"p3.example", 1.0}};
  config.max_peer_domain_weight = 0.5;
  SpamPolicy p = MakePolicy(config);
  const absl::Time t = clock_.Now();

  // About a body never seen here: the body is judged, the domain is not.
  absl::StatusOr<ReportOutcome> r =
      p.OnPeerReport("p1.example", kGood, Body(1), Verdict::kSpam, 10, /*held_here=*/false, t);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(p.NetSpam(Body(1)), 10);
  EXPECT_THAT(r->explanation, HasSubstr("not counted against good.example: no such message here"));
  EXPECT_DOUBLE_EQ(p.Reputation(kGood, t).spam, 0);
  EXPECT_EQ(p.Reputation(kGood, t).status, DomainStatus::kGood);

  // About mail held here, one peer alone still does not count...
  r = p.OnPeerReport("p1.example", kGood, Body(3), Verdict::kSpam, 5, /*held_here=*/true, t);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->explanation, HasSubstr("1 of 2 distinct peers"));
  EXPECT_DOUBLE_EQ(p.Reputation(kGood, t).spam, 0);
  r = p.OnPeerReport("p1.example", kGood, Body(4), Verdict::kSpam, 5, /*held_here=*/true, t);
  EXPECT_DOUBLE_EQ(p.Reputation(kGood, t).spam, 0) << "the same peer twice is one reporter";
  // ...a second distinct peer does, capped per report.
  r = p.OnPeerReport("p2.example", kGood, Body(5), Verdict::kSpam, 5, /*held_here=*/true, t);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->explanation, HasSubstr("counted 0.5 against good.example"));
  EXPECT_DOUBLE_EQ(p.Reputation(kGood, t).spam, 0.5);
  // The body itself still gets the peer's full weight.
  EXPECT_DOUBLE_EQ(p.NetSpam(Body(5)), 5);

  // The distinct reporters survive a restart.
  SpamPolicy q(config);
  ASSERT_TRUE(q.Restore(p.Snapshot()).ok());
  ASSERT_TRUE(q.OnPeerReport("p3.example", kGood, Body(6), Verdict::kSpam, 1,
                             /*held_here=*/true, t).ok());
  EXPECT_DOUBLE_EQ(q.Reputation(kGood, t).spam, 1.0);
}

TEST_F(SpamPolicyTest, PeerReportCountIsCapped) {
  PolicyConfig config;
  config.peer_weights = {{"peer.example", 0.25}};
  config.max_peer_report_count = 10;
  config.spam_threshold_k = 5;
  SpamPolicy p = MakePolicy(config);
  absl::StatusOr<ReportOutcome> r =
      p.OnPeerReport("peer.example", kGood, Body(1), Verdict::kSpam, 1000000, /*held_here=*/true, clock_.Now());
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->applied_weight, 2.5);
  EXPECT_FALSE(r->suppressed) << "one peer report must not outvote the threshold alone";
  EXPECT_THAT(r->explanation, HasSubstr("capped at 10"));
}

// --- Reputation and decay ---------------------------------------------------------------

TEST_F(SpamPolicyTest, ReputationDecaysOverHalfLives) {
  PolicyConfig config;  // half-life 7 days, min reads 20, bad ratio 0.1
  SpamPolicy p = SpamPolicy(config);
  const absl::Time t0 = clock_.Now();
  for (int i = 0; i < 100; ++i) p.OnRead("d.example", Body(i), t0);
  for (int i = 0; i < 8; ++i) p.OnLocalReport("d.example", Body(i), Verdict::kSpam, t0);

  DomainReputation r0 = p.Reputation("d.example", t0);
  EXPECT_DOUBLE_EQ(r0.reads, 100);
  EXPECT_DOUBLE_EQ(r0.spam, 8);
  EXPECT_NEAR(r0.ratio, 0.08, 1e-12);
  EXPECT_EQ(r0.status, DomainStatus::kGood);
  EXPECT_THAT(r0.summary, HasSubstr("d.example: good (100 reads, 8 net spam"));

  clock_.Advance(absl::Hours(24 * 7));
  DomainReputation r1 = p.Reputation("d.example", clock_.Now());
  EXPECT_NEAR(r1.reads, 50, 1e-9);
  EXPECT_NEAR(r1.spam, 4, 1e-9);
  EXPECT_NEAR(r1.ratio, 0.08, 1e-12) << "reads and reports decay alike";
  EXPECT_EQ(r1.status, DomainStatus::kGood);

  clock_.Advance(absl::Hours(24 * 14));  // three half-lives: 12.5 reads < 20
  DomainReputation r3 = p.Reputation("d.example", clock_.Now());
  EXPECT_NEAR(r3.reads, 12.5, 1e-9);
  EXPECT_EQ(r3.status, DomainStatus::kNew) << "a domain nobody reads any more is new again";

  // New reads add to the decayed values.
  p.OnRead("d.example", Body(7777), clock_.Now());
  EXPECT_NEAR(p.Reputation("d.example", clock_.Now()).reads, 13.5, 1e-9);
}

TEST_F(SpamPolicyTest, DecayDoesNotDependOnEventOrder) {
  struct Event {
    int kind;  // 0 read, 1 spam, 2 not-spam
    absl::Duration at;
  };
  std::vector<Event> events;
  std::mt19937 rng(42);
  for (int i = 0; i < 300; ++i) {
    events.push_back({static_cast<int>(rng() % 3), absl::Minutes(rng() % (60 * 24 * 30))});
  }
  auto feed = [&](const std::vector<Event>& evs) {
    SpamPolicy p{PolicyConfig{}};
    for (size_t i = 0; i < evs.size(); ++i) {
      const absl::Time t = clock_.Now() + evs[i].at;
      if (evs[i].kind == 0) {
        p.OnRead("d.example", Body(static_cast<int>(i)), t);
      } else {
        p.OnReport("d.example", Body(static_cast<int>(i)),
                   evs[i].kind == 1 ? Verdict::kSpam : Verdict::kNotSpam, 1.0, t);
      }
    }
    return p.Reputation("d.example", clock_.Now() + absl::Hours(24 * 40));
  };
  DomainReputation in_order = feed(events);
  std::shuffle(events.begin(), events.end(), rng);
  DomainReputation shuffled = feed(events);
  EXPECT_GT(in_order.reads, 1);
  EXPECT_NEAR(in_order.reads, shuffled.reads, 1e-9);
  EXPECT_NEAR(in_order.spam, shuffled.spam, 1e-9);
  EXPECT_NEAR(in_order.not_spam, shuffled.not_spam, 1e-9);
  EXPECT_EQ(in_order.last_spam, shuffled.last_spam);
}

TEST_F(SpamPolicyTest, SuppressReputationRatioSuppressesBadEstablishedDomains) {
  PolicyConfig config;
  config.suppress_reputation_ratio = 0.5;
  SpamPolicy p = MakePolicy(config);
  for (int i = 0; i < 100; ++i) p.OnRead("spammy.example", Body(i), clock_.Now());
  for (int i = 0; i < 40; ++i) {
    p.OnLocalReport("spammy.example", Body(i), Verdict::kSpam, clock_.Now());
  }
  // Ratio 0.4: bad, so held (not suppressed) for users outside the sample.
  const std::string body = Body(5000);
  Decision d = p.OnNotification("spammy.example", body, FindUser(p, body, false), clock_.Now());
  EXPECT_EQ(d.visibility, Visibility::kHeld);
  EXPECT_EQ(d.rule, policy_rule::kHoldBadDomain);
  EXPECT_THAT(d.explanation, HasSubstr("40 net spam / 100 reads = ratio 0.4, above 0.1"));

  for (int i = 40; i < 60; ++i) {
    p.OnLocalReport("spammy.example", Body(i), Verdict::kSpam, clock_.Now());
  }
  d = p.OnNotification("spammy.example", body, FindUser(p, body, true), clock_.Now());
  EXPECT_EQ(d.visibility, Visibility::kSuppressed);
  EXPECT_EQ(d.rule, policy_rule::kDomainReputation);
  EXPECT_THAT(d.explanation, HasSubstr("spam ratio 0.6 (60 net spam / 100 reads) is above 0.5"));
}

// --- Hold-back ------------------------------------------------------------------------------

TEST_F(SpamPolicyTest, GoodDomainIsShownToEveryone) {
  SpamPolicy p = MakePolicy();
  for (int i = 0; i < 50; ++i) {
    Decision d = p.OnNotification(kGood, Body(1), User(i), clock_.Now());
    EXPECT_EQ(d.visibility, Visibility::kShown);
    EXPECT_EQ(d.rule, policy_rule::kDefault);
  }
  EXPECT_THAT(p.OnNotification(kGood, Body(1), User(1), clock_.Now()).explanation,
              HasSubstr("good.example has a good reputation (100 reads"));
  EXPECT_EQ(p.tracked_bodies(), 0u) << "no state for ordinary mail";
}

TEST_F(SpamPolicyTest, NewDomainShownToEarlyReadersHeldForOthers) {
  SpamPolicy p = MakePolicy();
  const std::string body = Body(1);
  const absl::Time now = clock_.Now();
  int shown = 0, held = 0;
  for (int i = 0; i < 2000; ++i) {
    Decision d = p.OnNotification(kNew, body, User(i), now);
    if (d.visibility == Visibility::kShown) {
      ++shown;
      EXPECT_EQ(d.rule, policy_rule::kEarlyReader);
      EXPECT_TRUE(p.InEarlyReaderSample(User(i), body));
      EXPECT_THAT(d.explanation, HasSubstr("early reader (one of 10% of recipients)"));
    } else {
      ++held;
      ASSERT_EQ(d.visibility, Visibility::kHeld);
      EXPECT_EQ(d.rule, policy_rule::kHoldNewDomain);
      ASSERT_TRUE(d.review_at.has_value());
      EXPECT_EQ(*d.review_at, now + absl::Hours(2));
      EXPECT_FALSE(p.InEarlyReaderSample(User(i), body));
    }
  }
  // 10% of 2000 = 200; a binomial sd is ~13.
  EXPECT_GT(shown, 140);
  EXPECT_LT(shown, 260);
  EXPECT_EQ(shown + held, 2000);
  Decision d = p.OnNotification(kNew, body, FindUser(p, body, false), now);
  EXPECT_THAT(d.explanation, HasSubstr("new.example is new here (0 reads, fewer than 20"));
  EXPECT_THAT(d.explanation, HasSubstr("released after 2h"));
}

TEST_F(SpamPolicyTest, SampleIsDeterministicAndKeyed) {
  PolicyConfig a_config;
  a_config.sample_key = "secret-a";
  PolicyConfig b_config;
  b_config.sample_key = "secret-b";
  SpamPolicy a1(a_config), a2(a_config), b(b_config);
  int same_ab = 0, in_a = 0;
  for (int i = 0; i < 2000; ++i) {
    const bool ina = a1.InEarlyReaderSample(User(i), Body(1));
    EXPECT_EQ(ina, a1.InEarlyReaderSample(User(i), Body(1))) << "same answer every time";
    EXPECT_EQ(ina, a2.InEarlyReaderSample(User(i), Body(1))) << "same answer across instances";
    in_a += ina;
    same_ab += ina && b.InEarlyReaderSample(User(i), Body(1));
  }
  EXPECT_GT(in_a, 100);
  EXPECT_LT(same_ab, in_a / 2) << "another key draws another sample";
  // A different body draws a different sample for the same users.
  int same_body = 0;
  for (int i = 0; i < 2000; ++i) {
    same_body += a1.InEarlyReaderSample(User(i), Body(1)) && a1.InEarlyReaderSample(User(i), Body(2));
  }
  EXPECT_LT(same_body, in_a / 2);

  PolicyConfig none;
  none.early_reader_fraction = 0;
  PolicyConfig all;
  all.early_reader_fraction = 1;
  EXPECT_FALSE(SpamPolicy(none).InEarlyReaderSample(User(1), Body(1)));
  EXPECT_TRUE(SpamPolicy(all).InEarlyReaderSample(User(1), Body(1)));
}

TEST_F(SpamPolicyTest, HeldCopyIsReleasedAfterHoldPeriodWithoutComplaints) {
  SpamPolicy p = MakePolicy();
  const std::string body = Body(1);
  const absl::Time held_since = clock_.Now();
  const std::string early = FindUser(p, body, true);
  const std::string late = FindUser(p, body, false);
  ASSERT_EQ(p.OnNotification(kNew, body, early, held_since).visibility, Visibility::kShown);
  ASSERT_EQ(p.OnNotification(kNew, body, late, held_since).visibility, Visibility::kHeld);

  clock_.Advance(absl::Minutes(30));
  p.OnRead(kNew, body, clock_.Now());  // the early reader reads it, no complaint
  clock_.Advance(absl::Minutes(89));
  Decision d = p.ReviewHeld(kNew, body, held_since, clock_.Now());
  EXPECT_EQ(d.visibility, Visibility::kHeld);
  EXPECT_EQ(d.rule, policy_rule::kHoldNewDomain);
  EXPECT_EQ(d.review_at, held_since + absl::Hours(2));
  EXPECT_THAT(d.explanation, HasSubstr("0 net spam reports on this body, 1 early reads"));

  clock_.Advance(absl::Minutes(1));  // exactly the hold period
  d = p.ReviewHeld(kNew, body, held_since, clock_.Now());
  EXPECT_EQ(d.visibility, Visibility::kShown);
  EXPECT_EQ(d.rule, policy_rule::kHoldReleased);
  EXPECT_FALSE(d.review_at.has_value());
  EXPECT_THAT(d.explanation,
              HasSubstr("released: held 2h with no complaints (0 net spam reports on this body, 1 "
                        "early reads)"));
}

TEST_F(SpamPolicyTest, HeldCopyIsSuppressedWhenComplaintsArriveDuringHold) {
  SpamPolicy p = MakePolicy();
  const std::string body = Body(1);
  const absl::Time held_since = clock_.Now();
  const std::string early = FindUser(p, body, true);
  const std::string late = FindUser(p, body, false);
  ASSERT_EQ(p.OnNotification(kNew, body, early, held_since).visibility, Visibility::kShown);
  ASSERT_EQ(p.OnNotification(kNew, body, late, held_since).visibility, Visibility::kHeld);

  clock_.Advance(absl::Minutes(20));
  p.OnRead(kNew, body, clock_.Now());
  ReportOutcome r = p.OnLocalReport(kNew, body, Verdict::kSpam, clock_.Now());
  EXPECT_FALSE(r.newly_suppressed) << "one report is below k for the body threshold";

  clock_.Advance(absl::Minutes(1));
  Decision d = p.ReviewHeld(kNew, body, held_since, clock_.Now());
  EXPECT_EQ(d.visibility, Visibility::kSuppressed);
  EXPECT_EQ(d.rule, policy_rule::kHoldComplaints);
  EXPECT_THAT(d.explanation,
              HasSubstr("suppressed: 1 net spam reports on this body (1 spam reports weighing 1, "
                        "0 not-spam weighing 0; limit 1 while new.example is on hold)"));
  // Still suppressed after the hold period: complaints are not forgotten.
  clock_.Advance(absl::Hours(5));
  EXPECT_EQ(p.ReviewHeld(kNew, body, held_since, clock_.Now()).visibility,
            Visibility::kSuppressed);
  // A later copy of the same body is suppressed at once, even for an early reader.
  d = p.OnNotification(kNew, body, FindUser(p, body, true, 1000), clock_.Now());
  EXPECT_EQ(d.visibility, Visibility::kSuppressed);
  EXPECT_EQ(d.rule, policy_rule::kHoldComplaints);
}

TEST_F(SpamPolicyTest, ComplaintsAgainstTheDomainSuppressItsOtherHeldBodies) {
  // A campaign with a unique body per recipient: no body ever gathers k
  // reports, but the early readers' complaints turn the domain bad.
  SpamPolicy p = MakePolicy();
  const absl::Time held_since = clock_.Now();
  std::vector<std::pair<std::string, std::string>> held;  // (user, body)
  std::vector<std::pair<std::string, std::string>> early;
  for (int i = 0; i < 200; ++i) {
    Decision d = p.OnNotification("camp.example", Body(i), User(i), held_since);
    (d.visibility == Visibility::kHeld ? held : early).emplace_back(User(i), Body(i));
  }
  ASSERT_GE(early.size(), 5u);
  ASSERT_GE(held.size(), 100u);

  clock_.Advance(absl::Minutes(15));
  for (size_t i = 0; i < 5; ++i) p.OnRead("camp.example", early[i].second, clock_.Now());
  p.OnLocalReport("camp.example", early[0].second, Verdict::kSpam, clock_.Now());
  EXPECT_EQ(p.Reputation("camp.example", clock_.Now()).status, DomainStatus::kBad);

  clock_.Advance(absl::Minutes(15));
  for (const auto& [user, body] : held) {
    Decision d = p.ReviewHeld("camp.example", body, held_since, clock_.Now());
    ASSERT_EQ(d.visibility, Visibility::kSuppressed) << user;
    EXPECT_EQ(d.rule, policy_rule::kHoldDomainComplaints);
    EXPECT_THAT(d.explanation, HasSubstr("spam reported against camp.example since this copy"));
    // The 5 reads have decayed for 15 minutes of a 7-day half-life.
    EXPECT_THAT(d.explanation, HasSubstr("1 net spam / 4.99 reads = ratio 0.2"));
  }
  // A copy held after the last complaint is held (bad domain), not suppressed.
  const std::string body = Body(999);
  const std::string late = FindUser(p, body, false);
  Decision d = p.OnNotification("camp.example", body, late, clock_.Now());
  EXPECT_EQ(d.visibility, Visibility::kHeld);
  EXPECT_EQ(d.rule, policy_rule::kHoldBadDomain);
  EXPECT_EQ(p.ReviewHeld("camp.example", body, clock_.Now(), clock_.Now()).visibility,
            Visibility::kHeld);
}

TEST_F(SpamPolicyTest, BodyThresholdSuppressesHeldCopiesToo) {
  SpamPolicy p = MakePolicy();
  const std::string body = Body(1);
  const absl::Time held_since = clock_.Now();
  ASSERT_EQ(p.OnNotification(kNew, body, FindUser(p, body, false), held_since).visibility,
            Visibility::kHeld);
  ReportOutcome r;
  for (int i = 0; i < 3; ++i) r = p.OnLocalReport(kNew, body, Verdict::kSpam, clock_.Now());
  EXPECT_TRUE(r.newly_suppressed);
  Decision d = p.ReviewHeld(kNew, body, held_since, clock_.Now());
  EXPECT_EQ(d.visibility, Visibility::kSuppressed);
  EXPECT_EQ(d.rule, policy_rule::kBodyHashThreshold);
}

TEST_F(SpamPolicyTest, MinEarlyReadsDelaysReleaseUntilReadOrMaxHold) {
  PolicyConfig config;
  config.min_early_reads = 2;
  config.max_hold_period = absl::Hours(12);
  SpamPolicy p = MakePolicy(config);
  const absl::Time held_since = clock_.Now();
  ASSERT_EQ(p.OnNotification(kNew, Body(1), FindUser(p, Body(1), false), held_since).visibility,
            Visibility::kHeld);
  ASSERT_EQ(p.OnNotification(kNew, Body(2), FindUser(p, Body(2), false), held_since).visibility,
            Visibility::kHeld);

  clock_.Advance(absl::Hours(3));
  Decision d = p.ReviewHeld(kNew, Body(1), held_since, clock_.Now());
  EXPECT_EQ(d.visibility, Visibility::kHeld);
  EXPECT_EQ(d.rule, policy_rule::kAwaitingEarlyReads);
  EXPECT_EQ(d.review_at, held_since + absl::Hours(12));
  EXPECT_THAT(d.explanation, HasSubstr("0 early reads of 2 needed"));

  p.OnRead(kNew, Body(1), clock_.Now());
  p.OnRead(kNew, Body(1), clock_.Now());
  EXPECT_EQ(p.ReviewHeld(kNew, Body(1), held_since, clock_.Now()).rule,
            policy_rule::kHoldReleased);
  EXPECT_EQ(p.ReviewHeld(kNew, Body(2), held_since, clock_.Now()).visibility, Visibility::kHeld);
  clock_.Advance(absl::Hours(9));
  EXPECT_EQ(p.ReviewHeld(kNew, Body(2), held_since, clock_.Now()).rule,
            policy_rule::kHoldReleased);
}

TEST_F(SpamPolicyTest, HoldCanBeTurnedOff) {
  PolicyConfig config;
  config.hold_new_domains = false;
  SpamPolicy p = MakePolicy(config);
  Decision d = p.OnNotification(kNew, Body(1), FindUser(p, Body(1), false), clock_.Now());
  EXPECT_EQ(d.visibility, Visibility::kShown);
  EXPECT_EQ(d.rule, policy_rule::kDefault);
  EXPECT_THAT(d.explanation, HasSubstr("new.example is new here"));
}

TEST_F(SpamPolicyTest, DomainBecomesGoodAfterEnoughCleanReads) {
  SpamPolicy p = MakePolicy();
  for (int i = 0; i < 19; ++i) p.OnRead(kNew, Body(i), clock_.Now());
  EXPECT_EQ(p.Reputation(kNew, clock_.Now()).status, DomainStatus::kNew);
  p.OnRead(kNew, Body(19), clock_.Now());
  EXPECT_EQ(p.Reputation(kNew, clock_.Now()).status, DomainStatus::kGood);
  const std::string body = Body(100);
  EXPECT_EQ(p.OnNotification(kNew, body, FindUser(p, body, false), clock_.Now()).visibility,
            Visibility::kShown);
}

// --- Persistence and housekeeping -------------------------------------------------------

TEST_F(SpamPolicyTest, SnapshotRestoreRoundTrip) {
  PolicyConfig config;
  config.peer_weights = {{"peer.example", 0.5}};
  SpamPolicy p = MakePolicy(config);
  const absl::Time t = clock_.Now();
  p.OnNotification(kNew, Body(1), User(1), t);
  p.OnRead(kNew, Body(1), t);
  p.OnLocalReport(kNew, Body(1), Verdict::kSpam, t);
  ASSERT_TRUE(p.OnPeerReport("peer.example", kGood, Body(2), Verdict::kSpam, 3, /*held_here=*/true, t).ok());
  p.OnLocalReport(kGood, Body(2), Verdict::kNotSpam, t + absl::Hours(1));

  PolicySnapshot snap = p.Snapshot();
  SpamPolicy q(config);
  ASSERT_TRUE(q.Restore(snap).ok());
  EXPECT_EQ(q.tracked_bodies(), p.tracked_bodies());
  EXPECT_EQ(q.tracked_domains(), p.tracked_domains());
  const absl::Time later = t + absl::Hours(30);
  for (const char* domain : {kGood, kNew}) {
    DomainReputation a = p.Reputation(domain, later), b = q.Reputation(domain, later);
    EXPECT_DOUBLE_EQ(a.reads, b.reads);
    EXPECT_DOUBLE_EQ(a.spam, b.spam);
    EXPECT_DOUBLE_EQ(a.not_spam, b.not_spam);
    EXPECT_EQ(a.last_spam, b.last_spam);
  }
  EXPECT_DOUBLE_EQ(q.NetSpam(Body(2)), 0.5);
  EXPECT_EQ(q.ReviewHeld(kNew, Body(1), t, later).explanation,
            p.ReviewHeld(kNew, Body(1), t, later).explanation);

  // A bad snapshot is refused and leaves the state alone.
  PolicySnapshot bad = snap;
  bad.bodies.push_back({"short", 1, 0, 1, 0, 0, t});
  EXPECT_EQ(q.Restore(bad).code(), absl::StatusCode::kInvalidArgument);
  bad = snap;
  bad.domains.push_back({"x.example", -1, 0, 0, t, std::nullopt});
  EXPECT_EQ(q.Restore(bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_DOUBLE_EQ(q.NetSpam(Body(2)), 0.5);
}

TEST_F(SpamPolicyTest, PruneForgetsOldBodiesAndFadedDomains) {
  PolicyConfig config;
  config.body_state_ttl = absl::Hours(24 * 30);
  SpamPolicy p(config);
  const absl::Time t0 = clock_.Now();
  p.OnLocalReport("old.example", Body(1), Verdict::kSpam, t0);
  p.OnRead("faded.example", Body(2), t0);
  p.OnLocalReport("fresh.example", Body(3), Verdict::kSpam, t0 + absl::Hours(24 * 25));
  ASSERT_EQ(p.tracked_bodies(), 2u);
  ASSERT_EQ(p.tracked_domains(), 3u);

  EXPECT_EQ(p.Prune(t0 + absl::Hours(24 * 29)), 0u);
  // Day 31: Body(1) is past the 30-day TTL; the domains' counters (one event
  // each, 4.4 half-lives old) are still above the negligible level.
  const size_t removed = p.Prune(t0 + absl::Hours(24 * 31));
  EXPECT_EQ(removed, 1u);  // Body(1)
  EXPECT_EQ(p.tracked_bodies(), 1u);
  EXPECT_DOUBLE_EQ(p.NetSpam(Body(1)), 0);
  EXPECT_DOUBLE_EQ(p.NetSpam(Body(3)), 1);

  // Day 300: ~43 half-lives, every counter is below 1e-3 and every spam
  // report is past the TTL, as is Body(3).
  p.Prune(t0 + absl::Hours(24 * 300));
  EXPECT_EQ(p.tracked_bodies(), 0u);
  EXPECT_EQ(p.tracked_domains(), 0u);
}

// The figures quoted in the worked example of docs/POLICY.md.
TEST_F(SpamPolicyTest, WorkedExampleOfPolicyDoc) {
  PolicyConfig config;
  config.suppress_reputation_ratio = 0.5;
  config.peer_weights = {{"mail.partner.example", 1.0}, {"big-provider.example", 0.5}};
  SpamPolicy p(config);
  const absl::Time t = clock_.Now();
  for (int i = 0; i < 500; ++i) p.OnRead("news.example", Body(5000 + i), t);
  for (int i = 0; i < 2; ++i) p.OnLocalReport("news.example", Body(5000 + i), Verdict::kSpam, t);
  EXPECT_EQ(p.OnNotification("news.example", Body(1000), User(1), t).explanation,
            "shown: news.example has a good reputation (500 reads, 2 net spam, ratio 0.004)");

  Decision held = p.OnNotification("promo.example", Body(1), FindUser(p, Body(1), false), t);
  EXPECT_EQ(held.explanation,
            "held: promo.example is new here (0 reads, fewer than 20; 0 net spam); shown first "
            "to 10% of recipients, released after 2h (at 2023-11-15T00:13:20Z) if no complaints "
            "arrive");
  ReportOutcome r = p.OnLocalReport("promo.example", Body(1), Verdict::kSpam, t);
  EXPECT_EQ(r.explanation,
            "spam report by a local user counted 1; 1 net spam reports on this body (1 spam "
            "reports weighing 1, 0 not-spam weighing 0; threshold 3): below the threshold");
  EXPECT_EQ(p.ReviewHeld("promo.example", Body(1), t, t + absl::Minutes(20)).explanation,
            "suppressed: 1 net spam reports on this body (1 spam reports weighing 1, 0 not-spam "
            "weighing 0; limit 1 while promo.example is on hold)");
  // A domain with complaints but too few reads to judge is held, never
  // suppressed outright by suppress_reputation_ratio (its ratio here is ~1).
  Decision other = p.OnNotification("promo.example", Body(2), FindUser(p, Body(2), false), t);
  EXPECT_EQ(other.visibility, Visibility::kHeld);
  EXPECT_EQ(other.rule, policy_rule::kHoldBadDomain);

  EXPECT_DOUBLE_EQ(
      p.OnPeerReport("mail.partner.example", "x.example", Body(7), Verdict::kSpam, 2, /*held_here=*/true, t)
          ->applied_weight,
      2);
  EXPECT_DOUBLE_EQ(
      p.OnPeerReport("big-provider.example", "x.example", Body(8), Verdict::kSpam, 40, /*held_here=*/true, t)
          ->applied_weight,
      5);
}

TEST(SpamPolicyConfigTest, CreateRejectsInvalidConfig) {
  PolicyConfig config;
  config.spam_threshold_k = 0;
  EXPECT_EQ(SpamPolicy::Create(config).status().code(), absl::StatusCode::kInvalidArgument);
  config = {};
  config.early_reader_fraction = 1.5;
  EXPECT_EQ(SpamPolicy::Create(config).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(VisibilityTest, NamesMatchMessageInfoState) {
  EXPECT_EQ(VisibilityName(Visibility::kShown), "shown");
  EXPECT_EQ(VisibilityName(Visibility::kHeld), "held");
  EXPECT_EQ(VisibilityName(Visibility::kSuppressed), "suppressed");
  EXPECT_EQ(DomainStatusName(DomainStatus::kBad), "bad");
}

}  // namespace
}  // namespace pullmail
