// Names of the storage enums and the small helpers both back ends share.
#include "core/storage/types.h"

#include "core/mail/flags.h"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace pullmail {

std::string_view DeliveryStateName(DeliveryState state) {
  switch (state) {
    case DeliveryState::kQueued:
      return "queued";
    case DeliveryState::kDelivered:
      return "delivered";
    case DeliveryState::kFetched:
      return "fetched";
    case DeliveryState::kBounced:
      return "bounced";
    case DeliveryState::kRevoked:
      return "revoked";
  }
  return "unknown";
}

std::string_view EntryStateName(EntryState state) {
  switch (state) {
    case EntryState::kShown:
      return "shown";
    case EntryState::kHeld:
      return "held";
    case EntryState::kSuppressed:
      return "suppressed";
    case EntryState::kRevoked:
      return "revoked";
  }
  return "unknown";
}

std::string NormalizeFolderName(std::string_view name) {
  if (name.size() == kInbox.size() &&
      std::equal(name.begin(), name.end(), kInbox.begin(), [](char a, char b) {
        return (a >= 'a' && a <= 'z' ? a - 'a' + 'A' : a) == b;
      })) {
    return std::string(kInbox);
  }
  return std::string(name);
}

void NormalizeFlags(std::vector<std::string>& flags) {
  // RFC 3501 2.3.2: "\deleted" is \Deleted; one spelling is stored.
  for (std::string& f : flags) f = CanonicalFlag(f);
  std::sort(flags.begin(), flags.end());
  flags.erase(std::unique(flags.begin(), flags.end()), flags.end());
}

int64_t TimeToStoredMicros(absl::Time t) {
  // ToUnixMicros rounds toward the past and saturates at the infinities, which
  // map to the int64 extremes and back (StoredMicrosToTime).
  if (t == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  if (t == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  return absl::ToUnixMicros(t);
}

absl::Time StoredMicrosToTime(int64_t us) {
  if (us == std::numeric_limits<int64_t>::max()) return absl::InfiniteFuture();
  if (us == std::numeric_limits<int64_t>::min()) return absl::InfinitePast();
  return absl::FromUnixMicros(us);
}

absl::Time TruncateToMicros(absl::Time t) { return StoredMicrosToTime(TimeToStoredMicros(t)); }

std::vector<std::string> ApplyFlags(const std::vector<std::string>& current, FlagOp op,
                                    const std::vector<std::string>& flags) {
  // Flags compare by FlagEquals (RFC 3501 2.3.2): "-FLAGS (\seen)" removes
  // \Seen, "+FLAGS ($junk)" does not add a second $Junk.
  std::vector<std::string> next;
  switch (op) {
    case FlagOp::kReplace:
      for (const std::string& f : flags) {
        if (!HasFlag(next, f)) next.push_back(CanonicalFlag(f));
      }
      break;
    case FlagOp::kAdd:
      next = current;
      for (const std::string& f : flags) {
        if (!HasFlag(next, f)) next.push_back(CanonicalFlag(f));
      }
      break;
    case FlagOp::kRemove:
      for (const std::string& f : current) {
        if (!HasFlag(flags, f)) next.push_back(f);
      }
      break;
  }
  NormalizeFlags(next);
  return next;
}

}  // namespace pullmail
