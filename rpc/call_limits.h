// Limits every gRPC server applies before a handler acts on a call (issue
// 10): a largest request per method (a notification is at most 64 KiB of
// payload, so RecipientService.Notify takes no 60 MB message), concurrent
// calls per peer on the node-to-node services, and a memory quota for the
// whole server. gRPC 1.51 has one receive limit per server and none per
// method, so:
//  - the server's own limit is the largest request any of its methods takes
//    (MaxRequestBytesOf); gRPC refuses anything larger itself;
//  - a server interceptor (gRPC's experimental API) checks each received
//    message against its method's limit: the handler gets an empty request
//    and the caller RESOURCE_EXHAUSTED "message_too_large: ...";
//  - the same interceptor counts calls in flight per peer address on the
//    peer-facing services (RecipientService, SenderService, RelayService):
//    past the limit a unary call is answered RESOURCE_EXHAUSTED
//    "too_many_calls: ..." without its handler acting, a stream is cancelled
//    at once;
//  - a grpc::ResourceQuota caps the memory gRPC may take for calls in flight
//    (a message is buffered whole before any check can see it; the quota is
//    what bounds many concurrent oversized calls).
#ifndef PULLMAIL_RPC_CALL_LIMITS_H_
#define PULLMAIL_RPC_CALL_LIMITS_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/node_config.h"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace pullmail {

struct CallLimits {
  // Calls in flight at once from one peer address on the peer-facing
  // services. Loopback federations share one address: keep it generous.
  int max_calls_per_peer = 128;
  // What gRPC may hold for calls in flight, in bytes (grpc::ResourceQuota).
  int64_t memory_quota_bytes = int64_t{256} << 20;
};

// Reads an [rpc] table: max_calls_per_peer (1..100000), memory_quota_mib
// (64..65536). Absent keys keep the defaults. InvalidArgument otherwise.
absl::StatusOr<CallLimits> ParseCallLimits(const toml::table& table);

// The largest serialized request `method` ("/pullmail.v1.RecipientService/
// Notify") accepts: the signed objects 128 KiB (64 KiB payload plus
// envelope and batch proof), Submit, Bridge and Append 64 MiB plus 1 MiB,
// everything else 1 MiB.
size_t MaxRequestBytes(std::string_view method);
// The largest MaxRequestBytes among the methods of these services (full
// names, "pullmail.v1.MailboxService"): the server's own receive limit.
size_t MaxRequestBytesOf(const std::vector<std::string>& services);
// Whether `method` belongs to a service other nodes (not users) call.
bool IsPeerFacing(std::string_view method);

// Calls in flight per peer. Thread-safe.
class PeerCallCounter {
 public:
  explicit PeerCallCounter(int max_per_peer) : max_(max_per_peer) {}
  // False (and nothing counted) when `peer` already has max_per_peer calls.
  bool Acquire(const std::string& peer);
  void Release(const std::string& peer);

 private:
  const int max_;
  std::mutex mu_;
  std::map<std::string, int> in_flight_;
};

// "ipv4:127.0.0.1:5555" -> "127.0.0.1"; "ipv6:[::1]:5555" -> "::1".
std::string PeerAddress(std::string_view grpc_peer);

// The interceptor factory to install with
// builder.experimental().SetInterceptorCreators(). `counter` is not owned
// and must outlive the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeCallLimitsInterceptor(
    PeerCallCounter* counter);

// The [rpc] table of a node config (defaults if absent).
absl::StatusOr<CallLimits> CallLimitsFromConfig(const NodeConfig& config);

// Applies a CallLimits to a builder: receive limit for `services`, the
// memory quota and the interceptor. `counter` as above.
void ApplyCallLimits(const CallLimits& limits, const std::vector<std::string>& services,
                     PeerCallCounter* counter, grpc::ServerBuilder* builder);

}  // namespace pullmail

#endif  // PULLMAIL_RPC_CALL_LIMITS_H_
