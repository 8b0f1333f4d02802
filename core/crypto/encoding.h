// Byte encodings used on the edges of the protocol (test vectors, TOML
// directory files, password hashes, logs) and constant-time comparison of
// secrets (fetch tokens, password hashes).
#ifndef PULLMAIL_CORE_CRYPTO_ENCODING_H_
#define PULLMAIL_CORE_CRYPTO_ENCODING_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pullmail {

// Lower-case hex, two characters per byte. Thread-safe; cannot fail.
std::string HexEncode(std::string_view bytes);

// Decodes hex in either case. InvalidArgument for an odd length or a
// non-hex character (no whitespace is skipped).
absl::StatusOr<std::string> HexDecode(std::string_view hex);

// Standard base64 (RFC 4648 section 4: A-Z a-z 0-9 + /) with '=' padding.
std::string Base64Encode(std::string_view bytes);

// Strict inverse of Base64Encode: InvalidArgument unless the input is the
// canonical encoding of some bytes (length a multiple of 4, padding only at
// the end, unused low bits zero, no whitespace, no URL-safe alphabet).
absl::StatusOr<std::string> Base64Decode(std::string_view b64);

// True iff a and b are equal. For equal lengths the time taken does not
// depend on the contents (CRYPTO_memcmp). Different lengths return false at
// once: that reveals the length, never the contents. Thread-safe.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_CRYPTO_ENCODING_H_
