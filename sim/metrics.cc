// Names of the metric kinds (see metrics.h).
#include "sim/metrics.h"

namespace pullmail::sim {

std::string_view ByteKindName(ByteKind k) {
  switch (k) {
    case ByteKind::kNotify: return "notify";
    case ByteKind::kNotifyAck: return "notify_ack";
    case ByteKind::kFetchRequest: return "fetch_request";
    case ByteKind::kBody: return "body";
    case ByteKind::kPin: return "pin";
    case ByteKind::kPushBody: return "push_body";
    case ByteKind::kPushEnvelope: return "push_envelope";
    case ByteKind::kPushBounce: return "push_bounce";
    case ByteKind::kTls: return "tls";
    case ByteKind::kCount: break;
  }
  return "?";
}

int SizeClass(uint64_t body_size) {
  if (body_size < 10000) return 0;
  if (body_size < 100000) return 1;
  if (body_size < 1000000) return 2;
  return 3;
}

std::string_view SizeClassName(int c) {
  switch (c) {
    case 0: return "under_10kB";
    case 1: return "10kB_100kB";
    case 2: return "100kB_1MB";
    case 3: return "1MB_up";
  }
  return "?";
}

std::string_view SizeClassLabel(int c) {
  switch (c) {
    case 0: return "< 10 kB";
    case 1: return "10-100 kB";
    case 2: return "100 kB-1 MB";
    case 3: return ">= 1 MB";
  }
  return "?";
}

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kDelivered: return "delivered";
    case Outcome::kSuppressed: return "suppressed";
    case Outcome::kExpired: return "expired";
    case Outcome::kFailed: return "failed";
    case Outcome::kRejected: return "rejected";
    case Outcome::kRevoked: return "revoked";
    case Outcome::kCount: break;
  }
  return "?";
}

}  // namespace pullmail::sim
