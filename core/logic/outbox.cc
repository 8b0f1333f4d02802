// The sender's retry schedule (see outbox.h).
#include "core/logic/outbox.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/smtp/smtp_reply.h"
#include "core/logic/status_class.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

absl::Status FieldError(std::string_view where, std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(AV(where), ": ", AV(field), ": ", AV(why)));
}

// A TOML integer or float as a double; nullopt-like failure via `ok`.
bool AsNumber(const toml::node& n, double* out) {
  if (const auto* i = n.as_integer()) {
    *out = static_cast<double>(i->get());
    return true;
  }
  if (const auto* f = n.as_floating_point()) {
    *out = f->get();
    return std::isfinite(*out);
  }
  return false;
}

}  // namespace

absl::StatusOr<RetryPolicy> ParseRetryPolicy(const toml::table& table, std::string_view where) {
  RetryPolicy p;
  double initial = absl::ToDoubleSeconds(p.initial);
  double max = absl::ToDoubleSeconds(p.max);
  for (const auto& [k, v] : table) {
    std::string_view key = k.str();
    double x = 0;
    if (key != "initial_seconds" && key != "multiplier" && key != "max_seconds" && key != "jitter") {
      return FieldError(where, key, "unknown key (initial_seconds, multiplier, max_seconds, jitter)");
    }
    if (!AsNumber(v, &x)) return FieldError(where, key, "must be a number");
    if (key == "initial_seconds") {
      if (!(x > 0)) return FieldError(where, key, "must be > 0");
      initial = x;
    } else if (key == "multiplier") {
      if (!(x >= 1.0 && x <= 100.0)) return FieldError(where, key, "must be in [1, 100]");
      p.multiplier = x;
    } else if (key == "max_seconds") {
      if (!(x > 0)) return FieldError(where, key, "must be > 0");
      max = x;
    } else {
      if (!(x >= 0.0 && x < 1.0)) return FieldError(where, key, "must be in [0, 1)");
      p.jitter = x;
    }
  }
  if (max < initial) {
    return FieldError(where, "max_seconds",
                      absl::StrCat("must be >= initial_seconds (", initial, ")"));
  }
  p.initial = absl::Seconds(initial);
  p.max = absl::Seconds(max);
  return p;
}

absl::Time NextAttemptTime(const RetryPolicy& policy, uint32_t attempts, absl::Time now,
                           Random& rng) {
  uint32_t n = std::max<uint32_t>(attempts, 1);
  // In double seconds: multiplier^(n-1) overflows to +inf for large n, which
  // the cap then absorbs (absl::Duration arithmetic would saturate the same
  // way, but this keeps the order of operations obvious).
  double initial = absl::ToDoubleSeconds(policy.initial);
  double cap = absl::ToDoubleSeconds(policy.max);
  double base = initial * std::pow(policy.multiplier, static_cast<double>(n - 1));
  if (!(base <= cap)) base = cap;  // also catches NaN
  double jitter = std::clamp(policy.jitter, 0.0, 0.999);
  double factor = 1.0 - jitter + 2.0 * jitter * rng.UniformDouble();
  absl::Duration delay = absl::Seconds(base * factor);
  if (delay < absl::Milliseconds(1)) delay = absl::Milliseconds(1);
  return now + delay;
}

AttemptOutcome ClassifyNotifyResult(int grpc_code) {
  // ALREADY_EXISTS is the receiver's "stored before": delivered. Every other
  // code is classified by the one rule (status_class.h).
  if (grpc_code == static_cast<int>(absl::StatusCode::kAlreadyExists)) {
    return AttemptOutcome::kAccepted;
  }
  switch (ClassifyCode(grpc_code)) {
    case ErrorClass::kOk:
      return AttemptOutcome::kAccepted;
    case ErrorClass::kRetryable:
      return AttemptOutcome::kTemporaryFailure;
    case ErrorClass::kPermanent:
      break;
  }
  return AttemptOutcome::kPermanentFailure;
}

std::string PermanentStatusCode(int grpc_code) {
  switch (static_cast<absl::StatusCode>(grpc_code)) {
    case absl::StatusCode::kNotFound:
      return "5.1.1";
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return "5.7.1";
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return "5.6.0";
    case absl::StatusCode::kFailedPrecondition:
      return "5.7.0";
    case absl::StatusCode::kUnimplemented:
      return "5.5.1";
    default:
      return "5.0.0";
  }
}

OutboxStep AfterAttempt(const RetryPolicy& policy, AttemptOutcome outcome, std::string_view error,
                        uint32_t attempts, absl::Time now, absl::Time expires, Random& rng) {
  OutboxStep step;
  switch (outcome) {
    case AttemptOutcome::kAccepted:
      step.kind = OutboxStep::kDelivered;
      return step;
    case AttemptOutcome::kTemporaryFailure: {
      absl::Time next = NextAttemptTime(policy, attempts, now, rng);
      if (next < expires) {
        step.kind = OutboxStep::kRetry;
        step.next_attempt = next;
        return step;
      }
      step.kind = OutboxStep::kBounce;
      step.status_code = "4.4.7";
      step.bounce_reason = absl::StrCat("expired after ", attempts,
                                        attempts == 1 ? " attempt" : " attempts",
                                        error.empty() ? "" : "; last error: ", AV(error));
      return step;
    }
    case AttemptOutcome::kPermanentFailure:
      break;
  }
  step.kind = OutboxStep::kBounce;
  step.status_code = "5.7.1";
  step.bounce_reason = absl::StrCat("refused: ", error.empty() ? "(no reason given)" : AV(error));
  return step;
}

OutboxStep AfterNotifyResult(const RetryPolicy& policy, int grpc_code, std::string_view error,
                             uint32_t attempts, absl::Time now, absl::Time expires, Random& rng) {
  AttemptOutcome outcome = ClassifyNotifyResult(grpc_code);
  OutboxStep step = AfterAttempt(policy, outcome, error, attempts, now, expires, rng);
  if (outcome == AttemptOutcome::kPermanentFailure) {
    step.status_code = PermanentStatusCode(grpc_code);
    // A legacy domain's MTA refused it (the relay quotes its reply): the
    // bounce carries the server's own enhanced code (RFC 3464 2.3.4).
    QuotedSmtpReply reply;
    if (FindQuotedSmtpReply(error, &reply) && reply.code >= 500) step.status_code = reply.enhanced;
  }
  return step;
}

bool IsExpired(absl::Time expires, absl::Time now) { return now >= expires; }

bool IsDeliveryTimeExpired(std::string_view status_code) {
  return status_code.size() == 5 && (status_code[0] == '4' || status_code[0] == '5') &&
         status_code.substr(1) == ".4.7";
}

}  // namespace pullmail
