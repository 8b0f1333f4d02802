// The one mapping between absl::Status (inside) and grpc::Status (on the
// wire). Codes map one to one (both follow google.rpc.Code).
#ifndef PULLMAIL_RPC_GRPC_STATUS_H_
#define PULLMAIL_RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace pullmail {

grpc::Status ToGrpc(const absl::Status& s);
absl::Status FromGrpc(const grpc::Status& s);

}  // namespace pullmail

#endif  // PULLMAIL_RPC_GRPC_STATUS_H_
