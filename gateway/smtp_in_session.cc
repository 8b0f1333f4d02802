// The gateway's SMTP-in session (RFC 5321, with RFC 3207 STARTTLS offered
// opportunistically): one connection from another mail server (Postfix,
// Exim, ... or any SMTP client) delivering to this domain's users, mapped
// onto the domain's sender node, which keeps the body as the sender node of
// record and notifies the recipient node (origin ORIGIN_BRIDGED_SMTP,
// docs/PROTOCOL.md 6.1 step 6). The protocol decisions are core/smtp's
// SmtpSession in SmtpMode::kRelayIn, driven by gateway/smtp_connection.h;
// this file says what its actions mean at the nodes:
//   STARTTLS    -> Conn::StartTls;
//   RCPT TO     -> SubmitService.Bridge(check_only): 550 5.1.1 for an unknown
//                  user now rather than a bounce later; an address the node
//                  confirmed lately is accepted without asking again
//                  (core/logic/known_recipients.h: the node checks every
//                  recipient again at the end of DATA);
//   end of DATA -> SubmitService.Bridge(envelope_from, to[], bytes), through
//                  the gateway's BridgeBatcher: messages that sessions finish
//                  at the same moment go in one BridgeBatch call, each with
//                  its own answer (gateway/bridge_batcher.h). "250 ...
//                  queued as <id>" is written only after the node answered,
//                  and the node answers only once the message is durable.
//
// SECURITY
//   The client is an untrusted stranger: there is no AUTH (an MX takes no
//   passwords; 503 5.5.1), and nothing it says can make the gateway act for
//   anyone. Recipients must be at this domain (550 5.7.1: no open relay) and
//   existing users (the node says; 550 5.1.1). A sender at any pullmail
//   domain, this one included, is refused at MAIL (550 5.7.1) and again by
//   the node's signing rule, so SMTP can never carry mail in a pullmail
//   user's name; a sender at a legacy or unknown domain is unauthenticated,
//   as SMTP mail is, and the notification says so (origin bridged). Lines
//   are read with limits (12288 for commands, in which core/smtp applies
//   RFC 5321's 512; max_line_bytes in DATA), an over-long line is answered
//   and dropped, a message is capped at max_message_bytes (552 5.3.4). DATA
//   ends only at CRLF "." CRLF: a line ended by a bare LF makes the message
//   554 5.6.0 and a "." so ended is not the end, so no second message can be
//   smuggled past this reader (CVE-2023-51766 and kin). Twenty protocol
//   errors close the connection. The gateway calls Bridge with a short-lived
//   token for the principal "gateway:bridge", minted per call with the
//   domain's token key (gateway/main.cc says what holding that key means);
//   the token is never logged. Bytes pipelined before STARTTLS are discarded
//   by Conn and the session forgets its EHLO state after the handshake.
//   Node error messages reach the client sanitized to one printable line.
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/smtp/smtp_session.h"
#include "core/util/logging.h"
#include "core/util/strings.h"
#include "gateway/sessions.h"
#include "gateway/smtp_connection.h"
#include "rpc/grpc_status.h"

namespace pullmail::gateway {
namespace {

// A Bridge stores up to 64 MiB durably before it answers; a check is quick.
constexpr absl::Duration kBridgeTimeout = absl::Minutes(5);
constexpr absl::Duration kCheckTimeout = absl::Seconds(30);

class SmtpInBackend : public SmtpBackend {
 public:
  SmtpInBackend(const Conn& conn, const SessionEnv& env) : conn_(conn), env_(env) {}

  SmtpStep CheckRecipient(SmtpSession& session) override {
    return session.OnRecipientResult(Check(session, session.pending_recipient()));
  }

  SmtpStep Submit(SmtpSession& session) override { return Bridge(session); }

  SmtpStep Authenticate(SmtpSession&) override {
    // Never asked in kRelayIn (no AUTH is offered or accepted).
    return SmtpStep{"503 5.5.1 Error: authentication not enabled\r\n", SmtpAction::kNone};
  }

 private:
  // "[192.0.2.1]:25 mx.example": who delivered, for the node's log.
  std::string Client(const SmtpSession& session) const {
    return absl::StrCat(conn_.peer(), " ", session.helo_name());
  }

  absl::Status Check(const SmtpSession& session, const std::string& address) {
    KnownRecipients* known = env_.known_recipients;
    if (known != nullptr && known->Known(address, env_.clock->Now())) return absl::OkStatus();
    v1::BridgeRequest req;
    req.add_to(address);
    req.set_check_only(true);
    req.set_client(Client(session));
    v1::SubmitResponse resp;
    std::unique_ptr<grpc::ClientContext> ctx = env_.nodes->BridgeContext(kCheckTimeout);
    absl::Status status = FromGrpc(env_.nodes->submit().Bridge(ctx.get(), req, &resp));
    if (!status.ok()) {
      PM_LOG(INFO) << "smtp " << conn_.peer() << ": RCPT " << address << ": " << status;
    } else if (known != nullptr) {
      known->Confirmed(address, env_.clock->Now());
    }
    return status;
  }

  SmtpStep Bridge(SmtpSession& session) {
    const SmtpEnvelope& e = session.envelope();
    v1::BridgeRequest req;
    req.set_envelope_from(e.from);
    for (const std::string& to : e.to) req.add_to(to);
    req.set_message(e.message);
    req.set_client(Client(session));
    absl::StatusOr<v1::SubmitResponse> resp = Send(std::move(req));
    if (!resp.ok()) {
      PM_LOG(INFO) << "smtp " << conn_.peer() << ": <" << e.from << "> to " << e.to.size()
                   << " recipient(s): " << resp.status();
      return session.OnSubmitResult(resp.status());
    }
    PM_LOG(INFO) << "smtp " << conn_.peer() << ": <" << e.from << "> queued "
                 << resp->message_id() << " (" << e.message.size() << " bytes) for "
                 << e.to.size() << " recipient(s)";
    return session.OnSubmitResult(resp->message_id());
  }

  // Through the gateway's batcher (several sessions' messages per call),
  // or one Bridge call of this session's own when there is none.
  absl::StatusOr<v1::SubmitResponse> Send(v1::BridgeRequest req) {
    if (env_.bridge_batcher != nullptr) return env_.bridge_batcher->Bridge(std::move(req));
    v1::SubmitResponse resp;
    std::unique_ptr<grpc::ClientContext> ctx = env_.nodes->BridgeContext(kBridgeTimeout);
    absl::Status status = FromGrpc(env_.nodes->submit().Bridge(ctx.get(), req, &resp));
    if (!status.ok()) return status;
    return resp;
  }

  const Conn& conn_;
  const SessionEnv& env_;
};

}  // namespace

void ServeSmtpIn(Conn& conn, const SessionEnv& env) {
  if (env.directory == nullptr || !env.nodes->bridge_enabled()) {
    // main.cc sets both up whenever smtp_listen is configured.
    PM_LOG(ERROR) << "smtp: no directory or token key; refusing " << conn.peer();
    (void)conn.Write("421 4.3.0 Service not available\r\n");
    return;
  }
  SmtpSessionOptions o = SmtpOptionsFor(conn, env);
  o.mode = SmtpMode::kRelayIn;
  o.directory = env.directory;
  SmtpInBackend backend(conn, env);
  RunSmtpConnection(conn, env, std::move(o), /*auth_possible=*/false, backend);
}

}  // namespace pullmail::gateway
