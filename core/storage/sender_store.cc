// SenderStore's default ClaimDueDeliveries, for back ends that one process
// owns (memory, SQLite). The PostgreSQL back end overrides it.
#include "core/storage/sender_store.h"

#include "core/util/status_macros.h"

namespace pullmail {

absl::StatusOr<std::vector<Delivery>> SenderStore::ClaimDueDeliveries(absl::Time now,
                                                                      size_t limit,
                                                                      absl::Duration lease) {
  ASSIGN_OR_RETURN(std::vector<Delivery> due, DueDeliveries(now, limit));
  if (lease <= absl::ZeroDuration()) return due;  // no lease: nothing to write
  for (const Delivery& d : due) {
    Delivery leased = d;
    leased.next_attempt = now + lease;
    RETURN_IF_ERROR(UpdateDelivery(leased));
  }
  return due;
}

}  // namespace pullmail
