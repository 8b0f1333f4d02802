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
    case ByteKind::kCount: break;
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
    case Outcome::kCount: break;
  }
  return "?";
}

}  // namespace pullmail::sim
