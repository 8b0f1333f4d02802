// SignForDelivery (see delivery_batch.h).
#include "core/logic/delivery_batch.h"

#include <iterator>

#include "core/envelope/envelope.h"

namespace pullmail {

absl::StatusOr<DeliverySigning> SignForDelivery(std::vector<v1::SignedNotification> due,
                                                std::string_view key_id, const SigningKey& key,
                                                const SignatureScheme* scheme) {
  DeliverySigning out;
  out.notifications.reserve(due.size());
  if (due.size() == 1) {
    if (due.front().signature().empty()) {
      absl::StatusOr<v1::SignedNotification> one =
          SignPrepared(std::move(due.front()), key_id, key, scheme);
      if (!one.ok()) return one.status();
      out.notifications.push_back(*std::move(one));
      out.signatures = 1;
      return out;
    }
    out.notifications = std::move(due);
    return out;
  }
  for (size_t i = 0; i < due.size(); i += kNotificationBatchSize) {
    const size_t end = std::min(due.size(), i + kNotificationBatchSize);
    std::vector<v1::SignedNotification> part(std::make_move_iterator(due.begin() + i),
                                             std::make_move_iterator(due.begin() + end));
    absl::StatusOr<std::vector<v1::SignedNotification>> signed_part =
        BatchSign(std::move(part), key_id, key, scheme);
    if (!signed_part.ok()) return signed_part.status();
    ++out.signatures;
    for (v1::SignedNotification& n : *signed_part) out.notifications.push_back(std::move(n));
  }
  return out;
}

}  // namespace pullmail
