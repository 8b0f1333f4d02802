// RFC 3501 6.3.8 LIST wildcards (ImapListMatch, core/imap/imap_format.h),
// and their cost: a backtracking matcher let one LIST of 21 wildcards
// against a 400-byte folder name run past fuzz/imap_session_fuzz's 20 s
// timeout (exponential in the number of "*").
#include <gtest/gtest.h>

#include <string>

#include "core/imap/imap_format.h"

namespace pullmail {
namespace {

TEST(ImapListMatch, Rfc3501_6_3_8_Wildcards) {
  EXPECT_TRUE(ImapListMatch("*", ""));
  EXPECT_TRUE(ImapListMatch("*", "Archive/2024/Q1"));
  EXPECT_TRUE(ImapListMatch("%", "Archive"));
  EXPECT_FALSE(ImapListMatch("%", "Archive/2024"));
  EXPECT_TRUE(ImapListMatch("Archive/%", "Archive/2024"));
  EXPECT_FALSE(ImapListMatch("Archive/%", "Archive/2024/Q1"));
  EXPECT_TRUE(ImapListMatch("Archive/*", "Archive/2024/Q1"));
  EXPECT_TRUE(ImapListMatch("A%e", "Archive"));
  EXPECT_TRUE(ImapListMatch("%/%/Q1", "Archive/2024/Q1"));
  EXPECT_FALSE(ImapListMatch("%/Q1", "Archive/2024/Q1"));
  EXPECT_TRUE(ImapListMatch("*Q1", "Archive/2024/Q1"));
  EXPECT_TRUE(ImapListMatch("INBOX", "INBOX"));
  EXPECT_FALSE(ImapListMatch("INBOX", "INBOX2"));
  EXPECT_FALSE(ImapListMatch("INBOX", "INBO"));
  EXPECT_TRUE(ImapListMatch("", ""));
  EXPECT_FALSE(ImapListMatch("", "a"));
  EXPECT_TRUE(ImapListMatch("**%%*", "a/b"));
  EXPECT_FALSE(ImapListMatch("%%%", "a/b"));
}

// A backtracking matcher takes time exponential in the number of "*" here
// (this case would not finish); the matcher is O(pattern x name).
TEST(ImapListMatch, ManyWildcardsAgainstALongNameAreCheap) {
  const std::string name(4000, 'a');
  std::string pattern;
  for (int i = 0; i < 500; ++i) pattern += "*a";
  EXPECT_FALSE(ImapListMatch(pattern + "*b", name));
  EXPECT_TRUE(ImapListMatch(pattern + "*", name));
  std::string percent;
  for (int i = 0; i < 500; ++i) percent += "%a";
  EXPECT_FALSE(ImapListMatch(percent + "%b", name));
  EXPECT_TRUE(ImapListMatch(percent, name));
}

}  // namespace
}  // namespace pullmail
