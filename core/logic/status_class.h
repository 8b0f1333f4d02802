// THE one answer to "is this error worth trying again?", used by every
// program and by the simulator: the sender's delivery pass (outbox.h), the
// fetch rule of the recipient node and the gateway relay (fetch_rule.h), and
// anything else that retries. Codes follow google.rpc.Code (absl::StatusCode
// and grpc::StatusCode share the numbering), so a gRPC status classifies by
// its number. Pure; thread-safe.
//
//   OK                                                      -> kOk
//   UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
//   ABORTED, INTERNAL, UNKNOWN, CANCELLED                   -> kRetryable
//   every other code (INVALID_ARGUMENT, NOT_FOUND,
//   ALREADY_EXISTS, PERMISSION_DENIED, FAILED_PRECONDITION,
//   OUT_OF_RANGE, UNIMPLEMENTED, DATA_LOSS, UNAUTHENTICATED,
//   and numbers outside 0..16)                              -> kPermanent
//
// Abseil's own guidance: UNAVAILABLE is "retry this call", FAILED_PRECONDITION
// "will not work until something is fixed". CANCELLED counts as a transport
// failure with no answer: it is what our own shutdown produces. DATA_LOSS is
// permanent for the bytes at hand (a peer that sent other bytes than it
// signed for); a caller that wants to fetch them again elsewhere says so
// itself (fetch_rule.h, FetchFailureNotifyCode).
#ifndef PULLMAIL_CORE_LOGIC_STATUS_CLASS_H_
#define PULLMAIL_CORE_LOGIC_STATUS_CLASS_H_

#include "absl/status/status.h"

namespace pullmail {

enum class ErrorClass { kOk, kRetryable, kPermanent };

// The class of a status code given as its number (gRPC and absl alike).
ErrorClass ClassifyCode(int code);
inline ErrorClass ClassifyStatus(const absl::Status& s) {
  return ClassifyCode(static_cast<int>(s.code()));
}
// True for kRetryable only (OK is not an error to retry).
inline bool IsRetryable(const absl::Status& s) {
  return ClassifyStatus(s) == ErrorClass::kRetryable;
}
inline bool IsRetryableCode(int code) { return ClassifyCode(code) == ErrorClass::kRetryable; }

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_STATUS_CLASS_H_
