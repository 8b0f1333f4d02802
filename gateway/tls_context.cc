// Server TLS context from the node's certificate (see tls_context.h).
#include "gateway/tls_context.h"

#include <openssl/err.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace pullmail::gateway {
namespace {

std::string OpenSslReason() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

absl::StatusOr<SslCtxPtr> MakeServerTlsContext(const TlsConfig& tls) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return absl::InternalError("SSL_CTX_new: " + OpenSslReason());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_AUTO_RETRY);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert.c_str()) != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("TLS certificate ", tls.cert, ": ", OpenSslReason()));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::FailedPreconditionError(absl::StrCat("TLS key ", tls.key, ": ", OpenSslReason()));
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "TLS key ", tls.key, " does not match ", tls.cert, ": ", OpenSslReason()));
  }
  return ctx;
}

}  // namespace pullmail::gateway
