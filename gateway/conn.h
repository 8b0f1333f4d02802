// One client connection of a line-based mail protocol (SMTP, IMAP, POP3):
// buffered reads with limits, writes, STARTTLS, and an idle timeout. A Conn
// is blocking and used by one thread (the listener gives each connection its
// own thread, gateway/listener.h).
#ifndef PULLMAIL_GATEWAY_CONN_H_
#define PULLMAIL_GATEWAY_CONN_H_

#include <openssl/ssl.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pullmail::gateway {

class Conn {
 public:
  // Takes ownership of the connected socket `fd`. `tls` (may be null: no
  // STARTTLS offered) is the server context for StartTls().
  Conn(int fd, SSL_CTX* tls, absl::Duration idle_timeout);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // One line without its line end (CRLF, or a bare LF, which is accepted).
  // kResourceExhausted: the line is longer than max_bytes; the rest of it is
  //   read and dropped, so the session can answer and go on.
  // kDeadlineExceeded: the idle timeout passed (the session may say goodbye
  //   in its protocol's words, e.g. "* BYE autologout", then must return).
  // kUnavailable: the peer closed, or a socket or TLS error (the connection
  //   is dead: answer nothing, return).
  absl::StatusOr<std::string> ReadLine(size_t max_bytes);

  // Whether the line ReadLine last returned ended in a bare LF rather than
  // CRLF (SMTP DATA must not take "<LF>.<LF>" as its end: SMTP smuggling).
  bool last_line_bare_lf() const { return last_bare_lf_; }

  // Whatever is buffered, or else what one read from the socket brings (at
  // most max_bytes; at least one byte), for a session that frames its own
  // input (IMAP). Errors as for ReadLine.
  absl::StatusOr<std::string> ReadSome(size_t max_bytes);

  // Exactly n bytes (an IMAP literal). Errors as for ReadLine.
  absl::StatusOr<std::string> ReadExact(size_t n);

  // Writes all of `bytes` (blocking). kUnavailable when the peer is gone.
  absl::Status Write(std::string_view bytes);

  // Server side of a TLS handshake on this connection (STARTTLS / STLS, or at
  // once for implicit-TLS ports). Bytes the client sent after the command and
  // before the handshake are discarded (RFC 3207 4.2, RFC 2595 3.1).
  // kFailedPrecondition: no TLS context, or TLS already active.
  // kUnavailable: the handshake failed (the connection is dead).
  absl::Status StartTls();

  bool tls_available() const { return tls_ctx_ != nullptr; }
  bool tls_active() const { return ssl_ != nullptr; }

  // True when input is buffered or arrives within `timeout` (IMAP IDLE waits
  // on the client and on the node's watch stream in turns).
  bool WaitReadable(absl::Duration timeout);

  // "127.0.0.1:54321"; and whether the peer is a loopback address.
  const std::string& peer() const { return peer_; }
  bool peer_is_loopback() const { return peer_loopback_; }

 private:
  // Reads more bytes into buf_, waiting up to idle_timeout_.
  absl::Status Fill();

  int fd_;
  SSL_CTX* tls_ctx_;
  SSL* ssl_ = nullptr;
  absl::Duration idle_timeout_;
  std::string buf_;
  size_t pos_ = 0;  // next unread byte of buf_
  bool last_bare_lf_ = false;
  std::string peer_;
  bool peer_loopback_ = false;
};

}  // namespace pullmail::gateway

#endif  // PULLMAIL_GATEWAY_CONN_H_
