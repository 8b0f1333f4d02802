// The signer/verifier seam (DESIGN.md "small injected interfaces"): every
// signature core makes or checks (core/envelope) goes through a
// SignatureScheme that the program passes in. Programs pass the real one,
// Ed25519Scheme(); the simulator passes its size-keeping model
// (sim/crypto_model.h) so that 10^7 notifications do not cost 20 CPU-minutes
// of Ed25519, while every other line of core runs unchanged. A null scheme
// pointer anywhere in core means Ed25519Scheme().
#ifndef PULLMAIL_CORE_CRYPTO_SIGNATURE_SCHEME_H_
#define PULLMAIL_CORE_CRYPTO_SIGNATURE_SCHEME_H_

#include <string>
#include <string_view>

#include "core/crypto/ed25519.h"

namespace pullmail {

class SignatureScheme {
 public:
  virtual ~SignatureScheme() = default;
  // A 64-byte signature by `key` over context || message.
  virtual std::string Sign(const SigningKey& key, std::string_view context,
                           std::string_view message) const = 0;
  // Whether `signature` over context || message verifies with the raw
  // 32-byte `public_key`. False for anything malformed; never aborts.
  virtual bool Verify(std::string_view public_key, std::string_view context,
                      std::string_view message, std::string_view signature) const = 0;
};

// Real Ed25519 (SigningKey::Sign, VerifySignature). Thread-safe; lives
// forever.
const SignatureScheme& Ed25519Scheme();

// `scheme`, or Ed25519Scheme() when null.
inline const SignatureScheme& SchemeOr(const SignatureScheme* scheme) {
  return scheme != nullptr ? *scheme : Ed25519Scheme();
}

}  // namespace pullmail

#endif  // PULLMAIL_CORE_CRYPTO_SIGNATURE_SCHEME_H_
