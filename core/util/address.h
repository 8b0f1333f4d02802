// The one rule for a pullmail address, "local@domain" (docs/PROTOCOL.md):
// visible ASCII other than '<' and '>', exactly one '@', both parts
// non-empty, at most limits::kMaxAddress bytes, the domain at most
// limits::kMaxDomain. Envelope verification, submission and the programs
// all use these functions.
//
// And the one rule for comparing domains (SECURITY.md): two spellings of a
// domain are the same domain when NormalizeDomain gives the same result.
// Every domain check (is this sender at the signing domain, is this a
// pullmail domain, is this recipient ours, directory and policy lookups)
// compares normalised domains, so that "B.Example." or a Unicode spelling
// cannot pass where "b.example" is refused.
#ifndef PULLMAIL_CORE_UTIL_ADDRESS_H_
#define PULLMAIL_CORE_UTIL_ADDRESS_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace pullmail {

// The domain part (as written) of a valid address, or nullopt.
std::optional<std::string_view> AddressDomain(std::string_view address);

// {local part as written, NormalizeDomain(domain)}; kInvalidArgument naming
// the address when it breaks the rule above or its domain is not a domain.
absl::StatusOr<std::pair<std::string, std::string>> SplitAddress(std::string_view address);

// The key a user is stored, looked up, authenticated and throttled under:
// the local part ASCII lower-cased (a pullmail user's local part is not
// case-sensitive: "Ann@" and "ann@" are one user) and the domain in
// NormalizeDomain's form, so "Ann@A.Example." is "ann@a.example". Programs
// call this rather than lower-casing an address themselves.
// kInvalidArgument as SplitAddress.
absl::StatusOr<std::string> UserKey(std::string_view address);

// The canonical form of a domain name: U-labels converted to A-labels
// (IDNA2008 with the UTS #46 non-transitional mapping, libidn2), ASCII
// lower-cased, one trailing dot (the root) dropped. kInvalidArgument when it
// is not a host name: empty, an empty label ("a..b", ".a", "a.."), a label
// over 63 bytes, over limits::kMaxDomain bytes, a byte other than letters,
// digits, '-' and '_' (after IDNA), or a label IDNA refuses.
absl::StatusOr<std::string> NormalizeDomain(std::string_view domain);

// Whether `a` and `b` are the same valid domain (NormalizeDomain equal).
// False when either is not a domain.
bool SameDomain(std::string_view a, std::string_view b);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_UTIL_ADDRESS_H_
