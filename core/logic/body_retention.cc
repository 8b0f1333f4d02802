// The recipient's body retention rule (see body_retention.h).
#include "core/logic/body_retention.h"

#include "core/util/limits.h"

namespace pullmail {

std::optional<absl::Time> RecipientBodyDropTime(absl::Time stored) {
  (void)stored;
  return std::nullopt;  // kept as long as the mailboxes are
}

absl::Time RowKeptUntil(absl::Time expires) {
  return expires + absl::Milliseconds(limits::kMaxClockSkewMs);
}

ReleaseDecision DecideRelease(const ReleaseFacts& f, absl::Time now) {
  ReleaseDecision d;
  if (f.has_entries) return d;  // referenced again (or still): nothing to free
  d.drop_body = f.body_cached && !f.key_referenced;
  if (f.local) {
    d.drop_row = true;
    return d;
  }
  const absl::Time until = RowKeptUntil(f.expires);
  if (now >= until) {
    d.drop_row = true;
  } else {
    d.revisit = until;
  }
  return d;
}

}  // namespace pullmail
