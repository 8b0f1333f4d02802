// The channels a node keeps open to other domains' nodes: one per (peer
// domain, endpoint), dialled on first use and shared by every caller after
// (a gRPC channel is thread-safe and reconnects by itself). A node that
// dialled anew for every call paid a TCP and TLS handshake each time (the
// recipient node did for every spam report it sent, ~3 kB of TLS per report
// on loopback: tests/xval). Bounded: past kMaxChannels distinct keys the
// cache starts again empty (channels still in use stay alive with their
// callers), so a directory naming many domains cannot grow it for ever.
#ifndef PULLMAIL_RPC_CHANNEL_CACHE_H_
#define PULLMAIL_RPC_CHANNEL_CACHE_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "core/config/node_config.h"

namespace pullmail {

class ChannelCache {
 public:
  static constexpr size_t kMaxChannels = 4096;

  // `tls` must outlive the cache.
  explicit ChannelCache(const TlsConfig* tls) : tls_(tls) {}

  // The channel to `endpoint` (one address or a comma-separated replica
  // list, as rpc/tls.h Dial takes) whose certificate must name
  // `peer_domain`; dialled once. Errors: Dial's.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Get(const std::string& endpoint,
                                                     const std::string& peer_domain);

  size_t size() const;

 private:
  const TlsConfig* tls_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;  // guarded by mu_
};

}  // namespace pullmail

#endif  // PULLMAIL_RPC_CHANNEL_CACHE_H_
