// SHA-256 through OpenSSL's EVP interface. The EVP_MD is fetched once: in
// OpenSSL 3 the implicit fetch behind EVP_sha256() costs a provider lookup
// on every init, which shows up when hashing many small inputs.
#include "core/crypto/sha256.h"

#include <openssl/evp.h>

#include "core/util/limits.h"
#include "core/util/logging.h"

namespace pullmail {
namespace {

const EVP_MD* Md() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    PM_CHECK(fetched != nullptr) << "OpenSSL has no SHA256";
    return fetched;
  }();
  return md;
}

}  // namespace

std::string Sha256(std::string_view data) {
  std::string out(limits::kSha256Size, '\0');
  unsigned int len = 0;
  PM_CHECK(EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()),
                      &len, Md(), nullptr) == 1 &&
           len == limits::kSha256Size)
      << "EVP_Digest failed";
  return out;
}

Sha256Hasher::Sha256Hasher() : ctx_(EVP_MD_CTX_new()) {
  PM_CHECK(ctx_ != nullptr && EVP_DigestInit_ex(ctx_, Md(), nullptr) == 1)
      << "SHA-256 init failed";
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(ctx_); }

Sha256Hasher::Sha256Hasher(Sha256Hasher&& other) noexcept : ctx_(other.ctx_) {
  other.ctx_ = nullptr;
}

Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = other.ctx_;
    other.ctx_ = nullptr;
  }
  return *this;
}

void Sha256Hasher::Update(std::string_view data) {
  PM_CHECK(ctx_ != nullptr) << "Update on a moved-from Sha256Hasher";
  PM_CHECK(EVP_DigestUpdate(ctx_, data.data(), data.size()) == 1) << "SHA-256 update failed";
}

std::string Sha256Hasher::Finish() {
  PM_CHECK(ctx_ != nullptr) << "Finish on a moved-from Sha256Hasher";
  std::string out(limits::kSha256Size, '\0');
  unsigned int len = 0;
  PM_CHECK(EVP_DigestFinal_ex(ctx_, reinterpret_cast<unsigned char*>(out.data()), &len) == 1 &&
           len == limits::kSha256Size &&
           EVP_DigestInit_ex(ctx_, Md(), nullptr) == 1)
      << "SHA-256 final failed";
  return out;
}

}  // namespace pullmail
