// The relay's acceptance rule (see relay_acceptor.h).
#include "core/logic/relay_acceptor.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/envelope/envelope.h"
#include "core/logic/fetch_rule.h"
#include "core/smtp/smtp_reply.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

v1::NotifyResult Result(absl::StatusCode code, std::string_view reason, std::string_view detail,
                        std::string_view message_id = {}) {
  v1::NotifyResult r;
  r.set_code(static_cast<int>(code));
  r.set_reason(std::string(reason.substr(0, 64)));
  r.set_detail(std::string(detail.substr(0, 1024)));
  r.set_message_id(std::string(message_id));
  return r;
}

}  // namespace

RelayDecision AcceptForRelay(const v1::SignedNotification& signed_n,
                             const RelayAcceptContext& ctx) {
  RelayDecision d;
  // Never an open relay: only our own domain's notifications, checked
  // before any signature work, and again (by the verification) after.
  if (absl::AsciiStrToLower(signed_n.signing_domain()) != ctx.domain) {
    d.result = Result(absl::StatusCode::kPermissionDenied, "not_own_domain",
                      absl::StrCat("this relay sends only mail of ", ctx.domain));
    return d;
  }
  Rejection rejection = Rejection::kNone;
  VerifyOptions vo;
  vo.now = ctx.now;
  vo.scheme = ctx.scheme;
  auto n = VerifyNotification(signed_n, *ctx.directory, vo, &rejection);
  if (!n.ok()) {
    d.result = Result(n.status().code(), RejectionName(rejection), SV(n.status().message()));
    return d;
  }
  const std::string& id = n->message_id();
  auto entry = ctx.directory->Lookup(n->recipient_domain());
  if (!entry.ok() || !entry->legacy) {
    if (entry.ok() || entry.status().code() == absl::StatusCode::kNotFound) {
      d.result = Result(absl::StatusCode::kInvalidArgument, "not_legacy_domain",
                        absl::StrCat(n->recipient_domain(),
                                     " is not a legacy domain in the directory"),
                        id);
    } else {
      d.result = Result(absl::StatusCode::kUnavailable, "directory_unavailable",
                        SV(entry.status().message()), id);
    }
    return d;
  }
  if (!ctx.smarthost_configured) {
    d.result = Result(absl::StatusCode::kFailedPrecondition, "smtp_not_configured",
                      absl::StrCat("the gateway of ", ctx.domain,
                                   " has no smarthost for mail to legacy domains"),
                      id);
    return d;
  }
  if (n->body_size() > ctx.max_message_bytes) {
    d.result = Result(absl::StatusCode::kFailedPrecondition, "smtp_rejected",
                      absl::StrCat("552 5.3.4 message of ", n->body_size(),
                                   " bytes exceeds the gateway's max_message_bytes"),
                      id);
    return d;
  }
  d.accepted = true;
  d.notification = std::move(*n);
  return d;
}

v1::NotifyResult RelayFetchFailed(const absl::Status& fetch_error, std::string_view message_id) {
  return Result(static_cast<absl::StatusCode>(FetchFailureNotifyCode(fetch_error)), "fetch_failed",
                SV(fetch_error.message()), message_id);
}

v1::NotifyResult RelaySmtpResult(const SmtpClientResult& r, std::string_view message_id) {
  switch (r.kind) {
    case SmtpClientResult::kDelivered:
      return Result(absl::StatusCode::kOk, "", r.reply, message_id);
    case SmtpClientResult::kPermanent:
      return Result(absl::StatusCode::kFailedPrecondition, "smtp_rejected",
                    SanitizeReplyText(r.reply, 1000), message_id);
    default:
      return Result(absl::StatusCode::kUnavailable, "smtp_deferred",
                    SanitizeReplyText(r.reply, 1000), message_id);
  }
}

}  // namespace pullmail
