// The gateway relay's acceptance rule (SMTP out; docs/PROTOCOL.md "Gateway"),
// the relay's counterpart of acceptor.h: whether a notification the sender
// node hands to gateway/relay_service.cc may be relayed by SMTP, and the
// answer for each outcome. Pure; thread-safe if the directory is.
//
//   signed by another domain                  PERMISSION_DENIED "not_own_domain"
//                                             (checked before any signature work)
//   envelope verification failed              core/envelope's rejection
//   recipient domain not legacy               INVALID_ARGUMENT "not_legacy_domain"
//   directory could not answer                UNAVAILABLE "directory_unavailable"
//   no smarthost configured                   FAILED_PRECONDITION "smtp_not_configured"
//   body over max_message_bytes               FAILED_PRECONDITION "smtp_rejected" (552 5.3.4)
// and once accepted, the answer for the relay's outcome:
//   body fetch failed                         FetchFailureNotifyCode, "fetch_failed"
//   SMTP delivered (250 to DATA)              OK
//   SMTP 5xx                                  FAILED_PRECONDITION "smtp_rejected"
//   SMTP 4xx or transport failure             UNAVAILABLE "smtp_deferred"
// SECURITY: never an open relay: only this domain's own notifications, for a
// domain the directory marks legacy.
#ifndef PULLMAIL_CORE_LOGIC_RELAY_ACCEPTOR_H_
#define PULLMAIL_CORE_LOGIC_RELAY_ACCEPTOR_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/crypto/signature_scheme.h"
#include "core/directory/directory.h"
#include "core/smtp/smtp_client.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

struct RelayAcceptContext {
  std::string domain;                       // this domain: the only signer accepted
  const Directory* directory = nullptr;     // borrowed; required
  absl::Time now;
  const SignatureScheme* scheme = nullptr;  // null = Ed25519
  bool smarthost_configured = false;
  size_t max_message_bytes = size_t{64} << 20;
};

struct RelayDecision {
  bool accepted = false;
  v1::NotifyResult result;       // !accepted: the answer to send back
  v1::Notification notification;  // accepted: the verified notification
};

RelayDecision AcceptForRelay(const v1::SignedNotification& signed_n,
                             const RelayAcceptContext& ctx);

// The answer after an accepted notification's body fetch failed.
v1::NotifyResult RelayFetchFailed(const absl::Status& fetch_error, std::string_view message_id);
// The answer for the SMTP dialogue's outcome.
v1::NotifyResult RelaySmtpResult(const SmtpClientResult& r, std::string_view message_id);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_RELAY_ACCEPTOR_H_
