// TOML parsing without exceptions escaping. Debian's toml++ 3.3 is built with
// TOML_EXCEPTIONS=1 (toml::parse throws toml::parse_error); these wrappers
// catch at the module boundary and return absl::Status naming the source and
// line. Use them for every TOML file pullmail reads.
#ifndef PULLMAIL_CORE_UTIL_TOML_H_
#define PULLMAIL_CORE_UTIL_TOML_H_

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace pullmail {

// `source` names the text in errors (usually its file path).
absl::StatusOr<toml::table> ParseToml(std::string_view text, std::string_view source);
// Reads and parses a file; NotFound if it cannot be read.
absl::StatusOr<toml::table> ParseTomlFile(const std::string& path);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_UTIL_TOML_H_
