// RFC 9162 Merkle hashing against the Certificate Transparency reference
// vectors (transparency-dev/merkle testonly: roots of the trees over the
// first n reference leaves, and PATH(5, D[8])), and every proof of every
// tree up to 70 leaves against the recursive definition of RFC 9162 2.1.3.1.
#include "core/crypto/merkle.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/crypto/encoding.h"
#include "core/crypto/sha256.h"

namespace pullmail {
namespace {

const char* const kLeafInputs[] = {"",         "00",       "10",
                                   "2021",     "3031",     "40414243",
                                   "5051525354555657", "606162636465666768696a6b6c6d6e6f"};
const char* const kRoots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

std::vector<std::string> ReferenceLeafHashes(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(MerkleLeafHash(*HexDecode(kLeafInputs[i])));
  return out;
}

std::vector<std::string_view> Views(const std::vector<std::string>& v) {
  return std::vector<std::string_view>(v.begin(), v.end());
}

// RFC 9162 2.1.1 and 2.1.3.1, written recursively as the RFC states them.
size_t LargestPowerOfTwoBelow(size_t n) {
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
std::string Mth(const std::vector<std::string>& h, size_t lo, size_t hi) {
  if (hi - lo == 1) return h[lo];
  size_t k = LargestPowerOfTwoBelow(hi - lo);
  return MerkleNodeHash(Mth(h, lo, lo + k), Mth(h, lo + k, hi));
}
std::vector<std::string> Path(const std::vector<std::string>& h, size_t m, size_t lo, size_t hi) {
  if (hi - lo == 1) return {};
  size_t k = LargestPowerOfTwoBelow(hi - lo);
  std::vector<std::string> p;
  if (m < k) {
    p = Path(h, m, lo, lo + k);
    p.push_back(Mth(h, lo + k, hi));
  } else {
    p = Path(h, m - k, lo + k, hi);
    p.push_back(Mth(h, lo, lo + k));
  }
  return p;
}

TEST(Merkle, HashesAreDomainSeparated) {
  EXPECT_EQ(MerkleLeafHash("abc"), Sha256(std::string("\x00" "abc", 4)));
  std::string l(32, 'l'), r(32, 'r');
  EXPECT_EQ(MerkleNodeHash(l, r), Sha256("\x01" + l + r));
  // A node's children written as a leaf do not hash to the node.
  EXPECT_NE(MerkleLeafHash(l + r), MerkleNodeHash(l, r));
}

TEST(Merkle, ReferenceRoots) {
  for (size_t n = 1; n <= 8; ++n) {
    EXPECT_EQ(HexEncode(MerkleTree(ReferenceLeafHashes(n)).root()), kRoots[n - 1]) << n;
  }
}

TEST(Merkle, ReferenceInclusionProof) {
  MerkleTree tree(ReferenceLeafHashes(8));
  std::vector<std::string> proof = tree.InclusionProof(5);
  ASSERT_EQ(proof.size(), 3u);
  EXPECT_EQ(HexEncode(proof[0]), "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b");
  EXPECT_EQ(HexEncode(proof[1]), "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0");
  EXPECT_EQ(HexEncode(proof[2]), "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7");
  std::optional<std::string> root =
      MerkleRootFromInclusionProof(5, 8, MerkleLeafHash(*HexDecode(kLeafInputs[5])), Views(proof));
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(HexEncode(*root), kRoots[7]);
}

TEST(Merkle, EveryProofOfEveryTreeMatchesTheRecursiveDefinition) {
  for (size_t n = 1; n <= 70; ++n) {
    std::vector<std::string> leaves;
    for (size_t i = 0; i < n; ++i) leaves.push_back(MerkleLeafHash(absl::StrCat("leaf-", i)));
    MerkleTree tree(leaves);
    ASSERT_EQ(tree.root(), Mth(leaves, 0, n)) << n;
    for (size_t m = 0; m < n; ++m) {
      std::vector<std::string> proof = tree.InclusionProof(m);
      ASSERT_EQ(proof, Path(leaves, m, 0, n)) << "n=" << n << " m=" << m;
      std::optional<std::string> root =
          MerkleRootFromInclusionProof(m, n, leaves[m], Views(proof));
      ASSERT_TRUE(root.has_value()) << "n=" << n << " m=" << m;
      EXPECT_EQ(*root, tree.root());
      // The same proof does not lead to the root from another leaf or place.
      if (n > 1) {
        auto other = MerkleRootFromInclusionProof(m, n, leaves[(m + 1) % n], Views(proof));
        EXPECT_TRUE(!other || *other != tree.root()) << "n=" << n << " m=" << m;
        auto moved = MerkleRootFromInclusionProof((m + 1) % n, n, leaves[m], Views(proof));
        EXPECT_TRUE(!moved || *moved != tree.root()) << "n=" << n << " m=" << m;
      }
    }
  }
}

TEST(Merkle, ProofsOfTheWrongShapeAreRefused) {
  std::vector<std::string> leaves = ReferenceLeafHashes(8);
  MerkleTree tree(leaves);
  std::vector<std::string> proof = tree.InclusionProof(5);
  // Index out of range.
  EXPECT_FALSE(MerkleRootFromInclusionProof(8, 8, leaves[5], Views(proof)));
  // Too short, too long.
  std::vector<std::string> shorter(proof.begin(), proof.end() - 1);
  EXPECT_FALSE(MerkleRootFromInclusionProof(5, 8, leaves[5], Views(shorter)));
  std::vector<std::string> longer = proof;
  longer.push_back(std::string(32, 'x'));
  EXPECT_FALSE(MerkleRootFromInclusionProof(5, 8, leaves[5], Views(longer)));
  // An entry that is not a SHA-256 hash.
  std::vector<std::string> bad = proof;
  bad[1].pop_back();
  EXPECT_FALSE(MerkleRootFromInclusionProof(5, 8, leaves[5], Views(bad)));
  // A one-leaf tree: the root is the leaf hash and the proof is empty.
  EXPECT_EQ(*MerkleRootFromInclusionProof(0, 1, leaves[0], {}), leaves[0]);
}

}  // namespace
}  // namespace pullmail
