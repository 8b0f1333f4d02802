// FetchBody authorization (see fetch_authorizer.h).
#include "core/logic/fetch_authorizer.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/encoding.h"
#include "core/util/strings.h"
#include "core/util/address.h"

namespace pullmail {

absl::StatusOr<Delivery> AuthorizeFetch(const OutboundMessage& message,
                                        const std::vector<Delivery>& deliveries,
                                        std::string_view recipient_domain,
                                        std::string_view token, uint64_t offset, absl::Time now) {
  const Delivery* match = nullptr;
  // Compare against every delivery so timing does not reveal which matched.
  for (const Delivery& d : deliveries) {
    if (ConstantTimeEquals(d.fetch_token, token) && match == nullptr) match = &d;
  }
  if (match == nullptr ||
      (!recipient_domain.empty() && !SameDomain(match->domain, recipient_domain))) {
    return absl::PermissionDeniedError("bad_token: fetch token not valid for this message");
  }
  if (message.revoked || match->state == DeliveryState::kRevoked) {
    return absl::FailedPreconditionError("revoked: the sender revoked this message");
  }
  if (message.body_deleted || message.expires <= now) {
    return absl::NotFoundError("expired: the message has expired at its sender node");
  }
  if (offset > message.body_size) {
    return absl::OutOfRangeError(
        absl::StrCat("offset ", offset, " is past the body size ", message.body_size));
  }
  return *match;
}

absl::StatusOr<Delivery> AuthorizeFetch(const OutboundMessage* message,
                                        const std::vector<Delivery>& deliveries,
                                        std::string_view recipient_domain,
                                        std::string_view token, uint64_t offset, absl::Time now) {
  static const OutboundMessage kUnknown;
  static const std::vector<Delivery> kNone;
  // An unknown message has no deliveries, so no token matches: bad_token.
  return AuthorizeFetch(message != nullptr ? *message : kUnknown,
                        message != nullptr ? deliveries : kNone, recipient_domain, token, offset,
                        now);
}

}  // namespace pullmail
