// THE routing rule of the sender node (docs/PROTOCOL.md "Delivery"): where
// the notifications for a recipient domain go. Pure; thread-safe. Called by
// sender-node/sender_node.cc (SenderNode::RecipientChannel) and by the
// simulator (sim/pull_world.cc).
//
//   a pullmail domain  -> its own recipient node, as the directory lists it,
//                         whose certificate names that domain;
//   a legacy domain    -> this domain's own gateway relay ([gateway]
//                         relay_listen; SMTP out), which presents this
//                         domain's certificate; FailedPrecondition when none
//                         is configured (the sender gets a 5.7.0 bounce);
//   no endpoint listed -> FailedPrecondition;
//   lookup failed      -> the lookup's status (NotFound for an unknown
//                         domain: 5.1.1; a directory outage is retryable).
#ifndef PULLMAIL_CORE_LOGIC_ROUTING_H_
#define PULLMAIL_CORE_LOGIC_ROUTING_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/directory/directory.h"

namespace pullmail {

struct Route {
  std::string endpoint;  // host:port to dial
  std::string peer;      // the domain its TLS certificate must name
  bool relayed = false;  // through this domain's gateway relay (answers wait for SMTP)
};

// `entry` is the directory's answer for `domain`; `relay_endpoint` is this
// domain's gateway relay (empty: none); `local_domain` is this domain.
absl::StatusOr<Route> RouteNotifications(const absl::StatusOr<DomainEntry>& entry,
                                         std::string_view domain, std::string_view local_domain,
                                         std::string_view relay_endpoint);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_ROUTING_H_
