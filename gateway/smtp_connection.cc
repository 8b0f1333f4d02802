// The shared SMTP connection loop (see smtp_connection.h).
#include "gateway/smtp_connection.h"

#include <string>
#include <utility>

#include "core/util/clock.h"
#include "core/util/random.h"

namespace pullmail::gateway {
namespace {

class SmtpConnection {
 public:
  SmtpConnection(Conn& conn, const SessionEnv& env, SmtpSessionOptions options,
                 bool auth_possible, SmtpBackend& backend)
      : conn_(conn),
        env_(env),
        auth_possible_(auth_possible),
        backend_(backend),
        session_(std::move(options)) {}

  void Run() {
    session_.SetTransport(conn_.tls_available(), conn_.tls_active(), AuthNow());
    if (!conn_.Write(session_.Greeting()).ok()) return;
    while (true) {
      // RFC 2920 4: replies to a pipelined group may go out together; they
      // are flushed before the session would wait for the client.
      if (!out_.empty() && !conn_.WaitReadable(absl::ZeroDuration()) && !Flush()) return;
      absl::StatusOr<std::string> line = conn_.ReadLine(session_.line_limit());
      SmtpStep step;
      if (line.ok()) {
        // The flag matters only where DATA must end at CRLF.CRLF (SMTP in).
        step = session_.OnLine(*line, conn_.last_line_bare_lf());
      } else if (line.status().code() == absl::StatusCode::kResourceExhausted) {
        step = session_.OnLineTooLong();
      } else {
        // A closed or broken connection is kUnavailable: nobody to answer.
        // The idle timeout (kDeadlineExceeded) deserves a 421 4.4.2.
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
  bool AuthNow() const { return auth_possible_ && AuthAllowed(conn_, env_); }

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
          step = session_.OnTlsStarted(AuthNow());
          continue;
        case SmtpAction::kAuthenticate:
          if (!Flush()) return false;
          step = backend_.Authenticate(session_);
          continue;
        case SmtpAction::kCheckRecipient:
          // The reply joins the pipelined group; no flush needed.
          step = backend_.CheckRecipient(session_);
          continue;
        case SmtpAction::kSubmit:
          if (!Flush()) return false;
          step = backend_.Submit(session_);
          continue;
      }
      return false;
    }
  }

  Conn& conn_;
  const SessionEnv& env_;
  const bool auth_possible_;
  SmtpBackend& backend_;
  SmtpSession session_;
  std::string out_;  // replies not written yet (a pipelined group)
};

}  // namespace

SmtpSessionOptions SmtpOptionsFor(const Conn& conn, const SessionEnv& env) {
  SmtpSessionOptions o;
  o.hostname = env.hostname;
  o.domain = env.nodes->domain();
  o.client = conn.peer();
  o.max_message_bytes = env.config->max_message_bytes;
  o.max_data_line_bytes = env.config->max_line_bytes;
  o.clock = env.clock;
  o.random = &SecureRandom();
  return o;
}

void RunSmtpConnection(Conn& conn, const SessionEnv& env, SmtpSessionOptions options,
                       bool auth_possible, SmtpBackend& backend) {
  SmtpConnection c(conn, env, std::move(options), auth_possible, backend);
  c.Run();
}

}  // namespace pullmail::gateway
