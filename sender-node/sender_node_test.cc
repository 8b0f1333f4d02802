// What stays in the sender node around core's rules: storing a submission
// with its queued deliveries, revocation by the message's own sender only,
// abuse reports only from a domain that was told, and BridgeBatch's
// answer per message. Memory stores and a
// fake clock; no network (no delivery worker runs).
#include "sender-node/sender_node.h"

#include "core/crypto/sha256.h"
#include "core/directory/memory_directory.h"
#include "core/envelope/envelope.h"
#include "core/storage/memory_store.h"
#include "core/util/clock.h"
#include "absl/time/clock.h"
#include <thread>
#include "gtest/gtest.h"

namespace pullmail {
namespace {

constexpr char kHere[] = "here.example";
constexpr char kThere[] = "there.example";
constexpr char kElse[] = "else.example";

class SenderNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* d : {kHere, kThere, kElse}) {
      keys_[d] = std::make_unique<SigningKey>(*SigningKey::FromSeed(Sha256(d)));
    }
    SenderNode::Parts parts;
    parts.config.domain = kHere;
    parts.config.key_id = "k1";
    parts.config.sender_listen = "127.0.0.1:1";
    parts.config.retention = absl::Hours(24);
    auto dir = std::make_unique<MemoryDirectory>();
    for (const char* d : {kHere, kThere, kElse}) {
      DomainEntry e;
      e.domain = d;
      // Nothing listens here: whatever the node would tell a domain fails
      // at once and is not what these tests look at.
      e.recipient_endpoint = "127.0.0.1:1";
      e.sender_endpoint = "127.0.0.1:1";
      e.keys["k1"] = keys_[d]->PublicKey();
      dir->Add(e);
    }
    parts.base.directory = std::move(dir);
    auto users = NewMemoryUserStore();
    User bob;
    bob.address = std::string("bob@") + kHere;
    EXPECT_TRUE(users->AddUser(bob).ok());
    parts.base.users = std::move(users);
    parts.base.key = std::make_unique<SigningKey>(*SigningKey::FromSeed(Sha256(kHere)));
    parts.store = NewMemorySenderStore();
    parts.clock = &clock_;
    node_ = SenderNode::FromParts(std::move(parts));
  }

  absl::StatusOr<v1::SubmitResponse> Send(const std::string& from,
                                          const std::vector<std::string>& to) {
    SubmissionInput in;
    in.authenticated_user = from;
    in.from = from;
    in.to = to;
    in.message = "From: " + from + "\r\nTo: " + to[0] + "\r\nSubject: hi\r\n\r\nhello\r\n";
    return node_->Submit(in);
  }

  v1::SignedSpamReport Report(const std::string& reporter, const std::string& message_id) {
    v1::SpamReport r;
    r.set_version(1);
    r.set_report_id("r1." + reporter);
    r.set_reporter_domain(reporter);
    r.set_message_id(message_id);
    r.set_message_signing_domain(kHere);
    r.set_body_sha256(std::string(32, 'h'));
    r.set_verdict(v1::VERDICT_SPAM);
    r.set_reported_unix_ms(absl::ToUnixMillis(clock_.Now()));
    r.set_reports(1);
    auto s = SignSpamReport(r, reporter, "k1", *keys_[reporter]);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }

  FakeClock clock_;
  std::map<std::string, std::unique_ptr<SigningKey>> keys_;
  std::unique_ptr<SenderNode> node_;
};

TEST_F(SenderNodeTest, ASubmissionIsStoredWithOneQueuedDeliveryPerDomain) {
  auto r = Send(std::string("ann@") + kHere,
                {std::string("a@") + kThere, std::string("b@") + kThere, std::string("c@") + kElse});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->queued_size(), 2);
  auto deliveries = node_->store().ListDeliveries(r->message_id());
  ASSERT_TRUE(deliveries.ok());
  ASSERT_EQ(deliveries->size(), 2u);
  for (const Delivery& d : *deliveries) EXPECT_EQ(d.state, DeliveryState::kQueued);
  auto m = node_->store().GetMessage(r->message_id());
  ASSERT_TRUE(m.ok());
  // Times come from the node's clock, not the system's.
  EXPECT_EQ(m->created, clock_.Now());
  EXPECT_EQ(m->expires, clock_.Now() + absl::Hours(24));
}

TEST_F(SenderNodeTest, SomeoneElsesFromIsRefused) {
  SubmissionInput in;
  in.authenticated_user = std::string("ann@") + kHere;
  in.from = in.authenticated_user;
  in.to = {std::string("a@") + kThere};
  in.message = std::string("From: boss@") + kHere + "\r\nSubject: pay\r\n\r\nx\r\n";
  EXPECT_FALSE(node_->Submit(in).ok());
}

TEST_F(SenderNodeTest, OnlyTheSenderRevokesAndAStrangerLearnsNothing) {
  auto r = Send(std::string("ann@") + kHere, {std::string("a@") + kThere});
  ASSERT_TRUE(r.ok()) << r.status();
  auto stranger = node_->Revoke(std::string("bob@") + kHere, r->message_id(), "mine now");
  auto unknown = node_->Revoke(std::string("bob@") + kHere, "nosuch@here.example", "x");
  ASSERT_TRUE(absl::IsNotFound(stranger.status())) << stranger.status();
  ASSERT_TRUE(absl::IsNotFound(unknown.status())) << unknown.status();

  auto own = node_->Revoke(std::string("ann@") + kHere, r->message_id(), "oops");
  ASSERT_TRUE(own.ok()) << own.status();
  // Still queued: the domain never heard of it and is not told.
  EXPECT_EQ(own->domains_notified(), 0u);
  EXPECT_FALSE(own->already_fetched());
  auto deliveries = node_->store().ListDeliveries(r->message_id());
  ASSERT_TRUE(deliveries.ok());
  EXPECT_EQ((*deliveries)[0].state, DeliveryState::kRevoked);
}

TEST_F(SenderNodeTest, AbuseReportsComeOnlyFromADomainThatWasTold) {
  auto r = Send(std::string("ann@") + kHere, {std::string("a@") + kThere});
  ASSERT_TRUE(r.ok()) << r.status();
  // Queued, not yet told: even the recipient domain may not complain yet.
  EXPECT_TRUE(absl::IsPermissionDenied(node_->ReportAbuse(Report(kThere, r->message_id()))));
  auto deliveries = node_->store().ListDeliveries(r->message_id());
  ASSERT_TRUE(deliveries.ok());
  Delivery d = (*deliveries)[0];
  d.state = DeliveryState::kDelivered;
  ASSERT_TRUE(node_->store().UpdateDelivery(d).ok());
  EXPECT_TRUE(node_->ReportAbuse(Report(kThere, r->message_id())).ok());
  EXPECT_TRUE(absl::IsPermissionDenied(node_->ReportAbuse(Report(kElse, r->message_id()))));
}

v1::BridgeRequest Bridged(const std::string& to, const std::string& subject) {
  v1::BridgeRequest r;
  r.set_envelope_from("carol@legacy.example");
  r.add_to(to);
  r.set_message("From: carol@legacy.example\r\nTo: " + to + "\r\nSubject: " + subject +
                "\r\n\r\nhello\r\n");
  r.set_client("[127.0.0.1]:25 mx.legacy.example");
  return r;
}

// BridgeBatch: each request is answered as Bridge would answer it alone
// (an unknown user is NOT_FOUND, another domain INVALID_ARGUMENT, a
// check_only request is refused), one's error fails no other, and what
// passes is stored with its queued delivery.
TEST_F(SenderNodeTest, ABridgeBatchAnswersEachMessageOnItsOwn) {
  const std::string bob = std::string("bob@") + kHere;
  v1::BridgeBatchRequest batch;
  *batch.add_requests() = Bridged(bob, "one");
  *batch.add_requests() = Bridged(std::string("nobody@") + kHere, "two");
  *batch.add_requests() = Bridged(bob, "three");
  *batch.add_requests() = Bridged(std::string("x@") + kThere, "relay");
  v1::BridgeRequest check = Bridged(bob, "check");
  check.set_check_only(true);
  *batch.add_requests() = check;
  *batch.add_requests() = Bridged(bob, "four");

  auto r = node_->BridgeBatch(batch);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 6u);
  for (size_t i : {0u, 2u, 5u}) {
    ASSERT_TRUE((*r)[i].ok()) << i << ": " << (*r)[i].status();
    auto m = node_->store().GetMessage((*r)[i]->message_id());
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->sender, "carol@legacy.example");
    auto deliveries = node_->store().ListDeliveries(m->message_id);
    ASSERT_TRUE(deliveries.ok());
    ASSERT_EQ(deliveries->size(), 1u);
    EXPECT_EQ((*deliveries)[0].domain, kHere);
    EXPECT_EQ((*deliveries)[0].state, DeliveryState::kQueued);
  }
  EXPECT_NE((*r)[0]->message_id(), (*r)[2]->message_id());
  EXPECT_TRUE(absl::IsNotFound((*r)[1].status())) << (*r)[1].status();
  EXPECT_TRUE(absl::IsInvalidArgument((*r)[3].status())) << (*r)[3].status();
  EXPECT_TRUE(absl::IsInvalidArgument((*r)[4].status())) << (*r)[4].status();
  // The same answers as Bridge alone gives.
  EXPECT_EQ(node_->Bridge(Bridged(std::string("nobody@") + kHere, "two")).status(),
            (*r)[1].status());
  EXPECT_EQ(node_->Bridge(Bridged(std::string("x@") + kThere, "relay")).status().code(),
            (*r)[3].status().code());
}

TEST_F(SenderNodeTest, ABridgeBatchHoldsOneTo64Requests) {
  v1::BridgeBatchRequest batch;
  EXPECT_TRUE(absl::IsInvalidArgument(node_->BridgeBatch(batch).status()));
  for (size_t i = 0; i < SenderNode::kMaxBridgeBatch + 1; ++i) {
    *batch.add_requests() = Bridged(std::string("bob@") + kHere, "n");
  }
  EXPECT_TRUE(absl::IsInvalidArgument(node_->BridgeBatch(batch).status()));
  batch.mutable_requests()->RemoveLast();
  auto r = node_->BridgeBatch(batch);
  ASSERT_TRUE(r.ok()) << r.status();
  for (const auto& one : *r) EXPECT_TRUE(one.ok()) << one.status();
}

// The delivery worker's waits: WaitForWork says whether new mail woke it
// (then the worker gathers for core's kPassGather before its pass), and the
// gathering wait is ended by Stop() but not by more mail arriving.
TEST_F(SenderNodeTest, TheWorkerKnowsWhetherNewMailWokeItAndGathersUntilStopped) {
  EXPECT_FALSE(node_->WaitForWork(clock_.Now() + absl::Milliseconds(20)));
  node_->Wake();
  EXPECT_TRUE(node_->WaitForWork(clock_.Now() + absl::Hours(1)));
  std::thread other([this] {
    absl::SleepFor(absl::Milliseconds(20));
    node_->Wake();  // more mail: the gathering goes on
    absl::SleepFor(absl::Milliseconds(50));
    node_->Stop();
  });
  node_->Gather(absl::Hours(1));
  EXPECT_TRUE(node_->stopped());
  other.join();
}

}  // namespace
}  // namespace pullmail
