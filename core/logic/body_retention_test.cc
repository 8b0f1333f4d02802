#include "core/logic/body_retention.h"

#include "gtest/gtest.h"

namespace pullmail {
namespace {

// A read message stays: no age, however long, drops a body a recipient holds.
TEST(BodyRetentionTest, ABodyIsNeverDroppedByAge) {
  for (absl::Time t : {absl::UnixEpoch(), absl::FromUnixSeconds(1'750'000'000),
                       absl::FromUnixSeconds(1'750'000'000) + absl::Hours(24 * 3650)}) {
    EXPECT_FALSE(RecipientBodyDropTime(t).has_value());
  }
}

}  // namespace
}  // namespace pullmail
