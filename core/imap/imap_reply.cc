// The Status -> IMAP response code table (imap_reply.h).
#include "core/imap/imap_reply.h"

#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail {

std::string_view ImapCodeName(ImapCode code) {
  switch (code) {
    case ImapCode::kNone: return "";
    case ImapCode::kAlreadyExists: return "ALREADYEXISTS";
    case ImapCode::kAuthenticationFailed: return "AUTHENTICATIONFAILED";
    case ImapCode::kAuthorizationFailed: return "AUTHORIZATIONFAILED";
    case ImapCode::kCannot: return "CANNOT";
    case ImapCode::kExpungeIssued: return "EXPUNGEISSUED";
    case ImapCode::kInUse: return "INUSE";
    case ImapCode::kLimit: return "LIMIT";
    case ImapCode::kNonexistent: return "NONEXISTENT";
    case ImapCode::kNoPerm: return "NOPERM";
    case ImapCode::kPrivacyRequired: return "PRIVACYREQUIRED";
    case ImapCode::kReadOnly: return "READ-ONLY";
    case ImapCode::kServerBug: return "SERVERBUG";
    case ImapCode::kTooBig: return "TOOBIG";
    case ImapCode::kTryCreate: return "TRYCREATE";
    case ImapCode::kUnavailable: return "UNAVAILABLE";
    case ImapCode::kBadCharset: return "BADCHARSET";
  }
  return "";
}

ImapCode ImapCodeFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnauthenticated:
      return ImapCode::kUnavailable;
    case absl::StatusCode::kNotFound: return ImapCode::kNonexistent;
    case absl::StatusCode::kAlreadyExists: return ImapCode::kAlreadyExists;
    case absl::StatusCode::kPermissionDenied: return ImapCode::kNoPerm;
    case absl::StatusCode::kResourceExhausted: return ImapCode::kLimit;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return ImapCode::kCannot;
    default: return ImapCode::kServerBug;
  }
}

std::string ImapCoded(ImapCode code, std::string_view text) {
  if (code == ImapCode::kNone) return std::string(text);
  return absl::StrCat("[", AV(ImapCodeName(code)), "] ", AV(text));
}

std::string ImapNoText(const absl::Status& s, std::string_view what) {
  ImapCode code = ImapCodeFor(s);
  if (code == ImapCode::kUnavailable) {
    return ImapCoded(code, absl::StrCat(AV(what), " failed: the mail system is temporarily "
                                                  "unavailable; try again later"));
  }
  return ImapCoded(code, absl::StrCat(AV(what), " failed"));
}

}  // namespace pullmail
