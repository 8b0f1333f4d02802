// SASL PLAIN (RFC 4616 2) and LOGIN field decoding for SMTP AUTH (RFC 4954).
#include "core/smtp/sasl.h"

#include "core/crypto/encoding.h"

namespace pullmail {

absl::StatusOr<std::string> DecodeSaslResponse(std::string_view line) {
  if (line == "*") return absl::CancelledError("authentication cancelled by the client");
  if (line.size() > kSaslMaxResponse) return absl::InvalidArgumentError("response too long");
  if (line == "=") return std::string();
  auto decoded = Base64Decode(line);
  if (!decoded.ok()) return absl::InvalidArgumentError("cannot decode the base64 response");
  return decoded;
}

absl::StatusOr<SaslCredentials> ParseSaslPlain(std::string_view decoded) {
  size_t nul1 = decoded.find('\0');
  if (nul1 == std::string_view::npos) return absl::InvalidArgumentError("PLAIN: missing NUL");
  size_t nul2 = decoded.find('\0', nul1 + 1);
  if (nul2 == std::string_view::npos) return absl::InvalidArgumentError("PLAIN: missing NUL");
  if (decoded.find('\0', nul2 + 1) != std::string_view::npos) {
    return absl::InvalidArgumentError("PLAIN: too many fields");
  }
  SaslCredentials c;
  c.authzid = std::string(decoded.substr(0, nul1));
  c.authcid = std::string(decoded.substr(nul1 + 1, nul2 - nul1 - 1));
  c.password = std::string(decoded.substr(nul2 + 1));
  if (c.authcid.empty() || c.password.empty()) {
    return absl::InvalidArgumentError("PLAIN: empty user name or password");
  }
  if (c.authzid.size() > kSaslMaxIdentity || c.authcid.size() > kSaslMaxIdentity ||
      c.password.size() > kSaslMaxPassword) {
    return absl::InvalidArgumentError("PLAIN: a field is too long");
  }
  return c;
}

absl::Status CheckSaslLoginField(std::string_view decoded, bool is_password) {
  if (decoded.empty()) return absl::InvalidArgumentError("LOGIN: empty field");
  if (decoded.size() > (is_password ? kSaslMaxPassword : kSaslMaxIdentity)) {
    return absl::InvalidArgumentError("LOGIN: field too long");
  }
  if (decoded.find_first_of(std::string_view("\0\r\n", 3)) != std::string_view::npos) {
    return absl::InvalidArgumentError("LOGIN: field contains NUL, CR or LF");
  }
  return absl::OkStatus();
}

}  // namespace pullmail
