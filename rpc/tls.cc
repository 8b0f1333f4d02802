// TLS and plaintext credentials for gRPC servers and channels.
#include "rpc/tls.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/logic/replica_retry.h"
#include "core/util/logging.h"

namespace pullmail {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read ", path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The gRPC target for `endpoint`: itself, or for a comma-separated list of
// replicas ("10.0.0.1:7101,10.0.0.2:7101", docs/SCALE-OUT.md) an ipv4:/ipv6:
// target naming them all, which the round_robin policy spreads calls over
// (skipping a replica whose connection failed). A list must hold IP
// literals of one family: a DNS name that resolves to several addresses is
// the other way to list replicas.
absl::StatusOr<std::string> Target(const std::string& endpoint, bool* several) {
  std::vector<std::string> parts = absl::StrSplit(endpoint, ',');
  *several = parts.size() > 1;
  if (!*several) return endpoint;
  bool v4 = true, v6 = true;
  for (const std::string& p : parts) {
    size_t colon = p.rfind(':');
    std::string host = colon == std::string::npos ? p : p.substr(0, colon);
    v6 = v6 && absl::StartsWith(host, "[");
    v4 = v4 && !host.empty() &&
         host.find_first_not_of("0123456789.") == std::string::npos;
  }
  if (!v4 && !v6) {
    return absl::InvalidArgumentError(absl::StrCat(
        "endpoint list ", endpoint, ": replicas must be IP addresses of one family"));
  }
  return absl::StrCat(v4 ? "ipv4:" : "ipv6:", endpoint);
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsConfig& tls, const std::string& listen) {
  if (tls.plaintext) {
    if (!IsLoopbackEndpoint(listen)) {
      return absl::FailedPreconditionError(
          absl::StrCat("plaintext gRPC refused on non-loopback listener ", listen));
    }
    PM_LOG(WARNING) << "PLAINTEXT gRPC on " << listen
                    << " (loopback only; set [tls] plaintext = false in production)";
    return grpc::InsecureServerCredentials();
  }
  auto key = ReadFile(tls.key);
  if (!key.ok()) return key.status();
  auto cert = ReadFile(tls.cert);
  if (!cert.ok()) return cert.status();
  grpc::SslServerCredentialsOptions opts;
  opts.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(opts);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Dial(const TlsConfig& tls,
                                                    const std::string& endpoint,
                                                    const std::string& peer_domain) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(8 * 1024 * 1024);
  // Reconnect quickly after a peer restarts (the default backoff reaches 2 min).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  bool several = false;
  auto target = Target(endpoint, &several);
  if (!target.ok()) return target.status();
  if (several) args.SetLoadBalancingPolicyName("round_robin");
  // Idempotent calls that meet a dying replica go again (core's list).
  args.SetServiceConfigJSON(ReplicaRetryServiceConfig());
  if (tls.plaintext) {
    for (absl::string_view part : absl::StrSplit(endpoint, ',')) {
      if (!IsLoopbackEndpoint(std::string_view(part.data(), part.size()))) {
        return absl::FailedPreconditionError(
            absl::StrCat("plaintext gRPC refused to non-loopback endpoint ", part));
      }
    }
    return grpc::CreateCustomChannel(*target, grpc::InsecureChannelCredentials(), args);
  }
  auto ca = ReadFile(tls.ca);
  if (!ca.ok()) return ca.status();
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = *ca;
  if (!peer_domain.empty()) args.SetSslTargetNameOverride(peer_domain);
  return grpc::CreateCustomChannel(*target, grpc::SslCredentials(opts), args);
}

}  // namespace pullmail
