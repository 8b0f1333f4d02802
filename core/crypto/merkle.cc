// RFC 9162 Merkle tree hashing (see merkle.h).
#include "core/crypto/merkle.h"

#include "core/crypto/sha256.h"
#include "core/util/limits.h"
#include "core/util/logging.h"

namespace pullmail {

std::string MerkleLeafHash(std::string_view data) {
  Sha256Hasher h;
  const char prefix = '\x00';
  h.Update(std::string_view(&prefix, 1));
  h.Update(data);
  return h.Finish();
}

std::string MerkleNodeHash(std::string_view left, std::string_view right) {
  std::string input;
  input.reserve(1 + left.size() + right.size());
  input.push_back('\x01');
  input.append(left);
  input.append(right);
  return Sha256(input);
}

MerkleTree::MerkleTree(std::vector<std::string> leaf_hashes) {
  PM_CHECK(!leaf_hashes.empty()) << "a Merkle tree needs at least one leaf";
  levels_.push_back(std::move(leaf_hashes));
  while (levels_.back().size() > 1) {
    const std::vector<std::string>& below = levels_.back();
    std::vector<std::string> level;
    level.reserve((below.size() + 1) / 2);
    for (size_t i = 0; i + 1 < below.size(); i += 2) {
      level.push_back(MerkleNodeHash(below[i], below[i + 1]));
    }
    if (below.size() % 2 == 1) level.push_back(below.back());
    levels_.push_back(std::move(level));
  }
}

std::vector<std::string> MerkleTree::InclusionProof(size_t index) const {
  PM_CHECK(index < size()) << "leaf " << index << " of " << size();
  std::vector<std::string> path;
  for (size_t l = 0; l + 1 < levels_.size(); ++l) {
    const size_t sibling = index ^ 1;
    // An unpaired last node has no sibling at this level: it is carried up.
    if (sibling < levels_[l].size()) path.push_back(levels_[l][sibling]);
    index >>= 1;
  }
  return path;
}

std::optional<std::string> MerkleRootFromInclusionProof(
    uint64_t index, uint64_t tree_size, std::string_view leaf_hash,
    const std::vector<std::string_view>& proof) {
  // RFC 9162 2.1.3.2, step by step.
  if (index >= tree_size || leaf_hash.size() != limits::kSha256Size) return std::nullopt;
  uint64_t fn = index;
  uint64_t sn = tree_size - 1;
  std::string r(leaf_hash);
  for (std::string_view p : proof) {
    if (sn == 0 || p.size() != limits::kSha256Size) return std::nullopt;
    if ((fn & 1) == 1 || fn == sn) {
      r = MerkleNodeHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = MerkleNodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return std::nullopt;
  return r;
}

}  // namespace pullmail
