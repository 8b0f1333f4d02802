// The sender node's rules for revocation and abuse reports (docs/PROTOCOL.md
// "Revocation", "Abuse reports"). Pure; thread-safe. Called by
// sender-node/sender_node.cc (Revoke, ReportAbuse) and by the simulator.
//
// Revocation, by the message's own sender only (anyone else gets the answer
// an unknown id gets, so a user learns nothing of others' mail):
//   a bounced delivery            -> untouched (the domain never stored it);
//   a queued delivery             -> revoked, the domain is not told (it
//                                    never heard of the message);
//   a delivered / fetched one     -> revoked, and the domain is told with a
//                                    signed Revocation;
//   already_fetched               -> some domain has fetched bytes already
//                                    (a revocation cannot take them back).
// Abuse reports: accepted only from a domain that was notified of the
// message (its delivery is neither queued nor bounced).
#ifndef PULLMAIL_CORE_LOGIC_SENDER_RULES_H_
#define PULLMAIL_CORE_LOGIC_SENDER_RULES_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "core/storage/types.h"

namespace pullmail {

// NotFound unless `user` (case-insensitively) is the message's sender.
absl::Status CheckRevoker(const OutboundMessage& message, std::string_view user);

struct RevocationPlan {
  // Per input delivery, in order: the delivery as it is to be stored
  // (state kRevoked), or untouched for a bounced one (changed = false).
  std::vector<Delivery> deliveries;
  std::vector<bool> changed;
  // Indices of the deliveries whose domain is to be told.
  std::vector<size_t> notify;
  bool already_fetched = false;
};
RevocationPlan PlanRevocation(const std::vector<Delivery>& deliveries);

// OK when `reporter_domain` was notified of the message (one of its
// deliveries is neither queued nor bounced); PermissionDenied
// "not_a_recipient" otherwise.
absl::Status CheckAbuseReporter(const std::vector<Delivery>& deliveries,
                                std::string_view reporter_domain);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_SENDER_RULES_H_
