// The I/O loop every SMTP session of the gateway shares (submission and SMTP
// in): read a line with its limit, feed it to core/smtp's SmtpSession, write
// the replies (a pipelined group together, RFC 2920 4), and perform the
// actions the session asks for. What an action means at the nodes is the
// only difference between the two, and it is the SmtpBackend's.
#ifndef PULLMAIL_GATEWAY_SMTP_CONNECTION_H_
#define PULLMAIL_GATEWAY_SMTP_CONNECTION_H_

#include "core/smtp/smtp_session.h"
#include "gateway/conn.h"
#include "gateway/sessions.h"

namespace pullmail::gateway {

// The node-side half of an SMTP session. Each method is called on the
// connection's thread when the session asks for that action, and returns
// the session's next step (from the matching SmtpSession::On*Result).
class SmtpBackend {
 public:
  virtual ~SmtpBackend() = default;
  // kAuthenticate (submission only).
  virtual SmtpStep Authenticate(SmtpSession& session) = 0;
  // kCheckRecipient (SMTP in only).
  virtual SmtpStep CheckRecipient(SmtpSession& session) = 0;
  // kSubmit: the envelope and message are complete.
  virtual SmtpStep Submit(SmtpSession& session) = 0;
};

// The options both modes share: names, limits, the peer, clock and random.
SmtpSessionOptions SmtpOptionsFor(const Conn& conn, const SessionEnv& env);

// Runs one connection to its end. `auth_possible`: whether this mode ever
// takes a password (submission: AuthAllowed() decides; SMTP in: never).
void RunSmtpConnection(Conn& conn, const SessionEnv& env, SmtpSessionOptions options,
                       bool auth_possible, SmtpBackend& backend);

}  // namespace pullmail::gateway

#endif  // PULLMAIL_GATEWAY_SMTP_CONNECTION_H_
