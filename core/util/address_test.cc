// Tests of the address and domain rules (address.h): NormalizeDomain is the
// one place where two spellings of a domain become one.
#include "core/util/address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pullmail {
namespace {

TEST(NormalizeDomain, CaseAndTrailingDot) {
  for (const char* d : {"b.example", "B.EXAMPLE", "b.example.", "B.Example."}) {
    auto n = NormalizeDomain(d);
    ASSERT_TRUE(n.ok()) << d << ": " << n.status();
    EXPECT_EQ(*n, "b.example") << d;
  }
  EXPECT_EQ(*NormalizeDomain("localhost"), "localhost");
  EXPECT_EQ(*NormalizeDomain("_dmarc.x-y.example"), "_dmarc.x-y.example");
}

TEST(NormalizeDomain, Idna) {
  // IDNA2008 / UTS #46: U-labels become A-labels; case folds first.
  EXPECT_EQ(*NormalizeDomain("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(*NormalizeDomain("BÜCHER.example."), "xn--bcher-kva.example");
  EXPECT_EQ(*NormalizeDomain("XN--BCHER-KVA.example"), "xn--bcher-kva.example");
  // Non-transitional: ß stays ß (xn--fa-hia), not "ss".
  EXPECT_EQ(*NormalizeDomain("faß.example"), "xn--fa-hia.example");
  EXPECT_FALSE(NormalizeDomain("\xff\xfe.example").ok());  // not UTF-8
}

TEST(NormalizeDomain, RefusesWhatIsNotADomain) {
  for (std::string d : std::vector<std::string>{"", ".", "..", "b.example..", ".b.example", "b..example", "a b.example",
                        "b.example/", "[127.0.0.1]", "a@b", std::string(64, 'a') + ".example",
                        std::string("b\0x", 3)}) {
    EXPECT_FALSE(NormalizeDomain(d).ok()) << d;
  }
  std::string long_name;
  while (long_name.size() < 254) long_name += "abcdefghi.";
  EXPECT_FALSE(NormalizeDomain(long_name + "example").ok());
  EXPECT_TRUE(NormalizeDomain(std::string(63, 'a') + ".example").ok());
}

TEST(SameDomain, ComparesNormalised) {
  EXPECT_TRUE(SameDomain("b.example", "B.EXAMPLE."));
  EXPECT_TRUE(SameDomain("bücher.example", "xn--bcher-kva.example."));
  EXPECT_FALSE(SameDomain("b.example", "c.example"));
  EXPECT_FALSE(SameDomain("b.example..", "b.example.."));  // invalid is never equal
  EXPECT_FALSE(SameDomain("", ""));
}

TEST(SplitAddress, NormalisesTheDomainOnly) {
  auto s = SplitAddress("Boss@B.Example.");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->first, "Boss");
  EXPECT_EQ(s->second, "b.example");
  EXPECT_FALSE(SplitAddress("boss@b.example..").ok());
  EXPECT_FALSE(SplitAddress("boss@").ok());
}

TEST(UserKey, LowerCasesTheLocalPartAndNormalisesTheDomain) {
  EXPECT_EQ(UserKey("Ann@A.Example.").value(), "ann@a.example");
  EXPECT_EQ(UserKey("ann@a.example").value(), "ann@a.example");
  EXPECT_EQ(UserKey("ann@xn--bcher-kva.example").value(), "ann@xn--bcher-kva.example");
  EXPECT_FALSE(UserKey("ann@a.example..").ok());
  EXPECT_FALSE(UserKey("ann").ok());
  EXPECT_FALSE(UserKey("@a.example").ok());
}

}  // namespace
}  // namespace pullmail
