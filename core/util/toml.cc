// Exception-free wrappers around toml++ (see toml.h).
#include "core/util/toml.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail {

absl::StatusOr<toml::table> ParseToml(std::string_view text, std::string_view source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(AV(source), ":", e.source().begin.line, ": ",
                                                   AV(e.description())));
  }
}

absl::StatusOr<toml::table> ParseTomlFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return ParseToml(text.str(), path);
}

}  // namespace pullmail
