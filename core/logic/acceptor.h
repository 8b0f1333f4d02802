// The recipient node's decision on an incoming notification
// (docs/PROTOCOL.md sections 6 and 7.1), as pure logic: verify the signed
// envelope against the directory, recognise a duplicate, keep the recipients
// who exist here, and say what to store and what to answer. The caller (the
// recipient node, or the simulator) does the storing: it inserts
// `AcceptDecision::stored` with entries for `users`, and only after that
// commit replies with MakeNotifyResult.
#ifndef PULLMAIL_CORE_LOGIC_ACCEPTOR_H_
#define PULLMAIL_CORE_LOGIC_ACCEPTOR_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/directory/directory.h"
#include "core/envelope/envelope.h"
#include "core/storage/types.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

// What the acceptor needs from the node. The callbacks are called on the
// caller's thread, during AcceptNotification only.
struct AcceptContext {
  const Directory* directory = nullptr;  // borrowed; must not be null
  std::string local_domain;              // the domain this node receives for
  absl::Time now;                        // the node's clock
  const SignatureScheme* scheme = nullptr;  // verifies signatures; null = Ed25519
  // True if `address` (lower-case local@local_domain) is a user here.
  std::function<bool(std::string_view address)> user_exists;
  // The stored notification's id if (signing_domain, message_id) is already
  // stored; the signing domain is passed lower-case. May be empty (then
  // duplicates are left to the store, which reports them on insert).
  std::function<std::optional<int64_t>(std::string_view signing_domain,
                                       std::string_view message_id)>
      find_existing;
  // Tree heads already verified (batch-signed notifications, PROTOCOL.md
  // 4.1): borrowed, may be null.
  VerifiedBatchRoots* verified_roots = nullptr;
};

struct AcceptDecision {
  enum Outcome { kStore, kDuplicate, kReject };
  Outcome outcome = kReject;

  // kReject: why. `rejection` is the envelope's verdict (kNone for the
  // acceptor's own no_such_user); `reason` the wire name ("bad_signature",
  // "no_such_user", ...); `code` the status code sent back; `detail` text
  // for a person.
  Rejection rejection = Rejection::kNone;
  std::string reason;
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string detail;

  // The verified notification (kStore, kDuplicate). For a rejection after the
  // signature verified (sender_outside_domain, wrong_recipient_domain,
  // from_future, expired, and malformed if the payload still parses) it is
  // the parsed payload, so that its message id can be echoed; otherwise empty.
  v1::Notification notification;

  // kStore: the row to insert (id left 0, received = now) and the local users
  // (lower-case, unique, in the notification's order) to deliver to.
  StoredNotification stored;
  std::vector<std::string> users;
  // kStore: recipients dropped because no such user exists here.
  std::vector<std::string> dropped;

  // kDuplicate: the id of the notification already stored.
  int64_t existing_id = 0;
};

// Decides on one notification. Never fails: every problem is a kReject
// decision with the documented reason and code:
//   any envelope rejection (section 6.2) -> its reason and code, e.g.
//     bad_signature UNAUTHENTICATED, wrong_recipient_domain INVALID_ARGUMENT,
//     directory_unavailable UNAVAILABLE;
//   no recipient is a user here -> "no_such_user", NOT_FOUND.
// A notification already stored (find_existing) is kDuplicate, even if its
// users have since gone. Thread-safe if the context's directory and
// callbacks are.
AcceptDecision AcceptNotification(const v1::SignedNotification& signed_n,
                                  const AcceptContext& context);

// AcceptNotification in two steps, for a caller that verifies on many
// threads and looks up duplicates and users on the one that commits:
// AcceptNotification(n, c) == FinishAccept(VerifyForAccept(n, c), n, c).
//
// VerifyForAccept is the envelope's verdict only (CPU, no callback called):
// a kReject decision, or a provisional kStore decision holding the verified
// `notification` and the row to store (`stored`; FinishAccept sets its
// `received` to its own context's now). FinishAccept returns a kReject
// unchanged and otherwise applies duplicates (find_existing) and local users
// (user_exists). Thread-safety as AcceptNotification.
AcceptDecision VerifyForAccept(const v1::SignedNotification& signed_n,
                               const AcceptContext& context);
AcceptDecision FinishAccept(AcceptDecision verified, const v1::SignedNotification& signed_n,
                            const AcceptContext& context);

// The reply for a decision, once the caller has stored what it said to
// store. `duplicate_from_store` is true when the store found the
// notification already there at insert time (a race with a concurrent copy);
// the reply is then a duplicate acknowledgement. `sequence` is left 0.
v1::NotifyResult MakeNotifyResult(const AcceptDecision& decision, bool duplicate_from_store);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_ACCEPTOR_H_
