// The simulator's seam around Ed25519. Real Ed25519 costs ~28 us to sign and
// ~73 us to verify here, i.e. about 20 CPU-minutes for 10^7 notifications:
// too slow for the scale target. At scale the simulator therefore replaces
// the two primitives -- and only them -- with a model of the same size:
//
//   signature = SipHash-2-4 chained over (tag, context, message), keyed by
//               the public key, spread over 64 bytes
//
// It is passed in through core's signer/verifier seam
// (core/crypto/signature_scheme.h): the simulator hands SimScheme() to
// SignNotification and to the acceptor, so core's envelope, acceptor and
// every other decision run unchanged: payload size, directory
// lookup, key id, signature (now the model's), parse, field limits, sender
// domain, recipient domain, clock skew, expiry, duplicates, local users. A
// tampered payload or a wrong key still fails to verify under the model.
//
// The counters record how many signatures were made and checked in each
// mode; Calibrate() measures what the real operations cost on this machine
// so that the CPU time of real crypto can be reported (and charged to the
// simulated hosts) in either mode.
#ifndef PULLMAIL_SIM_CRYPTO_MODEL_H_
#define PULLMAIL_SIM_CRYPTO_MODEL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "core/crypto/signature_scheme.h"

namespace pullmail::sim {

enum class SignatureImpl { kReal, kModel };

// Process-wide switch; the simulator is single-threaded (SimGrid runs every
// actor on one OS thread), so no locking. Default kReal.
void SetSignatureImpl(SignatureImpl impl);
SignatureImpl GetSignatureImpl();

struct CryptoCounters {
  uint64_t real_signs = 0;
  uint64_t real_verifies = 0;
  uint64_t model_signs = 0;
  uint64_t model_verifies = 0;
  uint64_t signs() const { return real_signs + model_signs; }
  uint64_t verifies() const { return real_verifies + model_verifies; }
};
CryptoCounters& GetCryptoCounters();

// The model signature of `message` under `public_key` (raw 32 bytes).
std::string ModelSignature(std::string_view public_key, std::string_view context,
                           std::string_view message);

// The simulator's scheme: real Ed25519 or the model, as SetSignatureImpl
// says, counting each signature made and checked. Lives forever.
const SignatureScheme& SimScheme();

struct CryptoCost {
  double sign_seconds = 0;    // CPU seconds per real Ed25519 signature
  double verify_seconds = 0;  // CPU seconds per real verification
};
// Times `n` real signatures and verifications of a ~500-byte message.
// Leaves the counters as they were.
CryptoCost Calibrate(int n = 200);

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_CRYPTO_MODEL_H_
