// The sender's delivery pass rules (delivery_pass.h) and routing (routing.h).
#include "core/logic/delivery_pass.h"

#include <gtest/gtest.h>

#include "core/util/random.h"

namespace pullmail {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

TEST(DeliveryPassTest, ExpiredInQueueBouncesWith447WithoutAnAttempt) {
  EXPECT_TRUE(ExpiredInQueue(kNow, kNow));
  EXPECT_TRUE(ExpiredInQueue(kNow - absl::Seconds(1), kNow));
  EXPECT_FALSE(ExpiredInQueue(kNow + absl::Seconds(1), kNow));
  SeededRandom rng(1);
  OutboxStep s = AfterNotifyResult(RetryPolicy{}, ExpiredInQueueCode(), kExpiredInQueue, 1, kNow,
                                   kNow, rng);
  EXPECT_EQ(s.kind, OutboxStep::kBounce);
  EXPECT_EQ(s.status_code, "4.4.7");
}

TEST(DeliveryPassTest, OnlyQueuedDeliveriesBounceAtExpiry) {
  Delivery d;
  EXPECT_TRUE(QueuedAtExpiry(d));
  for (DeliveryState st : {DeliveryState::kDelivered, DeliveryState::kFetched,
                           DeliveryState::kBounced, DeliveryState::kRevoked}) {
    d.state = st;
    EXPECT_FALSE(QueuedAtExpiry(d));
  }
}

TEST(DeliveryPassTest, RelayedDomainsGetSmallStreamsAndLongDeadlines) {
  Route direct;
  StreamLimits l = StreamLimitsFor(direct);
  EXPECT_EQ(l.max_per_stream, kDuePerPass);
  EXPECT_EQ(l.deadline, absl::Seconds(15));
  Route relay;
  relay.relayed = true;
  l = StreamLimitsFor(relay);
  EXPECT_EQ(l.max_per_stream, 5u);
  EXPECT_EQ(l.deadline, absl::Seconds(60));
}

TEST(DeliveryPassTest, RouteFailuresBounceWithTheirStatusOrRetry) {
  SeededRandom rng(2);
  auto step = [&](const absl::Status& s) {
    return AfterNotifyResult(RetryPolicy{}, RouteFailureCode(s), std::string(s.message()), 1, kNow,
                             kNow + absl::Hours(120), rng);
  };
  OutboxStep unknown = step(absl::NotFoundError("unknown domain"));
  EXPECT_EQ(unknown.kind, OutboxStep::kBounce);
  EXPECT_EQ(unknown.status_code, "5.1.1");
  OutboxStep no_route = step(absl::FailedPreconditionError("no SMTP relay configured"));
  EXPECT_EQ(no_route.kind, OutboxStep::kBounce);
  EXPECT_EQ(no_route.status_code, "5.7.0");
  // A directory that could not answer (DNS down) is not "unknown domain".
  EXPECT_EQ(step(absl::UnavailableError("dns timeout")).kind, OutboxStep::kRetry);
  EXPECT_EQ(step(absl::DeadlineExceededError("dns slow")).kind, OutboxStep::kRetry);
}

TEST(DeliveryPassTest, UnansweredNotificationsAreRetriedWhateverTheStreamSaid) {
  const int kUnavailable = static_cast<int>(absl::StatusCode::kUnavailable);
  EXPECT_EQ(UnansweredCode(absl::OkStatus()), kUnavailable);  // closed early
  // A permanent-looking stream error (our TLS refused) is transport trouble.
  EXPECT_EQ(UnansweredCode(absl::UnauthenticatedError("tls")), kUnavailable);
  EXPECT_EQ(UnansweredCode(absl::PermissionDeniedError("x")), kUnavailable);
  EXPECT_EQ(UnansweredCode(absl::DeadlineExceededError("slow")),
            static_cast<int>(absl::StatusCode::kDeadlineExceeded));
  for (int code = 0; code <= 16; ++code) {
    EXPECT_NE(ClassifyNotifyResult(UnansweredCode(absl::Status(static_cast<absl::StatusCode>(code),
                                                               "x"))),
              AttemptOutcome::kPermanentFailure)
        << code;
  }
}

TEST(DeliveryPassTest, ApplyOutboxStepRecordsState) {
  Delivery d;
  OutboxStep retry;
  retry.kind = OutboxStep::kRetry;
  retry.next_attempt = kNow + absl::Seconds(30);
  ApplyOutboxStep(retry, "down", d);
  EXPECT_EQ(d.state, DeliveryState::kQueued);
  EXPECT_EQ(d.next_attempt, kNow + absl::Seconds(30));
  EXPECT_EQ(d.last_error, "down");
  OutboxStep ok;
  ApplyOutboxStep(ok, "", d);
  EXPECT_EQ(d.state, DeliveryState::kDelivered);
  EXPECT_EQ(d.last_error, "");
  OutboxStep bounce;
  bounce.kind = OutboxStep::kBounce;
  bounce.bounce_reason = "refused: x";
  ApplyOutboxStep(bounce, "x", d);
  EXPECT_EQ(d.state, DeliveryState::kBounced);
  EXPECT_EQ(d.last_error, "refused: x");
}

TEST(DeliveryPassTest, NeverBounceABounceNorTheNullPath) {
  EXPECT_EQ(MailerDaemon("a.example"), "mailer-daemon@a.example");
  EXPECT_TRUE(ShouldBounce("alice@a.example", "a.example"));
  EXPECT_FALSE(ShouldBounce("mailer-daemon@a.example", "a.example"));
  EXPECT_FALSE(ShouldBounce("MAILER-DAEMON@A.example", "a.example"));
  EXPECT_FALSE(ShouldBounce("", "a.example"));
  // Another domain's daemon is an ordinary sender here.
  EXPECT_TRUE(ShouldBounce("mailer-daemon@b.example", "a.example"));
}

TEST(RoutingTest, PullmailDomainGoesToItsRecipientNode) {
  DomainEntry e;
  e.domain = "b.example";
  e.recipient_endpoint = "127.0.0.1:7002";
  auto r = RouteNotifications(e, "b.example", "a.example", "127.0.0.1:9000");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->endpoint, "127.0.0.1:7002");
  EXPECT_EQ(r->peer, "b.example");
  EXPECT_FALSE(r->relayed);
}

TEST(RoutingTest, LegacyDomainGoesToOurOwnRelay) {
  DomainEntry e;
  e.domain = "legacy.example";
  e.legacy = true;
  auto r = RouteNotifications(e, "legacy.example", "a.example", "127.0.0.1:9000");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->endpoint, "127.0.0.1:9000");
  EXPECT_EQ(r->peer, "a.example");
  EXPECT_TRUE(r->relayed);
  EXPECT_EQ(RouteNotifications(e, "legacy.example", "a.example", "").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(RoutingTest, NoEndpointOrUnknownDomain) {
  DomainEntry e;
  e.domain = "b.example";
  EXPECT_EQ(RouteNotifications(e, "b.example", "a.example", "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RouteNotifications(absl::NotFoundError("unknown domain"), "x.example", "a.example", "")
                .status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace pullmail
