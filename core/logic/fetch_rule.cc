// The fetch rule (see fetch_rule.h).
#include "core/logic/fetch_rule.h"

#include "absl/strings/str_cat.h"
#include "core/logic/status_class.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

absl::Status Unavailable(std::string_view sender_domain, const absl::Status& last) {
  return absl::UnavailableError(absl::StrCat("the sender node of ", AV(sender_domain),
                                             " is temporarily unavailable; try again later (",
                                             last.ok() ? "stream ended early" : last.message(),
                                             ")"));
}

}  // namespace

FetchStep AfterFetchAttempt(const FetchPolicy& policy, int attempt, const absl::Status& stream,
                            uint64_t before, uint64_t have, uint64_t body_size,
                            std::string_view sender_domain) {
  FetchStep step;
  if (stream.ok() && have == body_size) return step;  // kDone
  step.kind = FetchStep::kFail;
  if (ClassifyStatus(stream) == ErrorClass::kPermanent) {
    step.error = stream;
    return step;
  }
  if (have == before || attempt >= policy.max_attempts) {
    step.error = Unavailable(sender_domain, stream);
    return step;
  }
  step.kind = FetchStep::kResume;
  step.offset = have;
  return step;
}

absl::Status CheckChunkTotal(uint64_t total_size, uint64_t body_size) {
  if (total_size == body_size) return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("sender announced ", total_size,
                                          " bytes; the notification committed to ", body_size));
}

int FetchFailureNotifyCode(const absl::Status& fetch_error) {
  if (fetch_error.code() == absl::StatusCode::kDataLoss || IsRetryable(fetch_error)) {
    return static_cast<int>(absl::StatusCode::kUnavailable);
  }
  return static_cast<int>(fetch_error.code());
}

}  // namespace pullmail
