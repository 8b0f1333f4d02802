// SASL decoding for the PLAIN (RFC 4616) and LOGIN mechanisms as carried by
// SMTP AUTH (RFC 4954 4: base64 responses, "*" cancels, "=" is an empty
// initial response). Pure; the caller checks the credentials.
//
// Limits: a base64 response is at most kSaslMaxResponse bytes; the decoded
// identities at most kSaslMaxIdentity bytes and the password at most
// kSaslMaxPassword (the Login RPC's own limit).
#ifndef PULLMAIL_CORE_SMTP_SASL_H_
#define PULLMAIL_CORE_SMTP_SASL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pullmail {

inline constexpr size_t kSaslMaxResponse = 12288;  // RFC 4954 4
inline constexpr size_t kSaslMaxIdentity = 320;    // limits::kMaxAddress
inline constexpr size_t kSaslMaxPassword = 1024;   // LoginRequest.password

struct SaslCredentials {
  std::string authzid;  // PLAIN's authorization identity; empty if none
  std::string authcid;  // the user name
  std::string password;
};

// Decodes one client response line. kCancelled for "*" (the client gave
// up); "=" decodes to "" (RFC 4954 4); kInvalidArgument for anything that
// is not canonical base64 or is longer than kSaslMaxResponse.
absl::StatusOr<std::string> DecodeSaslResponse(std::string_view line);

// RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd, none of
// them containing NUL, authcid and passwd non-empty. kInvalidArgument
// otherwise, or when a part exceeds its limit.
absl::StatusOr<SaslCredentials> ParseSaslPlain(std::string_view decoded);

// Checks one decoded LOGIN field (user name or password): non-empty, no NUL,
// CR or LF, within the limit for `is_password`. kInvalidArgument otherwise.
absl::Status CheckSaslLoginField(std::string_view decoded, bool is_password);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_SMTP_SASL_H_
