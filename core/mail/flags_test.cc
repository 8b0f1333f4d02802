// Tests for the one flag comparison rule (flags.h).
#include "core/mail/flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pullmail {
namespace {

TEST(Flags, SystemFlagsCompareWithoutCase) {
  EXPECT_TRUE(FlagEquals("\\seen", kFlagSeen));
  EXPECT_TRUE(FlagEquals("\\DELETED", kFlagDeleted));
  EXPECT_FALSE(FlagEquals("\\Seen", "Seen"));
  EXPECT_EQ(CanonicalFlag("\\flagged"), "\\Flagged");
  EXPECT_EQ(CanonicalFlag("\\rEcEnT"), "\\Recent");
  EXPECT_EQ(CanonicalFlag("$Junk"), "$Junk");
  EXPECT_EQ(CanonicalFlag("\\Custom"), "\\Custom");
  EXPECT_TRUE(IsSystemFlag("\\draft"));
  EXPECT_FALSE(IsSystemFlag("draft"));
  std::vector<std::string> flags = {"$Work", "\\seen"};
  EXPECT_TRUE(HasFlag(flags, kFlagSeen));
  EXPECT_TRUE(HasFlag(flags, "$work"));
  EXPECT_FALSE(HasFlag(flags, kFlagDeleted));
}

}  // namespace
}  // namespace pullmail
