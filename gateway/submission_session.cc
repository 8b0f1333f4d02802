// The gateway's SMTP submission session (RFC 6409: SMTP with STARTTLS, RFC
// 3207, and AUTH, RFC 4954): one client connection of a pullmail user's mail
// program, mapped onto the domain's sender node. The protocol decisions are
// core/smtp's SmtpSession, driven by gateway/smtp_connection.h; this file
// says what its actions mean at the nodes:
//   STARTTLS -> Conn::StartTls;
//   AUTH     -> NodeClient::LoginSubmit (the sender node checks the password
//               and returns a bearer token);
//   end of DATA -> SubmitService.Submit(from, to[], bytes). "250 ... queued
//               as <id>" is written only after the node answered, and the
//               node answers only once the message is durable.
//
// SECURITY
//   The client is untrusted. Every line is read with a limit (12288 bytes
//   for commands and AUTH responses, RFC 4954 4, within which core/smtp
//   applies RFC 5321's 512 to the commands that have it; max_line_bytes for
//   message lines), and an over-long line is answered and dropped, never
//   buffered. A message is capped at max_message_bytes: past it the session
//   reads to the end "." while keeping nothing, and answers 552 5.3.4.
//   A password is taken only when AuthAllowed() says so (over TLS, or on
//   loopback when the operator allowed plaintext); otherwise AUTH is not
//   advertised and answers 538 5.7.11. Three failed logins or twenty
//   protocol errors close the connection. The gateway holds no passwords:
//   the sender node checks them; the token it returns lives in this
//   session's memory only and is never logged, nor is a password. MAIL FROM
//   must be the authenticated user's own address (553 5.7.1), and the node
//   enforces the same rule again with the token. Bytes the client pipelined
//   before STARTTLS are discarded by Conn (RFC 3207 4.2), and the session
//   forgets its EHLO state after the handshake. Node error messages reach
//   the client sanitized to one printable line.
//   Known gap: Conn accepts a bare LF as a line end, so "\n.\n" ends DATA
//   as "\r\n.\r\n" does; the sender of such a message can only ever send as
//   themselves, so no other identity can be smuggled through it.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/crypto/encoding.h"
#include "core/crypto/token.h"
#include "core/util/random.h"
#include "core/smtp/smtp_session.h"
#include "core/util/logging.h"
#include "core/util/strings.h"
#include "gateway/sessions.h"
#include "gateway/smtp_connection.h"
#include "rpc/grpc_status.h"

namespace pullmail::gateway {
namespace {

// A Submit stores up to 64 MiB durably before it answers.
constexpr absl::Duration kSubmitTimeout = absl::Minutes(5);
// Attempts of one transaction's Submit while the node answers UNAVAILABLE.
constexpr int kSubmitAttempts = 3;

class SubmissionBackend : public SmtpBackend {
 public:
  SubmissionBackend(const Conn& conn, const SessionEnv& env) : conn_(conn), env_(env) {}

  SmtpStep Authenticate(SmtpSession& session) override {
    const SaslCredentials& c = session.credentials();
    absl::StatusOr<std::string> token =
        env_.nodes->LoginSubmit(c.authcid, c.password, conn_.peer());
    std::string address = env_.nodes->Address(c.authcid);
    if (!token.ok()) {
      PM_LOG(INFO) << "submission " << conn_.peer() << ": login of " << address
                   << " failed: " << token.status();
      return session.OnAuthResult(token.status(), "");
    }
    token_ = std::move(*token);
    return session.OnAuthResult(absl::OkStatus(), address);
  }

  SmtpStep CheckRecipient(SmtpSession& session) override {
    // Never asked in submission mode; accept rather than invent a refusal.
    return session.OnRecipientResult(absl::OkStatus());
  }

  SmtpStep Submit(SmtpSession& session) override {
    const SmtpEnvelope& e = session.envelope();
    v1::SubmitRequest req;
    req.set_from(e.from);
    for (const std::string& to : e.to) req.add_to(to);
    req.set_message(e.message);
    // One key per SMTP transaction; the retries below reuse it, so a
    // submission the node committed but answered UNAVAILABLE (e.g. it went
    // down right after the commit) is stored and delivered once.
    req.set_idempotency_key(absl::StrCat("smtp-", HexEncode(NewToken(SecureRandom(), 16))));
    v1::SubmitResponse resp;
    absl::Status status;
    for (int attempt = 1;; ++attempt) {
      std::unique_ptr<grpc::ClientContext> ctx = NodeClient::Context(token_, kSubmitTimeout);
      status = FromGrpc(env_.nodes->submit().Submit(ctx.get(), req, &resp));
      // Not after DEADLINE_EXCEEDED: the client's own patience is spent.
      if (!absl::IsUnavailable(status) || attempt >= kSubmitAttempts) break;
      absl::SleepFor(absl::Seconds(attempt));
    }
    if (!status.ok()) {
      PM_LOG(INFO) << "submission " << conn_.peer() << ": " << session.user() << " to "
                   << e.to.size() << " recipient(s): " << status;
      return session.OnSubmitResult(status);
    }
    PM_LOG(INFO) << "submission " << conn_.peer() << ": " << session.user() << " queued "
                 << resp.message_id() << " (" << e.message.size() << " bytes) for " << e.to.size()
                 << " recipient(s)";
    return session.OnSubmitResult(resp.message_id());
  }

 private:
  const Conn& conn_;
  const SessionEnv& env_;
  std::string token_;  // the sender node's bearer token after AUTH
};

}  // namespace

void ServeSubmission(Conn& conn, const SessionEnv& env) {
  SmtpSessionOptions o = SmtpOptionsFor(conn, env);
  SubmissionBackend backend(conn, env);
  RunSmtpConnection(conn, env, std::move(o), /*auth_possible=*/true, backend);
}

}  // namespace pullmail::gateway
