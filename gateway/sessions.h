// The three classic protocols the gateway speaks to clients of pullmail
// users, each mapped onto the domain's nodes (docs/GATEWAY.md):
//   IMAP4rev1 (RFC 3501) -> MailboxService; an IMAP FETCH of a body is what
//                           makes the recipient node pull it from the sender.
//   POP3 (RFC 1939)      -> MailboxService, the INBOX as the maildrop.
//   Submission (RFC 6409, SMTP with AUTH) -> SubmitService.Submit.
//   SMTP in (RFC 5321, the domain's MX, no AUTH) -> SubmitService.Bridge:
//                           other mail servers deliver to this domain's users.
// Each Serve* runs one connection to its end on the calling thread.
#ifndef PULLMAIL_GATEWAY_SESSIONS_H_
#define PULLMAIL_GATEWAY_SESSIONS_H_

#include <string>

#include "core/config/gateway_config.h"
#include "core/directory/directory.h"
#include "core/logic/known_recipients.h"
#include "core/util/clock.h"
#include "gateway/bridge_batcher.h"
#include "gateway/conn.h"
#include "gateway/node_client.h"

namespace pullmail::gateway {

struct SessionEnv {
  const GatewayConfig* config = nullptr;  // limits, allow_plaintext_auth
  NodeClient* nodes = nullptr;
  std::string hostname;                   // the domain, for greetings
  // SMTP in: which sender domains are pullmail domains (never bridged).
  // Not owned; required by ServeSmtpIn.
  const Directory* directory = nullptr;
  // The gateway's clock (protocol time: Received headers, verification);
  // not owned. Socket timeouts stay on the wall clock.
  const Clock* clock = &SystemClock();
  // SMTP in: recipients the sender node confirmed at RCPT lately, shared by
  // every session (core/logic/known_recipients.h). Not owned; may be null
  // (then every RCPT asks the node).
  KnownRecipients* known_recipients = nullptr;
  // SMTP in: where sessions hand their messages to the sender node (not
  // owned; may be null: then each session calls Bridge itself).
  BridgeBatcher* bridge_batcher = nullptr;
};

// The one rule for when a session may take a password (IMAP LOGIN and
// AUTHENTICATE, POP3 USER/PASS and AUTH, SMTP AUTH): over TLS, or in the
// clear only when allow_plaintext_auth is set and the peer is loopback.
inline bool AuthAllowed(const Conn& conn, const SessionEnv& env) {
  return conn.tls_active() || (env.config->allow_plaintext_auth && conn.peer_is_loopback());
}

void ServeImap(Conn& conn, const SessionEnv& env);
void ServePop3(Conn& conn, const SessionEnv& env);
void ServeSubmission(Conn& conn, const SessionEnv& env);
// Needs env.directory and env.nodes->bridge_enabled().
void ServeSmtpIn(Conn& conn, const SessionEnv& env);

}  // namespace pullmail::gateway

#endif  // PULLMAIL_GATEWAY_SESSIONS_H_
