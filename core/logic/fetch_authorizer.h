// The sender node's rule for FetchBody (docs/PROTOCOL.md "Fetch"): who may
// read a body, and which status every refusal gets. No I/O.
#ifndef PULLMAIL_CORE_LOGIC_FETCH_AUTHORIZER_H_
#define PULLMAIL_CORE_LOGIC_FETCH_AUTHORIZER_H_

#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/storage/types.h"

namespace pullmail {

// Returns the delivery whose fetch token equals `token` (compared in
// constant time against every delivery of the message), or:
//   kPermissionDenied "bad_token"  no delivery has that token (or the
//                                  request names another recipient domain);
//   kFailedPrecondition "revoked"  the sender revoked the message;
//   kNotFound "expired"            the body has expired or was deleted;
//   kOutOfRange                    offset > body size.
// The token is checked before anything about the message is revealed.
absl::StatusOr<Delivery> AuthorizeFetch(const OutboundMessage& message,
                                        const std::vector<Delivery>& deliveries,
                                        std::string_view recipient_domain,
                                        std::string_view token, uint64_t offset, absl::Time now);

// The same for a message id that may be unknown (`message` null, or its
// deliveries empty): an unknown id gets the very answer a wrong token gets,
// kPermissionDenied "bad_token", so that a caller without a valid token
// cannot learn which message ids exist.
absl::StatusOr<Delivery> AuthorizeFetch(const OutboundMessage* message,
                                        const std::vector<Delivery>& deliveries,
                                        std::string_view recipient_domain,
                                        std::string_view token, uint64_t offset, absl::Time now);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_FETCH_AUTHORIZER_H_
