// Address syntax (see address.h).
#include "core/util/address.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/util/limits.h"
#include "core/util/strings.h"

namespace pullmail {

std::optional<std::string_view> AddressDomain(std::string_view address) {
  if (address.empty() || address.size() > limits::kMaxAddress) return std::nullopt;
  for (char c : address) {
    if (c <= ' ' || c > '~' || c == '<' || c == '>') return std::nullopt;
  }
  size_t at = address.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size() ||
      address.find('@', at + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view domain = address.substr(at + 1);
  if (domain.size() > limits::kMaxDomain) return std::nullopt;
  return domain;
}

absl::StatusOr<std::pair<std::string, std::string>> SplitAddress(std::string_view address) {
  std::optional<std::string_view> domain = AddressDomain(address);
  if (!domain) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid address (local@domain): '", AV(address.substr(0, 80)), "'"));
  }
  return std::make_pair(std::string(address.substr(0, address.size() - domain->size() - 1)),
                        absl::AsciiStrToLower(AV(*domain)));
}

}  // namespace pullmail
