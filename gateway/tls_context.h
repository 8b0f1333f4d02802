// The OpenSSL server context the gateway's listeners use for STARTTLS and
// implicit TLS: the domain's node certificate and key (from `pullmail init`),
// TLS 1.2 or newer.
#ifndef PULLMAIL_GATEWAY_TLS_CONTEXT_H_
#define PULLMAIL_GATEWAY_TLS_CONTEXT_H_

#include <openssl/ssl.h>

#include <memory>

#include "absl/status/statusor.h"
#include "core/config/node_config.h"

namespace pullmail::gateway {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// Errors: unreadable or mismatched certificate and key (kFailedPrecondition,
// naming the file and OpenSSL's reason).
absl::StatusOr<SslCtxPtr> MakeServerTlsContext(const TlsConfig& tls);

}  // namespace pullmail::gateway

#endif  // PULLMAIL_GATEWAY_TLS_CONTEXT_H_
