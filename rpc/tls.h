// gRPC credentials from a node's TLS configuration. TLS is the default;
// plaintext is allowed only for loopback endpoints and logs a warning each
// time a listener or channel is made with it.
#ifndef PULLMAIL_RPC_TLS_H_
#define PULLMAIL_RPC_TLS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "core/config/node_config.h"

namespace pullmail {

// Server credentials for a listener at `listen` (checked for loopback when
// plaintext). Errors: unreadable certificate or key files.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsConfig& tls, const std::string& listen);

// A channel to `endpoint` (or to a comma-separated list of replicas' IP
// endpoints, calls spread round-robin over those that are up), whose certificate must be issued by tls.ca to the
// name `peer_domain` (its subjectAltName). With plaintext, `endpoint` must be
// loopback. Channels are thread-safe and meant to be shared.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const TlsConfig& tls,
                                                    const std::string& endpoint,
                                                    const std::string& peer_domain);

}  // namespace pullmail

#endif  // PULLMAIL_RPC_TLS_H_
