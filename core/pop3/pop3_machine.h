// The POP3 protocol state machine of one session (RFC 1939 sections 3-7,
// RFC 2449 CAPA and response codes, RFC 2595 STLS, RFC 5034 AUTH PLAIN),
// without I/O. The gateway's session (gateway/pop3_session.cc) feeds it each
// line its connection reads; the machine answers with the reply to write and,
// when the answer needs the outside world, an action: start TLS, log in at
// the recipient node, read a message, or remove the deleted messages (the
// UPDATE state). The gateway performs it and reports back through the
// On*Result calls, which return the reply. Every protocol decision (which
// command is valid in which state, what each answer says, which messages QUIT
// removes) is made here, so it is tested here (pop3_test.cc).
// Not thread-safe; one per connection.
#ifndef PULLMAIL_CORE_POP3_POP3_MACHINE_H_
#define PULLMAIL_CORE_POP3_POP3_MACHINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "core/pop3/pop3_command.h"
#include "core/pop3/pop3_maildrop.h"
#include "core/pop3/pop3_reply.h"

namespace pullmail::pop3 {

enum class State {
  kAuthorization,  // RFC 1939 4: before a successful login
  kTransaction,    // RFC 1939 5: logged in, the maildrop snapshot taken
  kClosed,         // after QUIT (and UPDATE) or a fatal error: write, then close
};

// What the connection is like now; passed with every line because STLS
// changes it during the session.
struct Transport {
  bool tls_available = false;  // a TLS context exists (STLS can be offered)
  bool tls_active = false;
  bool auth_allowed = false;   // gateway::AuthAllowed(): a password may be taken now
};

struct Step {
  enum class Action {
    kNone,       // write `reply`, read the next line
    kStartTls,   // write `reply` ("+OK Begin TLS..."), then the TLS handshake
    kLogin,      // log `user` in with `password`, list the INBOX, OnLoginResult
    kRetrieve,   // read message `uid` (`top_lines` set: TOP, a peek), see below
    kUpdate,     // set \Deleted on `uids` and expunge exactly those, OnUpdateResult
    kClose,      // write `reply`, close the connection
  };
  Action action = Action::kNone;
  std::string reply;  // bytes to write first (may be empty)

  std::string user;      // kLogin
  std::string password;  // kLogin
  uint32_t uid = 0;      // kRetrieve
  uint32_t msg = 0;      // kRetrieve: the message number, for messages
  uint64_t size = 0;     // kRetrieve: the size listed for it
  std::optional<uint32_t> top_lines;  // kRetrieve: TOP's n (body not marked \Seen)
  std::vector<uint32_t> uids;         // kUpdate: ascending, possibly empty
};

// The gateway's configured limits, and what the greeting and CAPA say.
struct MachineOptions {
  Limits limits;
  std::string implementation = "pullmail";  // CAPA IMPLEMENTATION
  int max_login_failures = 3;               // then the connection is closed
};

class SessionMachine {
 public:
  explicit SessionMachine(MachineOptions options = {});

  // RFC 1939 4: the greeting, "+OK pullmail POP3 ready\r\n".
  std::string Greeting() const;

  // One line the client sent, without its CRLF.
  Step OnLine(std::string_view line, const Transport& transport);

  // The connection dropped a line longer than the session asked for
  // (Conn::ReadLine's kResourceExhausted): "-ERR" and go on.
  Step OnLineTooLong();

  // The outcome of kLogin: OK with the INBOX snapshot, or the login's (or the
  // listing's) error: kUnauthenticated -> "-ERR [AUTH]"; anything else ->
  // "-ERR [SYS/TEMP]" (a node down is temporary). After max_login_failures
  // failed logins the step is kClose.
  Step OnLoginResult(const absl::Status& status, Maildrop maildrop);

  // The outcome of kUpdate: how many of the messages were removed, or the
  // error. Always kClose (RFC 1939 6: the session ends either way).
  Step OnUpdateResult(const absl::Status& status, size_t removed);

  // kRetrieve's first line once the node has started to stream the message
  // ("+OK 1234 octets"), and the "-ERR" when Read failed before any byte
  // (kUnavailable: the sender's node is down, "[SYS/TEMP] ... try again
  // later"; kNotFound: the message left the INBOX meanwhile). The session
  // stays in TRANSACTION either way.
  std::string RetrieveOkLine(const Step& step) const;
  std::string RetrieveErrLine(const Step& step, const absl::Status& status) const;

  State state() const { return state_; }
  const Maildrop& maildrop() const { return maildrop_; }

  // The longest line the connection should accept (an AUTH line); shorter
  // commands are checked against the RFC 2449 limit by the parser.
  size_t max_line() const { return options_.limits.max_auth_line; }

 private:
  Step Reply(std::string reply) const;
  Step Authorization(const Command& cmd, const Transport& t);
  Step Transaction(const Command& cmd);
  Step Capa(const Transport& t) const;
  Step SaslResponse(std::string_view line);
  Step Login(std::string user, std::string password);
  std::string Mechanisms() const;

  MachineOptions options_;
  State state_ = State::kAuthorization;
  std::optional<std::string> pending_user_;  // after USER, before PASS
  bool awaiting_sasl_ = false;               // after "AUTH PLAIN" and its "+ "
  std::string login_user_;                   // the user of the login in flight
  int login_failures_ = 0;
  Maildrop maildrop_;
};

}  // namespace pullmail::pop3

#endif  // PULLMAIL_CORE_POP3_POP3_MACHINE_H_
