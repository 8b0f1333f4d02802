// The gateway's SMTP-in session (RFC 5321, with RFC 3207 STARTTLS offered
// opportunistically): one connection from another mail server (Postfix,
// Exim, ... or any SMTP client) delivering to this domain's users, mapped
// onto the domain's sender node, which keeps the body as the sender node of
// record and notifies the recipient node (origin ORIGIN_BRIDGED_SMTP,
// docs/PROTOCOL.md 6.1 step 6). The protocol decisions are core/smtp's
// SmtpSession in SmtpMode::kRelayIn; this file does only the I/O it asks for:
//   STARTTLS    -> Conn::StartTls;
//   RCPT TO     -> SubmitService.Bridge(check_only): 550 5.1.1 for an unknown
//                  user now rather than a bounce later;
//   end of DATA -> SubmitService.Bridge(envelope_from, to[], bytes). "250 ...
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
#include "core/util/clock.h"
#include "core/util/logging.h"
#include "core/util/random.h"
#include "core/util/strings.h"
#include "gateway/sessions.h"
#include "rpc/grpc_status.h"

namespace pullmail::gateway {
namespace {

// A Bridge stores up to 64 MiB durably before it answers; a check is quick.
constexpr absl::Duration kBridgeTimeout = absl::Minutes(5);
constexpr absl::Duration kCheckTimeout = absl::Seconds(30);

class SmtpInSession {
 public:
  SmtpInSession(Conn& conn, const SessionEnv& env)
      : conn_(conn), env_(env), session_(Options(conn, env)) {}

  void Run() {
    // No AUTH in this mode whatever AuthAllowed() says.
    session_.SetTransport(conn_.tls_available(), conn_.tls_active(), false);
    if (!conn_.Write(session_.Greeting()).ok()) return;
    while (true) {
      // RFC 2920 4: replies to a pipelined group may go out together; they
      // are flushed before the session would wait for the client.
      if (!out_.empty() && !conn_.WaitReadable(absl::ZeroDuration()) && !Flush()) return;
      absl::StatusOr<std::string> line = conn_.ReadLine(session_.line_limit());
      SmtpStep step;
      if (line.ok()) {
        step = session_.OnLine(*line, conn_.last_line_bare_lf());
      } else if (line.status().code() == absl::StatusCode::kResourceExhausted) {
        step = session_.OnLineTooLong();
      } else {
        // kUnavailable: the peer is gone, nobody to answer. The idle
        // timeout (kDeadlineExceeded) deserves a 421 4.4.2.
        if (absl::IsDeadlineExceeded(line.status())) {
          out_ += session_.OnTimeout().reply;
          Flush();
        }
        return;
      }
      if (!Perform(std::move(step))) return;
    }
  }

 private:
  static SmtpSessionOptions Options(const Conn& conn, const SessionEnv& env) {
    SmtpSessionOptions o;
    o.hostname = env.hostname;
    o.domain = env.nodes->domain();
    o.client = conn.peer();
    o.max_message_bytes = env.config->max_message_bytes;
    o.max_data_line_bytes = env.config->max_line_bytes;
    o.clock = &SystemClock();
    o.random = &SecureRandom();
    o.mode = SmtpMode::kRelayIn;
    o.directory = env.directory;
    return o;
  }

  bool Flush() {
    if (out_.empty()) return true;
    absl::Status s = conn_.Write(out_);
    out_.clear();
    return s.ok();
  }

  // Writes (or queues) the step's reply and does its action; false when the
  // session is over.
  bool Perform(SmtpStep step) {
    while (true) {
      out_ += step.reply;
      switch (step.action) {
        case SmtpAction::kNone:
          return true;
        case SmtpAction::kClose:
          Flush();
          return false;
        case SmtpAction::kStartTls:
          if (!Flush()) return false;
          if (!conn_.StartTls().ok()) return false;  // the connection is dead
          step = session_.OnTlsStarted(false);
          continue;
        case SmtpAction::kCheckRecipient:
          // The reply joins the pipelined group; no flush needed.
          step = session_.OnRecipientResult(CheckRecipient(session_.pending_recipient()));
          continue;
        case SmtpAction::kSubmit:
          if (!Flush()) return false;
          step = Bridge();
          continue;
        case SmtpAction::kAuthenticate:  // never asked in kRelayIn
          return false;
      }
      return false;
    }
  }

  // "[192.0.2.1]:25 mx.example": who delivered, for the node's log.
  std::string Client() const { return absl::StrCat(conn_.peer(), " ", session_.helo_name()); }

  absl::Status CheckRecipient(const std::string& address) {
    v1::BridgeRequest req;
    req.add_to(address);
    req.set_check_only(true);
    req.set_client(Client());
    v1::SubmitResponse resp;
    std::unique_ptr<grpc::ClientContext> ctx = env_.nodes->BridgeContext(kCheckTimeout);
    absl::Status status = FromGrpc(env_.nodes->submit().Bridge(ctx.get(), req, &resp));
    if (!status.ok()) {
      PM_LOG(INFO) << "smtp " << conn_.peer() << ": RCPT " << address << ": " << status;
    }
    return status;
  }

  SmtpStep Bridge() {
    const SmtpEnvelope& e = session_.envelope();
    v1::BridgeRequest req;
    req.set_envelope_from(e.from);
    for (const std::string& to : e.to) req.add_to(to);
    req.set_message(e.message);
    req.set_client(Client());
    v1::SubmitResponse resp;
    std::unique_ptr<grpc::ClientContext> ctx = env_.nodes->BridgeContext(kBridgeTimeout);
    absl::Status status = FromGrpc(env_.nodes->submit().Bridge(ctx.get(), req, &resp));
    if (!status.ok()) {
      PM_LOG(INFO) << "smtp " << conn_.peer() << ": <" << e.from << "> to " << e.to.size()
                   << " recipient(s): " << status;
      return session_.OnSubmitResult(status);
    }
    PM_LOG(INFO) << "smtp " << conn_.peer() << ": <" << e.from << "> queued "
                 << resp.message_id() << " (" << e.message.size() << " bytes) for "
                 << e.to.size() << " recipient(s)";
    return session_.OnSubmitResult(resp.message_id());
  }

  Conn& conn_;
  const SessionEnv& env_;
  SmtpSession session_;
  std::string out_;  // replies not written yet (a pipelined group)
};

}  // namespace

void ServeSmtpIn(Conn& conn, const SessionEnv& env) {
  if (env.directory == nullptr || !env.nodes->bridge_enabled()) {
    // main.cc sets both up whenever smtp_listen is configured.
    PM_LOG(ERROR) << "smtp: no directory or token key; refusing " << conn.peer();
    (void)conn.Write("421 4.3.0 Service not available\r\n");
    return;
  }
  SmtpInSession session(conn, env);
  session.Run();
}

}  // namespace pullmail::gateway
