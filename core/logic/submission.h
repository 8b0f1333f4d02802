// The sender node's submission rule, as logic: from one submitted RFC 5322
// message to the stored message and one signed notification per recipient
// domain. No I/O: the caller stores the result (SenderStore::PutMessage) and
// only then answers the user.
#ifndef PULLMAIL_CORE_LOGIC_SUBMISSION_H_
#define PULLMAIL_CORE_LOGIC_SUBMISSION_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/crypto/ed25519.h"
#include "core/storage/types.h"
#include "core/util/address.h"
#include "core/util/random.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

struct SubmissionInput {
  // The authenticated submitter; `from` must be this address. Empty only for
  // the node's own messages (bounces) and for a gateway bridging SMTP, which
  // may send from any address of its own domain.
  std::string authenticated_user;
  std::string from;             // envelope sender, local@local_domain
  std::vector<std::string> to;  // envelope recipients, 1..1000
  std::string message;          // RFC 5322 bytes
  v1::Origin origin = v1::ORIGIN_NATIVE;
};

struct SubmissionContext {
  std::string local_domain;     // the signing domain
  std::string sender_endpoint;  // this sender node's host:port (informative)
  std::string key_id;
  const SigningKey* key = nullptr;  // not owned
  absl::Duration retention = absl::Hours(24 * 30);
  absl::Time now;
  Random* random = nullptr;         // not owned; tokens and message ids
};

struct Submission {
  OutboundMessage message;
  std::vector<Delivery> deliveries;  // one per recipient domain, queued for `now`
  v1::HeaderSummary summary;
};

// Validates and prepares a submission. Errors (kInvalidArgument unless said):
// sender not the authenticated user (kPermissionDenied), sender outside the
// local domain (kPermissionDenied), no recipients, more than
// limits::kMaxRecipientsPerNotification, a malformed address, an empty or
// oversized message (kResourceExhausted past limits::kMaxBodySize), a message
// without an RFC 5322 header block.
absl::StatusOr<Submission> PrepareSubmission(const SubmissionInput& input,
                                             const SubmissionContext& ctx);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_SUBMISSION_H_
