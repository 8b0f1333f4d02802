#include "core/logic/submission.h"

#include <gtest/gtest.h>

#include "core/crypto/sha256.h"
#include "core/directory/memory_directory.h"
#include "core/envelope/envelope.h"
#include "core/util/clock.h"

namespace pullmail {
namespace {

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
    v1::SignedNotification sn;
    ASSERT_TRUE(sn.ParseFromString(d.signed_notification));
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

}  // namespace
}  // namespace pullmail
