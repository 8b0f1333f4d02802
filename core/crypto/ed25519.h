// Ed25519 keys (RFC 8032) on OpenSSL 3. Signatures always cover a context
// string followed by the message, so a signature made for one kind of object
// (a notification) can never be replayed as another (a spam report).
#ifndef PULLMAIL_CORE_CRYPTO_ED25519_H_
#define PULLMAIL_CORE_CRYPTO_ED25519_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace pullmail {

// A private signing key. Movable, not copyable; thread-safe for concurrent Sign.
class SigningKey {
 public:
  // A fresh key from the OS CSPRNG.
  static absl::StatusOr<SigningKey> Generate();
  // The RFC 8032 key whose 32-byte private seed is `seed`.
  static absl::StatusOr<SigningKey> FromSeed(std::string_view seed);
  // PKCS#8 PEM, as written by SavePem or `openssl genpkey -algorithm ed25519`.
  static absl::StatusOr<SigningKey> LoadPem(const std::string& path);
  // Writes PKCS#8 PEM with mode 0600 (created so; never world-readable).
  absl::Status SavePem(const std::string& path) const;

  // The raw 32-byte public key.
  std::string PublicKey() const;
  // 64-byte Ed25519 signature over context || message.
  std::string Sign(std::string_view context, std::string_view message) const;

  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  ~SigningKey();

 private:
  explicit SigningKey(EVP_PKEY* key) : key_(key) {}
  EVP_PKEY* key_ = nullptr;
};

// Verifies `signature` over context || message with a raw 32-byte public key.
// False for any malformed key or signature; never aborts on peer input.
bool VerifySignature(std::string_view public_key, std::string_view context,
                     std::string_view message, std::string_view signature);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_CRYPTO_ED25519_H_
