// The SMTP *client* dialogue of SMTP out (the gateway relaying a pullmail
// message to a classic server), as pure logic: a machine fed the server's
// reply lines that says what to do next (send a command, start TLS, send the
// message, close) and ends with one verdict: delivered, temporary failure or
// permanent failure, with the server's reply text. No sockets, no clock: the
// gateway (gateway/relay_service.cc) does the I/O.
//
// Dialogue (RFC 5321 3.3, 4.1; RFC 3207 for STARTTLS; RFC 1870 for SIZE):
//   <- 220 greeting
//   -> EHLO <helo_domain>        (502/500/504 to EHLO: HELO instead, 3.2)
//   -> STARTTLS                  when offered and the driver can do TLS; 220 ->
//                                handshake, then EHLO again (RFC 3207 4.2);
//                                any other reply: go on in plaintext
//                                (opportunistic TLS, no certificate check)
//   -> MAIL FROM:<sender> [SIZE=n]   (empty sender: <>, RFC 5321 4.5.5)
//   -> RCPT TO:<r>               for each recipient, one at a time
//   -> DATA, then the message    (DotStuff) once at least one RCPT got 2xx
//   -> QUIT
// Verdict rules:
//   - a 4xx reply anywhere before the DATA's final reply, or a transport
//     failure before it, is kTemporary; a 4xx to a RCPT stops the
//     transaction before DATA (so that a retry never duplicates the copies
//     already accepted);
//   - a 5xx to the greeting, EHLO+HELO, MAIL or DATA, or to every RCPT, is
//     kPermanent;
//   - 2xx to the DATA's final reply is kDelivered, with the recipients refused
//     by 5xx listed in `refused`;
//   - a malformed reply (RFC 5321 4.2: "ddd", "ddd text" or "ddd-text"; the
//     same code on every line) or more than kMaxReplyLines lines is
//     kTemporary: the peer is broken, not the message.
// The QUIT's answer never changes a verdict reached before it.
#ifndef PULLMAIL_CORE_SMTP_SMTP_CLIENT_H_
#define PULLMAIL_CORE_SMTP_SMTP_CLIENT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pullmail {

struct SmtpClientParams {
  std::string helo_domain;              // our name in EHLO/HELO
  std::string mail_from;                // envelope sender; empty = null reverse path
  std::vector<std::string> recipients;  // at least one
  uint64_t message_size = 0;            // for SIZE= when the server offers SIZE
  bool tls_possible = false;            // the driver can start client TLS
};

struct SmtpClientAction {
  enum Kind {
    kReadReply,    // read one more reply line and pass it to OnReplyLine
    kSend,         // write `data` (a command with its CRLF), then read the reply
    kStartTls,     // do the client TLS handshake, then call OnTlsStarted
    kSendMessage,  // write DotStuff(message), then read the reply
    kClose,        // close the connection; result() is final
  };
  Kind kind = kReadReply;
  std::string data;  // kSend only
};

struct SmtpClientResult {
  enum Kind { kPending, kDelivered, kTemporary, kPermanent };
  Kind kind = kPending;
  // The deciding reply as one line, e.g. "550 5.1.1 <carol@x>: no such user"
  // (continuation lines joined by a space), or the transport error.
  std::string reply;
  // kDelivered: the recipients a 5xx RCPT reply refused, with that reply.
  std::vector<std::pair<std::string, std::string>> refused;
  bool tls = false;  // the message went over TLS
};

class SmtpClient {
 public:
  static constexpr size_t kMaxReplyLines = 100;
  static constexpr size_t kMaxReplyLineBytes = 2048;  // RFC 5321 4.5.3.1.5: 512

  explicit SmtpClient(SmtpClientParams params);

  // The first action: read the greeting. kClose with a kPermanent verdict
  // instead, before any byte is sent, when the envelope cannot be sent as
  // given: no recipients, or an address (sender or recipient) with a space,
  // control byte, non-ASCII byte, '<' or '>' (no command injection through
  // an address, whatever the caller checked).
  SmtpClientAction Start();
  // One reply line without its CRLF. Returns kReadReply while the reply
  // continues ("ddd-"), else the next action.
  SmtpClientAction OnReplyLine(std::string_view line);
  // The TLS handshake after a 220 to STARTTLS succeeded: returns the new EHLO.
  SmtpClientAction OnTlsStarted();
  // The connection failed (connect, read, write, timeout, TLS handshake).
  // Sets a kTemporary verdict unless one was already reached; returns kClose.
  SmtpClientAction OnTransportError(std::string_view what);

  const SmtpClientResult& result() const { return result_; }
  bool done() const { return result_.kind != SmtpClientResult::kPending; }

 private:
  enum class State {
    kGreeting, kEhlo, kHelo, kStartTls, kMail, kRcpt, kData, kDataEnd, kQuit, kClosed
  };
  SmtpClientAction OnReply(int code, const std::vector<std::string>& lines);
  SmtpClientAction Finish(SmtpClientResult::Kind kind, std::string reply);
  SmtpClientAction Send(State next, std::string command);
  SmtpClientAction SendMail();
  SmtpClientAction AfterRcpts();

  SmtpClientParams params_;
  State state_ = State::kGreeting;
  std::vector<std::string> lines_;  // the reply being read
  int code_ = 0;
  bool offers_starttls_ = false;
  bool offers_size_ = false;
  bool tls_ = false;
  size_t next_rcpt_ = 0;
  size_t accepted_ = 0;
  std::string temporary_rcpt_;  // the first 4xx RCPT reply
  SmtpClientResult result_;
};

// The message as DATA sends it (RFC 5321 4.5.2, 2.3.8): every line ended by
// CRLF (a bare LF or bare CR becomes CRLF), a line starting with "." gets one
// more ".", a missing final line end is added, then ".\r\n".
std::string DotStuff(std::string_view message);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_SMTP_SMTP_CLIENT_H_
