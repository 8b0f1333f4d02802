// Issue 10 point 5: one domain, many spellings. A bridged notification from
// a pullmail domain's user is refused however the domain is written (case,
// trailing dot, a non-canonical signing domain), and every domain comparison
// of the envelope goes through NormalizeDomain (core/util/address.h).
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "core/crypto/ed25519.h"
#include "core/directory/memory_directory.h"
#include "core/envelope/envelope.h"
#include "core/util/clock.h"

namespace pullmail {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr int64_t kHourMs = 3600 * 1000;

class DomainSpellingTest : public ::testing::Test {
 protected:
  DomainSpellingTest() : key_(*SigningKey::FromSeed(std::string(32, '\x11'))) {
    DomainEntry a;
    a.domain = "a.example";
    a.keys["k1"] = key_.PublicKey();
    directory_.Add(a);
    DomainEntry b;  // a pullmail domain: a.example's gateway may not speak for it
    b.domain = "b.example";
    b.keys["k1"] = std::string(32, '\x01');
    directory_.Add(b);
    DomainEntry legacy;
    legacy.domain = "legacy.example";
    legacy.legacy = true;
    directory_.Add(legacy);
  }

  static v1::Notification Bridged(std::string sender) {
    v1::Notification n;
    n.set_version(1);
    n.set_message_id("m1@a.example");
    n.set_envelope_sender(std::move(sender));
    n.add_recipients("carol@c.example");
    n.set_recipient_domain("c.example");
    n.set_created_unix_ms(ToUnixMs(kNow) - kHourMs);
    n.set_expires_unix_ms(ToUnixMs(kNow) + kHourMs);
    n.set_body_size(10);
    n.set_body_sha256(std::string(32, '\xab'));
    n.set_fetch_token(std::string(32, '\xcd'));
    n.set_origin(v1::ORIGIN_BRIDGED_SMTP);
    return n;
  }

  // Signed with a.example's real key, bypassing SignNotification's checks,
  // as a hostile gateway would.
  v1::SignedNotification SignRaw(const v1::Notification& n,
                                 std::string_view domain = "a.example") const {
    v1::SignedNotification s;
    s.set_payload(n.SerializeAsString());
    s.set_signing_domain(std::string(domain));
    s.set_key_id("k1");
    s.set_signature(key_.Sign(kNotificationContext, s.payload()));
    return s;
  }

  Rejection Verify(const v1::SignedNotification& s, std::string expected = "") const {
    Rejection reason = Rejection::kNone;
    (void)VerifyNotification(s, directory_, VerifyOptions{kNow, std::move(expected)}, &reason);
    return reason;
  }

  SigningKey key_;
  MemoryDirectory directory_;
};

TEST_F(DomainSpellingTest, BridgedSenderAtPullmailDomainRefusedInAnySpelling) {
  for (const char* sender : {"boss@b.example", "boss@b.example.", "boss@B.EXAMPLE",
                             "boss@B.Example."}) {
    EXPECT_EQ(Verify(SignRaw(Bridged(sender))), Rejection::kSenderOutsideDomain) << sender;
    auto s = SignNotification(Bridged(sender), "a.example", "k1", key_, &directory_);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << sender;
    EXPECT_TRUE(absl::StartsWith(s.status().message(), "sender_outside_domain: ")) << s.status();
  }
  // Not a domain at all: refused too, never taken for "not a pullmail domain".
  for (const char* sender : {"boss@b.example..", "boss@.b.example", "boss@b..example"}) {
    EXPECT_NE(Verify(SignRaw(Bridged(sender))), Rejection::kNone) << sender;
  }
  // Legacy and unknown domains stay bridgeable, in any spelling.
  EXPECT_EQ(Verify(SignRaw(Bridged("x@legacy.example."))), Rejection::kNone);
  EXPECT_EQ(Verify(SignRaw(Bridged("x@Nowhere.Example."))), Rejection::kNone);
  // The gateway's own domain, spelled with a dot: its own users.
  EXPECT_EQ(Verify(SignRaw(Bridged("ann@A.example."))), Rejection::kNone);
}

TEST_F(DomainSpellingTest, IsPullmailDomainNormalises) {
  EXPECT_TRUE(*IsPullmailDomain(directory_, "b.example."));
  EXPECT_TRUE(*IsPullmailDomain(directory_, "B.EXAMPLE"));
  EXPECT_FALSE(*IsPullmailDomain(directory_, "legacy.example."));
  EXPECT_EQ(IsPullmailDomain(directory_, "b.example..").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DomainSpellingTest, SigningDomainMustBeCanonical) {
  v1::Notification n = Bridged("ann@a.example");
  EXPECT_EQ(Verify(SignRaw(n)), Rejection::kNone);
  EXPECT_EQ(Verify(SignRaw(n, "a.example.")), Rejection::kUnknownDomain);
  EXPECT_EQ(Verify(SignRaw(n, "A.example")), Rejection::kUnknownDomain);
}

TEST_F(DomainSpellingTest, RecipientDomainComparedNormalised) {
  v1::Notification n = Bridged("ann@a.example");
  n.clear_recipients();
  n.add_recipients("carol@C.Example.");
  EXPECT_EQ(Verify(SignRaw(n), "c.example"), Rejection::kNone);
  EXPECT_EQ(Verify(SignRaw(n), "c.example."), Rejection::kNone);
  EXPECT_EQ(Verify(SignRaw(n), "d.example"), Rejection::kWrongRecipientDomain);
  n.set_recipient_domain("c.example..");
  EXPECT_EQ(Verify(SignRaw(n)), Rejection::kMalformed);
}

}  // namespace
}  // namespace pullmail
