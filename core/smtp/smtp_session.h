// The SMTP dialogue as pure logic, in two modes:
//   kSubmission: RFC 6409 over RFC 5321, with RFC 3207 STARTTLS, RFC 4954
//     AUTH, RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 2920 PIPELINING, RFC 2034
//     enhanced codes (gateway/submission_session.cc);
//   kRelayIn: the same server as its domain's MX (RFC 5321 alone: SMTP in
//     from other mail servers, gateway/smtp_in_session.cc): no AUTH,
//     opportunistic STARTTLS, any sender (or <>) except one at a pullmail
//     domain, recipients only at the domain and checked with the node, DATA
//     ended only by CRLF.CRLF.
// The session is fed the client's lines and the outcomes of what it asked
// for, and returns the replies to write and the one action the caller must
// perform next. The gateway does only the I/O: reading lines, writing
// replies, the TLS handshake, the Login, Submit and Bridge RPCs.
//
//   submission: greeting -> EHLO -> [STARTTLS -> EHLO] -> AUTH -> (MAIL -> RCPT+ -> DATA)*
//   relay-in:   greeting -> EHLO -> [STARTTLS -> EHLO] -> (MAIL -> RCPT+ -> DATA)*
//
// A session is used by one thread. It holds no secrets longer than needed:
// the credentials of a pending AUTH are dropped by OnAuthResult().
#ifndef PULLMAIL_CORE_SMTP_SMTP_SESSION_H_
#define PULLMAIL_CORE_SMTP_SMTP_SESSION_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/smtp/sasl.h"
#include "core/smtp/smtp_command.h"
#include "core/smtp/smtp_data.h"
#include "core/smtp/smtp_reply.h"
#include "core/directory/directory.h"
#include "core/util/clock.h"
#include "core/util/random.h"

namespace pullmail {

enum class SmtpMode {
  kSubmission,  // a pullmail user's mail program (AUTH required)
  kRelayIn,     // another mail server delivering to this domain's users
};

struct SmtpSessionOptions {
  std::string hostname;                         // in the greeting, EHLO and Received:
  std::string domain;                           // the users' domain (RCPT TO:<Postmaster>)
  std::string client;                           // the peer, "127.0.0.1:54321", for Received:
  size_t max_message_bytes = size_t{64} << 20;  // SIZE; 552 5.3.4 beyond
  size_t max_recipients = 1000;                 // SubmitRequest.to; 452 4.5.3 beyond
  size_t max_data_line_bytes = 8192;            // a DATA line longer than this: 554 5.6.0
  int max_auth_failures = 3;                    // then 421 4.7.0 and close
  int max_errors = 20;                          // protocol errors before 421 4.7.0 and close
  const Clock* clock = nullptr;                 // Date: and Received: (not owned; required)
  Random* random = nullptr;                     // Message-ID: (not owned; required)
  SmtpMode mode = SmtpMode::kSubmission;
  // kRelayIn: which sender domains are pullmail domains (IsPullmailDomain,
  // core/envelope): their mail never arrives over SMTP. Not owned; required
  // in kRelayIn.
  const Directory* directory = nullptr;
};

// What the caller must do after writing SmtpStep::reply.
enum class SmtpAction {
  kNone,          // read the next line
  kStartTls,      // handshake, then OnTlsStarted() (or give up if it fails)
  kAuthenticate,  // check credentials(), then OnAuthResult()
  kSubmit,        // submit envelope(), then OnSubmitResult()
  kCheckRecipient,  // kRelayIn: check pending_recipient() with the node, then
                    // OnRecipientResult() (the reply may be queued: no flush needed)
  kClose,         // close the connection
};

struct SmtpStep {
  std::string reply;  // wire bytes (zero or more CRLF-terminated reply lines)
  SmtpAction action = SmtpAction::kNone;
};

// One message ready for SubmitService.Submit (or, in kRelayIn, Bridge).
struct SmtpEnvelope {
  std::string from;             // the authenticated user's address; kRelayIn: MAIL FROM,
                                // "" for the null reverse path <>
  std::vector<std::string> to;  // 1..max_recipients, no duplicates
  std::string message;          // RFC 5322 bytes, CRLF, with Received: etc. added
};

class SmtpSession {
 public:
  explicit SmtpSession(SmtpSessionOptions options);

  // Transport facts, set before the greeting and after STARTTLS:
  // `auth_allowed` is the gateway's AuthAllowed() rule.
  void SetTransport(bool tls_available, bool tls_active, bool auth_allowed);

  // "220 <hostname> ESMTP pullmail submission" (kRelayIn: "... ESMTP pullmail").
  std::string Greeting() const;

  // The longest line the caller should read next (Conn::ReadLine's limit):
  // the DATA line limit while reading a message, else RFC 4954's 12288 for
  // commands and SASL responses (the parser applies RFC 5321's 512 to the
  // commands that have it).
  size_t line_limit() const;

  // One line from the client, without its line end; `bare_lf`: it ended in
  // a bare LF (Conn::last_line_bare_lf()). In kRelayIn, DATA refuses such
  // lines and ends only at "." + CRLF (see SmtpDataReader's strict mode).
  SmtpStep OnLine(std::string_view line, bool bare_lf = false);
  // The transport dropped a line longer than line_limit(): 500 5.5.2 (or
  // 500 5.5.6 in an AUTH exchange); in DATA the message is refused at its
  // end with 554 5.6.0.
  SmtpStep OnLineTooLong();
  // The idle timeout passed: 421 4.4.2, close.
  SmtpStep OnTimeout();

  // After kStartTls succeeded: RFC 3207 4.2, everything known from before
  // (EHLO, a transaction) is forgotten; the client must EHLO again.
  SmtpStep OnTlsStarted(bool auth_allowed);

  // For kAuthenticate: the decoded credentials to check.
  const SaslCredentials& credentials() const { return credentials_; }
  // The outcome of checking credentials(): OK with the user's canonical
  // address ("alice@a.example"), kUnauthenticated (535 5.7.8), kUnavailable
  // or anything else (454 4.7.0).
  SmtpStep OnAuthResult(const absl::Status& status, std::string_view address);

  // For kSubmit: the message to hand to the node.
  const SmtpEnvelope& envelope() const { return envelope_; }
  // The node's answer: the message id, or an error mapped by
  // SmtpReplyForSubmitError(). The transaction ends either way.
  SmtpStep OnSubmitResult(const absl::StatusOr<std::string>& message_id);

  // For kCheckRecipient: the address to check (local@domain, domain lower).
  const std::string& pending_recipient() const { return pending_rcpt_; }
  // The node's answer for pending_recipient(): OK 250 2.1.5; kNotFound 550
  // 5.1.1 (no such user); kInvalidArgument 550 5.7.1; anything else 451
  // 4.3.0 (the client retries later; includes the gateway's own
  // authentication failing, which is no fault of the client's).
  SmtpStep OnRecipientResult(const absl::Status& status);

  bool authenticated() const { return !user_.empty(); }
  // The client's EHLO/HELO name (sanitized), "" before it.
  const std::string& helo_name() const { return helo_name_; }
  const std::string& user() const { return user_; }

 private:
  enum class State {
    kCommand,
    kSaslPlain,
    kSaslLoginUser,
    kSaslLoginPass,
    kData,
    kAwaitTls,
    kAwaitAuth,
    kAwaitSubmit,
    kAwaitRcptCheck,
    kClosed,
  };

  SmtpStep HandleCommand(const SmtpCommand& cmd);
  SmtpStep Ehlo(const SmtpCommand& cmd);
  SmtpStep Mail(const SmtpCommand& cmd);
  SmtpStep MailRelayIn(const SmtpCommand& cmd);
  SmtpStep Rcpt(const SmtpCommand& cmd);
  SmtpStep Data();
  SmtpStep Auth(const SmtpCommand& cmd);
  SmtpStep SaslResponse(std::string_view line);
  SmtpStep EndOfData();
  SmtpStep AuthFailed(const SmtpReply& reply);
  SmtpStep CountError(SmtpStep step);
  void ResetTransaction();
  bool relay_in() const { return options_.mode == SmtpMode::kRelayIn; }

  SmtpSessionOptions options_;
  bool tls_available_ = false;
  bool tls_active_ = false;
  bool auth_allowed_ = false;

  State state_ = State::kCommand;
  bool greeted_ = false;  // EHLO or HELO seen (since STARTTLS)
  bool esmtp_ = false;    // it was EHLO
  std::string helo_name_;
  std::string user_;  // authenticated address
  int auth_failures_ = 0;
  int errors_ = 0;
  SaslCredentials credentials_;

  bool in_transaction_ = false;
  std::string from_;
  std::vector<std::string> to_;
  std::string pending_rcpt_;
  std::unique_ptr<SmtpDataReader> data_;
  SmtpEnvelope envelope_;
};

// The reply for a failed SubmitService.Submit (the "one table" for SMTP):
// kUnavailable/kDeadlineExceeded/kAborted/kInternal/kUnknown 451 4.3.0,
// kPermissionDenied 553 5.7.1, kInvalidArgument 554 5.6.0,
// kResourceExhausted 552 5.3.4, kUnauthenticated 451 4.7.0 (token expired),
// kFailedPrecondition/kNotFound 554 5.1.2 (e.g. an unknown recipient domain),
// others 554 5.0.0. The node's message is kept, sanitized.
SmtpReply SmtpReplyForSubmitError(const absl::Status& status);

// The same for a failed SubmitService.Bridge at the end of DATA (kRelayIn):
// kUnavailable and the other transient codes, and kUnauthenticated and
// kPermissionDenied (the gateway's own credentials), 451 4.3.0; kNotFound
// 550 5.1.1; kInvalidArgument naming sender_outside_domain or relaying 550
// 5.7.1; other kInvalidArgument 554 5.6.0; kResourceExhausted 552 5.3.4;
// others 554 5.0.0.
SmtpReply SmtpReplyForBridgeError(const absl::Status& status);

// What an RFC 6409 8 submission server adds to a message before it goes on:
// a Received: field on top (RFC 5321 4.4), and Date: (8.3) and Message-ID:
// (8.2) at the end of the header block when the message lacks them.
struct SmtpTraceInfo {
  std::string helo;      // the client's EHLO name
  std::string client;    // "127.0.0.1:54321" or "[::1]:54321"
  std::string hostname;  // this server
  std::string protocol;  // "ESMTPSA" etc. (RFC 3848)
  std::string user;      // the authenticated user, as a comment
  std::string for_rcpt;  // the one recipient, or empty
  absl::Time now;
  std::string message_id_local;  // random left part for a new Message-ID:
  // "pullmail submission" or "pullmail smtp-in" (the Received: comment).
  std::string service = "pullmail submission";
  // RFC 6409 8.2/8.3: a submission server adds a missing Date: and
  // Message-ID:; a relay (RFC 5321) adds only Received:.
  bool add_missing_fields = true;
};
std::string AddSubmissionHeaders(std::string_view message, const SmtpTraceInfo& trace);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_SMTP_SMTP_SESSION_H_
