// Random identifiers: fetch tokens (the capability a recipient domain shows
// to fetch a body) and message ids.
#ifndef PULLMAIL_CORE_CRYPTO_TOKEN_H_
#define PULLMAIL_CORE_CRYPTO_TOKEN_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/util/limits.h"
#include "core/util/random.h"

namespace pullmail {

// `n` raw random bytes from `random`. A real node passes SecureRandom();
// tests and the simulator pass a SeededRandom. Thread-safety is that of
// `random`.
std::string NewToken(Random& random, size_t n = limits::kFetchTokenSize);

// A globally unique message id "<26 base32 chars>@<domain>": 130 random bits
// in RFC 4648 base32, lower case ("a-z2-7"), then '@' and the domain in lower
// case. Always printable ASCII and at most limits::kMaxMessageId (128) bytes:
// bytes of `domain` outside '!'..'~' become '_', and a domain longer than 101
// bytes is cut to its first 101. The random part alone makes the id unique;
// the domain part only helps people read it. Thread-safety is that of
// `random`.
std::string NewMessageId(Random& random, std::string_view domain);
// The same shape, time-ordered: the first 9 of the 26 digits are `now` in
// milliseconds since the Unix epoch (digits from the same 32 characters in
// ASCII order, "2-7a-z", so that ids sort by time as byte strings), the
// other 17 are 85 random bits, which alone keep ids unique. A recipient
// indexes notifications by (signing domain, message id): ids that grow with
// time land at the end of that index instead of on a random page of it, so
// storing one costs the same however many are stored (node_bench: the
// recipient's committer 16 -> 26 us per notification over 100,000 random
// ids, flat with time-ordered ones). The sender node's ids are these.
std::string NewMessageId(Random& random, std::string_view domain, absl::Time now);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_CRYPTO_TOKEN_H_
