// The signed envelope: each refusal gets its own reason, in the documented
// order, and the payload is never parsed before its signature verifies.
#include "core/envelope/envelope.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "core/directory/memory_directory.h"
#include "core/util/clock.h"
#include "core/util/limits.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr int64_t kHourMs = 3600 * 1000;

class EnvelopeTest : public ::testing::Test {
 protected:
  EnvelopeTest()
      : key_(*SigningKey::FromSeed(std::string(32, '\x11'))),
        other_key_(*SigningKey::FromSeed(std::string(32, '\x22'))) {
    DomainEntry a;
    a.domain = "a.example";
    a.recipient_endpoint = "127.0.0.1:7001";
    a.sender_endpoint = "127.0.0.1:7002";
    a.keys["k1"] = key_.PublicKey();
    a.keys["old"] = other_key_.PublicKey();
    directory_.Add(a);
    DomainEntry b;
    b.domain = "b.example";
    b.keys["k1"] = other_key_.PublicKey();
    directory_.Add(b);
  }

  static v1::Notification ValidNotification() {
    v1::Notification n;
    n.set_version(1);
    n.set_message_id("abcdefghijklmnopqrstuvwxyz@a.example");
    n.set_envelope_sender("ann@a.example");
    n.add_recipients("bob@b.example");
    n.add_recipients("carol@B.Example");
    n.set_recipient_domain("b.example");
    n.set_sender_endpoint("sender.a.example:7002");
    n.set_created_unix_ms(ToUnixMs(kNow) - kHourMs);
    n.set_expires_unix_ms(ToUnixMs(kNow) + 24 * kHourMs);
    n.set_body_size(4096);
    n.set_body_sha256(std::string(32, '\xab'));
    n.set_fetch_token(std::string(32, '\xcd'));
    n.set_origin(v1::ORIGIN_NATIVE);
    v1::HeaderSummary* s = n.mutable_summary();
    s->set_from("Ann <ann@a.example>");
    s->add_to("bob@b.example");
    s->set_subject("hello");
    return n;
  }

  // Signs arbitrary bytes as a notification, bypassing SignNotification's
  // own checks: this is how a broken or hostile peer would do it.
  v1::SignedNotification SignRaw(const std::string& payload, std::string_view domain = "a.example",
                                 std::string_view key_id = "k1") const {
    v1::SignedNotification s;
    s.set_payload(payload);
    s.set_signing_domain(std::string(domain));
    s.set_key_id(std::string(key_id));
    s.set_signature(key_.Sign(kNotificationContext, payload));
    return s;
  }

  v1::SignedNotification SignValid() const {
    absl::StatusOr<v1::SignedNotification> s =
        SignNotification(ValidNotification(), "a.example", "k1", key_);
    EXPECT_TRUE(s.ok()) << s.status();
    return *s;
  }

  // Verifies and checks that the reason, the status code and the message
  // prefix agree; returns the reason.
  Rejection VerifyReason(const v1::SignedNotification& s, absl::Time now = kNow,
                         std::string expected_domain = "") const {
    Rejection reason = Rejection::kNone;
    absl::StatusOr<v1::Notification> n =
        VerifyNotification(s, directory_, VerifyOptions{now, expected_domain}, &reason);
    if (n.ok()) {
      EXPECT_EQ(reason, Rejection::kNone);
      return Rejection::kNone;
    }
    EXPECT_EQ(n.status().code(), RejectionCode(reason)) << n.status();
    EXPECT_TRUE(absl::StartsWith(n.status().message(),
                                 absl::StrCat(AV(RejectionName(reason)), ": ")))
        << n.status();
    return reason;
  }

  SigningKey key_;
  SigningKey other_key_;
  MemoryDirectory directory_;
};

TEST_F(EnvelopeTest, ValidNotificationVerifies) {
  v1::SignedNotification s = SignValid();
  EXPECT_EQ(s.signing_domain(), "a.example");
  EXPECT_EQ(s.key_id(), "k1");
  EXPECT_EQ(s.signature().size(), 64u);
  Rejection reason = Rejection::kMalformed;
  absl::StatusOr<v1::Notification> n =
      VerifyNotification(s, directory_, VerifyOptions{kNow, "b.example"}, &reason);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(reason, Rejection::kNone);
  EXPECT_EQ(n->SerializeAsString(), ValidNotification().SerializeAsString());
  // The reason pointer is optional.
  EXPECT_TRUE(VerifyNotification(s, directory_, VerifyOptions{kNow, ""}, nullptr).ok());
}

TEST_F(EnvelopeTest, SigningIsDeterministic) {
  EXPECT_EQ(SignValid().SerializeAsString(), SignValid().SerializeAsString());
}

// PrepareNotification is SignNotification without the signature, and
// SignPrepared adds exactly the signature SignNotification would have made.
TEST_F(EnvelopeTest, PreparedThenSignedIsWhatSigningGives) {
  absl::StatusOr<v1::SignedNotification> p =
      PrepareNotification(ValidNotification(), "A.Example", "k1");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->signature().empty());
  EXPECT_EQ(p->signing_domain(), "a.example");  // canonical, as signed
  EXPECT_EQ(p->payload(), SignValid().payload());
  EXPECT_EQ(VerifyReason(*p), Rejection::kBadSignature);  // unsigned never passes
  absl::StatusOr<v1::SignedNotification> s = SignPrepared(*p, "k1", key_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->SerializeAsString(), SignValid().SerializeAsString());
  EXPECT_EQ(VerifyReason(*s, kNow, "b.example"), Rejection::kNone);
  // Re-signing a signed one alone drops a batch proof it carried.
  v1::SignedNotification with_proof = *s;
  with_proof.mutable_batch()->set_tree_size(2);
  EXPECT_EQ(SignPrepared(with_proof, "k1", key_)->SerializeAsString(),
            SignValid().SerializeAsString());
  EXPECT_EQ(SignPrepared(*p, "", key_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignPrepared(v1::SignedNotification(), "k1", key_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(EnvelopeTest, PrepareRefusesWhatTheSignerRefuses) {
  v1::Notification n = ValidNotification();
  n.set_envelope_sender("mallory@b.example");
  absl::StatusOr<v1::SignedNotification> p = PrepareNotification(n, "a.example", "k1");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(p.status().message(), "sender_outside_domain: ")) << p.status();
  n = ValidNotification();
  for (int i = 0; i < 900; ++i) n.add_recipients(std::string(70, 'r') + "@b.example");
  p = PrepareNotification(n, "a.example", "k1");
  EXPECT_TRUE(absl::StartsWith(p.status().message(), "payload_too_large: ")) << p.status();
  EXPECT_EQ(PrepareNotification(ValidNotification(), "a.example", "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(EnvelopeTest, DomainsCompareWithoutCase) {
  v1::Notification n = ValidNotification();
  n.set_envelope_sender("Ann@A.EXAMPLE");
  absl::StatusOr<v1::SignedNotification> s = SignNotification(n, "A.Example", "k1", key_);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(VerifyReason(*s, kNow, "B.EXAMPLE"), Rejection::kNone);
}

TEST_F(EnvelopeTest, TamperedPayloadIsBadSignature) {
  v1::SignedNotification s = SignValid();
  for (size_t i : {size_t{0}, s.payload().size() / 2, s.payload().size() - 1}) {
    v1::SignedNotification t = s;
    (*t.mutable_payload())[i] ^= 0x01;
    EXPECT_EQ(VerifyReason(t), Rejection::kBadSignature) << i;
  }
  v1::SignedNotification longer = s;
  longer.mutable_payload()->push_back('\0');
  EXPECT_EQ(VerifyReason(longer), Rejection::kBadSignature);
}

TEST_F(EnvelopeTest, TamperedSignatureIsBadSignature) {
  v1::SignedNotification s = SignValid();
  (*s.mutable_signature())[10] ^= 0x80;
  EXPECT_EQ(VerifyReason(s), Rejection::kBadSignature);
  s.mutable_signature()->resize(63);
  EXPECT_EQ(VerifyReason(s), Rejection::kBadSignature);
  s.clear_signature();
  EXPECT_EQ(VerifyReason(s), Rejection::kBadSignature);
}

TEST_F(EnvelopeTest, SignedWithAnotherListedKeyIsBadSignature) {
  // "old" is a real key of a.example, but not the one that signed.
  v1::SignedNotification s = SignValid();
  s.set_key_id("old");
  EXPECT_EQ(VerifyReason(s), Rejection::kBadSignature);
}

TEST_F(EnvelopeTest, WrongKeyIdIsUnknownKey) {
  v1::SignedNotification s = SignValid();
  s.set_key_id("k2");
  EXPECT_EQ(VerifyReason(s), Rejection::kUnknownKey);
  s.set_key_id("");
  EXPECT_EQ(VerifyReason(s), Rejection::kUnknownKey);
}

TEST_F(EnvelopeTest, UnknownDomain) {
  v1::SignedNotification s = SignValid();
  s.set_signing_domain("c.example");
  EXPECT_EQ(VerifyReason(s), Rejection::kUnknownDomain);
  s.set_signing_domain("");
  EXPECT_EQ(VerifyReason(s), Rejection::kUnknownDomain);
  s.set_signing_domain(std::string(300, 'x'));
  EXPECT_EQ(VerifyReason(s), Rejection::kUnknownDomain);
}

TEST_F(EnvelopeTest, SenderOutsideDomain) {
  v1::Notification n = ValidNotification();
  n.set_envelope_sender("mallory@b.example");
  EXPECT_EQ(VerifyReason(SignRaw(n.SerializeAsString())), Rejection::kSenderOutsideDomain);
  // A subdomain is another domain.
  n.set_envelope_sender("mallory@x.a.example");
  EXPECT_EQ(VerifyReason(SignRaw(n.SerializeAsString())), Rejection::kSenderOutsideDomain);
  // And the signer refuses to make one.
  absl::StatusOr<v1::SignedNotification> s = SignNotification(n, "a.example", "k1", key_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(s.status().message(), "sender_outside_domain: "));
}

TEST_F(EnvelopeTest, Expired) {
  v1::Notification n = ValidNotification();
  v1::SignedNotification s = SignValid();
  absl::Time expiry = FromUnixMs(n.expires_unix_ms());
  EXPECT_EQ(VerifyReason(s, expiry - absl::Milliseconds(1)), Rejection::kNone);
  EXPECT_EQ(VerifyReason(s, expiry), Rejection::kExpired);
  EXPECT_EQ(VerifyReason(s, expiry + absl::Hours(1)), Rejection::kExpired);
}

TEST_F(EnvelopeTest, FromFuture) {
  v1::Notification n = ValidNotification();
  n.set_created_unix_ms(ToUnixMs(kNow) + limits::kMaxClockSkewMs);
  EXPECT_EQ(VerifyReason(SignRaw(n.SerializeAsString())), Rejection::kNone);
  n.set_created_unix_ms(ToUnixMs(kNow) + limits::kMaxClockSkewMs + 1);
  EXPECT_EQ(VerifyReason(SignRaw(n.SerializeAsString())), Rejection::kFromFuture);
}

TEST_F(EnvelopeTest, PayloadTooLargeIsCheckedFirst) {
  std::string big(limits::kMaxSignedPayload + 1, 'x');
  EXPECT_EQ(VerifyReason(SignRaw(big)), Rejection::kPayloadTooLarge);
  // Before anything else: even from an unknown domain with no signature.
  v1::SignedNotification s;
  s.set_payload(big);
  s.set_signing_domain("nowhere.example");
  EXPECT_EQ(VerifyReason(s), Rejection::kPayloadTooLarge);
  // Exactly the limit is not too large (it fails later, as garbage).
  EXPECT_EQ(VerifyReason(SignRaw(std::string(limits::kMaxSignedPayload, 'x'))),
            Rejection::kMalformed);
}

TEST_F(EnvelopeTest, SignerRefusesPayloadTooLarge) {
  v1::Notification n = ValidNotification();
  for (int i = 0; i < 900; ++i) n.add_recipients(std::string(70, 'r') + "@b.example");
  absl::StatusOr<v1::SignedNotification> s = SignNotification(n, "a.example", "k1", key_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(s.status().message(), "payload_too_large: ")) << s.status();
}

TEST_F(EnvelopeTest, GarbageWithValidSignatureIsMalformed) {
  EXPECT_EQ(VerifyReason(SignRaw("\xff\xff\xff\xff garbage")), Rejection::kMalformed);
  // An empty payload parses as an all-default message, which fails the
  // field rules: still malformed, never accepted.
  EXPECT_EQ(VerifyReason(SignRaw("")), Rejection::kMalformed);
}

TEST_F(EnvelopeTest, PayloadIsNotParsedBeforeTheSignature) {
  v1::SignedNotification s = SignRaw("\xff\xff\xff\xff garbage");
  (*s.mutable_signature())[0] ^= 1;
  EXPECT_EQ(VerifyReason(s), Rejection::kBadSignature);
  // Nor before the key lookup.
  s.set_key_id("nope");
  EXPECT_EQ(VerifyReason(s), Rejection::kUnknownKey);
}

TEST_F(EnvelopeTest, FieldRulesMakeMalformed) {
  struct Case {
    const char* name;
    void (*mutate)(v1::Notification&);
  };
  const Case cases[] = {
      {"version 0", [](v1::Notification& n) { n.set_version(0); }},
      {"version 2", [](v1::Notification& n) { n.set_version(2); }},
      {"empty message id", [](v1::Notification& n) { n.clear_message_id(); }},
      {"message id with space", [](v1::Notification& n) { n.set_message_id("a b@a.example"); }},
      {"message id too long", [](v1::Notification& n) { n.set_message_id(std::string(129, 'm')); }},
      {"sender without @", [](v1::Notification& n) { n.set_envelope_sender("ann"); }},
      {"sender with two @", [](v1::Notification& n) { n.set_envelope_sender("a@b@a.example"); }},
      {"no recipients", [](v1::Notification& n) { n.clear_recipients(); }},
      {"recipient elsewhere", [](v1::Notification& n) { n.add_recipients("eve@c.example"); }},
      {"recipient not an address", [](v1::Notification& n) { n.add_recipients("b.example"); }},
      {"too many recipients",
       [](v1::Notification& n) {
         for (int i = 0; i < 1000; ++i) n.add_recipients("r@b.example");
       }},
      {"empty recipient domain", [](v1::Notification& n) { n.clear_recipient_domain(); }},
      {"body too large", [](v1::Notification& n) { n.set_body_size(limits::kMaxBodySize + 1); }},
      {"sha256 31 bytes", [](v1::Notification& n) { n.set_body_sha256(std::string(31, 'h')); }},
      {"no sha256", [](v1::Notification& n) { n.clear_body_sha256(); }},
      {"token 33 bytes", [](v1::Notification& n) { n.set_fetch_token(std::string(33, 't')); }},
      {"expires == created",
       [](v1::Notification& n) { n.set_expires_unix_ms(n.created_unix_ms()); }},
      {"retention too long",
       [](v1::Notification& n) {
         n.set_expires_unix_ms(n.created_unix_ms() + limits::kMaxRetentionMs + 1);
       }},
      {"summary too long",
       [](v1::Notification& n) { n.mutable_summary()->set_subject(std::string(999, 's')); }},
      {"summary list too long",
       [](v1::Notification& n) {
         for (int i = 0; i < 101; ++i) n.mutable_summary()->add_cc("x@y");
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::Notification n = ValidNotification();
    c.mutate(n);
    EXPECT_EQ(VerifyReason(SignRaw(n.SerializeAsString())), Rejection::kMalformed);
    absl::StatusOr<v1::SignedNotification> s = SignNotification(n, "a.example", "k1", key_);
    EXPECT_TRUE(absl::StartsWith(s.status().message(), "malformed: ")) << s.status();
  }
  // The retention limit itself is allowed.
  v1::Notification n = ValidNotification();
  n.set_expires_unix_ms(n.created_unix_ms() + limits::kMaxRetentionMs);
  EXPECT_EQ(VerifyReason(SignRaw(n.SerializeAsString())), Rejection::kNone);
}

TEST_F(EnvelopeTest, WrongRecipientDomain) {
  v1::SignedNotification s = SignValid();
  EXPECT_EQ(VerifyReason(s, kNow, "c.example"), Rejection::kWrongRecipientDomain);
  EXPECT_EQ(VerifyReason(s, kNow, "b.example"), Rejection::kNone);
  EXPECT_EQ(VerifyReason(s, kNow, ""), Rejection::kNone);
}

TEST_F(EnvelopeTest, OrderAfterParse) {
  // Outside domain AND wrong recipient AND expired: the first in the
  // documented order wins.
  v1::Notification n = ValidNotification();
  n.set_envelope_sender("x@b.example");
  v1::SignedNotification s = SignRaw(n.SerializeAsString());
  EXPECT_EQ(VerifyReason(s, kNow + absl::Hours(100), "c.example"),
            Rejection::kSenderOutsideDomain);
  s = SignValid();
  EXPECT_EQ(VerifyReason(s, kNow + absl::Hours(100), "c.example"),
            Rejection::kWrongRecipientDomain);
}

class FailingDirectory : public Directory {
 public:
  absl::StatusOr<DomainEntry> Lookup(std::string_view) const override {
    return absl::UnavailableError("DNS timeout");
  }
};

TEST_F(EnvelopeTest, DirectoryOutageIsRetryableNotARejection) {
  FailingDirectory dir;
  Rejection reason;
  absl::StatusOr<v1::Notification> n =
      VerifyNotification(SignValid(), dir, VerifyOptions{kNow, ""}, &reason);
  EXPECT_EQ(reason, Rejection::kDirectoryUnavailable);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable);
}

// --- The bridged-sender rule (docs/PROTOCOL.md 6.1 step 6): a gateway's
// notification may name a sender outside its domain only when that domain
// is not a pullmail domain.

// Answers as `inner` does, except that `broken` cannot be looked up.
class PartlyFailingDirectory : public Directory {
 public:
  PartlyFailingDirectory(const Directory& inner, std::string broken)
      : inner_(inner), broken_(std::move(broken)) {}
  absl::StatusOr<DomainEntry> Lookup(std::string_view domain) const override {
    if (domain == broken_) return absl::UnavailableError("DNS timeout");
    return inner_.Lookup(domain);
  }

 private:
  const Directory& inner_;
  std::string broken_;
};

class BridgedEnvelopeTest : public EnvelopeTest {
 protected:
  BridgedEnvelopeTest() {
    DomainEntry legacy;
    legacy.domain = "legacy.example";
    legacy.legacy = true;
    directory_.Add(legacy);
  }
  static v1::Notification Bridged(std::string sender) {
    v1::Notification n = ValidNotification();
    n.set_origin(v1::ORIGIN_BRIDGED_SMTP);
    n.set_envelope_sender(std::move(sender));
    return n;
  }
  // Signs through SignNotification (with the directory) and verifies.
  Rejection SignAndVerify(const v1::Notification& n) const {
    absl::StatusOr<v1::SignedNotification> s =
        SignNotification(n, "a.example", "k1", key_, &directory_);
    Rejection from_raw = VerifyReason(SignRaw(n.SerializeAsString()));
    // The signer refuses exactly what a receiver would refuse.
    EXPECT_EQ(s.ok(), from_raw == Rejection::kNone) << s.status();
    if (s.ok()) {
      EXPECT_EQ(VerifyReason(*s), Rejection::kNone);
    }
    return from_raw;
  }
};

TEST_F(BridgedEnvelopeTest, UnknownDomainSenderIsAccepted) {
  EXPECT_EQ(SignAndVerify(Bridged("carol@nowhere.example")), Rejection::kNone);
}

TEST_F(BridgedEnvelopeTest, LegacyDomainSenderIsAccepted) {
  EXPECT_EQ(SignAndVerify(Bridged("carol@Legacy.Example")), Rejection::kNone);
}

TEST_F(BridgedEnvelopeTest, PullmailDomainSenderIsOutsideDomain) {
  // b.example is a pullmail domain: a.example's gateway cannot speak for it.
  EXPECT_EQ(SignAndVerify(Bridged("bob@b.example")), Rejection::kSenderOutsideDomain);
  absl::StatusOr<v1::SignedNotification> s =
      SignNotification(Bridged("bob@b.example"), "a.example", "k1", key_, &directory_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(s.status().message(), "sender_outside_domain: ")) << s.status();
}

TEST_F(BridgedEnvelopeTest, OwnDomainSenderKeepsTodaysRule) {
  EXPECT_EQ(SignAndVerify(Bridged("ann@a.example")), Rejection::kNone);
}

TEST_F(BridgedEnvelopeTest, NativeOriginKeepsTodaysRule) {
  v1::Notification n = Bridged("carol@nowhere.example");
  n.set_origin(v1::ORIGIN_NATIVE);
  EXPECT_EQ(SignAndVerify(n), Rejection::kSenderOutsideDomain);
  n.set_envelope_sender("carol@legacy.example");
  EXPECT_EQ(SignAndVerify(n), Rejection::kSenderOutsideDomain);
  // Any origin value other than BRIDGED_SMTP counts as native.
  n.set_origin(static_cast<v1::Origin>(7));
  EXPECT_EQ(VerifyReason(SignRaw(n.SerializeAsString())), Rejection::kSenderOutsideDomain);
  n.set_origin(v1::ORIGIN_UNSPECIFIED);
  EXPECT_EQ(VerifyReason(SignRaw(n.SerializeAsString())), Rejection::kSenderOutsideDomain);
}

TEST_F(BridgedEnvelopeTest, NullSenderOnlyWhenBridged) {
  EXPECT_EQ(SignAndVerify(Bridged("")), Rejection::kNone);
  v1::Notification n = Bridged("");
  n.set_origin(v1::ORIGIN_NATIVE);
  EXPECT_EQ(VerifyReason(SignRaw(n.SerializeAsString())), Rejection::kMalformed);
  EXPECT_EQ(SignNotification(n, "a.example", "k1", key_).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A null sender needs no directory, even at the signer.
  EXPECT_TRUE(SignNotification(Bridged(""), "a.example", "k1", key_).ok());
}

TEST_F(BridgedEnvelopeTest, DirectoryUnavailableWhenTheRuleNeedsIt) {
  PartlyFailingDirectory dir(directory_, "nowhere.example");
  Rejection reason = Rejection::kNone;
  absl::StatusOr<v1::Notification> n = VerifyNotification(
      SignRaw(Bridged("carol@nowhere.example").SerializeAsString()), dir,
      VerifyOptions{kNow, ""}, &reason);
  EXPECT_EQ(reason, Rejection::kDirectoryUnavailable);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable);
  // Not consulted when the sender is at the signing domain.
  EXPECT_TRUE(VerifyNotification(SignRaw(Bridged("ann@a.example").SerializeAsString()), dir,
                                 VerifyOptions{kNow, ""}, &reason)
                  .ok());
  // The signer: no directory, or one that cannot answer, is retryable.
  absl::StatusOr<v1::SignedNotification> s =
      SignNotification(Bridged("carol@nowhere.example"), "a.example", "k1", key_);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(s.status().message(), "directory_unavailable: ")) << s.status();
  s = SignNotification(Bridged("carol@nowhere.example"), "a.example", "k1", key_, &dir);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable);
}

TEST(IsPullmailDomain, Verdicts) {
  MemoryDirectory dir;
  DomainEntry p;
  p.domain = "p.example";
  dir.Add(p);
  DomainEntry l;
  l.domain = "l.example";
  l.legacy = true;
  dir.Add(l);
  EXPECT_EQ(*IsPullmailDomain(dir, "p.example"), true);
  EXPECT_EQ(*IsPullmailDomain(dir, "P.EXAMPLE"), true);
  EXPECT_EQ(*IsPullmailDomain(dir, "l.example"), false);
  EXPECT_EQ(*IsPullmailDomain(dir, "unknown.example"), false);
  FailingDirectory failing;
  EXPECT_EQ(IsPullmailDomain(failing, "p.example").status().code(),
            absl::StatusCode::kUnavailable);
}

// --- Cross-type replay: a signature for one kind never verifies as another.

TEST_F(EnvelopeTest, NotificationSignatureDoesNotVerifyAsRevocationOrReport) {
  v1::SignedNotification s = SignValid();
  v1::SignedRevocation as_revocation;
  as_revocation.set_payload(s.payload());
  as_revocation.set_signing_domain(s.signing_domain());
  as_revocation.set_key_id(s.key_id());
  as_revocation.set_signature(s.signature());
  Rejection reason;
  EXPECT_FALSE(VerifyRevocation(as_revocation, directory_, kNow, &reason).ok());
  EXPECT_EQ(reason, Rejection::kBadSignature);

  v1::SignedSpamReport as_report;
  as_report.set_payload(s.payload());
  as_report.set_signing_domain(s.signing_domain());
  as_report.set_key_id(s.key_id());
  as_report.set_signature(s.signature());
  EXPECT_FALSE(VerifySpamReport(as_report, directory_, kNow, &reason).ok());
  EXPECT_EQ(reason, Rejection::kBadSignature);
}

TEST_F(EnvelopeTest, RevocationSignatureDoesNotVerifyAsNotification) {
  v1::Revocation r;
  r.set_version(1);
  r.set_message_id("m@a.example");
  r.set_signing_domain("a.example");
  r.set_revoked_unix_ms(ToUnixMs(kNow));
  absl::StatusOr<v1::SignedRevocation> sr = SignRevocation(r, "a.example", "k1", key_);
  ASSERT_TRUE(sr.ok()) << sr.status();
  v1::SignedNotification as_notification;
  as_notification.set_payload(sr->payload());
  as_notification.set_signing_domain(sr->signing_domain());
  as_notification.set_key_id(sr->key_id());
  as_notification.set_signature(sr->signature());
  EXPECT_EQ(VerifyReason(as_notification), Rejection::kBadSignature);
}

// --- Spam reports.

v1::SpamReport ValidReport() {
  v1::SpamReport r;
  r.set_version(1);
  r.set_report_id("r-0001");
  r.set_reporter_domain("b.example");
  r.set_message_id("abc@a.example");
  r.set_message_signing_domain("a.example");
  r.set_body_sha256(std::string(32, '\xab'));
  r.set_verdict(v1::VERDICT_SPAM);
  r.set_reported_unix_ms(ToUnixMs(kNow));
  r.set_reports(3);
  return r;
}

TEST_F(EnvelopeTest, SpamReportVerifies) {
  absl::StatusOr<v1::SignedSpamReport> s = SignSpamReport(ValidReport(), "b.example", "k1", other_key_);
  ASSERT_TRUE(s.ok()) << s.status();
  Rejection reason = Rejection::kMalformed;
  absl::StatusOr<v1::SpamReport> r = VerifySpamReport(*s, directory_, kNow, &reason);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(reason, Rejection::kNone);
  EXPECT_EQ(r->report_id(), "r-0001");
  EXPECT_EQ(r->reports(), 3u);
}

TEST_F(EnvelopeTest, SpamReportRejections) {
  Rejection reason;
  // Reporter domain is not the signer.
  v1::SpamReport r = ValidReport();
  r.set_reporter_domain("a.example");
  v1::SignedSpamReport s;
  s.set_payload(r.SerializeAsString());
  s.set_signing_domain("b.example");
  s.set_key_id("k1");
  s.set_signature(other_key_.Sign(kSpamReportContext, s.payload()));
  EXPECT_FALSE(VerifySpamReport(s, directory_, kNow, &reason).ok());
  EXPECT_EQ(reason, Rejection::kSenderOutsideDomain);
  EXPECT_FALSE(SignSpamReport(r, "b.example", "k1", other_key_).ok());

  // From the future.
  r = ValidReport();
  r.set_reported_unix_ms(ToUnixMs(kNow) + limits::kMaxClockSkewMs + 1);
  absl::StatusOr<v1::SignedSpamReport> future = SignSpamReport(r, "b.example", "k1", other_key_);
  ASSERT_TRUE(future.ok());
  absl::StatusOr<v1::SpamReport> v = VerifySpamReport(*future, directory_, kNow, &reason);
  EXPECT_EQ(reason, Rejection::kFromFuture);
  EXPECT_EQ(v.status().code(), absl::StatusCode::kFailedPrecondition);

  // Malformed fields.
  r = ValidReport();
  r.set_verdict(v1::VERDICT_UNSPECIFIED);
  s.set_payload(r.SerializeAsString());
  s.set_signature(other_key_.Sign(kSpamReportContext, s.payload()));
  EXPECT_FALSE(VerifySpamReport(s, directory_, kNow, &reason).ok());
  EXPECT_EQ(reason, Rejection::kMalformed);
  r = ValidReport();
  r.set_reports(0);
  EXPECT_TRUE(absl::StartsWith(SignSpamReport(r, "b.example", "k1", other_key_).status().message(),
                               "malformed: "));

  // Signed with a key the directory does not list for b.example.
  absl::StatusOr<v1::SignedSpamReport> wrong_key = SignSpamReport(ValidReport(), "b.example", "k1", key_);
  ASSERT_TRUE(wrong_key.ok());
  EXPECT_FALSE(VerifySpamReport(*wrong_key, directory_, kNow, &reason).ok());
  EXPECT_EQ(reason, Rejection::kBadSignature);
}

// --- Revocations.

TEST_F(EnvelopeTest, RevocationVerifiesAndRejects) {
  v1::Revocation r;
  r.set_version(1);
  r.set_message_id("m@a.example");
  r.set_signing_domain("a.example");
  r.set_revoked_unix_ms(ToUnixMs(kNow));
  r.set_reason("sent by mistake");
  absl::StatusOr<v1::SignedRevocation> s = SignRevocation(r, "a.example", "k1", key_);
  ASSERT_TRUE(s.ok()) << s.status();
  Rejection reason = Rejection::kMalformed;
  absl::StatusOr<v1::Revocation> v = VerifyRevocation(*s, directory_, kNow, &reason);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(reason, Rejection::kNone);
  EXPECT_EQ(v->reason(), "sent by mistake");

  // b.example cannot revoke a.example's messages.
  v1::Revocation forged = r;
  v1::SignedRevocation fs;
  fs.set_payload(forged.SerializeAsString());
  fs.set_signing_domain("b.example");
  fs.set_key_id("k1");
  fs.set_signature(other_key_.Sign(kRevocationContext, fs.payload()));
  EXPECT_FALSE(VerifyRevocation(fs, directory_, kNow, &reason).ok());
  EXPECT_EQ(reason, Rejection::kSenderOutsideDomain);

  // Too far in the future.
  EXPECT_FALSE(VerifyRevocation(*s, directory_,
                                kNow - absl::Milliseconds(limits::kMaxClockSkewMs + 1), &reason)
                   .ok());
  EXPECT_EQ(reason, Rejection::kFromFuture);

  // A reason over 256 bytes is malformed.
  r.set_reason(std::string(257, 'x'));
  EXPECT_TRUE(absl::StartsWith(SignRevocation(r, "a.example", "k1", key_).status().message(),
                               "malformed: "));
  // Tampering.
  v1::SignedRevocation t = *s;
  (*t.mutable_payload())[3] ^= 4;
  EXPECT_FALSE(VerifyRevocation(t, directory_, kNow, &reason).ok());
  EXPECT_EQ(reason, Rejection::kBadSignature);
}

TEST(Rejection, NamesAndCodes) {
  const std::pair<Rejection, const char*> kNames[] = {
      {Rejection::kNone, "none"},
      {Rejection::kUnknownDomain, "unknown_domain"},
      {Rejection::kUnknownKey, "unknown_key"},
      {Rejection::kBadSignature, "bad_signature"},
      {Rejection::kSenderOutsideDomain, "sender_outside_domain"},
      {Rejection::kExpired, "expired"},
      {Rejection::kFromFuture, "from_future"},
      {Rejection::kPayloadTooLarge, "payload_too_large"},
      {Rejection::kMalformed, "malformed"},
      {Rejection::kWrongRecipientDomain, "wrong_recipient_domain"},
      {Rejection::kDirectoryUnavailable, "directory_unavailable"},
  };
  for (const auto& [r, name] : kNames) EXPECT_EQ(RejectionName(r), name);
  EXPECT_EQ(RejectionCode(Rejection::kNone), absl::StatusCode::kOk);
  EXPECT_EQ(RejectionCode(Rejection::kBadSignature), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(RejectionCode(Rejection::kSenderOutsideDomain), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(RejectionCode(Rejection::kExpired), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RejectionCode(Rejection::kPayloadTooLarge), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RejectionCode(Rejection::kMalformed), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RejectionCode(Rejection::kDirectoryUnavailable), absl::StatusCode::kUnavailable);
}

TEST(Contexts, ExactBytes) {
  EXPECT_EQ(kNotificationContext, std::string_view("pullmail.v1.notification\0", 25));
  EXPECT_EQ(kSpamReportContext, std::string_view("pullmail.v1.spam-report\0", 24));
  EXPECT_EQ(kRevocationContext, std::string_view("pullmail.v1.revocation\0", 23));
}

}  // namespace
}  // namespace pullmail
