// SHA-256 (FIPS 180-4) on OpenSSL 3: the body hash in notifications, spam
// reports and the recipient's check of a fetched body.
#ifndef PULLMAIL_CORE_CRYPTO_SHA256_H_
#define PULLMAIL_CORE_CRYPTO_SHA256_H_

#include <string>
#include <string_view>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace pullmail {

// The 32-byte raw digest of `data`. Thread-safe; cannot fail.
std::string Sha256(std::string_view data);

// A digest fed in pieces, e.g. a body arriving in 64 KiB chunks. The result
// equals Sha256() of the concatenated pieces. One hasher is not thread-safe;
// separate hashers are independent. Movable, not copyable.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher&& other) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&& other) noexcept;
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  // Appends `data` to the hashed input.
  void Update(std::string_view data);
  // The 32-byte digest of everything passed to Update since construction or
  // the previous Finish; the hasher then starts over, empty.
  std::string Finish();

 private:
  EVP_MD_CTX* ctx_ = nullptr;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_CRYPTO_SHA256_H_
