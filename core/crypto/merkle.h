// Merkle tree hashing as RFC 9162 (Certificate Transparency 2.0) section
// 2.1 defines it: the tree over a batch of signed notifications
// (docs/PROTOCOL.md 4.1). A leaf hash and an interior node hash are
// domain-separated (0x00 and 0x01 prefixes), so no interior node can pass
// for a leaf (the second-preimage trick against unprefixed trees).
//
// Pure functions of their inputs; thread-safe; SHA-256 only.
#ifndef PULLMAIL_CORE_CRYPTO_MERKLE_H_
#define PULLMAIL_CORE_CRYPTO_MERKLE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pullmail {

// SHA-256(0x00 || data): the hash of one leaf (RFC 9162 2.1.1).
std::string MerkleLeafHash(std::string_view data);

// SHA-256(0x01 || left || right): the hash of an interior node.
std::string MerkleNodeHash(std::string_view left, std::string_view right);

// A whole tree over leaf hashes, kept level by level so that the root and
// every leaf's inclusion proof come out of one pass (n - 1 node hashes).
class MerkleTree {
 public:
  // `leaf_hashes` are MerkleLeafHash() outputs (32 bytes each), in order;
  // at least one.
  explicit MerkleTree(std::vector<std::string> leaf_hashes);

  size_t size() const { return levels_.front().size(); }
  // MTH(D[n]) of RFC 9162 2.1.1.
  const std::string& root() const { return levels_.back().front(); }
  // PATH(m, D[n]) of RFC 9162 2.1.3.1: sibling hashes from the leaf upwards.
  // Requires index < size().
  std::vector<std::string> InclusionProof(size_t index) const;

 private:
  // levels_[0] are the leaves; each next level pairs neighbours and carries
  // an unpaired last node up unchanged, which yields RFC 9162's tree (its
  // left subtree is always the largest power of two below n).
  std::vector<std::vector<std::string>> levels_;
};

// The root that `proof` leads to from `leaf_hash` at `index` of a tree of
// `tree_size` leaves (the algorithm of RFC 9162 2.1.3.2, up to its final
// comparison). nullopt when the proof cannot be a proof for that position:
// index >= tree_size, the wrong number of path entries, or an entry that is
// not 32 bytes. The caller compares (or signature-checks) the root.
std::optional<std::string> MerkleRootFromInclusionProof(uint64_t index, uint64_t tree_size,
                                                        std::string_view leaf_hash,
                                                        const std::vector<std::string_view>& proof);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_CRYPTO_MERKLE_H_
