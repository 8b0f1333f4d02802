// How a sender signs what is due for one recipient domain before sending it
// (docs/PROTOCOL.md 4.1): in batches of up to kNotificationBatchSize under
// one signature each, in queue order; a notification that goes alone gets
// the single signature of section 4. This is the only place a sender node
// signs a notification: submission only prepares it (PrepareNotification),
// so each is signed once per attempt to send it, never twice. Both the
// sender node's delivery pass and the simulator's sender call this, so both
// pay one Ed25519 signature per batch and their receivers one verification
// per batch. Pure.
#ifndef PULLMAIL_CORE_LOGIC_DELIVERY_BATCH_H_
#define PULLMAIL_CORE_LOGIC_DELIVERY_BATCH_H_

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/crypto/ed25519.h"
#include "core/crypto/signature_scheme.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

// Notifications per batch signature at a sender.
inline constexpr size_t kNotificationBatchSize = 64;

struct DeliverySigning {
  std::vector<v1::SignedNotification> notifications;  // same order as the input
  size_t signatures = 0;  // Ed25519 signatures made (= verifications a receiver needs)
};

// `due` are notifications this sender prepared at submission
// (PrepareNotification: unsigned) or signed one by one (older queues, the
// simulator), all for one recipient domain, in queue order. Returns them
// signed as consecutive batches of up to kNotificationBatchSize with
// `key_id`/`key`. A lone notification gets the single signature if it has
// none yet, and is sent as it was signed otherwise. kInvalidArgument for
// mixed signing domains or a notification that cannot be signed.
absl::StatusOr<DeliverySigning> SignForDelivery(std::vector<v1::SignedNotification> due,
                                                std::string_view key_id, const SigningKey& key,
                                                const SignatureScheme* scheme = nullptr);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_DELIVERY_BATCH_H_
