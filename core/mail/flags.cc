// IMAP flag comparison (see flags.h).
#include "core/mail/flags.h"

#include "absl/strings/match.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

constexpr std::string_view kSystemFlags[] = {kFlagSeen,   kFlagAnswered, kFlagFlagged,
                                             kFlagDeleted, kFlagDraft,   kFlagRecent};

}  // namespace

bool FlagEquals(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(AV(a), AV(b));
}

bool IsSystemFlag(std::string_view flag) {
  for (std::string_view s : kSystemFlags) {
    if (FlagEquals(s, flag)) return true;
  }
  return false;
}

std::string CanonicalFlag(std::string_view flag) {
  for (std::string_view s : kSystemFlags) {
    if (FlagEquals(s, flag)) return std::string(s);
  }
  return std::string(flag);
}

}  // namespace pullmail
