// The recipient's body retention rule (see body_retention.h).
#include "core/logic/body_retention.h"

namespace pullmail {

std::optional<absl::Time> RecipientBodyDropTime(absl::Time stored) {
  (void)stored;
  return std::nullopt;  // kept as long as the mailboxes are
}

}  // namespace pullmail
