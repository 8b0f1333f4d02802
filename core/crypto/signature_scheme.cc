// The real signature scheme (see signature_scheme.h).
#include "core/crypto/signature_scheme.h"

namespace pullmail {
namespace {

class Ed25519SchemeImpl final : public SignatureScheme {
 public:
  std::string Sign(const SigningKey& key, std::string_view context,
                   std::string_view message) const override {
    return key.Sign(context, message);
  }
  bool Verify(std::string_view public_key, std::string_view context, std::string_view message,
              std::string_view signature) const override {
    return VerifySignature(public_key, context, message, signature);
  }
};

}  // namespace

const SignatureScheme& Ed25519Scheme() {
  static const Ed25519SchemeImpl* scheme = new Ed25519SchemeImpl();
  return *scheme;
}

}  // namespace pullmail
