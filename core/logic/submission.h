// The sender node's submission rule, as logic: from one submitted RFC 5322
// message to the stored message and one notification per recipient domain,
// checked and prepared for signing (PrepareNotification; the delivery pass
// signs it when it sends it, core/logic/delivery_batch.h). No I/O: the caller stores the result (SenderStore::PutMessage) and
// only then answers the user.
#ifndef PULLMAIL_CORE_LOGIC_SUBMISSION_H_
#define PULLMAIL_CORE_LOGIC_SUBMISSION_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/crypto/ed25519.h"
#include "core/crypto/signature_scheme.h"
#include "core/directory/directory.h"
#include "core/storage/types.h"
#include "core/util/address.h"
#include "core/util/random.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

struct SubmissionInput {
  // The authenticated submitter; `from` must be this address. Empty only for
  // the node's own messages (bounces) and for the gateway bridging SMTP in.
  std::string authenticated_user;
  // Envelope sender: local@local_domain; for ORIGIN_BRIDGED_SMTP any address
  // (the signing rule refuses a pullmail domain's, docs/PROTOCOL.md 6.1
  // step 6) or "" for SMTP's null reverse path.
  std::string from;
  std::vector<std::string> to;  // envelope recipients, 1..1000
  std::string message;          // RFC 5322 bytes
  // ORIGIN_BRIDGED_SMTP: mail a gateway took in over SMTP
  // (SubmitService.Bridge); its recipients must be local users.
  v1::Origin origin = v1::ORIGIN_NATIVE;
  // SubmitRequest.idempotency_key: "" or 1..kMaxIdempotencyKey bytes of
  // visible ASCII; copied to OutboundMessage::idempotency_key.
  std::string idempotency_key;
};

inline constexpr size_t kMaxIdempotencyKey = 128;

struct SubmissionContext {
  std::string local_domain;     // the signing domain
  std::string sender_endpoint;  // this sender node's host:port (informative)
  std::string key_id;
  const SigningKey* key = nullptr;  // not owned; PrepareSubmission signs nothing
  absl::Duration retention = absl::Hours(24 * 30);
  absl::Time now;
  Random* random = nullptr;         // not owned; tokens and message ids
  // Bridged mail only (both not owned; may be null for native mail): the
  // directory for the bridged-sender rule, and whether a local user exists
  // (kNotFound: no; other errors: cannot tell).
  const Directory* directory = nullptr;
  std::function<absl::Status(const std::string& address)> user_exists;
  const SignatureScheme* scheme = nullptr;  // signs; null = Ed25519; not owned
};

struct Submission {
  OutboundMessage message;
  std::vector<Delivery> deliveries;  // one per recipient domain, queued for `now`
  v1::HeaderSummary summary;
};

// Validates and prepares a submission. Errors (kInvalidArgument unless said):
// sender not the authenticated user (kPermissionDenied), sender outside the
// local domain (kPermissionDenied; for bridged mail: a sender at a pullmail
// domain, kInvalidArgument "sender_outside_domain: ...", or kUnavailable when
// the directory cannot tell), bridged mail with an authenticated user
// (kPermissionDenied) or recipients CheckBridgeRecipients refuses, no recipients, more than
// limits::kMaxRecipientsPerNotification, a malformed address, an empty or
// oversized message (kResourceExhausted past limits::kMaxBodySize), a message
// without an RFC 5322 header block, a user's message whose header From: or
// Sender: is not theirs (CheckAuthor, core/logic/author.h), a malformed
// idempotency key.
absl::StatusOr<Submission> PrepareSubmission(const SubmissionInput& input,
                                             const SubmissionContext& ctx);

// The rule for a retried submission (docs/PROTOCOL.md, Submit idempotency):
// `prepared` is this attempt's PrepareSubmission result, `stored` the message
// the same sender stored earlier under the same idempotency key. OK when it
// is the same message (same sender and body SHA-256): the caller answers with
// the stored message and stores nothing. kInvalidArgument
// "idempotency_key_reused: ..." when the key was used for another message.
absl::Status CheckSubmissionRetry(const OutboundMessage& prepared, const OutboundMessage& stored);

// The SubmitResponse for a stored message and its deliveries (the first
// answer, and the same answer again to a retry).
v1::SubmitResponse SubmitResponseFor(const OutboundMessage& message,
                                     const std::vector<Delivery>& deliveries);

// THE notification for one recipient domain of a message (docs/PROTOCOL.md
// "Notification"): every field from the message row, its delivery (domain,
// recipients, fetch token) and the header summary. Unsigned; the caller signs
// it with SignNotification. Called by PrepareSubmission and by the simulator
// (sim/wire.cc), so that both send the same bytes.
v1::Notification MakeNotification(const OutboundMessage& message, const Delivery& delivery,
                                  const v1::HeaderSummary& summary,
                                  std::string_view sender_endpoint, v1::Origin origin);

// The recipients of bridged mail (SMTP in): 1..1000, each local@local_domain
// (kInvalidArgument otherwise: the gateway is its domain's MX, not an open
// relay) and an existing user by ctx.user_exists (kNotFound naming the first
// unknown one; its other errors are returned as they are). PrepareSubmission
// applies it to every bridged submission; SubmitService.Bridge(check_only)
// applies it alone at RCPT time.
absl::Status CheckBridgeRecipients(const std::vector<std::string>& to,
                                   const SubmissionContext& ctx);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_SUBMISSION_H_
