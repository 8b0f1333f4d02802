// Which calls a client may send again, to another replica, when the first
// attempt failed UNAVAILABLE (the replica it reached died or was
// unreachable before it answered). A node listed with several replicas
// (docs/SCALE-OUT.md) sits behind one round_robin channel; without a retry a
// call that was on its way to a replica as it died fails, though the next
// replica would have answered it.
//
// A method is on the list when doing it twice is the same as doing it once:
//   reads         MailboxService Login, ListFolders, ListMessages, Read,
//                 ReadSet (setting \Seen twice is setting it once; a read
//                 counts for reputation once per user and message, see
//                 mailbox_rules.h), Watch; SubmitService Login, ListSent;
//                 SenderService.FetchBody and FetchBodies, a recipient
//                 node's pull of bodies (the fetch rules, fetch_rule.h and
//                 fetch_batch.h, still decide what follows a stream that
//                 broke after its first chunk);
//   submissions   SubmitService.Submit, which every pullmail client sends
//                 with an idempotency key: the second attempt gets the first
//                 one's answer and nothing is stored twice.
// Not on it: SetFlags (UNCHANGEDSINCE would see its own first attempt's
// change), Copy, Expunge, Append, CreateFolder, DeleteFolder, Report, Bridge
// (no idempotency key), Revoke, and the other node-to-node calls (Notify,
// NotifyStream, ShareReport, ReportAbuse): the delivery pass
// (delivery_pass.h) decides their retries.
//
// Only UNAVAILABLE is retried, at most kReplicaRetryAttempts attempts in all,
// backing off from kReplicaRetryInitialBackoff. A streaming call is retried
// only before its first response arrives (gRPC's rule). Pure; thread-safe.
#ifndef PULLMAIL_CORE_LOGIC_REPLICA_RETRY_H_
#define PULLMAIL_CORE_LOGIC_REPLICA_RETRY_H_

#include <span>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace pullmail {

struct RetryableMethod {
  std::string_view service;  // full name, e.g. "pullmail.v1.MailboxService"
  std::string_view method;   // e.g. "ReadSet"
};

// Every method a client may retry on UNAVAILABLE (see the file comment).
std::span<const RetryableMethod> ReplicaRetryableMethods();

inline constexpr int kReplicaRetryAttempts = 3;  // the first attempt included
inline constexpr absl::Duration kReplicaRetryInitialBackoff = absl::Milliseconds(50);
inline constexpr absl::Duration kReplicaRetryMaxBackoff = absl::Milliseconds(500);

// gRPC's service config (the "methodConfig" JSON of gRPC's service_config
// documentation) that asks a channel to retry exactly those methods.
std::string ReplicaRetryServiceConfig();

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_REPLICA_RETRY_H_
