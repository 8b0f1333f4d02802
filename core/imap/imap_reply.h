// IMAP response codes (RFC 3501 7.1, RFC 5530, RFC 4315, RFC 7889) and the
// one table from an absl::Status (what the node or the mailbox said) to the
// code and words a client sees. The client's text is fixed here and never
// carries the internal reason (the status message is for the operator's
// log), in the manner of Stalwart's imap-proto ResponseCode. Pure.
#ifndef PULLMAIL_CORE_IMAP_IMAP_REPLY_H_
#define PULLMAIL_CORE_IMAP_IMAP_REPLY_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace pullmail {

enum class ImapCode {
  kNone,
  kAlreadyExists,         // RFC 5530
  kAuthenticationFailed,  // RFC 5530
  kAuthorizationFailed,   // RFC 5530
  kCannot,                // RFC 5530
  kExpungeIssued,         // RFC 5530
  kInUse,                 // RFC 5530
  kLimit,                 // RFC 5530
  kNonexistent,           // RFC 5530
  kNoPerm,                // RFC 5530
  kPrivacyRequired,       // RFC 5530
  kReadOnly,              // RFC 3501 7.1
  kServerBug,             // RFC 5530
  kTooBig,                // RFC 7889
  kTryCreate,             // RFC 3501 7.1
  kUnavailable,           // RFC 5530
  kBadCharset,            // RFC 3501 7.1
};

// "UNAVAILABLE", "NONEXISTENT", ...; "" for kNone.
std::string_view ImapCodeName(ImapCode code);

// The table: kUnavailable, kDeadlineExceeded and kUnauthenticated (an
// expired token is the system's trouble) -> UNAVAILABLE; kNotFound ->
// NONEXISTENT; kAlreadyExists -> ALREADYEXISTS; kPermissionDenied -> NOPERM;
// kResourceExhausted -> LIMIT; kInvalidArgument, kFailedPrecondition,
// kOutOfRange -> CANNOT; anything else -> SERVERBUG.
ImapCode ImapCodeFor(const absl::Status& status);

// The text of a tagged NO for `status` from command `what`: "[CODE] what
// failed", or for UNAVAILABLE the words a user can act on ("... try again
// later"). Never includes status.message().
std::string ImapNoText(const absl::Status& status, std::string_view what);

// "[CODE] text" (or just text for kNone).
std::string ImapCoded(ImapCode code, std::string_view text);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_IMAP_IMAP_REPLY_H_
