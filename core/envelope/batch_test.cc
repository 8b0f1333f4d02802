// Batch-signed notifications (docs/PROTOCOL.md 4.1): one signature over a
// Merkle tree head, one proof per notification. Each notification is still
// judged on its own: a bad proof or a tampered payload refuses only itself,
// every rejection rule of section 6 still applies, and a verified tree head
// is checked once per batch.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/crypto/merkle.h"
#include "core/directory/memory_directory.h"
#include "core/envelope/envelope.h"
#include "core/util/clock.h"
#include "core/util/limits.h"

namespace pullmail {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr int64_t kHourMs = 3600 * 1000;

class BatchTest : public ::testing::Test {
 protected:
  BatchTest()
      : key_(*SigningKey::FromSeed(std::string(32, '\x11'))),
        other_key_(*SigningKey::FromSeed(std::string(32, '\x22'))) {
    DomainEntry a;
    a.domain = "a.example";
    a.keys["k1"] = key_.PublicKey();
    a.keys["k2"] = other_key_.PublicKey();
    directory_.Add(a);
    DomainEntry b;
    b.domain = "b.example";
    b.keys["k1"] = other_key_.PublicKey();
    directory_.Add(b);
  }

  static v1::Notification Make(int i, std::string_view recipient_domain = "b.example") {
    v1::Notification n;
    n.set_version(1);
    n.set_message_id(absl::StrCat("msg-", i, "@a.example"));
    n.set_envelope_sender("ann@a.example");
    n.add_recipients("bob@" + std::string(recipient_domain));
    n.set_recipient_domain(std::string(recipient_domain));
    n.set_created_unix_ms(ToUnixMs(kNow) - kHourMs);
    n.set_expires_unix_ms(ToUnixMs(kNow) + 24 * kHourMs);
    n.set_body_size(100 + i);
    n.set_body_sha256(std::string(32, '\xab'));
    n.set_fetch_token(std::string(32, static_cast<char>(i)));
    n.set_origin(v1::ORIGIN_NATIVE);
    return n;
  }

  std::vector<v1::SignedNotification> Batch(int count) {
    std::vector<v1::Notification> ns;
    for (int i = 0; i < count; ++i) ns.push_back(Make(i));
    auto b = SignNotificationBatch(ns, "a.example", "k1", key_);
    EXPECT_TRUE(b.ok()) << b.status();
    return *b;
  }

  Rejection Verify(const v1::SignedNotification& s, VerifiedBatchRoots* roots = nullptr,
                   absl::Time now = kNow) {
    Rejection r = Rejection::kNone;
    auto n = VerifyNotification(s, directory_, VerifyOptions{now, "b.example", roots}, &r);
    EXPECT_EQ(n.ok(), r == Rejection::kNone);
    if (!n.ok()) {
      EXPECT_EQ(n.status().code(), RejectionCode(r));
    }
    return r;
  }

  SigningKey key_, other_key_;
  MemoryDirectory directory_;
};

TEST_F(BatchTest, EveryNotificationOfABatchVerifiesAlone) {
  for (int size : {1, 2, 3, 5, 64, 100}) {
    std::vector<v1::SignedNotification> batch = Batch(size);
    ASSERT_EQ(batch.size(), static_cast<size_t>(size));
    for (int i = 0; i < size; ++i) {
      const v1::SignedNotification& s = batch[i];
      EXPECT_EQ(s.batch().tree_size(), static_cast<uint32_t>(size));
      EXPECT_EQ(s.batch().leaf_index(), static_cast<uint32_t>(i));
      EXPECT_EQ(s.signature(), batch[0].signature());  // one signature per batch
      // Alone, from its stored bytes (as a recipient re-reads it later).
      v1::SignedNotification reread;
      ASSERT_TRUE(reread.ParseFromString(s.SerializeAsString()));
      EXPECT_EQ(Verify(reread), Rejection::kNone) << size << "/" << i;
    }
  }
}

TEST_F(BatchTest, OneSignatureCheckPerBatchWithTheCache) {
  std::vector<v1::SignedNotification> batch = Batch(64);
  VerifiedBatchRoots roots;
  for (const auto& s : batch) EXPECT_EQ(Verify(s, &roots), Rejection::kNone);
  EXPECT_EQ(roots.hits(), 63u);
  // Another batch has another head: checked again.
  std::vector<v1::Notification> ns = {Make(100), Make(101)};
  auto other = SignNotificationBatch(ns, "a.example", "k1", key_);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(Verify((*other)[0], &roots), Rejection::kNone);
  EXPECT_EQ(roots.hits(), 63u);
}

TEST_F(BatchTest, ABadProofRefusesOnlyItsOwnNotification) {
  std::vector<v1::SignedNotification> batch = Batch(8);
  VerifiedBatchRoots roots;
  EXPECT_EQ(Verify(batch[0], &roots), Rejection::kNone);  // the head is now cached

  // A path hash flipped: leads to another root, whose signature fails --
  // even though the true head is cached.
  v1::SignedNotification flipped = batch[3];
  (*flipped.mutable_batch()->mutable_path(0))[0] ^= 1;
  EXPECT_EQ(Verify(flipped, &roots), Rejection::kBadSignature);
  // Wrong shape: index past the tree, too few hashes, a short hash, a tree
  // over the limit, a zero-size tree.
  v1::SignedNotification s = batch[3];
  s.mutable_batch()->set_leaf_index(8);
  EXPECT_EQ(Verify(s, &roots), Rejection::kBadProof);
  s = batch[3];
  s.mutable_batch()->mutable_path()->RemoveLast();
  EXPECT_EQ(Verify(s, &roots), Rejection::kBadProof);
  s = batch[3];
  s.mutable_batch()->mutable_path(1)->pop_back();
  EXPECT_EQ(Verify(s, &roots), Rejection::kBadProof);
  s = batch[3];
  s.mutable_batch()->set_tree_size(limits::kMaxBatchLeaves + 1);
  EXPECT_EQ(Verify(s, &roots), Rejection::kBadProof);
  s = batch[3];
  s.mutable_batch()->set_tree_size(0);
  EXPECT_EQ(Verify(s, &roots), Rejection::kBadProof);
  // Another leaf's place: the proof no longer leads to the signed root.
  s = batch[3];
  s.mutable_batch()->set_leaf_index(2);
  EXPECT_EQ(Verify(s, &roots), Rejection::kBadSignature);
  // A payload swapped in from another batch member keeps its proof: fails.
  s = batch[3];
  s.set_payload(batch[4].payload());
  EXPECT_EQ(Verify(s, &roots), Rejection::kBadSignature);
  // A tampered payload.
  s = batch[3];
  s.mutable_payload()->back() ^= 1;
  EXPECT_EQ(Verify(s, &roots), Rejection::kBadSignature);

  // The rest of the batch is untouched by all that.
  for (const auto& good : batch) EXPECT_EQ(Verify(good, &roots), Rejection::kNone);
}

TEST_F(BatchTest, SignaturesDoNotCrossBetweenSingleAndBatch) {
  // A single notification's signature presented with a proof for a
  // one-leaf tree, and a batch signature with the proof removed: both fail
  // (different contexts, different signed bytes).
  auto single = SignNotification(Make(0), "a.example", "k1", key_);
  ASSERT_TRUE(single.ok());
  v1::SignedNotification as_batch = *single;
  as_batch.mutable_batch()->set_tree_size(1);
  as_batch.mutable_batch()->set_leaf_index(0);
  EXPECT_EQ(Verify(as_batch), Rejection::kBadSignature);
  std::vector<v1::SignedNotification> one = Batch(1);
  v1::SignedNotification no_proof = one[0];
  no_proof.clear_batch();
  EXPECT_EQ(Verify(no_proof), Rejection::kBadSignature);
  // The tree head of a one-leaf batch is not the payload's leaf alone under
  // the single context either.
  EXPECT_NE(one[0].signature(), single->signature());
  EXPECT_EQ(Verify(one[0]), Rejection::kNone);
  EXPECT_EQ(Verify(*single), Rejection::kNone);
}

TEST_F(BatchTest, TheRulesOfSectionSixStillHoldPerNotification) {
  // Key unknown / wrong key, expiry, the recipient domain, the signer's
  // domain: each batch member is judged on its own.
  std::vector<v1::SignedNotification> batch = Batch(4);
  v1::SignedNotification s = batch[1];
  s.set_key_id("nope");
  EXPECT_EQ(Verify(s), Rejection::kUnknownKey);
  s = batch[1];
  s.set_key_id("k2");  // a real key of the domain, not the one that signed
  EXPECT_EQ(Verify(s), Rejection::kBadSignature);
  s = batch[1];
  s.set_signing_domain("b.example");
  EXPECT_EQ(Verify(s), Rejection::kBadSignature);
  EXPECT_EQ(Verify(batch[1], nullptr, kNow + absl::Hours(25)), Rejection::kExpired);
  EXPECT_EQ(Verify(batch[1], nullptr, kNow - absl::Hours(2)), Rejection::kFromFuture);

  // A batch may carry a notification that its receiver refuses after the
  // signature (here: for another recipient domain) -- only that one fails.
  std::vector<v1::SignedNotification> singles;
  for (int i = 0; i < 3; ++i) {
    auto one = SignNotification(Make(i, i == 1 ? "c.example" : "b.example"), "a.example", "k1",
                                key_);
    ASSERT_TRUE(one.ok());
    singles.push_back(*one);
  }
  auto mixed = BatchSign(singles, "k1", key_);
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ(Verify((*mixed)[0]), Rejection::kNone);
  EXPECT_EQ(Verify((*mixed)[1]), Rejection::kWrongRecipientDomain);
  EXPECT_EQ(Verify((*mixed)[2]), Rejection::kNone);
}

TEST_F(BatchTest, SignerRefusals) {
  EXPECT_FALSE(SignNotificationBatch({}, "a.example", "k1", key_).ok());
  std::vector<v1::Notification> too_many(limits::kMaxBatchLeaves + 1, Make(0));
  EXPECT_FALSE(SignNotificationBatch(too_many, "a.example", "k1", key_).ok());
  // Two recipient domains in one batch.
  EXPECT_FALSE(SignNotificationBatch({Make(0), Make(1, "c.example")}, "a.example", "k1", key_).ok());
  // A notification any receiver would refuse names its index.
  v1::Notification bad = Make(1);
  bad.set_envelope_sender("eve@elsewhere.example");
  auto r = SignNotificationBatch({Make(0), bad}, "a.example", "k1", key_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("notification 1"), std::string_view::npos);
  // Mixed signing domains.
  auto a = SignNotification(Make(0), "a.example", "k1", key_);
  v1::SignedNotification b = *a;
  b.set_signing_domain("b.example");
  EXPECT_FALSE(BatchSign({*a, b}, "k1", key_).ok());
}

TEST_F(BatchTest, CacheIsBounded) {
  VerifiedBatchRoots roots(2);
  roots.Add("one");
  roots.Add("two");
  roots.Add("three");
  EXPECT_FALSE(roots.Contains("one"));
  EXPECT_TRUE(roots.Contains("two"));
  EXPECT_TRUE(roots.Contains("three"));
  EXPECT_EQ(roots.hits(), 2u);
}

}  // namespace
}  // namespace pullmail
