// Retryable or permanent (see status_class.h).
#include "core/logic/status_class.h"

namespace pullmail {

ErrorClass ClassifyCode(int code) {
  switch (static_cast<absl::StatusCode>(code)) {
    case absl::StatusCode::kOk:
      return ErrorClass::kOk;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kCancelled:
      return ErrorClass::kRetryable;
    default:
      return ErrorClass::kPermanent;
  }
}

}  // namespace pullmail
