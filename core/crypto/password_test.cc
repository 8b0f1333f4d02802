// scrypt password hashes: format, verify, reject, malformed input.
#include "core/crypto/password.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "core/crypto/encoding.h"
#include "core/util/random.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

TEST(Password, FormatAndVerify) {
  SeededRandom random(9);
  std::string encoded = HashPassword("correct horse", random);
  ASSERT_TRUE(absl::StartsWith(encoded, "$scrypt$ln=14,r=8,p=1$")) << encoded;
  std::vector<std::string> parts = absl::StrSplit(encoded, '$');
  ASSERT_EQ(parts.size(), 5u);
  EXPECT_EQ(Base64Decode(parts[3])->size(), 16u);
  EXPECT_EQ(Base64Decode(parts[4])->size(), 32u);

  EXPECT_TRUE(VerifyPassword("correct horse", encoded));
  EXPECT_FALSE(VerifyPassword("correct horsE", encoded));
  EXPECT_FALSE(VerifyPassword("", encoded));
  EXPECT_FALSE(VerifyPassword("correct horse ", encoded));
}

TEST(Password, SaltMakesHashesDiffer) {
  SeededRandom random(10);
  std::string a = HashPassword("pw", random);
  std::string b = HashPassword("pw", random);
  EXPECT_NE(a, b);
  EXPECT_TRUE(VerifyPassword("pw", a));
  EXPECT_TRUE(VerifyPassword("pw", b));
}

// RFC 7914 section 12, the N=16384 r=8 p=1 vector (64-byte output), in our
// encoding: proves the parameters are passed to scrypt as the string says.
TEST(Password, VerifiesRfc7914Vector) {
  std::string salt = "SodiumChloride";
  std::string hash = *HexDecode(
      "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
      "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887");
  std::string encoded =
      "$scrypt$ln=14,r=8,p=1$" + Base64Encode(salt) + "$" + Base64Encode(hash);
  EXPECT_TRUE(VerifyPassword("pleaseletmein", encoded));
  EXPECT_FALSE(VerifyPassword("pleaseletmeout", encoded));
}

TEST(Password, MalformedEncodingIsFalse) {
  SeededRandom random(11);
  std::string good = HashPassword("pw", random);
  std::vector<std::string> p = absl::StrSplit(good, '$');
  const std::string salt = p[3], hash = p[4];
  for (const std::string& bad : {
           std::string(""), std::string("pw"), std::string("$scrypt$"),
           "$bcrypt$ln=14,r=8,p=1$" + salt + "$" + hash,
           "$scrypt$ln=14,r=8$" + salt + "$" + hash,
           "$scrypt$ln=14,r=8,p=1,x=1$" + salt + "$" + hash,
           "$scrypt$ln=9,r=8,p=1$" + salt + "$" + hash,        // too cheap
           "$scrypt$ln=30,r=8,p=1$" + salt + "$" + hash,       // too costly
           "$scrypt$ln=20,r=16,p=1$" + salt + "$" + hash,      // 2 GiB: over the memory cap
           "$scrypt$ln=14,r=8,p=1$" + salt + "$" + hash + "$",
           "$scrypt$ln=14,r=8,p=1$" + salt + "$" + hash.substr(1),
           "$scrypt$ln=14,r=8,p=1$!!!!$" + hash,
           "$scrypt$ln=14,r=8,p=1$$" + hash,
           "$scrypt$ln=14,r=8,p=1$" + salt + "$",
           "$scrypt$ln=+14,r=8,p=1$" + salt + "$" + hash,
           "$scrypt$ln=014,r=8,p=1$" + salt + "$" + hash,
           "$scrypt$ln=14,r= 8,p=1$" + salt + "$" + hash,
           "$scrypt$ln=14,r=08,p=1$" + salt + "$" + hash,
           "$scrypt$n=14,r=8,p=1$" + salt + "$" + hash,
       }) {
    EXPECT_FALSE(VerifyPassword("pw", bad)) << bad;
  }
  EXPECT_TRUE(VerifyPassword("pw", good));
}

}  // namespace
}  // namespace pullmail
