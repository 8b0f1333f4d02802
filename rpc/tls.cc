// TLS and plaintext credentials for gRPC servers and channels.
#include "rpc/tls.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
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
  if (tls.plaintext) {
    if (!IsLoopbackEndpoint(endpoint)) {
      return absl::FailedPreconditionError(
          absl::StrCat("plaintext gRPC refused to non-loopback endpoint ", endpoint));
    }
    return grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
  }
  auto ca = ReadFile(tls.ca);
  if (!ca.ok()) return ca.status();
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = *ca;
  if (!peer_domain.empty()) args.SetSslTargetNameOverride(peer_domain);
  return grpc::CreateCustomChannel(endpoint, grpc::SslCredentials(opts), args);
}

}  // namespace pullmail
