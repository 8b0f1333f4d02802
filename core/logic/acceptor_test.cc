// Tests for the notification acceptor with a real directory and real Ed25519
// keys: a valid notification is stored for the right users, a duplicate is
// acknowledged without storing, envelope rejections carry their documented
// reason and code, unknown users are dropped (and none left is no_such_user).
#include "core/logic/acceptor.h"

#include <map>
#include <set>

#include "core/crypto/ed25519.h"
#include "core/directory/memory_directory.h"
#include "core/util/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr int64_t kHourMs = 3600 * 1000;

class AcceptorTest : public ::testing::Test {
 protected:
  AcceptorTest()
      : key_(*SigningKey::FromSeed(std::string(32, '\x31'))),
        stranger_(*SigningKey::FromSeed(std::string(32, '\x32'))) {
    DomainEntry a;
    a.domain = "a.example";
    a.recipient_endpoint = "127.0.0.1:7101";
    a.sender_endpoint = "127.0.0.1:7102";
    a.keys["k1"] = key_.PublicKey();
    directory_.Add(a);
    DomainEntry b;
    b.domain = "b.example";
    b.recipient_endpoint = "127.0.0.1:7201";
    b.sender_endpoint = "127.0.0.1:7202";
    b.keys["k1"] = stranger_.PublicKey();
    directory_.Add(b);
    users_ = {"bob@b.example", "carol@b.example"};
  }

  AcceptContext Context() {
    AcceptContext ctx;
    ctx.directory = &directory_;
    ctx.local_domain = "b.example";
    ctx.now = kNow;
    ctx.user_exists = [this](std::string_view a) { return users_.count(std::string(a)) > 0; };
    ctx.find_existing = [this](std::string_view d, std::string_view id) -> std::optional<int64_t> {
      lookups_.push_back(std::string(d) + "|" + std::string(id));
      auto it = stored_.find(std::string(d) + "|" + std::string(id));
      if (it == stored_.end()) return std::nullopt;
      return it->second;
    };
    return ctx;
  }

  static v1::Notification Valid() {
    v1::Notification n;
    n.set_version(1);
    n.set_message_id("m-0001@a.example");
    n.set_envelope_sender("ann@a.example");
    n.add_recipients("bob@b.example");
    n.add_recipients("Carol@B.Example");
    n.set_recipient_domain("b.example");
    n.set_sender_endpoint("127.0.0.1:7102");
    n.set_created_unix_ms(ToUnixMs(kNow) - 1000);
    n.set_expires_unix_ms(ToUnixMs(kNow) + 24 * kHourMs);
    n.set_body_size(4096);
    n.set_body_sha256(std::string(32, '\xab'));
    n.set_fetch_token(std::string(32, '\xcd'));
    n.set_origin(v1::ORIGIN_NATIVE);
    n.mutable_summary()->set_subject("hello");
    n.mutable_summary()->set_from("Ann <ann@a.example>");
    return n;
  }

  v1::SignedNotification Sign(const v1::Notification& n, std::string_view domain = "A.Example",
                              const SigningKey* key = nullptr) {
    auto s = SignNotification(n, domain, "k1", key ? *key : key_);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }

  SigningKey key_, stranger_;
  MemoryDirectory directory_;
  std::set<std::string> users_;
  std::map<std::string, int64_t> stored_;
  std::vector<std::string> lookups_;
};

TEST_F(AcceptorTest, ValidIsStoredForTheRightUsers) {
  v1::SignedNotification s = Sign(Valid());
  AcceptDecision d = AcceptNotification(s, Context());
  ASSERT_EQ(d.outcome, AcceptDecision::kStore) << d.reason << ": " << d.detail;
  EXPECT_THAT(d.users, ElementsAre("bob@b.example", "carol@b.example"));
  EXPECT_THAT(d.dropped, IsEmpty());
  EXPECT_EQ(d.notification.message_id(), "m-0001@a.example");
  EXPECT_THAT(lookups_, ElementsAre("a.example|m-0001@a.example"));  // domain lower-cased

  const StoredNotification& st = d.stored;
  EXPECT_EQ(st.id, 0);
  EXPECT_EQ(st.signing_domain, "a.example");
  EXPECT_EQ(st.message_id, "m-0001@a.example");
  EXPECT_EQ(st.envelope_sender, "ann@a.example");
  EXPECT_EQ(st.signed_bytes, s.SerializeAsString());
  EXPECT_EQ(st.body_sha256, std::string(32, '\xab'));
  EXPECT_EQ(st.body_size, 4096u);
  EXPECT_EQ(st.fetch_token, std::string(32, '\xcd'));
  v1::HeaderSummary summary;
  ASSERT_TRUE(summary.ParseFromString(st.summary));
  EXPECT_EQ(summary.subject(), "hello");
  EXPECT_EQ(st.created, kNow - absl::Seconds(1));
  EXPECT_EQ(st.expires, kNow + absl::Hours(24));
  EXPECT_EQ(st.received, kNow);
  EXPECT_FALSE(st.revoked);

  v1::NotifyResult r = MakeNotifyResult(d, false);
  EXPECT_EQ(r.code(), 0);
  EXPECT_FALSE(r.duplicate());
  EXPECT_EQ(r.message_id(), "m-0001@a.example");
  EXPECT_EQ(r.reason(), "");
}

TEST_F(AcceptorTest, DuplicateIsAcknowledgedNotStored) {
  stored_["a.example|m-0001@a.example"] = 77;
  AcceptDecision d = AcceptNotification(Sign(Valid()), Context());
  ASSERT_EQ(d.outcome, AcceptDecision::kDuplicate);
  EXPECT_EQ(d.existing_id, 77);
  EXPECT_THAT(d.users, IsEmpty());
  v1::NotifyResult r = MakeNotifyResult(d, false);
  EXPECT_EQ(r.code(), 0);
  EXPECT_TRUE(r.duplicate());
  EXPECT_EQ(r.message_id(), "m-0001@a.example");

  // Still a duplicate after its users were deleted: the sender's retry of a
  // lost reply must be acknowledged, not bounced.
  users_.clear();
  EXPECT_EQ(AcceptNotification(Sign(Valid()), Context()).outcome, AcceptDecision::kDuplicate);
}

TEST_F(AcceptorTest, DuplicateFoundByTheStoreAtInsert) {
  AcceptDecision d = AcceptNotification(Sign(Valid()), Context());
  ASSERT_EQ(d.outcome, AcceptDecision::kStore);
  v1::NotifyResult r = MakeNotifyResult(d, /*duplicate_from_store=*/true);
  EXPECT_EQ(r.code(), 0);
  EXPECT_TRUE(r.duplicate());
}

TEST_F(AcceptorTest, WrongRecipientDomainRejectedWithIdEchoed) {
  v1::Notification n = Valid();
  n.set_recipient_domain("c.example");
  n.clear_recipients();
  n.add_recipients("bob@c.example");
  AcceptDecision d = AcceptNotification(Sign(n), Context());
  ASSERT_EQ(d.outcome, AcceptDecision::kReject);
  EXPECT_EQ(d.rejection, Rejection::kWrongRecipientDomain);
  EXPECT_EQ(d.reason, "wrong_recipient_domain");
  EXPECT_EQ(d.code, absl::StatusCode::kInvalidArgument);
  v1::NotifyResult r = MakeNotifyResult(d, false);
  EXPECT_EQ(r.code(), 3);
  EXPECT_EQ(r.reason(), "wrong_recipient_domain");
  EXPECT_EQ(r.message_id(), "m-0001@a.example");
  EXPECT_FALSE(r.duplicate());
  EXPECT_THAT(lookups_, IsEmpty());  // nothing looked up for a rejected notification
}

TEST_F(AcceptorTest, BadSignatureRejectedWithoutEcho) {
  v1::SignedNotification s = Sign(Valid());
  std::string sig = s.signature();
  sig[5] ^= 0x40;
  s.set_signature(sig);
  AcceptDecision d = AcceptNotification(s, Context());
  ASSERT_EQ(d.outcome, AcceptDecision::kReject);
  EXPECT_EQ(d.reason, "bad_signature");
  EXPECT_EQ(d.code, absl::StatusCode::kUnauthenticated);
  v1::NotifyResult r = MakeNotifyResult(d, false);
  EXPECT_EQ(r.code(), 16);
  EXPECT_EQ(r.message_id(), "");  // never parsed
}

TEST_F(AcceptorTest, ForeignKeyAndSignerOutsideDomain) {
  // Signed by b.example's key while claiming to be a.example.
  v1::SignedNotification forged = Sign(Valid(), "a.example", &stranger_);
  EXPECT_EQ(AcceptNotification(forged, Context()).reason, "bad_signature");

  // b.example signs for a sender at a.example.
  v1::Notification n = Valid();
  auto s = SignNotification(n, "b.example", "k1", stranger_);
  // SignNotification refuses that; a hostile peer signs the bytes directly.
  ASSERT_FALSE(s.ok());
  v1::SignedNotification raw;
  raw.set_payload(n.SerializeAsString());
  raw.set_signing_domain("b.example");
  raw.set_key_id("k1");
  raw.set_signature(stranger_.Sign(kNotificationContext, raw.payload()));
  AcceptDecision d = AcceptNotification(raw, Context());
  EXPECT_EQ(d.reason, "sender_outside_domain");
  EXPECT_EQ(d.code, absl::StatusCode::kPermissionDenied);
}

TEST_F(AcceptorTest, UnknownDomainAndExpired) {
  v1::SignedNotification s = Sign(Valid());
  s.set_signing_domain("z.example");
  EXPECT_EQ(AcceptNotification(s, Context()).reason, "unknown_domain");

  AcceptContext late = Context();
  late.now = kNow + absl::Hours(25);
  AcceptDecision d = AcceptNotification(Sign(Valid()), late);
  EXPECT_EQ(d.reason, "expired");
  EXPECT_EQ(d.code, absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(d.notification.message_id(), "m-0001@a.example");
}

TEST_F(AcceptorTest, UnknownUsersDropped) {
  v1::Notification n = Valid();
  n.add_recipients("dave@b.example");
  n.add_recipients("BOB@b.example");  // the same user again, other case
  AcceptDecision d = AcceptNotification(Sign(n), Context());
  ASSERT_EQ(d.outcome, AcceptDecision::kStore);
  EXPECT_THAT(d.users, ElementsAre("bob@b.example", "carol@b.example"));
  EXPECT_THAT(d.dropped, ElementsAre("dave@b.example"));
  EXPECT_THAT(MakeNotifyResult(d, false).detail(), HasSubstr("2 of 3"));
}

TEST_F(AcceptorTest, NoLocalUserIsNoSuchUser) {
  v1::Notification n = Valid();
  n.clear_recipients();
  n.add_recipients("dave@b.example");
  n.add_recipients("erin@b.example");
  AcceptDecision d = AcceptNotification(Sign(n), Context());
  ASSERT_EQ(d.outcome, AcceptDecision::kReject);
  EXPECT_EQ(d.reason, "no_such_user");
  EXPECT_EQ(d.code, absl::StatusCode::kNotFound);
  EXPECT_THAT(d.detail, HasSubstr("dave@b.example"));
  v1::NotifyResult r = MakeNotifyResult(d, false);
  EXPECT_EQ(r.code(), 5);
  EXPECT_EQ(r.reason(), "no_such_user");
  EXPECT_EQ(r.message_id(), "m-0001@a.example");
}

}  // namespace
}  // namespace pullmail
