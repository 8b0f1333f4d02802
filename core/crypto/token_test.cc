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

TEST(MessageId, TimeOrderedSortsByTimeAndStaysUnique) {
  SeededRandom random(6);
  const absl::Time t0 = absl::FromUnixMillis(1'796'000'000'000);  // Dec 2026
  std::string prev;
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) {
    // Two ids per millisecond, and one step past a digit's carry each 32 ms.
    std::string id = NewMessageId(random, "A.example", t0 + absl::Milliseconds(i / 2));
    ASSERT_EQ(id.size(), 26u + 1 + 9) << id;
    for (size_t c = 0; c < 26; ++c) EXPECT_TRUE(IsBase32(id[c])) << id;
    EXPECT_EQ(id.substr(26), "@a.example");
    if (i % 2 == 1) {
      EXPECT_EQ(id.substr(0, 9), prev.substr(0, 9));  // same millisecond
    } else if (i > 0) {
      EXPECT_LT(prev.substr(0, 9), id.substr(0, 9)) << prev << " " << id;
    }
    seen.insert(id);
    prev = id;
  }
  EXPECT_EQ(seen.size(), 5000u);
  // The time part is the milliseconds: one year later is a larger prefix,
  // the epoch is all "2", and times outside 45 bits are clamped.
  EXPECT_LT(NewMessageId(random, "a", t0), NewMessageId(random, "a", t0 + absl::Hours(24 * 365)));
  EXPECT_EQ(NewMessageId(random, "a", absl::UnixEpoch()).substr(0, 9), "222222222");
  EXPECT_EQ(NewMessageId(random, "a", absl::UnixEpoch() - absl::Hours(1)).substr(0, 9),
            "222222222");
  EXPECT_EQ(NewMessageId(random, "a", absl::InfiniteFuture()).substr(0, 9), "zzzzzzzzz");
}

}  // namespace
}  // namespace pullmail
