// Status propagation macros. Abseil 20220623 ships none, so pullmail has its
// own two, used everywhere a function returns absl::Status or StatusOr<T>.
#ifndef PULLMAIL_CORE_UTIL_STATUS_MACROS_H_
#define PULLMAIL_CORE_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define PM_CONCAT_INNER_(a, b) a##b
#define PM_CONCAT_(a, b) PM_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    ::absl::Status pm_status_ = (expr);                         \
    if (!pm_status_.ok()) return pm_status_;                    \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr());` declares or assigns `x` from the
// value, or returns the error status from the enclosing function.
#define ASSIGN_OR_RETURN(lhs, expr) \
  PM_ASSIGN_OR_RETURN_IMPL_(PM_CONCAT_(pm_statusor_, __LINE__), lhs, expr)

#define PM_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return statusor.status();        \
  lhs = std::move(statusor).value()

#endif  // PULLMAIL_CORE_UTIL_STATUS_MACROS_H_
