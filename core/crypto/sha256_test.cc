// SHA-256 known answers (FIPS 180-2 appendix B) and incremental == one-shot.
#include "core/crypto/sha256.h"

#include <gtest/gtest.h>

#include "core/crypto/encoding.h"
#include "core/util/random.h"

namespace pullmail {
namespace {

TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(HexEncode(Sha256(std::string(1000000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  SeededRandom random(42);
  std::string data = random.Bytes(300000);
  for (size_t piece : {1u, 7u, 64u, 65u, 4096u, 65536u, 300000u}) {
    SCOPED_TRACE(piece);
    Sha256Hasher hasher;
    for (size_t off = 0; off < data.size(); off += piece) {
      hasher.Update(std::string_view(data).substr(off, piece));
    }
    EXPECT_EQ(hasher.Finish(), Sha256(data));
  }
}

TEST(Sha256, FinishStartsOver) {
  Sha256Hasher hasher;
  hasher.Update("ab");
  hasher.Update("c");
  EXPECT_EQ(hasher.Finish(), Sha256("abc"));
  EXPECT_EQ(hasher.Finish(), Sha256(""));
  hasher.Update("abc");
  Sha256Hasher moved = std::move(hasher);
  EXPECT_EQ(moved.Finish(), Sha256("abc"));
}

}  // namespace
}  // namespace pullmail
