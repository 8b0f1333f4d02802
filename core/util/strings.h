// Debian's Abseil 20220623 is built with ABSL_OPTION_USE_STD_STRING_VIEW=0:
// absl::string_view is its own type, not std::string_view, and the two do not
// convert implicitly. pullmail's own APIs take std::string_view; these two
// functions cross the border where an Abseil API needs the other kind.
// (Likewise absl::optional is not std::optional: use std::optional in our APIs.)
#ifndef PULLMAIL_CORE_UTIL_STRINGS_H_
#define PULLMAIL_CORE_UTIL_STRINGS_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace pullmail {

inline absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace pullmail

#endif  // PULLMAIL_CORE_UTIL_STRINGS_H_
