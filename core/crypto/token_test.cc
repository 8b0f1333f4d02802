// Fetch tokens and message ids.
#include "core/crypto/token.h"

#include <gtest/gtest.h>

#include <set>

#include "core/util/random.h"

namespace pullmail {
namespace {

TEST(Token, SizeAndDeterminismFromSeed) {
  SeededRandom a(1), b(1), c(2);
  std::string ta = NewToken(a);
  EXPECT_EQ(ta.size(), 32u);
  EXPECT_EQ(ta, NewToken(b));
  EXPECT_NE(ta, NewToken(c));
  EXPECT_EQ(NewToken(a, 16).size(), 16u);
  EXPECT_NE(NewToken(SecureRandom()), NewToken(SecureRandom()));
}

bool IsBase32(char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); }

TEST(MessageId, Shape) {
  SeededRandom random(3);
  std::string id = NewMessageId(random, "Example.ORG");
  ASSERT_EQ(id.size(), 26u + 1 + 11);
  for (size_t i = 0; i < 26; ++i) EXPECT_TRUE(IsBase32(id[i])) << id;
  EXPECT_EQ(id.substr(26), "@example.org");
}

TEST(MessageId, UniqueAcrossManyDraws) {
  SeededRandom random(4);
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(NewMessageId(random, "a.example"));
  EXPECT_EQ(seen.size(), 10000u);
  // All 32 digits appear, so no bit of the encoder is stuck.
  std::set<char> digits;
  for (const std::string& id : seen) digits.insert(id.begin(), id.begin() + 26);
  EXPECT_EQ(digits.size(), 32u);
}

TEST(MessageId, AlwaysPrintableAndWithinLimit) {
  SeededRandom random(5);
  std::string long_domain(253, 'd');
  std::string id = NewMessageId(random, long_domain);
  EXPECT_EQ(id.size(), limits::kMaxMessageId);
  id = NewMessageId(random, std::string("b\x01 d\xff", 5));
  EXPECT_EQ(id.substr(26), "@b__d_");
  for (char c : id) EXPECT_TRUE(c > ' ' && c <= '~');
}

}  // namespace
}  // namespace pullmail
