// Address syntax (see address.h).
#include "core/util/address.h"

#include <idn2.h>


#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/util/limits.h"
#include "core/util/status_macros.h"
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
  absl::StatusOr<std::string> normal = NormalizeDomain(*domain);
  if (!normal.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not a valid address (local@domain): '",
                                                   AV(address.substr(0, 80)), "': ",
                                                   normal.status().message()));
  }
  return std::make_pair(std::string(address.substr(0, address.size() - domain->size() - 1)),
                        *std::move(normal));
}

absl::StatusOr<std::string> UserKey(std::string_view address) {
  ASSIGN_OR_RETURN(auto split, SplitAddress(address));
  return absl::StrCat(absl::AsciiStrToLower(split.first), "@", split.second);
}

absl::StatusOr<std::string> NormalizeDomain(std::string_view domain) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", AV(domain.substr(0, 80)), "' is not a domain: ", AV(why)));
  };
  if (domain.empty()) return bad("empty");
  if (domain.size() > 4 * limits::kMaxDomain) return bad("too long");
  std::string ascii;
  bool plain = true;
  for (char c : domain) plain = plain && static_cast<unsigned char>(c) < 0x80;
  if (plain) {
    ascii = absl::AsciiStrToLower(AV(domain));
  } else {
    // IDNA2008 (RFC 5891) with the UTS #46 mapping: case folding, NFC, and
    // the non-transitional handling of deviations (as browsers do now).
    std::string z(domain);
    if (z.find('\0') != std::string::npos) return bad("NUL byte");
    char* out = nullptr;
    int rc = idn2_to_ascii_8z(z.c_str(), &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc != IDN2_OK) return bad(absl::StrCat("IDNA: ", idn2_strerror(rc)));
    ascii = absl::AsciiStrToLower(out);
    idn2_free(out);
  }
  if (!ascii.empty() && ascii.back() == '.') ascii.pop_back();
  if (ascii.empty()) return bad("empty");
  if (ascii.size() > limits::kMaxDomain) return bad("too long");
  size_t label = 0;
  for (size_t i = 0; i <= ascii.size(); ++i) {
    if (i == ascii.size() || ascii[i] == '.') {
      if (label == 0) return bad("empty label");
      if (label > 63) return bad("label over 63 bytes");
      label = 0;
      continue;
    }
    char c = ascii[i];
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return bad("only letters, digits, '-' and '_' may appear in labels");
    }
    ++label;
  }
  return ascii;
}

bool SameDomain(std::string_view a, std::string_view b) {
  absl::StatusOr<std::string> x = NormalizeDomain(a);
  if (!x.ok()) return false;
  absl::StatusOr<std::string> y = NormalizeDomain(b);
  return y.ok() && *x == *y;
}

}  // namespace pullmail
