// SipHash-2-4 (Aumasson and Bernstein, 2012): a fast keyed 64-bit hash. The
// policy uses it to put a (user, body) pair in or out of the early-reader
// sample deterministically, keyed so that a sender cannot choose bodies that
// land in a given user's sample. Not a MAC for anything on the wire.
#ifndef PULLMAIL_CORE_POLICY_SIPHASH_H_
#define PULLMAIL_CORE_POLICY_SIPHASH_H_

#include <array>
#include <cstdint>
#include <string_view>

namespace pullmail {

using SipKey = std::array<uint8_t, 16>;

// SipHash-2-4 of `data` under `key`, as the little-endian 64-bit number the
// reference implementation outputs. Pure; thread-safe.
uint64_t SipHash24(const SipKey& key, std::string_view data);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_POLICY_SIPHASH_H_
