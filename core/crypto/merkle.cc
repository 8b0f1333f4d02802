// RFC 9162 Merkle tree hashing (see merkle.h).
#include "core/crypto/merkle.h"

#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "core/crypto/sha256.h"
#include "core/util/limits.h"
#include "core/util/logging.h"

namespace pullmail {

namespace {

// A receiver hashes seven or so short inputs per batch-signed notification:
// one EVP context per thread, reused, with the digest fetched once. (OpenSSL
// 3's one-shot SHA256() fetches the algorithm by name and makes and frees a
// context on every call: more than the hashing of 65 bytes costs.)
void Sha256Into(const void* data, size_t size, unsigned char out[32]) {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    PM_CHECK(fetched != nullptr) << "OpenSSL has no SHA256";
    return fetched;
  }();
  thread_local std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                                       &EVP_MD_CTX_free);
  unsigned int len = 0;
  PM_CHECK(ctx != nullptr && EVP_DigestInit_ex2(ctx.get(), md, nullptr) == 1 &&
           EVP_DigestUpdate(ctx.get(), data, size) == 1 &&
           EVP_DigestFinal_ex(ctx.get(), out, &len) == 1 && len == 32)
      << "SHA-256 failed";
}

// SHA-256(0x01 || left || right) of two 32-byte hashes, into `out` (which
// may alias either input).
void NodeHashInto(const unsigned char* left, const unsigned char* right, unsigned char out[32]) {
  unsigned char input[1 + 2 * 32];
  input[0] = 0x01;
  std::memcpy(input + 1, left, 32);
  std::memcpy(input + 33, right, 32);
  Sha256Into(input, sizeof(input), out);
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string MerkleLeafHash(std::string_view data) {
  std::string input;
  input.reserve(1 + data.size());
  input.push_back('\x00');
  input.append(data);
  std::string out(32, '\0');
  Sha256Into(input.data(), input.size(), reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string MerkleNodeHash(std::string_view left, std::string_view right) {
  if (left.size() == 32 && right.size() == 32) {
    std::string out(32, '\0');
    NodeHashInto(Bytes(left), Bytes(right), reinterpret_cast<unsigned char*>(out.data()));
    return out;
  }
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
  unsigned char r[32];  // the running hash, kept off the heap
  std::memcpy(r, leaf_hash.data(), sizeof(r));
  for (std::string_view p : proof) {
    if (sn == 0 || p.size() != limits::kSha256Size) return std::nullopt;
    if ((fn & 1) == 1 || fn == sn) {
      NodeHashInto(Bytes(p), r, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      NodeHashInto(r, Bytes(p), r);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(r), sizeof(r));
}

}  // namespace pullmail
