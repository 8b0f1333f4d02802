// SMTP out: the gateway's relay, a gRPC RecipientService on [gateway]
// relay_listen where this domain's own sender node sends the notifications
// for legacy (classic SMTP) domains. For each notification the relay fetches
// the body from the sender node at once (checking its size and SHA-256) and
// hands it by SMTP to the configured smarthost (core/smtp/smtp_client.h does
// the dialogue; this file does the sockets). The answer to the notification
// waits for the smarthost's reply to DATA, so the sender's outbox stays the
// only queue: the relay keeps nothing.
//
// Answers (NotifyResult.code / reason), read by core/logic/outbox.h:
//   delivered (250 to DATA)                        OK
//   4xx anywhere, connect / TLS / timeout failure  UNAVAILABLE "smtp_deferred"
//   5xx (greeting, MAIL, every RCPT, DATA)         FAILED_PRECONDITION "smtp_rejected"
//   body fetch failed                              the fetch's code, "fetch_failed"
//   signed by another domain                       PERMISSION_DENIED "not_own_domain"
//   recipient domain not legacy in the directory   INVALID_ARGUMENT "not_legacy_domain"
//   no smarthost configured                        FAILED_PRECONDITION "smtp_not_configured"
//   envelope verification failed                   core/envelope's rejection
// A message some of whose recipients the smarthost refused with 5xx while it
// accepted others is answered OK (NotifyResult has no per-recipient result);
// the refusals are logged.
//
// SECURITY: the relay is never an open relay. It accepts only notifications
// whose signature verifies against the directory with a key of THIS domain,
// for a recipient domain the directory marks legacy; TLS with the node
// certificate as the nodes' own listeners. STARTTLS to the smarthost is
// opportunistic and unauthenticated (no certificate check, no DANE or
// MTA-STS): it protects against passive eavesdroppers only, and a failed
// handshake falls back to plaintext on a new connection.
#ifndef PULLMAIL_GATEWAY_RELAY_SERVICE_H_
#define PULLMAIL_GATEWAY_RELAY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/config/gateway_config.h"
#include "core/config/node_config.h"
#include "core/directory/directory.h"
#include "core/util/clock.h"
#include "pullmail/v1/pullmail.grpc.pb.h"
#include "rpc/call_limits.h"

namespace pullmail::gateway {

struct RelayOptions {
  std::string domain;          // this domain (the only signer accepted)
  std::string smarthost;       // "host:port"; empty: refuse permanently
  size_t max_message_bytes = size_t{64} << 20;
  // Per SMTP reply or write. Shorter than RFC 5321 4.5.3.2's minutes: the
  // sender node gives a stream to the relay 60 s in all (delivery_worker.cc).
  absl::Duration smtp_timeout = absl::Seconds(30);
  const TlsConfig* tls = nullptr;   // for the fetch from the sender node; not owned
  const Directory* directory = nullptr;  // not owned; thread-safe
  const Clock* clock = &SystemClock();   // verification time; not owned
};

// One notification relayed end to end (verify, fetch, SMTP): the result to
// send back. Blocking; thread-safe (each call has its own connections).
v1::NotifyResult RelayNotification(const RelayOptions& options,
                                   const v1::SignedNotification& signed_n);

// A running relay server. Stop() (or the destructor) shuts it down, letting
// calls in flight finish for up to 5 s.
class RelayServer {
 public:
  // Listens on `listen` with the node's TLS credentials (rpc/tls.h).
  // Errors: bad credentials, address in use.
  static absl::StatusOr<std::unique_ptr<RelayServer>> Start(const std::string& listen,
                                                            RelayOptions options);
  ~RelayServer();
  void Stop();
  const std::string& address() const { return address_; }

 private:
  RelayServer() = default;
  std::unique_ptr<grpc::Service> service_;
  // Counts the relay's calls per peer (rpc/call_limits.h); outlives server_.
  std::unique_ptr<PeerCallCounter> peer_calls_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace pullmail::gateway

#endif  // PULLMAIL_GATEWAY_RELAY_SERVICE_H_
