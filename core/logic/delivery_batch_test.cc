// SignForDelivery: batches of 64 under one signature each, in order, every
// notification still verifying alone; a lone prepared one gets the single
// signature, a lone one signed earlier keeps its own.
#include "core/logic/delivery_batch.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/directory/memory_directory.h"
#include "core/envelope/envelope.h"
#include "core/util/clock.h"

namespace pullmail {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

class DeliveryBatchTest : public ::testing::Test {
 protected:
  DeliveryBatchTest() : key_(*SigningKey::FromSeed(std::string(32, '\x11'))) {
    DomainEntry a;
    a.domain = "a.example";
    a.keys["k1"] = key_.PublicKey();
    directory_.Add(a);
  }
  // As a sender node queues them: prepared at submission, unsigned
  // (`prepared`), or signed one by one as older queues hold them.
  std::vector<v1::SignedNotification> Due(int count, bool prepared = false) {
    std::vector<v1::SignedNotification> out;
    for (int i = 0; i < count; ++i) {
      v1::Notification n;
      n.set_version(1);
      n.set_message_id(absl::StrCat("m", i, "@a.example"));
      n.set_envelope_sender("ann@a.example");
      n.add_recipients("bob@b.example");
      n.set_recipient_domain("b.example");
      n.set_created_unix_ms(ToUnixMs(kNow));
      n.set_expires_unix_ms(ToUnixMs(kNow) + 3600'000);
      n.set_body_sha256(std::string(32, 'h'));
      n.set_fetch_token(std::string(32, 't'));
      n.set_origin(v1::ORIGIN_NATIVE);
      auto s = prepared ? PrepareNotification(n, "a.example", "k1")
                        : SignNotification(n, "a.example", "k1", key_);
      EXPECT_TRUE(s.ok());
      out.push_back(*s);
    }
    return out;
  }
  SigningKey key_;
  MemoryDirectory directory_;
};

TEST_F(DeliveryBatchTest, BatchesOfSixtyFourInOrder) {
  std::vector<v1::SignedNotification> due = Due(150);
  auto r = SignForDelivery(due, "k1", key_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->signatures, 3u);  // 64 + 64 + 22
  ASSERT_EQ(r->notifications.size(), 150u);
  VerifiedBatchRoots roots;
  for (size_t i = 0; i < 150; ++i) {
    const v1::SignedNotification& n = r->notifications[i];
    EXPECT_EQ(n.payload(), due[i].payload());
    EXPECT_EQ(n.batch().leaf_index(), i % 64);
    EXPECT_EQ(n.batch().tree_size(), i < 128 ? 64u : 22u);
    auto v = VerifyNotification(n, directory_, VerifyOptions{kNow, "b.example", &roots}, nullptr);
    EXPECT_TRUE(v.ok()) << i << ": " << v.status();
  }
  EXPECT_EQ(roots.hits(), 150u - 3u);
}

TEST_F(DeliveryBatchTest, ALoneNotificationKeepsItsSignature) {
  std::vector<v1::SignedNotification> due = Due(1);
  auto r = SignForDelivery(due, "k1", key_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->signatures, 0u);
  ASSERT_EQ(r->notifications.size(), 1u);
  EXPECT_FALSE(r->notifications[0].has_batch());
  EXPECT_EQ(r->notifications[0].signature(), due[0].signature());
  auto empty = SignForDelivery({}, "k1", key_);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->notifications.empty());
}

TEST_F(DeliveryBatchTest, ALonePreparedNotificationIsSignedOnceAlone) {
  std::vector<v1::SignedNotification> due = Due(1, /*prepared=*/true);
  ASSERT_TRUE(due[0].signature().empty());
  auto r = SignForDelivery(due, "k1", key_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->signatures, 1u);
  ASSERT_EQ(r->notifications.size(), 1u);
  const v1::SignedNotification& n = r->notifications[0];
  EXPECT_FALSE(n.has_batch());
  EXPECT_EQ(n.payload(), due[0].payload());
  // Exactly what signing it at submission gave (Ed25519 is deterministic).
  EXPECT_EQ(n.SerializeAsString(), Due(1)[0].SerializeAsString());
  auto v = VerifyNotification(n, directory_, VerifyOptions{kNow, "b.example"}, nullptr);
  EXPECT_TRUE(v.ok()) << v.status();
}

TEST_F(DeliveryBatchTest, PreparedNotificationsAreBatchSigned) {
  std::vector<v1::SignedNotification> due = Due(70, /*prepared=*/true);
  auto r = SignForDelivery(due, "k1", key_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->signatures, 2u);  // 64 + 6
  ASSERT_EQ(r->notifications.size(), 70u);
  VerifiedBatchRoots roots;
  for (size_t i = 0; i < 70; ++i) {
    const v1::SignedNotification& n = r->notifications[i];
    EXPECT_FALSE(n.signature().empty());
    EXPECT_EQ(n.payload(), due[i].payload());
    auto v = VerifyNotification(n, directory_, VerifyOptions{kNow, "b.example", &roots}, nullptr);
    EXPECT_TRUE(v.ok()) << i << ": " << v.status();
  }
}

TEST_F(DeliveryBatchTest, AnUnsignedNotificationNeverVerifies) {
  // What PrepareNotification leaves must not pass for signed if it were sent.
  v1::SignedNotification n = Due(1, /*prepared=*/true)[0];
  Rejection why = Rejection::kNone;
  auto v = VerifyNotification(n, directory_, VerifyOptions{kNow, "b.example"}, &why);
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(why, Rejection::kBadSignature);
}

}  // namespace
}  // namespace pullmail
