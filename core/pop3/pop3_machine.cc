// The POP3 session state machine: RFC 1939 (states, commands, replies),
// RFC 2449 (CAPA, RESP-CODES), RFC 2595 (STLS), RFC 3206 ([AUTH],
// [SYS/TEMP]), RFC 5034 (AUTH PLAIN).
#include "core/pop3/pop3_machine.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/util/strings.h"

namespace pullmail::pop3 {
namespace {

std::string Plural(uint64_t n, std::string_view word) {
  return absl::StrCat(n, " ", AV(word), n == 1 ? "" : "s");
}

std::string DropSummary(const Maildrop& m) {
  return absl::StrCat("maildrop has ", Plural(m.live_count(), "message"), " (", m.live_octets(),
                      " octets)");
}

// A message number argument that names a live message: the message, or the
// "-ERR" text (RFC 1939 5: "no such message", "message N already deleted").
absl::StatusOr<std::pair<uint32_t, const MaildropMessage*>> Lookup(const Maildrop& drop,
                                                                   std::string_view arg) {
  absl::StatusOr<uint32_t> msg = ParseMessageNumber(arg);
  if (!msg.ok()) return msg.status();
  absl::StatusOr<const MaildropMessage*> m = drop.Get(*msg);
  if (!m.ok()) return m.status();
  return std::make_pair(*msg, *m);
}

}  // namespace

SessionMachine::SessionMachine(MachineOptions options) : options_(std::move(options)) {}

std::string SessionMachine::Greeting() const { return OkLine("pullmail POP3 ready"); }

Step SessionMachine::Reply(std::string reply) const {
  Step s;
  s.reply = std::move(reply);
  return s;
}

Step SessionMachine::OnLineTooLong() {
  if (awaiting_sasl_) {
    awaiting_sasl_ = false;
    return Reply(ErrLine(Code::kNone, "AUTH response too long; authentication cancelled"));
  }
  return Reply(ErrLine(Code::kNone, absl::StrCat("line too long (at most ",
                                                 options_.limits.max_command_line + 2,
                                                 " octets with CRLF)")));
}

Step SessionMachine::OnLine(std::string_view line, const Transport& transport) {
  if (state_ == State::kClosed) {
    Step s;
    s.action = Step::Action::kClose;
    return s;
  }
  if (awaiting_sasl_) return SaslResponse(line);
  absl::StatusOr<Command> cmd = ParseCommand(line, options_.limits);
  if (!cmd.ok()) return Reply(ErrLine(Code::kNone, SV(cmd.status().message())));
  // CAPA and QUIT are valid in both states (RFC 2449 5, RFC 1939 4-5).
  if (cmd->verb == Verb::kCapa) return Capa(transport);
  if (state_ == State::kAuthorization) return Authorization(*cmd, transport);
  return Transaction(*cmd);
}

std::string SessionMachine::Mechanisms() const { return "PLAIN"; }

Step SessionMachine::Capa(const Transport& t) const {
  // RFC 2449 5 and 6. USER and SASL are offered only when a password would be
  // accepted now (RFC 2595 6 lets a server hide them before TLS); clients
  // re-ask CAPA after STLS (RFC 2595 4), and then see them.
  std::string out = OkLine("Capability list follows");
  out += "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n";
  if (state_ == State::kAuthorization) {
    if (t.auth_allowed) {
      out += "USER\r\n";
      out += absl::StrCat("SASL ", Mechanisms(), "\r\n");
    }
    if (t.tls_available && !t.tls_active) out += "STLS\r\n";
  }
  out += absl::StrCat("IMPLEMENTATION ", options_.implementation, "\r\n.\r\n");
  return Reply(std::move(out));
}

Step SessionMachine::Authorization(const Command& cmd, const Transport& t) {
  static constexpr std::string_view kNeedTls =
      "a password is accepted only over TLS: issue STLS first";
  switch (cmd.verb) {
    case Verb::kQuit: {
      // RFC 1939 4: QUIT in AUTHORIZATION ends the session; no UPDATE.
      state_ = State::kClosed;
      Step s = Reply(OkLine("pullmail POP3 signing off"));
      s.action = Step::Action::kClose;
      return s;
    }
    case Verb::kNoop:
      // Dovecot and others accept NOOP before login; RFC 1939 lists it for
      // TRANSACTION only, and some clients probe with it. Harmless either way.
      return Reply(OkLine(""));
    case Verb::kStls: {
      // RFC 2595 4: only in AUTHORIZATION, only once.
      if (t.tls_active) return Reply(ErrLine(Code::kNone, "TLS is already active"));
      if (!t.tls_available) return Reply(ErrLine(Code::kNone, "STLS is not available"));
      pending_user_.reset();
      Step s = Reply(OkLine("Begin TLS negotiation"));
      s.action = Step::Action::kStartTls;
      return s;
    }
    case Verb::kUser:
      if (!t.auth_allowed) return Reply(ErrLine(Code::kAuth, kNeedTls));
      pending_user_ = cmd.args[0];
      return Reply(OkLine("send PASS"));
    case Verb::kPass: {
      if (!t.auth_allowed) return Reply(ErrLine(Code::kAuth, kNeedTls));
      if (!pending_user_.has_value()) return Reply(ErrLine(Code::kNone, "send USER first"));
      std::string user = std::move(*pending_user_);
      pending_user_.reset();
      return Login(std::move(user), cmd.args[0]);
    }
    case Verb::kApop:
      return Reply(ErrLine(Code::kNone, "APOP is not supported; use USER/PASS or AUTH PLAIN"));
    case Verb::kAuth: {
      pending_user_.reset();
      if (cmd.args.empty()) {
        // The list of mechanisms (RFC 1734's form, which clients still probe).
        return Reply(absl::StrCat(OkLine("SASL mechanisms follow"), Mechanisms(), "\r\n.\r\n"));
      }
      if (!absl::EqualsIgnoreCase(AV(cmd.args[0]), "PLAIN")) {
        return Reply(ErrLine(Code::kNone, "unsupported SASL mechanism; use PLAIN"));
      }
      if (!t.auth_allowed) return Reply(ErrLine(Code::kAuth, kNeedTls));
      if (cmd.args.size() == 1) {
        // RFC 5034 4: an empty server challenge.
        awaiting_sasl_ = true;
        return Reply("+ \r\n");
      }
      return SaslResponse(cmd.args[1]);
    }
    default:
      return Reply(ErrLine(Code::kNone, absl::StrCat(AV(VerbName(cmd.verb)),
                                                     " is not valid before login")));
  }
}

Step SessionMachine::SaslResponse(std::string_view line) {
  awaiting_sasl_ = false;
  // RFC 5034 4: "*" cancels the exchange.
  if (line == "*") return Reply(ErrLine(Code::kNone, "authentication cancelled"));
  absl::StatusOr<PlainCredentials> c = DecodeAuthPlain(line);
  if (!c.ok()) return Reply(ErrLine(Code::kNone, SV(c.status().message())));
  return Login(std::move(c->user), std::move(c->password));
}

Step SessionMachine::Login(std::string user, std::string password) {
  Step s;
  s.action = Step::Action::kLogin;
  login_user_ = user;
  s.user = std::move(user);
  s.password = std::move(password);
  return s;
}

Step SessionMachine::OnLoginResult(const absl::Status& status, Maildrop maildrop) {
  if (status.ok()) {
    state_ = State::kTransaction;
    maildrop_ = std::move(maildrop);
    return Reply(OkLine(absl::StrCat(AV(login_user_), "'s ", DropSummary(maildrop_))));
  }
  Step s;
  if (status.code() == absl::StatusCode::kUnauthenticated ||
      status.code() == absl::StatusCode::kPermissionDenied) {
    // RFC 3206 5: [AUTH]; one text for wrong user and wrong password.
    s.reply = ErrLine(Code::kAuth, "invalid user name or password");
  } else {
    // RFC 3206 4: the credentials may be right; the system failed.
    s.reply = ErrLine(Code::kSysTemp, "the mailbox service is unavailable; try again later");
  }
  if (status.code() == absl::StatusCode::kUnauthenticated && ++login_failures_ >= options_.max_login_failures) {
    state_ = State::kClosed;
    s.action = Step::Action::kClose;
  }
  return s;
}

Step SessionMachine::Transaction(const Command& cmd) {
  switch (cmd.verb) {
    case Verb::kStat:
      // RFC 1939 5: "+OK nn mm", deleted messages not counted.
      return Reply(OkLine(absl::StrCat(maildrop_.live_count(), " ", maildrop_.live_octets())));
    case Verb::kList: {
      if (!cmd.args.empty()) {
        auto m = Lookup(maildrop_, cmd.args[0]);
        if (!m.ok()) return Reply(ErrLine(Code::kNone, SV(m.status().message())));
        return Reply(OkLine(absl::StrCat(m->first, " ", m->second->size)));
      }
      std::string out = OkLine(absl::StrCat(Plural(maildrop_.live_count(), "message"), " (",
                                            maildrop_.live_octets(), " octets)"));
      for (uint32_t n : maildrop_.LiveNumbers()) {
        absl::StrAppend(&out, n, " ", (*maildrop_.Get(n))->size, "\r\n");
      }
      out += ".\r\n";
      return Reply(std::move(out));
    }
    case Verb::kUidl: {
      if (!cmd.args.empty()) {
        auto m = Lookup(maildrop_, cmd.args[0]);
        if (!m.ok()) return Reply(ErrLine(Code::kNone, SV(m.status().message())));
        return Reply(OkLine(absl::StrCat(m->first, " ", m->second->unique_id)));
      }
      std::string out = OkLine("unique-id listing follows");
      for (uint32_t n : maildrop_.LiveNumbers()) {
        absl::StrAppend(&out, n, " ", (*maildrop_.Get(n))->unique_id, "\r\n");
      }
      out += ".\r\n";
      return Reply(std::move(out));
    }
    case Verb::kRetr:
    case Verb::kTop: {
      auto m = Lookup(maildrop_, cmd.args[0]);
      if (!m.ok()) return Reply(ErrLine(Code::kNone, SV(m.status().message())));
      Step s;
      if (cmd.verb == Verb::kTop) {
        absl::StatusOr<uint32_t> n = ParseLineCount(cmd.args[1]);
        if (!n.ok()) return Reply(ErrLine(Code::kNone, SV(n.status().message())));
        s.top_lines = *n;
      }
      s.action = Step::Action::kRetrieve;
      s.msg = m->first;
      s.uid = m->second->uid;
      s.size = m->second->size;
      return s;
    }
    case Verb::kDele: {
      absl::StatusOr<uint32_t> n = ParseMessageNumber(cmd.args[0]);
      if (!n.ok()) return Reply(ErrLine(Code::kNone, SV(n.status().message())));
      absl::Status st = maildrop_.MarkDeleted(*n);
      if (!st.ok()) return Reply(ErrLine(Code::kNone, SV(st.message())));
      return Reply(OkLine(absl::StrCat("message ", *n, " deleted")));
    }
    case Verb::kNoop:
      return Reply(OkLine(""));
    case Verb::kRset:
      maildrop_.Reset();
      return Reply(OkLine(DropSummary(maildrop_)));
    case Verb::kQuit: {
      // RFC 1939 6: the UPDATE state removes the marked messages, and only
      // those; the connection closes whatever happens.
      Step s;
      s.action = Step::Action::kUpdate;
      s.uids = maildrop_.UidsToExpunge();
      return s;
    }
    default:
      return Reply(ErrLine(Code::kNone, absl::StrCat(AV(VerbName(cmd.verb)),
                                                     " is not valid after login")));
  }
}

Step SessionMachine::OnUpdateResult(const absl::Status& status, size_t removed) {
  state_ = State::kClosed;
  Step s;
  s.action = Step::Action::kClose;
  if (status.ok()) {
    s.reply = removed == 0 ? OkLine("pullmail POP3 signing off")
                           : OkLine(absl::StrCat("pullmail POP3 signing off (",
                                                 Plural(removed, "message"), " deleted)"));
  } else {
    // RFC 1939 6: "-ERR some deleted messages not removed".
    s.reply = ErrLine(Code::kSysTemp, "some deleted messages not removed; try again later");
  }
  return s;
}

std::string SessionMachine::RetrieveOkLine(const Step& step) const {
  if (step.top_lines.has_value()) return OkLine("top of message follows");
  return OkLine(absl::StrCat(step.size, " octets"));
}

std::string SessionMachine::RetrieveErrLine(const Step& step, const absl::Status& status) const {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
      return ErrLine(Code::kSysTemp, "the sender's node cannot be reached; try again later");
    case absl::StatusCode::kNotFound:
      return ErrLine(Code::kNone,
                     absl::StrCat("message ", step.msg, " is no longer in the mailbox"));
    default:
      return ErrLine(Code::kSysTemp,
                     absl::StrCat("message ", step.msg, " cannot be read now; try again later"));
  }
}

}  // namespace pullmail::pop3
