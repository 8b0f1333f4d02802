// The one rule for a pullmail address, "local@domain" (docs/PROTOCOL.md):
// visible ASCII other than '<' and '>', exactly one '@', both parts
// non-empty, at most limits::kMaxAddress bytes, the domain at most
// limits::kMaxDomain. Envelope verification, submission and the programs
// all use these functions.
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

// {local part, lower-cased domain}; kInvalidArgument naming the address when
// it breaks the rule above.
absl::StatusOr<std::pair<std::string, std::string>> SplitAddress(std::string_view address);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_UTIL_ADDRESS_H_
