// Revocation and abuse-report rules of the sender node (see sender_rules.h).
#include "core/logic/sender_rules.h"

#include "absl/strings/str_cat.h"
#include "core/util/address.h"
#include "core/util/strings.h"

namespace pullmail {

absl::Status CheckRevoker(const OutboundMessage& message, std::string_view user) {
  // Both in their one spelling (core/util/address.h UserKey: case, IDNA,
  // a trailing dot), so that no spelling of the sender is refused and no
  // other user passes.
  absl::StatusOr<std::string> user_key = UserKey(user), sender_key = UserKey(message.sender);
  if (user_key.ok() && sender_key.ok() && *user_key == *sender_key) return absl::OkStatus();
  // Same answer as an unknown id: a user learns nothing of others' mail.
  return absl::NotFoundError(
      absl::StrCat("no message ", message.message_id, " sent by ", AV(user)));
}

RevocationPlan PlanRevocation(const std::vector<Delivery>& deliveries) {
  RevocationPlan plan;
  plan.deliveries = deliveries;
  plan.changed.assign(deliveries.size(), false);
  for (size_t i = 0; i < plan.deliveries.size(); ++i) {
    Delivery& d = plan.deliveries[i];
    if (d.state == DeliveryState::kFetched || d.bytes_served > 0) plan.already_fetched = true;
    if (d.state == DeliveryState::kBounced) continue;
    const bool was_delivered = d.state != DeliveryState::kQueued;
    d.state = DeliveryState::kRevoked;
    plan.changed[i] = true;
    if (was_delivered) plan.notify.push_back(i);
  }
  return plan;
}

absl::Status CheckAbuseReporter(const std::vector<Delivery>& deliveries,
                                std::string_view reporter_domain) {
  for (const Delivery& d : deliveries) {
    if (d.domain == reporter_domain && d.state != DeliveryState::kQueued &&
        d.state != DeliveryState::kBounced) {
      return absl::OkStatus();
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "not_a_recipient: ", AV(reporter_domain), " was not notified of this message"));
}

}  // namespace pullmail
