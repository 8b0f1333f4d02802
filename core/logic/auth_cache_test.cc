// Tests for the login cache (auth_cache.h) on a fake clock.
#include "core/logic/auth_cache.h"

#include <gtest/gtest.h>

namespace pullmail {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TEST(AuthCache, HitsOnlyTheSamePasswordWithinTheTtl) {
  AuthCache c(std::string(32, 's'), absl::Minutes(5), 100);
  EXPECT_FALSE(c.Lookup("ann", "pw", kT0));
  c.Insert("ann", "pw", "tok", kT0 + absl::Hours(12), kT0);
  EXPECT_EQ(c.Lookup("ann", "pw", kT0 + absl::Minutes(1)), "tok");
  EXPECT_FALSE(c.Lookup("ann", "PW", kT0));     // another password
  EXPECT_FALSE(c.Lookup("ann", "pw2", kT0));
  EXPECT_FALSE(c.Lookup("annp", "w", kT0));     // fields are length-prefixed
  EXPECT_FALSE(c.Lookup("ann", "pw", kT0 + absl::Minutes(5)));  // TTL over
  EXPECT_EQ(c.size(), 0u);
}

TEST(AuthCache, NeverPastTheTokensExpiry) {
  AuthCache c(std::string(32, 's'), absl::Hours(1), 100);
  c.Insert("ann", "pw", "tok", kT0 + absl::Minutes(3), kT0);
  EXPECT_EQ(c.Lookup("ann", "pw", kT0 + absl::Minutes(1)), "tok");
  EXPECT_FALSE(c.Lookup("ann", "pw", kT0 + absl::Minutes(2)));  // last minute: not used
  c.Insert("bob", "pw", "t", kT0 + absl::Seconds(30), kT0);     // too short to cache
  EXPECT_FALSE(c.Lookup("bob", "pw", kT0));
}

TEST(AuthCache, BoundedAndForgets) {
  AuthCache c(std::string(32, 's'), absl::Hours(1), 2);
  c.Insert("a", "1", "ta", kT0 + absl::Hours(12), kT0);
  c.Insert("b", "1", "tb", kT0 + absl::Hours(12), kT0 + absl::Seconds(1));
  c.Insert("c", "1", "tc", kT0 + absl::Hours(12), kT0 + absl::Seconds(2));
  EXPECT_EQ(c.size(), 2u);
  EXPECT_FALSE(c.Lookup("a", "1", kT0 + absl::Seconds(3)));  // the oldest went
  EXPECT_EQ(c.Lookup("c", "1", kT0 + absl::Seconds(3)), "tc");
  c.Forget("c");
  EXPECT_FALSE(c.Lookup("c", "1", kT0 + absl::Seconds(3)));
  AuthCache off(std::string(32, 's'), absl::Hours(1), 0);
  off.Insert("a", "1", "ta", kT0 + absl::Hours(12), kT0);
  EXPECT_FALSE(off.Lookup("a", "1", kT0));
}

}  // namespace
}  // namespace pullmail
