// The gateway's part of a domain's node.toml: where each classic protocol
// listens and the limits every session enforces. A listener left out (or
// empty) is off.
//
//   [gateway]
//   imap_listen = "127.0.0.1:7143"         # IMAP4rev1, STARTTLS
//   imaps_listen = ""                       # IMAP over implicit TLS (993-style)
//   pop3_listen = "127.0.0.1:7110"          # POP3, STLS
//   pop3s_listen = ""
//   submission_listen = "127.0.0.1:7587"    # SMTP submission, STARTTLS + AUTH
//   smtp_listen = ""                        # SMTP in from classic servers (MX, 25)
//   relay_listen = "127.0.0.1:7125"         # SMTP out: gRPC RecipientService (TLS with
//                                           # the node certificate) where this domain's
//                                           # sender node notifies legacy domains
//   smarthost = "mail.isp.example:25"       # where SMTP out hands mail (no MX lookup;
//                                           # unset: mail to legacy domains bounces)
//   max_connections = 200                   # per listener; more get a "busy" reply
//   idle_timeout_seconds = 1800             # RFC 3501 5.4: at least 30 minutes
//   max_line_bytes = 8192                   # a command line, CRLF included
//   max_message_bytes = 67108864            # a submitted message / IMAP literal
//   allow_plaintext_auth = false            # true: AUTH/LOGIN/USER without TLS,
//                                           # only on loopback listeners
#ifndef PULLMAIL_CORE_CONFIG_GATEWAY_CONFIG_H_
#define PULLMAIL_CORE_CONFIG_GATEWAY_CONFIG_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/config/node_config.h"

namespace pullmail {

struct GatewayConfig {
  std::string imap_listen;
  std::string imaps_listen;
  std::string pop3_listen;
  std::string pop3s_listen;
  std::string submission_listen;
  std::string smtp_listen;
  // SMTP out (gateway/relay_service.h). relay_listen is also read by the
  // sender node: it is where notifications for legacy domains go.
  std::string relay_listen;
  std::string smarthost;  // "host:port"; empty: the relay refuses (bounces) all
  int max_connections = 200;
  absl::Duration idle_timeout = absl::Minutes(30);
  size_t max_line_bytes = 8192;
  size_t max_message_bytes = size_t{64} << 20;
  bool allow_plaintext_auth = false;
};

// Reads the [gateway] section of `node` (defaults when absent). Errors name
// the file and the field: an unknown key, a value out of range,
// allow_plaintext_auth on a listener that is not loopback, or a smarthost
// that is not "host:port". relay_listen without a smarthost is valid: the
// relay then refuses every message permanently (the sender gets a bounce).
absl::StatusOr<GatewayConfig> ParseGatewayConfig(const NodeConfig& node);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_CONFIG_GATEWAY_CONFIG_H_
