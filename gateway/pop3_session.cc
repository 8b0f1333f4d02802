// The gateway's POP3 session (RFC 1939, with RFC 2449 CAPA and response
// codes, RFC 2595 STLS, RFC 5034 AUTH PLAIN): one client connection, its
// user's INBOX at the recipient node as the maildrop. The protocol decisions
// are core/pop3's SessionMachine; this file does the I/O it asks for:
//   login      -> NodeClient::LoginMailbox, then MailboxService.ListMessages
//                 (the snapshot: numbers, sizes, UIDLs; no body moves);
//   RETR / TOP -> MailboxService.Read (RETR marks \Seen; TOP peeks). The
//                 first read of a message is what makes the recipient node
//                 pull its body from the sender's node;
//   QUIT       -> SetFlags(+\Deleted) and Expunge of exactly the UIDs the
//                 client deleted in this session (RFC 1939 6, UPDATE).
//
// SECURITY
//   The client is untrusted. Every line is read with a length limit (the
//   connection drops the rest of an over-long line; the machine answers
//   -ERR and the session goes on), commands are parsed by core/pop3 with
//   RFC 2449's limits, and a password is taken only when AuthAllowed() says
//   so: over TLS, or on loopback when the operator allowed plaintext. Three
//   failed logins close the connection. The gateway holds no passwords of
//   its own: the recipient node checks them and returns a bearer token,
//   which lives in this session's memory only and is never logged. A
//   session can touch only its own user's INBOX (the token says whose), and
//   QUIT removes only UIDs from its own snapshot, never mail that arrived
//   after login; a connection that drops or times out removes nothing.
//   Message bytes are passed through the multi-line encoder, so a body can
//   never end the response early (a line "." is sent as "..").
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/pop3/pop3_machine.h"
#include "core/pop3/pop3_maildrop.h"
#include "core/pop3/pop3_reply.h"
#include "core/util/logging.h"
#include "core/util/strings.h"
#include "gateway/sessions.h"
#include "rpc/grpc_status.h"

namespace pullmail::gateway {
namespace {

using pop3::Step;
using Action = pop3::Step::Action;

// Listing and flag changes are quick; a read may first pull a body of up to
// 64 MiB from the sender's node.
constexpr absl::Duration kCallTimeout = absl::Seconds(60);
constexpr absl::Duration kReadTimeout = absl::Minutes(10);

// ListMessages returns at most this many per call (the node's cap).
constexpr uint32_t kListPage = 10000;

class Pop3Session {
 public:
  Pop3Session(Conn& conn, const SessionEnv& env)
      : conn_(conn), env_(env), machine_(Options(env)) {}

  void Run() {
    if (!conn_.Write(machine_.Greeting()).ok()) return;
    while (true) {
      absl::StatusOr<std::string> line = conn_.ReadLine(machine_.max_line());
      Step step;
      if (line.ok()) {
        step = machine_.OnLine(*line, Transport());
      } else if (line.status().code() == absl::StatusCode::kResourceExhausted) {
        step = machine_.OnLineTooLong();
      } else {
        // Closed, timed out or broken: no UPDATE (RFC 1939 6), nothing to say.
        return;
      }
      if (!Perform(step)) return;
    }
  }

 private:
  static pop3::MachineOptions Options(const SessionEnv& env) {
    pop3::MachineOptions o;
    o.limits.max_auth_line = std::max(env.config->max_line_bytes, pop3::kMaxCommandLine);
    return o;
  }

  pop3::Transport Transport() const {
    return {conn_.tls_available(), conn_.tls_active(), AuthAllowed(conn_, env_)};
  }

  // Writes the step's reply and does its action, feeding results back into
  // the machine until there is nothing left to do. False: close the
  // connection.
  bool Perform(Step step) {
    while (true) {
      if (!step.reply.empty() && !conn_.Write(step.reply).ok()) return false;
      switch (step.action) {
        case Action::kNone:
          return true;
        case Action::kClose:
          return false;
        case Action::kStartTls:
          // RFC 2595 4: the handshake follows "+OK" at once; if it fails the
          // connection is dead.
          return conn_.StartTls().ok();
        case Action::kLogin:
          step = Login(step);
          break;
        case Action::kRetrieve:
          return Retrieve(step);
        case Action::kUpdate:
          step = Update(step);
          break;
      }
    }
  }

  Step Login(const Step& step) {
    absl::StatusOr<std::string> token =
        env_.nodes->LoginMailbox(step.user, step.password, conn_.peer());
    if (!token.ok()) {
      PM_LOG(INFO) << "pop3 " << conn_.peer() << ": login of " << step.user
                   << " failed: " << token.status().code();
      return machine_.OnLoginResult(token.status(), {});
    }
    token_ = *std::move(token);
    absl::StatusOr<pop3::Maildrop> drop = Snapshot();
    if (!drop.ok()) {
      token_.clear();
      PM_LOG(WARNING) << "pop3 " << conn_.peer() << ": listing the INBOX of " << step.user
                      << " failed: " << drop.status();
      // A listing failure is the system's, not the password's.
      absl::Status s = drop.status().code() == absl::StatusCode::kUnauthenticated
                           ? absl::UnavailableError(drop.status().message())
                           : drop.status();
      return machine_.OnLoginResult(s, {});
    }
    PM_LOG(INFO) << "pop3 " << conn_.peer() << ": " << step.user << " logged in, "
                 << drop->size() << " messages";
    return machine_.OnLoginResult(absl::OkStatus(), *std::move(drop));
  }

  // The INBOX as it is now, in UID order; no body is fetched.
  absl::StatusOr<pop3::Maildrop> Snapshot() {
    std::vector<pop3::MaildropMessage> messages;
    uint32_t since = 0;
    while (true) {
      auto ctx = NodeClient::Context(token_, kCallTimeout);
      v1::ListMessagesRequest req;
      req.set_since_uid(since);
      req.set_limit(kListPage);
      v1::ListMessagesResponse resp;
      grpc::Status s = env_.nodes->mailbox().ListMessages(ctx.get(), req, &resp);
      if (!s.ok()) return FromGrpc(s);
      for (const v1::MessageInfo& m : resp.messages()) {
        if (m.uid() <= since) continue;  // defensive: the order is the node's promise
        messages.push_back({m.uid(), m.body_size(),
                            pop3::UniqueId(resp.folder().uid_validity(), m.uid())});
        since = m.uid();
      }
      if (static_cast<uint32_t>(resp.messages_size()) < kListPage) break;
    }
    return pop3::Maildrop(std::move(messages));
  }

  // RETR and TOP: streams the message through the multi-line encoder. The
  // "+OK" goes out only once the node has the body (its first chunk), so a
  // sender's node that is down gives "-ERR [SYS/TEMP]" and the session goes
  // on. False: the connection is unusable.
  bool Retrieve(const Step& step) {
    auto ctx = NodeClient::Context(token_, kReadTimeout);
    v1::ReadRequest req;
    req.set_uid(step.uid);
    req.set_peek(step.top_lines.has_value());
    std::unique_ptr<grpc::ClientReader<v1::ReadChunk>> reader =
        env_.nodes->mailbox().Read(ctx.get(), req);
    pop3::MultilineEncoder encoder(step.top_lines);
    v1::ReadChunk chunk;
    bool started = false;
    bool client_gone = false;
    while (reader->Read(&chunk)) {
      if (!started) {
        started = true;
        if (!conn_.Write(machine_.RetrieveOkLine(step)).ok()) {
          client_gone = true;
          break;
        }
      }
      std::string out = encoder.Feed(chunk.data());
      if (!out.empty() && !conn_.Write(out).ok()) {
        client_gone = true;
        break;
      }
      if (encoder.done()) break;  // TOP has its lines: stop the stream
    }
    bool cut_short = client_gone || encoder.done();
    if (cut_short) ctx->TryCancel();
    grpc::Status s = reader->Finish();
    if (client_gone) return false;
    if (!started) {
      if (s.ok()) {
        // No chunk at all (the node always sends one); an empty message.
        return conn_.Write(machine_.RetrieveOkLine(step) + encoder.Finish()).ok();
      }
      absl::Status st = FromGrpc(s);
      PM_LOG(INFO) << "pop3 " << conn_.peer() << ": read of UID " << step.uid
                   << " failed: " << st;
      return conn_.Write(machine_.RetrieveErrLine(step, st)).ok();
    }
    if (!s.ok() && !cut_short) {
      // The stream broke after "+OK" and part of the message: POP3 has no
      // way to say so, and a "." now would hand the client a truncated
      // message as if whole. Closing without the terminator is the honest
      // answer (the client sees an incomplete response; nothing is deleted).
      PM_LOG(WARNING) << "pop3 " << conn_.peer() << ": read of UID " << step.uid
                      << " broke mid-stream: " << FromGrpc(s) << "; closing";
      return false;
    }
    return conn_.Write(encoder.Finish()).ok();
  }

  // RFC 1939 6: \Deleted on exactly the marked UIDs, then a UID EXPUNGE of
  // exactly those (a message another client flagged is left alone).
  Step Update(const Step& step) {
    if (step.uids.empty()) return machine_.OnUpdateResult(absl::OkStatus(), 0);
    {
      auto ctx = NodeClient::Context(token_, kCallTimeout);
      v1::SetFlagsRequest req;
      for (uint32_t uid : step.uids) req.add_uids(uid);
      req.set_op(v1::FLAG_OP_ADD);
      req.add_flags("\\Deleted");
      v1::SetFlagsResponse resp;
      grpc::Status s = env_.nodes->mailbox().SetFlags(ctx.get(), req, &resp);
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
        // All of them are gone already (another session removed them).
        return machine_.OnUpdateResult(absl::OkStatus(), 0);
      }
      if (!s.ok()) {
        PM_LOG(WARNING) << "pop3 " << conn_.peer() << ": UPDATE flags failed: " << FromGrpc(s);
        return machine_.OnUpdateResult(FromGrpc(s), 0);
      }
    }
    auto ctx = NodeClient::Context(token_, kCallTimeout);
    v1::ExpungeRequest req;
    for (uint32_t uid : step.uids) req.add_uids(uid);
    v1::ExpungeResponse resp;
    grpc::Status s = env_.nodes->mailbox().Expunge(ctx.get(), req, &resp);
    if (!s.ok()) {
      PM_LOG(WARNING) << "pop3 " << conn_.peer() << ": UPDATE expunge failed: " << FromGrpc(s);
      // Best effort: do not leave \Deleted behind for the next IMAP EXPUNGE
      // to act on; the client was told nothing was removed.
      auto undo = NodeClient::Context(token_, kCallTimeout);
      v1::SetFlagsRequest back;
      for (uint32_t uid : step.uids) back.add_uids(uid);
      back.set_op(v1::FLAG_OP_REMOVE);
      back.add_flags("\\Deleted");
      v1::SetFlagsResponse ignored;
      (void)env_.nodes->mailbox().SetFlags(undo.get(), back, &ignored);
      return machine_.OnUpdateResult(FromGrpc(s), 0);
    }
    PM_LOG(INFO) << "pop3 " << conn_.peer() << ": QUIT removed " << resp.expunged_size()
                 << " of " << step.uids.size() << " deleted messages";
    return machine_.OnUpdateResult(absl::OkStatus(), static_cast<size_t>(resp.expunged_size()));
  }

  Conn& conn_;
  const SessionEnv& env_;
  pop3::SessionMachine machine_;
  std::string token_;  // bearer token after login; never logged
};

}  // namespace

void ServePop3(Conn& conn, const SessionEnv& env) { Pop3Session(conn, env).Run(); }

}  // namespace pullmail::gateway
