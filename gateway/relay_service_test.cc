// Tests of the SMTP-out relay's refusals (relay_service.h): it is never an
// open relay. The whole path (fetch + SMTP to a sink) is covered end to end
// by tests/e2e/test_gateway_smtpout.py.
#include "gateway/relay_service.h"

#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "core/crypto/ed25519.h"
#include "core/directory/memory_directory.h"
#include "core/envelope/envelope.h"

namespace pullmail::gateway {
namespace {

int64_t Ms(absl::Time t) { return absl::ToUnixMillis(t); }

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_key_ = std::make_unique<SigningKey>(*SigningKey::Generate());
    b_key_ = std::make_unique<SigningKey>(*SigningKey::Generate());
    DomainEntry a{"a.example", "127.0.0.1:1", "127.0.0.1:2", {{"k1", a_key_->PublicKey()}}, false};
    DomainEntry b{"b.example", "127.0.0.1:3", "127.0.0.1:4", {{"k1", b_key_->PublicKey()}}, false};
    DomainEntry legacy{"legacy.example", "", "", {}, true};
    dir_.Add(a);
    dir_.Add(b);
    dir_.Add(legacy);
    options_.domain = "a.example";
    options_.smarthost = "127.0.0.1:9";
    options_.tls = &tls_;
    options_.directory = &dir_;
  }

  v1::SignedNotification Make(const std::string& from_domain, const SigningKey& key,
                              const std::string& to) {
    v1::Notification n;
    n.set_version(1);
    n.set_message_id("m1@" + from_domain);
    n.set_envelope_sender("ann@" + from_domain);
    n.add_recipients(to);
    n.set_recipient_domain(to.substr(to.find('@') + 1));
    n.set_sender_endpoint("127.0.0.1:2");
    absl::Time now = absl::Now();
    n.set_created_unix_ms(Ms(now));
    n.set_expires_unix_ms(Ms(now + absl::Hours(1)));
    n.set_body_size(5);
    n.set_body_sha256(std::string(32, 'x'));
    n.set_fetch_token(std::string(32, 't'));
    n.set_origin(v1::ORIGIN_NATIVE);
    auto s = SignNotification(n, from_domain, "k1", key);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }

  std::unique_ptr<SigningKey> a_key_, b_key_;
  MemoryDirectory dir_;
  TlsConfig tls_;
  RelayOptions options_;
};

TEST_F(RelayTest, RefusesNotificationsSignedByAnotherDomain) {
  v1::NotifyResult r = RelayNotification(options_, Make("b.example", *b_key_, "carol@legacy.example"));
  EXPECT_EQ(r.code(), static_cast<int>(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_EQ(r.reason(), "not_own_domain");
}

TEST_F(RelayTest, RefusesOwnDomainNameWithAForeignKey) {
  // Claims to be a.example but is signed with b's key: the signature fails.
  v1::NotifyResult r = RelayNotification(options_, Make("a.example", *b_key_, "carol@legacy.example"));
  EXPECT_EQ(r.code(), static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_EQ(r.reason(), "bad_signature");
}

TEST_F(RelayTest, RefusesRecipientDomainsThatAreNotLegacy) {
  v1::NotifyResult pullmail = RelayNotification(options_, Make("a.example", *a_key_, "bob@b.example"));
  EXPECT_EQ(pullmail.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(pullmail.reason(), "not_legacy_domain");
  v1::NotifyResult unknown =
      RelayNotification(options_, Make("a.example", *a_key_, "x@unknown.example"));
  EXPECT_EQ(unknown.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
}

TEST_F(RelayTest, WithoutSmarthostRefusesPermanently) {
  options_.smarthost.clear();
  v1::NotifyResult r = RelayNotification(options_, Make("a.example", *a_key_, "carol@legacy.example"));
  EXPECT_EQ(r.code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(r.reason(), "smtp_not_configured");
  EXPECT_EQ(r.message_id(), "m1@a.example");
}

}  // namespace
}  // namespace pullmail::gateway
