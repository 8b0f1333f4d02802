// The delivery pass rules (see delivery_pass.h).
#include "core/logic/delivery_pass.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/logic/status_class.h"
#include "core/util/strings.h"

namespace pullmail {

StreamLimits StreamLimitsFor(const Route& route) {
  StreamLimits l;
  if (route.relayed) {
    l.max_per_stream = 5;
    l.deadline = absl::Seconds(60);
  }
  return l;
}

int ExpiredInQueueCode() { return static_cast<int>(absl::StatusCode::kDeadlineExceeded); }

bool ExpiredInQueue(absl::Time expires, absl::Time now) { return IsExpired(expires, now); }

bool QueuedAtExpiry(const Delivery& d) { return d.state == DeliveryState::kQueued; }

int RouteFailureCode(const absl::Status& route_error) {
  if (route_error.ok()) return static_cast<int>(absl::StatusCode::kUnknown);
  if (IsRetryable(route_error)) return static_cast<int>(absl::StatusCode::kUnavailable);
  return static_cast<int>(route_error.code());
}

int UnansweredCode(const absl::Status& stream_status) {
  if (ClassifyStatus(stream_status) == ErrorClass::kRetryable) {
    return static_cast<int>(stream_status.code());
  }
  return static_cast<int>(absl::StatusCode::kUnavailable);
}

void ApplyOutboxStep(const OutboxStep& step, std::string_view error, Delivery& d) {
  switch (step.kind) {
    case OutboxStep::kDelivered:
      d.state = DeliveryState::kDelivered;
      d.last_error.clear();
      break;
    case OutboxStep::kRetry:
      d.next_attempt = step.next_attempt;
      d.last_error = std::string(error);
      break;
    case OutboxStep::kBounce:
      d.state = DeliveryState::kBounced;
      d.last_error = step.bounce_reason;
      break;
  }
}

std::string MailerDaemon(std::string_view local_domain) {
  return absl::StrCat("mailer-daemon@", AV(local_domain));
}

bool ShouldBounce(std::string_view sender, std::string_view local_domain) {
  if (sender.empty()) return false;
  return absl::AsciiStrToLower(AV(sender)) != MailerDaemon(absl::AsciiStrToLower(AV(local_domain)));
}

}  // namespace pullmail
