// A TCP listener for one classic protocol: accepts connections, serves each
// on a thread of its own with a Conn, caps how many run at once, and stops
// cleanly. The threads are kept and reused: a thread whose connection ended
// waits for the next one (up to ListenerSpec::thread_linger) instead of
// exiting, because a mail server's clients (smtp-source, Postfix's smtp(8)
// without connection caching) open a connection per message, and a thread
// started per connection cost the gateway a clone, a stack and OpenSSL's
// per-thread random generator each time (about a fifth of its CPU per SMTP
// message). There are never more threads than max_connections.
#ifndef PULLMAIL_GATEWAY_LISTENER_H_
#define PULLMAIL_GATEWAY_LISTENER_H_

#include <openssl/ssl.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/conn.h"

namespace pullmail::gateway {

struct ListenerSpec {
  std::string name;            // "imap", "pop3", "submission": for logs
  std::string listen;          // host:port; port 0 picks a free one
  bool implicit_tls = false;   // handshake before the greeting (IMAPS, POP3S)
  int max_connections = 200;
  absl::Duration idle_timeout = absl::Minutes(30);
  // Written to a connection beyond max_connections, which is then closed
  // (e.g. "* BYE [UNAVAILABLE] too many connections\r\n").
  std::string busy_reply;
  // How long a thread with no connection waits for the next before it exits.
  absl::Duration thread_linger = absl::Seconds(30);
  // Serves one connection; returns when the session is over. Runs on a
  // listener thread that serves nothing else meanwhile (one connection at a
  // time, possibly others before and after); the Conn is closed after it
  // returns.
  std::function<void(Conn&)> serve;
};

class Listener {
 public:
  // Binds and starts accepting. `tls` (not owned, may be null) must outlive
  // the listener. Errors: bad address, address in use, implicit_tls without
  // a TLS context.
  static absl::StatusOr<std::unique_ptr<Listener>> Start(ListenerSpec spec, SSL_CTX* tls);
  ~Listener();  // Stop()

  // The bound address ("127.0.0.1:7143"), with the real port when 0 was asked.
  const std::string& address() const;

  // Stops accepting, shuts down the reading side of every live connection
  // (their sessions see kUnavailable and return), waits for them, and ends
  // every listener thread.
  void Stop();

 private:
  struct State;
  explicit Listener(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;  // shared with the threads it runs
};

}  // namespace pullmail::gateway

#endif  // PULLMAIL_GATEWAY_LISTENER_H_
