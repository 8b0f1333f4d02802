// The simulator's signature scheme (see crypto_model.h): real Ed25519 or the
// size-keeping model, behind core's SignatureScheme seam.
#include "sim/crypto_model.h"

#include <chrono>
#include <cstring>
#include <unordered_map>

#include "core/crypto/ed25519.h"
#include "core/policy/siphash.h"
#include "core/util/logging.h"

namespace pullmail::sim {
namespace {

SignatureImpl g_impl = SignatureImpl::kReal;
CryptoCounters g_counters;

constexpr std::string_view kModelTag = "pullmail-sim model signature\0";

// Public keys of the signing keys seen so far (the simulator's keys live for
// the whole run, so their addresses are stable identifiers).
std::unordered_map<const void*, std::string>& PublicKeys() {
  static auto* keys = new std::unordered_map<const void*, std::string>();
  return *keys;
}

}  // namespace

void SetSignatureImpl(SignatureImpl impl) { g_impl = impl; }
SignatureImpl GetSignatureImpl() { return g_impl; }
CryptoCounters& GetCryptoCounters() { return g_counters; }

std::string ModelSignature(std::string_view public_key, std::string_view context,
                           std::string_view message) {
  // SipHash-2-4 keyed by the public key, chained over the tag, the context
  // and the message; the 64-bit result is spread over 64 bytes.
  SipKey key{};
  for (size_t i = 0; i < public_key.size(); ++i) key[i % 16] ^= static_cast<uint8_t>(public_key[i]);
  uint64_t h = SipHash24(key, kModelTag);
  for (std::string_view part : {context, message}) {
    for (int i = 0; i < 8; ++i) key[i] ^= static_cast<uint8_t>(h >> (8 * i));
    h = SipHash24(key, part);
  }
  std::string sig(64, '\0');
  for (int i = 0; i < 8; ++i) {
    uint64_t v = h;
    for (int r = 0; r <= i; ++r) v = (v ^ (v >> 31)) * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(r);
    std::memcpy(sig.data() + 8 * i, &v, 8);
  }
  return sig;
}

namespace {

class SimSchemeImpl final : public SignatureScheme {
 public:
  std::string Sign(const SigningKey& key, std::string_view context,
                   std::string_view message) const override {
    if (g_impl == SignatureImpl::kReal) {
      ++g_counters.real_signs;
      return key.Sign(context, message);
    }
    ++g_counters.model_signs;
    auto& keys = PublicKeys();
    auto it = keys.find(&key);
    if (it == keys.end()) it = keys.emplace(&key, key.PublicKey()).first;
    return ModelSignature(it->second, context, message);
  }
  bool Verify(std::string_view public_key, std::string_view context, std::string_view message,
              std::string_view signature) const override {
    if (g_impl == SignatureImpl::kReal) {
      ++g_counters.real_verifies;
      return VerifySignature(public_key, context, message, signature);
    }
    ++g_counters.model_verifies;
    if (public_key.size() != 32 || signature.size() != 64) return false;
    return ModelSignature(public_key, context, message) == signature;
  }
};

}  // namespace

const SignatureScheme& SimScheme() {
  static const SimSchemeImpl* scheme = new SimSchemeImpl();
  return *scheme;
}

CryptoCost Calibrate(int n) {
  CryptoCounters saved = g_counters;
  SignatureImpl saved_impl = g_impl;
  g_impl = SignatureImpl::kReal;
  absl::StatusOr<SigningKey> key = SigningKey::FromSeed(std::string(32, '\x07'));
  PM_CHECK(key.ok());
  std::string pub = key->PublicKey();
  std::string message(500, 'm');
  std::string sig;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    message[i % message.size()] = static_cast<char>(i);
    sig = key->Sign("pullmail.v1.notification", message);
  }
  auto t1 = std::chrono::steady_clock::now();
  bool ok = true;
  for (int i = 0; i < n; ++i) ok &= VerifySignature(pub, "pullmail.v1.notification", message, sig);
  auto t2 = std::chrono::steady_clock::now();
  PM_CHECK(ok) << "calibration signature did not verify";
  g_counters = saved;
  g_impl = saved_impl;
  CryptoCost c;
  c.sign_seconds = std::chrono::duration<double>(t1 - t0).count() / n;
  c.verify_seconds = std::chrono::duration<double>(t2 - t1).count() / n;
  return c;
}

}  // namespace pullmail::sim
