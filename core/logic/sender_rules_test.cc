// Revocation and abuse-report acceptance at the sender (sender_rules.h).
#include "core/logic/sender_rules.h"

#include <gtest/gtest.h>

namespace pullmail {
namespace {

Delivery D(std::string domain, DeliveryState st, uint64_t served = 0) {
  Delivery d;
  d.domain = std::move(domain);
  d.state = st;
  d.bytes_served = served;
  return d;
}

TEST(SenderRulesTest, OnlyTheSenderRevokes) {
  OutboundMessage m;
  m.message_id = "m1@a.example";
  m.sender = "alice@a.example";
  EXPECT_TRUE(CheckRevoker(m, "Alice@A.example").ok());
  EXPECT_EQ(CheckRevoker(m, "bob@a.example").code(), absl::StatusCode::kNotFound);
}

TEST(SenderRulesTest, RevocationTouchesAllButBouncedAndTellsOnlyNotifiedDomains) {
  std::vector<Delivery> ds = {D("q.example", DeliveryState::kQueued),
                              D("d.example", DeliveryState::kDelivered),
                              D("f.example", DeliveryState::kFetched),
                              D("b.example", DeliveryState::kBounced)};
  RevocationPlan p = PlanRevocation(ds);
  ASSERT_EQ(p.deliveries.size(), 4u);
  EXPECT_EQ(p.deliveries[0].state, DeliveryState::kRevoked);
  EXPECT_EQ(p.deliveries[1].state, DeliveryState::kRevoked);
  EXPECT_EQ(p.deliveries[2].state, DeliveryState::kRevoked);
  EXPECT_EQ(p.deliveries[3].state, DeliveryState::kBounced);
  EXPECT_EQ(p.changed, (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(p.notify, (std::vector<size_t>{1, 2}));
  EXPECT_TRUE(p.already_fetched);
}

TEST(SenderRulesTest, PartlyServedCountsAsFetched) {
  RevocationPlan p = PlanRevocation({D("d.example", DeliveryState::kDelivered, 10)});
  EXPECT_TRUE(p.already_fetched);
  p = PlanRevocation({D("d.example", DeliveryState::kDelivered)});
  EXPECT_FALSE(p.already_fetched);
}

TEST(SenderRulesTest, AbuseReportsOnlyFromNotifiedDomains) {
  std::vector<Delivery> ds = {D("q.example", DeliveryState::kQueued),
                              D("d.example", DeliveryState::kDelivered),
                              D("b.example", DeliveryState::kBounced),
                              D("r.example", DeliveryState::kRevoked)};
  EXPECT_TRUE(CheckAbuseReporter(ds, "d.example").ok());
  EXPECT_TRUE(CheckAbuseReporter(ds, "r.example").ok());
  EXPECT_EQ(CheckAbuseReporter(ds, "q.example").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckAbuseReporter(ds, "b.example").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckAbuseReporter(ds, "x.example").code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace pullmail
