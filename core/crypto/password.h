// Password storage for users of a node: salted scrypt (RFC 7914), stored as
// one self-describing string so that the cost can be raised later without
// invalidating existing hashes.
#ifndef PULLMAIL_CORE_CRYPTO_PASSWORD_H_
#define PULLMAIL_CORE_CRYPTO_PASSWORD_H_

#include <string>
#include <string_view>

#include "core/util/random.h"

namespace pullmail {

// Hashes `password` with scrypt N=16384 (ln=14), r=8, p=1, a 16-byte salt
// from `random` and a 32-byte output, encoded as
//   $scrypt$ln=14,r=8,p=1$<salt base64>$<hash base64>
// (standard base64 with padding). Takes ~50 ms and 16 MiB of memory by
// design. Thread-safe if `random` is. Aborts only if OpenSSL cannot run
// scrypt at all (a broken installation, not a user's doing).
std::string HashPassword(std::string_view password, Random& random);

// True iff `encoded` is a well-formed hash (as above; ln 10..20, r 1..16,
// p 1..4, salt >= 8 bytes, hash 16..64 bytes) of `password`. The final
// comparison is constant-time. A malformed `encoded` returns false, never
// aborts. Thread-safe.
bool VerifyPassword(std::string_view password, std::string_view encoded);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_CRYPTO_PASSWORD_H_
