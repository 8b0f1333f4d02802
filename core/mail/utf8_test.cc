// Tests for the UTF-8 helpers: validity per RFC 3629 and truncation that never
// splits a character.
#include "core/mail/utf8.h"

#include "gtest/gtest.h"

namespace pullmail {
namespace {

TEST(Utf8Test, Validity) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate D800
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("a\x80" "b"));         // stray continuation
}

TEST(Utf8Test, ReplacesAndTruncates) {
  EXPECT_EQ(ToValidUtf8("a\xFF" "b", 100), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(ToValidUtf8("abcdef", 3), "abc");
  // "é€" is 2 + 3 bytes: a 4-byte cap keeps only "é".
  EXPECT_EQ(ToValidUtf8("\xC3\xA9\xE2\x82\xAC", 4), "\xC3\xA9");
  EXPECT_EQ(ToValidUtf8("\xC3\xA9\xE2\x82\xAC", 5), "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(ToValidUtf8("\xE2\x82", 10), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ToValidUtf8("x", 0), "");
}

}  // namespace
}  // namespace pullmail
