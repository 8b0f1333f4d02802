#include "core/logic/submission.h"

#include <gtest/gtest.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

#include "core/crypto/sha256.h"
#include "core/directory/memory_directory.h"
#include "core/envelope/envelope.h"
#include "core/logic/delivery_batch.h"
#include "core/util/clock.h"

namespace pullmail {
namespace {

// A delivery's queued notification as its delivery pass sends it alone.
// Submission only prepares it: it must hold no signature yet (the sender
// signs each notification once, when it sends it).
v1::SignedNotification SentAlone(const Delivery& d, const SigningKey& key) {
  v1::SignedNotification prepared;
  EXPECT_TRUE(prepared.ParseFromString(d.signed_notification));
  EXPECT_TRUE(prepared.signature().empty());
  EXPECT_EQ(prepared.key_id(), "k1");
  absl::StatusOr<DeliverySigning> sent = SignForDelivery({prepared}, "k1", key);
  EXPECT_TRUE(sent.ok()) << sent.status();
  if (!sent.ok() || sent->notifications.size() != 1) return prepared;
  EXPECT_EQ(sent->signatures, 1u);
  EXPECT_FALSE(sent->notifications[0].has_batch());
  EXPECT_EQ(sent->notifications[0].payload(), prepared.payload());
  return sent->notifications[0];
}

class SubmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = std::make_unique<SigningKey>(*SigningKey::FromSeed(std::string(32, '\x07')));
    DomainEntry a;
    a.domain = "a.example";
    a.keys["k1"] = key_->PublicKey();
    dir_.Add(a);
    ctx_.local_domain = "a.example";
    ctx_.sender_endpoint = "127.0.0.1:7102";
    ctx_.key_id = "k1";
    ctx_.key = key_.get();
    ctx_.retention = absl::Hours(48);
    ctx_.now = clock_.Now();
    ctx_.random = &rng_;
  }
  SubmissionInput Input() {
    SubmissionInput in;
    in.authenticated_user = "ann@a.example";
    in.from = "ann@a.example";
    in.to = {"bob@B.example", "carol@b.example", "dan@c.example", "bob@b.example"};
    in.message = "From: Ann <ann@a.example>\r\nTo: bob@b.example\r\nSubject: hi\r\n\r\nhello\r\n";
    return in;
  }
  FakeClock clock_;
  SeededRandom rng_{1};
  std::unique_ptr<SigningKey> key_;
  MemoryDirectory dir_;
  SubmissionContext ctx_;
};

TEST_F(SubmissionTest, OneSignedNotificationPerDomain) {
  SubmissionInput in = Input();
  auto sub = PrepareSubmission(in, ctx_);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->message.body_sha256, Sha256(in.message));
  EXPECT_EQ(sub->message.body_size, in.message.size());
  EXPECT_EQ(sub->message.expires - sub->message.created, absl::Hours(48));
  EXPECT_EQ(sub->summary.subject(), "hi");
  ASSERT_EQ(sub->deliveries.size(), 2u);
  EXPECT_EQ(sub->deliveries[0].domain, "b.example");
  EXPECT_EQ(sub->deliveries[0].recipients,
            (std::vector<std::string>{"bob@b.example", "carol@b.example"}));
  EXPECT_EQ(sub->deliveries[1].domain, "c.example");
  EXPECT_NE(sub->deliveries[0].fetch_token, sub->deliveries[1].fetch_token);
  for (const Delivery& d : sub->deliveries) {
    v1::SignedNotification sn = SentAlone(d, *key_);
    VerifyOptions opts;
    opts.now = clock_.Now();
    opts.expected_recipient_domain = d.domain;
    auto n = VerifyNotification(sn, dir_, opts, nullptr);
    ASSERT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(n->fetch_token(), d.fetch_token);
    EXPECT_EQ(n->body_sha256(), sub->message.body_sha256);
    EXPECT_EQ(n->message_id(), sub->message.message_id);
    EXPECT_EQ(d.next_attempt, clock_.Now());
  }
}

TEST_F(SubmissionTest, RefusesWhatARealServerWould) {
  SubmissionInput in = Input();
  in.from = "eve@a.example";
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kPermissionDenied);
  in = Input();
  in.from = in.authenticated_user = "ann@other.example";
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kPermissionDenied);
  in = Input();
  in.to.clear();
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kInvalidArgument);
  in = Input();
  in.to = {"not-an-address"};
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kInvalidArgument);
  in = Input();
  in.to = {"a@b@c"};
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kInvalidArgument);
  in = Input();
  in.message.clear();
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kInvalidArgument);
  in = Input();
  in.to.assign(1001, "x@b.example");
  EXPECT_FALSE(PrepareSubmission(in, ctx_).ok());
  // The node itself (empty authenticated user) may send as mailer-daemon.
  in = Input();
  in.authenticated_user.clear();
  in.from = "mailer-daemon@a.example";
  EXPECT_TRUE(PrepareSubmission(in, ctx_).ok());
}

// The envelope sender is the user however it is spelt (core's UserKey), and
// the message is stored under the user's one spelling.
TEST_F(SubmissionTest, EnvelopeSenderInAnySpellingIsTheUser) {
  SubmissionInput in = Input();
  in.from = "Ann@A.Example.";
  auto sub = PrepareSubmission(in, ctx_);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->message.sender, "ann@a.example");
  in.from = "ann@a.example..";
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kInvalidArgument);
  in.from = "bob@A.EXAMPLE.";
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kPermissionDenied);
}

// Issue 10 point 4: a user may not put another address in the header From:,
// not even another local user's.
TEST_F(SubmissionTest, HeaderFromMustBeTheUser) {
  SubmissionInput in = Input();
  in.message = "From: Bob <bob@a.example>\r\nSubject: hi\r\n\r\nhello\r\n";
  auto sub = PrepareSubmission(in, ctx_);
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StartsWith(sub.status().message(), "from_not_allowed: ")) << sub.status();
  in.message = "From: Boss <boss@b.example>\r\nSubject: hi\r\n\r\nhello\r\n";
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kPermissionDenied);
  in.message = "Subject: no author\r\n\r\nhello\r\n";
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kInvalidArgument);
  in.message = "From: ANN <Ann@A.example>\r\nSubject: hi\r\n\r\nhello\r\n";
  EXPECT_TRUE(PrepareSubmission(in, ctx_).ok());
  // The node's own bounces (no authenticated user) are not a user's mail.
  in = Input();
  in.authenticated_user.clear();
  in.from = "mailer-daemon@a.example";
  EXPECT_TRUE(PrepareSubmission(in, ctx_).ok());
}

TEST_F(SubmissionTest, IdempotencyKey) {
  SubmissionInput in = Input();
  in.idempotency_key = "cli-0123456789abcdef";
  auto first = PrepareSubmission(in, ctx_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->message.idempotency_key, in.idempotency_key);
  // A retry prepares a new id, but is the same message: the stored one wins.
  auto retry = PrepareSubmission(in, ctx_);
  ASSERT_TRUE(retry.ok());
  EXPECT_NE(retry->message.message_id, first->message.message_id);
  EXPECT_TRUE(CheckSubmissionRetry(retry->message, first->message).ok());
  v1::SubmitResponse resp = SubmitResponseFor(first->message, first->deliveries);
  EXPECT_EQ(resp.message_id(), first->message.message_id);
  ASSERT_EQ(resp.queued_size(), 2);
  EXPECT_EQ(resp.queued(0).recipients(), 2u);
  // The same key for another message is refused.
  in.message += "more\r\n";
  auto other = PrepareSubmission(in, ctx_);
  ASSERT_TRUE(other.ok());
  absl::Status s = CheckSubmissionRetry(other->message, first->message);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(s.message(), "idempotency_key_reused: ")) << s;
  // Keys: visible ASCII, at most 128 bytes.
  in = Input();
  in.idempotency_key = std::string(129, 'k');
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kInvalidArgument);
  in.idempotency_key = "has space";
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kInvalidArgument);
  in.idempotency_key = std::string(128, 'k');
  EXPECT_TRUE(PrepareSubmission(in, ctx_).ok());
}

// Bridged mail (SubmitService.Bridge, SMTP in): any non-pullmail sender or
// the null sender, local users only, signed as ORIGIN_BRIDGED_SMTP.
class BridgedSubmissionTest : public SubmissionTest {
 protected:
  void SetUp() override {
    SubmissionTest::SetUp();
    DomainEntry b;
    b.domain = "b.example";
    dir_.Add(b);
    ctx_.directory = &dir_;
    ctx_.user_exists = [](const std::string& given) {
      // As the sender node does: user addresses are stored lower-case.
      std::string address = absl::AsciiStrToLower(given);
      if (address == "ann@a.example" || address == "amy@a.example") return absl::OkStatus();
      if (address == "broken@a.example") return absl::UnavailableError("db locked");
      return absl::NotFoundError("no user");
    };
  }
  SubmissionInput Bridged(std::string from) {
    SubmissionInput in;
    in.from = std::move(from);
    in.to = {"Ann@A.Example", "amy@a.example"};
    in.message = "From: carol@legacy.example\r\nSubject: in\r\n\r\nhello\r\n";
    in.origin = v1::ORIGIN_BRIDGED_SMTP;
    return in;
  }
};

TEST_F(BridgedSubmissionTest, LegacySenderIsSignedAsBridged) {
  auto sub = PrepareSubmission(Bridged("carol@Legacy.Example"), ctx_);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->message.sender, "carol@legacy.example");
  ASSERT_EQ(sub->deliveries.size(), 1u);
  EXPECT_EQ(sub->deliveries[0].domain, "a.example");
  v1::SignedNotification sn = SentAlone(sub->deliveries[0], *key_);
  auto n = VerifyNotification(sn, dir_, VerifyOptions{clock_.Now(), "a.example"}, nullptr);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->origin(), v1::ORIGIN_BRIDGED_SMTP);
  EXPECT_EQ(n->envelope_sender(), "carol@legacy.example");
}

TEST_F(BridgedSubmissionTest, NullSender) {
  auto sub = PrepareSubmission(Bridged(""), ctx_);
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->message.sender, "");
}

TEST_F(BridgedSubmissionTest, PullmailSenderIsRefusedBySigning) {
  auto sub = PrepareSubmission(Bridged("bob@b.example"), ctx_);
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(sub.status().message(), "sender_outside_domain")) << sub.status();
}

TEST_F(BridgedSubmissionTest, RecipientsMustBeLocalUsers) {
  SubmissionInput in = Bridged("carol@legacy.example");
  in.to = {"ann@a.example", "bob@b.example"};
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kInvalidArgument);
  in.to = {"ann@a.example", "zed@a.example", "yan@a.example"};
  auto sub = PrepareSubmission(in, ctx_);
  EXPECT_EQ(sub.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(sub.status().message(), "no such user: zed@a.example");
  in.to = {"broken@a.example"};
  EXPECT_EQ(CheckBridgeRecipients(in.to, ctx_).code(), absl::StatusCode::kUnavailable);
  in.to = {"Ann@a.example"};
  EXPECT_TRUE(CheckBridgeRecipients(in.to, ctx_).ok());
  EXPECT_EQ(CheckBridgeRecipients({}, ctx_).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BridgedSubmissionTest, NoUserMayBridge) {
  SubmissionInput in = Bridged("carol@legacy.example");
  in.authenticated_user = "ann@a.example";
  EXPECT_EQ(PrepareSubmission(in, ctx_).status().code(), absl::StatusCode::kPermissionDenied);
  // And native mail keeps its rules: no null sender, nothing from outside.
  SubmissionInput native = Input();
  native.authenticated_user.clear();
  native.from = "carol@legacy.example";
  EXPECT_EQ(PrepareSubmission(native, ctx_).status().code(), absl::StatusCode::kPermissionDenied);
  native.from = "";
  EXPECT_FALSE(PrepareSubmission(native, ctx_).ok());
}

}  // namespace
}  // namespace pullmail
