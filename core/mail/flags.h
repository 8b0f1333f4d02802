// IMAP message flags (RFC 3501 2.3.2), the one rule for "does this message
// have \Seen" used by the stores, the recipient node, the gateway's IMAP and
// POP3 machines and the CLI. System flags ("\Seen", "\Deleted", ...) are
// compared without regard to letter case (RFC 3501 9: "flag" names are
// atoms, and clients send "\seen" as often as "\Seen"); keywords likewise, as
// Dovecot does. Stores keep system flags in their canonical spelling
// (CanonicalFlag), so that a client's "\deleted" is the store's "\Deleted".
// Pure functions; thread-safe.
#ifndef PULLMAIL_CORE_MAIL_FLAGS_H_
#define PULLMAIL_CORE_MAIL_FLAGS_H_

#include <string>
#include <string_view>

namespace pullmail {

inline constexpr std::string_view kFlagSeen = "\\Seen";
inline constexpr std::string_view kFlagAnswered = "\\Answered";
inline constexpr std::string_view kFlagFlagged = "\\Flagged";
inline constexpr std::string_view kFlagDeleted = "\\Deleted";
inline constexpr std::string_view kFlagDraft = "\\Draft";
inline constexpr std::string_view kFlagRecent = "\\Recent";

// ASCII case-insensitive equality of two flags.
bool FlagEquals(std::string_view a, std::string_view b);

// Whether `flag` is one of RFC 3501's system flags (any letter case),
// \Recent included.
bool IsSystemFlag(std::string_view flag);

// A system flag in its RFC 3501 spelling ("\seen" -> "\Seen"); any other
// flag (a keyword, or an unknown "\Foo") unchanged.
std::string CanonicalFlag(std::string_view flag);

// Whether `flags` (any range of strings) holds `flag`, by FlagEquals.
template <typename Range>
bool HasFlag(const Range& flags, std::string_view flag) {
  for (const auto& f : flags) {
    if (FlagEquals(f, flag)) return true;
  }
  return false;
}

}  // namespace pullmail

#endif  // PULLMAIL_CORE_MAIL_FLAGS_H_
