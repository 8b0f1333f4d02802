// The gateway's IMAP4rev1 session (RFC 3501, with RFC 2177 IDLE, RFC 3691
// UNSELECT, RFC 4315 UIDPLUS, RFC 4959 SASL-IR, RFC 5530 response codes,
// RFC 6851 MOVE, RFC 7888 LITERAL+): one client connection, its user's
// mailboxes at the recipient node. Commands are parsed by core/imap's
// reader; responses are formatted by core/imap. This file maps them onto
// MailboxService:
//   LOGIN / AUTHENTICATE PLAIN -> NodeClient::LoginMailbox (a bearer token)
//   SELECT / EXAMINE, and every  -> ListMessages: the folder's listing,
//   change the node reports         cached here (UID <-> sequence number);
//                                   a Watch stream marks it stale
//   FETCH of FLAGS, UID, sizes,  -> the listing alone: no body moves
//   dates, ENVELOPE, and header
//   fields the summary holds
//   FETCH of BODY[...], RFC822,  -> Read (peek for BODY.PEEK, headers and
//   BODYSTRUCTURE                   structure): the first read of a message
//                                   is what makes the recipient node pull it
//                                   from the sender's node
//   STORE / COPY / MOVE /        -> SetFlags / Copy / Expunge
//   EXPUNGE
//   APPEND                       -> Append: the message is stored at the
//                                   recipient node for this user alone
//                                   (APPENDUID, RFC 4315); no sender node
//   CREATE / DELETE              -> CreateFolder / DeleteFolder
//   IDLE                         -> Watch events, polled in turns with the
//                                   client's socket
//
// SECURITY
//   The client is untrusted. Every line is read with the configured length
//   limit (the connection drops the rest of an over-long line; the session
//   answers BAD and goes on); commands are parsed by core/imap with limits on
//   literal size, command size, argument count and nesting. Before login a
//   literal may be no longer than a line, so an anonymous client cannot make
//   the gateway buffer megabytes; after login an APPEND literal over
//   max_message_bytes is refused before the client sends it (RFC 7889). A
//   password is taken only when AuthAllowed() says so (over TLS, or on
//   loopback when the operator allowed plaintext);
//   otherwise LOGINDISABLED is advertised and LOGIN is refused with
//   [PRIVACYREQUIRED]. Three failed logins close the connection. The gateway
//   keeps no passwords: the recipient node checks them and returns a bearer
//   token that lives in this session's memory only and is never logged. A
//   session reaches only its own user's mailboxes (the token says whose).
//   Message bytes always go out as literals with their exact length, so a
//   body can never be read as protocol. A body the node cannot get (the
//   sender's node is down) is answered NO [UNAVAILABLE], never with a partial
//   or empty body.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/crypto/encoding.h"
#include "core/imap/imap_command.h"
#include "core/imap/imap_format.h"
#include "core/imap/imap_mime.h"
#include "core/util/logging.h"
#include "core/util/strings.h"
#include "gateway/body_prefetch.h"
#include "gateway/sessions.h"
#include "rpc/grpc_status.h"

namespace pullmail::gateway {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(60);
// A read may first pull a body of up to 64 MiB from the sender's node.
constexpr absl::Duration kReadTimeout = absl::Minutes(10);
// Body reads of one FETCH run up to this many at a time, holding at most
// this many bytes of bodies ahead of the one being written (body_prefetch.h).
constexpr size_t kPrefetchWindow = 8;
constexpr uint64_t kPrefetchBytes = uint64_t{32} << 20;
constexpr uint32_t kListPage = 10000;  // the node's cap per ListMessages
constexpr int kMaxFailedLogins = 3;
// IDLE checks the client's socket and the watch stream in turns.
constexpr absl::Duration kIdleTurn = absl::Milliseconds(100);
// Without a working watch stream, IDLE re-lists at most this often.
constexpr absl::Duration kIdlePoll = absl::Seconds(2);

constexpr char kSystemFlags[] = "\\Answered \\Flagged \\Deleted \\Seen \\Draft";
constexpr char kUnavailableText[] =
    "[UNAVAILABLE] the sender's node cannot be reached; try again later";

// RFC 5530 response code and text for a node call that failed.
std::string NoText(const absl::Status& s, std::string_view what) {
  std::string code;
  switch (s.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kUnauthenticated:  // the token expired: a system problem
      code = "UNAVAILABLE";
      break;
    case absl::StatusCode::kNotFound: code = "NONEXISTENT"; break;
    case absl::StatusCode::kAlreadyExists: code = "ALREADYEXISTS"; break;
    case absl::StatusCode::kPermissionDenied: code = "NOPERM"; break;
    case absl::StatusCode::kResourceExhausted: code = "LIMIT"; break;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange: code = "CANNOT"; break;
    default: code = "SERVERBUG"; break;
  }
  // The node's message is for operators; clients see what failed.
  return absl::StrCat("[", code, "] ", AV(what), " failed");
}

// RFC 4315 uid-set: "1:3,7".
std::string UidSet(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  std::string out;
  for (size_t i = 0; i < uids.size();) {
    size_t j = i;
    while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += uids[i] == uids[j] ? absl::StrCat(uids[i]) : absl::StrCat(uids[i], ":", uids[j]);
    i = j + 1;
  }
  return out;
}

// RFC 3501 6.3.8 LIST wildcards: "*" matches anything, "%" anything but the
// hierarchy delimiter "/".
bool ListMatch(std::string_view pattern, std::string_view name) {
  if (pattern.empty()) return name.empty();
  if (pattern[0] == '*' || pattern[0] == '%') {
    for (size_t i = 0; i <= name.size(); ++i) {
      if (ListMatch(pattern.substr(1), name.substr(i))) return true;
      if (i < name.size() && pattern[0] == '%' && name[i] == '/') return false;
    }
    return false;
  }
  if (name.empty()) return false;
  // INBOX is case-insensitive (RFC 3501 5.1); other names are exact.
  if (pattern[0] != name[0]) return false;
  return ListMatch(pattern.substr(1), name.substr(1));
}

bool HasFlag(const v1::MessageInfo& m, std::string_view flag) {
  for (const std::string& f : m.flags()) {
    if (absl::EqualsIgnoreCase(f, AV(flag))) return true;
  }
  return false;
}

bool SummaryEmpty(const v1::HeaderSummary& s) {
  return s.from().empty() && s.date().empty() && s.subject().empty() && s.to_size() == 0 &&
         s.message_id().empty();
}

// A Watch stream on the selected folder, read on its own thread; the session
// thread asks whether anything changed. Stopping cancels the call and joins.
class Watcher {
 public:
  Watcher(NodeClient* nodes, const std::string& token, const std::string& folder) {
    ctx_ = NodeClient::Context(token, absl::Hours(24 * 365));
    thread_ = std::thread([this, nodes, folder] {
      v1::WatchRequest req;
      req.set_folder(folder);
      std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader =
          nodes->mailbox().Watch(ctx_.get(), req);
      v1::WatchEvent ev;
      while (reader->Read(&ev)) {
        std::lock_guard<std::mutex> lock(mu_);
        ++changes_;
      }
      grpc::Status s = reader->Finish();
      if (!s.ok() && s.error_code() != grpc::StatusCode::CANCELLED) {
        PM_LOG(INFO) << "imap: watch of " << folder << " ended: " << FromGrpc(s);
      }
      std::lock_guard<std::mutex> lock(mu_);
      broken_ = true;
    });
  }
  ~Watcher() {
    ctx_->TryCancel();
    thread_.join();
  }
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Changes seen so far (a counter), and whether the stream has ended (then
  // the session must poll).
  uint64_t changes() {
    std::lock_guard<std::mutex> lock(mu_);
    return changes_;
  }
  bool broken() {
    std::lock_guard<std::mutex> lock(mu_);
    return broken_;
  }

 private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::mutex mu_;
  uint64_t changes_ = 0;  // guarded by mu_
  bool broken_ = false;   // guarded by mu_
  std::thread thread_;
};

// The selected mailbox: the listing in UID order (index = sequence number
// - 1), kept consistent with what this client has been told (RFC 3501
// 7.4.1: a message leaves the sequence only with an EXPUNGE response).
struct Selected {
  std::string name;
  bool read_only = false;
  uint32_t uid_validity = 0;
  uint32_t uid_next = 0;
  std::vector<v1::MessageInfo> messages;
  std::set<uint32_t> recent;  // UIDs that arrived while selected
  std::unique_ptr<Watcher> watcher;
  uint64_t seen_changes = 0;  // watcher->changes() at the last listing
  absl::Time last_list = absl::InfinitePast();

  uint32_t max_uid() const { return messages.empty() ? 0 : messages.back().uid(); }
  // Sequence number (1-based) of `uid`, or 0.
  uint32_t SeqOf(uint32_t uid) const {
    auto it = std::lower_bound(messages.begin(), messages.end(), uid,
                               [](const v1::MessageInfo& m, uint32_t u) { return m.uid() < u; });
    if (it == messages.end() || it->uid() != uid) return 0;
    return static_cast<uint32_t>(it - messages.begin()) + 1;
  }
};

class ImapSession {
 public:
  ImapSession(Conn& conn, const SessionEnv& env) : conn_(conn), env_(env), reader_(Limits(env)) {}

  void Run() {
    if (!Write(absl::StrCat("* OK [CAPABILITY ", Capabilities(), "] pullmail IMAP4rev1 ready\r\n"))) {
      return;
    }
    while (!done_) {
      absl::StatusOr<std::string> line = conn_.ReadLine(env_.config->max_line_bytes);
      if (!line.ok()) {
        if (line.status().code() == absl::StatusCode::kResourceExhausted) {
          // The connection dropped the rest of the line; a partly read
          // command is lost with it.
          reader_.Reset();
          if (!Write("* BAD line too long\r\n")) return;
          continue;
        }
        if (absl::IsDeadlineExceeded(line.status())) {
          (void)conn_.Write("* BYE autologout; idle for too long\r\n");  // RFC 3501 5.4
        }
        return;
      }
      if (!OnLine(*line)) return;
    }
  }

 private:
  enum class State { kNotAuthenticated, kAuthenticated, kSelected };

  static ImapLimits Limits(const SessionEnv& env) {
    ImapLimits l;
    l.max_line_bytes = env.config->max_line_bytes;
    l.max_literal_bytes = env.config->max_message_bytes;
    l.max_command_bytes = env.config->max_message_bytes + 65536;
    return l;
  }

  bool Write(std::string_view bytes) { return conn_.Write(bytes).ok(); }

  std::string Capabilities() const {
    std::string caps = "IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS MOVE UNSELECT NAMESPACE CHILDREN";
    // RFC 7889: the largest message APPEND takes.
    absl::StrAppend(&caps, " APPENDLIMIT=", env_.config->max_message_bytes);
    if (state_ == State::kNotAuthenticated) {
      if (conn_.tls_available() && !conn_.tls_active()) caps += " STARTTLS";
      caps += AuthAllowed(conn_, env_) ? " AUTH=PLAIN" : " LOGINDISABLED";
    }
    return caps;
  }

  // Feeds one line to the reader and runs what it completes. Reads literals
  // as the reader asks. False: close the connection.
  bool OnLine(std::string_view line) {
    ImapFeedResult res = reader_.Feed(line);
    while (true) {
      if (auto* need = std::get_if<ImapNeedLiteral>(&res)) {
        // Before login a literal may be no longer than a line (SECURITY).
        size_t cap = state_ == State::kNotAuthenticated ? env_.config->max_line_bytes
                                                        : env_.config->max_message_bytes;
        if (need->size > cap) {
          reader_.Reset();
          if (!need->synchronizing) {
            (void)Write("* BYE literal too large\r\n");
            return false;
          }
          return Write(absl::StrCat(need->tag, " BAD literal too large\r\n"));
        }
        if (need->synchronizing && !Write("+ Ready for literal data\r\n")) return false;
        absl::StatusOr<std::string> bytes = conn_.ReadExact(need->size);
        if (!bytes.ok()) return false;
        res = reader_.FeedLiteral(*bytes);
        continue;
      }
      if (std::holds_alternative<ImapNeedLine>(res)) {
        absl::StatusOr<std::string> next = conn_.ReadLine(env_.config->max_line_bytes);
        if (!next.ok()) {
          if (next.status().code() != absl::StatusCode::kResourceExhausted) return false;
          std::string tag = "*";
          reader_.Reset();
          return Write(absl::StrCat(tag, " BAD line too long\r\n"));
        }
        res = reader_.Feed(*next);
        continue;
      }
      if (auto* err = std::get_if<ImapParseError>(&res)) {
        if (err->fatal) {
          (void)Write(absl::StrCat("* BYE ", err->text, "\r\n"));
          return false;
        }
        if (err->literal_too_large && err->name == "APPEND" && state_ != State::kNotAuthenticated) {
          // RFC 7889 4: over APPENDLIMIT is NO [TOOBIG], answered before the
          // client sends the (synchronizing) literal.
          return Write(absl::StrCat(err->tag, " NO [TOOBIG] message is larger than ",
                                    env_.config->max_message_bytes, " bytes\r\n"));
        }
        return Write(absl::StrCat(err->tag, " BAD ", err->text, "\r\n"));
      }
      return Dispatch(std::get<ImapCommand>(res));
    }
  }

  bool Tagged(const ImapCommand& cmd, std::string_view status, std::string_view text) {
    return Write(absl::StrCat(cmd.tag, " ", AV(status), " ", AV(text), "\r\n"));
  }
  bool Ok(const ImapCommand& cmd, std::string_view text = "") {
    return Tagged(cmd, "OK", text.empty() ? absl::StrCat(cmd.name, " completed") : std::string(text));
  }

  bool Dispatch(const ImapCommand& cmd) {
    const std::string& n = cmd.name;
    // Any state (RFC 3501 6.1).
    if (n == "CAPABILITY") {
      return Write(absl::StrCat("* CAPABILITY ", Capabilities(), "\r\n")) && Ok(cmd);
    }
    if (n == "NOOP" || n == "CHECK") {
      if (n == "CHECK" && state_ != State::kSelected) return Tagged(cmd, "BAD", "no mailbox selected");
      return Refresh(true, false) && Ok(cmd);
    }
    if (n == "LOGOUT") {
      done_ = true;
      (void)Write("* BYE pullmail IMAP4rev1 logging out\r\n");
      (void)Ok(cmd);
      return false;
    }
    if (state_ == State::kNotAuthenticated) {
      if (n == "STARTTLS") return StartTls(cmd);
      if (n == "LOGIN") return Login(cmd, cmd.args[0], cmd.args[1]);
      if (n == "AUTHENTICATE") return Authenticate(cmd);
      return Tagged(cmd, "BAD", absl::StrCat(n, " needs a login first"));
    }
    if (n == "STARTTLS" || n == "LOGIN" || n == "AUTHENTICATE") {
      return Tagged(cmd, "BAD", "already logged in");
    }
    if (n == "APPEND") return Append(cmd);
    if (n == "SELECT" || n == "EXAMINE") return Select(cmd);
    if (n == "CREATE") return Create(cmd);
    if (n == "DELETE") return Delete(cmd);
    if (n == "RENAME") {
      return Tagged(cmd, "NO", absl::StrCat("[CANNOT] ", n, " is not supported by pullmail"));
    }
    if (n == "SUBSCRIBE" || n == "UNSUBSCRIBE") return Ok(cmd);  // every folder is subscribed
    if (n == "LIST" || n == "LSUB") return List(cmd);
    if (n == "NAMESPACE") {
      return Write("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n") && Ok(cmd);
    }
    if (n == "STATUS") return Status(cmd);
    if (n == "IDLE") return Idle(cmd);
    if (state_ != State::kSelected) {
      return Tagged(cmd, "BAD", absl::StrCat(n, " needs a selected mailbox"));
    }
    if (n == "CLOSE" || n == "UNSELECT") return Close(cmd);
    if (n == "EXPUNGE") return Expunge(cmd);
    if (n == "FETCH") return Fetch(cmd);
    if (n == "STORE") return Store(cmd);
    if (n == "COPY" || n == "MOVE") return Copy(cmd);
    if (n == "SEARCH") return Search(cmd);
    return Tagged(cmd, "BAD", absl::StrCat("unknown command ", n));
  }

  // --- not authenticated ---

  bool StartTls(const ImapCommand& cmd) {
    if (conn_.tls_active()) return Tagged(cmd, "BAD", "TLS is already active");
    if (!conn_.tls_available()) return Tagged(cmd, "NO", "[CANNOT] TLS is not available");
    if (!Ok(cmd, "Begin TLS negotiation now")) return false;
    reader_.Reset();
    absl::Status s = conn_.StartTls();
    if (!s.ok()) {
      PM_LOG(INFO) << "imap " << conn_.peer() << ": STARTTLS failed: " << s;
      return false;
    }
    return true;
  }

  bool Login(const ImapCommand& cmd, const std::string& user, const std::string& password) {
    if (!AuthAllowed(conn_, env_)) {
      return Tagged(cmd, "NO", "[PRIVACYREQUIRED] use STARTTLS before logging in");
    }
    absl::StatusOr<std::string> token = env_.nodes->LoginMailbox(user, password);
    if (!token.ok()) {
      PM_LOG(INFO) << "imap " << conn_.peer() << ": login of " << user
                   << " failed: " << token.status().code();
      if (token.status().code() == absl::StatusCode::kUnauthenticated ||
          token.status().code() == absl::StatusCode::kInvalidArgument ||
          token.status().code() == absl::StatusCode::kNotFound) {
        if (++failed_logins_ >= kMaxFailedLogins) {
          (void)Tagged(cmd, "NO", "[AUTHENTICATIONFAILED] invalid credentials");
          (void)Write("* BYE too many failed logins\r\n");
          return false;
        }
        return Tagged(cmd, "NO", "[AUTHENTICATIONFAILED] invalid credentials");
      }
      return Tagged(cmd, "NO", "[UNAVAILABLE] the mailbox server cannot be reached; try again later");
    }
    token_ = *std::move(token);
    user_ = env_.nodes->Address(user);
    state_ = State::kAuthenticated;
    PM_LOG(INFO) << "imap " << conn_.peer() << ": " << user_ << " logged in";
    return Ok(cmd, absl::StrCat("[CAPABILITY ", Capabilities(), "] logged in"));
  }

  // RFC 4616 PLAIN: [authzid] NUL authcid NUL passwd, base64 (RFC 3501 6.2.2).
  bool Authenticate(const ImapCommand& cmd) {
    if (cmd.args[0] != "PLAIN") {
      return Tagged(cmd, "NO", "[CANNOT] unsupported authentication mechanism");
    }
    if (!AuthAllowed(conn_, env_)) {
      return Tagged(cmd, "NO", "[PRIVACYREQUIRED] use STARTTLS before logging in");
    }
    std::string b64;
    if (cmd.args.size() > 1) {
      b64 = cmd.args[1] == "=" ? "" : cmd.args[1];
    } else {
      if (!Write("+ \r\n")) return false;
      absl::StatusOr<std::string> line = conn_.ReadLine(env_.config->max_line_bytes);
      if (!line.ok()) {
        if (line.status().code() != absl::StatusCode::kResourceExhausted) return false;
        return Tagged(cmd, "BAD", "line too long");
      }
      if (*line == "*") return Tagged(cmd, "BAD", "authentication cancelled");
      b64 = *line;
    }
    absl::StatusOr<std::string> plain = Base64Decode(b64);
    if (!plain.ok()) return Tagged(cmd, "BAD", "invalid base64");
    std::vector<std::string> parts = absl::StrSplit(*plain, '\0');
    if (parts.size() != 3 || parts[1].empty()) return Tagged(cmd, "BAD", "malformed PLAIN response");
    if (!parts[0].empty() && parts[0] != parts[1]) {
      return Tagged(cmd, "NO", "[AUTHORIZATIONFAILED] cannot act as another user");
    }
    return Login(cmd, parts[1], parts[2]);
  }

  // --- authenticated ---

  absl::StatusOr<v1::ListFoldersResponse> Folders() {
    auto ctx = NodeClient::Context(token_, kCallTimeout);
    v1::ListFoldersResponse resp;
    grpc::Status s = env_.nodes->mailbox().ListFolders(ctx.get(), v1::ListFoldersRequest(), &resp);
    if (!s.ok()) return FromGrpc(s);
    return resp;
  }

  // The whole listing of `folder`, in UID order; no body is fetched.
  absl::StatusOr<std::pair<v1::Folder, std::vector<v1::MessageInfo>>> ListAll(
      const std::string& folder) {
    std::vector<v1::MessageInfo> out;
    v1::Folder info;
    uint32_t since = 0;
    while (true) {
      auto ctx = NodeClient::Context(token_, kCallTimeout);
      v1::ListMessagesRequest req;
      req.set_folder(folder);
      req.set_since_uid(since);
      req.set_limit(kListPage);
      v1::ListMessagesResponse resp;
      grpc::Status s = env_.nodes->mailbox().ListMessages(ctx.get(), req, &resp);
      if (!s.ok()) return FromGrpc(s);
      info = resp.folder();
      for (v1::MessageInfo& m : *resp.mutable_messages()) {
        if (m.uid() <= since) continue;
        since = m.uid();
        out.push_back(std::move(m));
      }
      if (static_cast<uint32_t>(resp.messages_size()) < kListPage) break;
    }
    return std::make_pair(info, std::move(out));
  }

  bool Select(const ImapCommand& cmd) {
    // RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected.
    sel_.reset();
    state_ = State::kAuthenticated;
    auto listing = ListAll(cmd.args[0]);
    if (!listing.ok()) {
      return Tagged(cmd, "NO", NoText(listing.status(), cmd.name));
    }
    sel_.emplace();
    sel_->name = listing->first.name().empty() ? cmd.args[0] : listing->first.name();
    sel_->read_only = cmd.name == "EXAMINE";
    sel_->uid_validity = listing->first.uid_validity();
    sel_->uid_next = listing->first.uid_next();
    sel_->messages = std::move(listing->second);
    sel_->last_list = absl::Now();
    sel_->watcher = std::make_unique<Watcher>(env_.nodes, token_, sel_->name);
    // A message that arrived between the listing and the watch's start
    // would be missed: the first refresh re-lists once.
    sel_->seen_changes = UINT64_MAX;
    state_ = State::kSelected;
    std::string out = absl::StrCat("* FLAGS (", kSystemFlags, ")\r\n");
    absl::StrAppend(&out, "* OK [PERMANENTFLAGS (",
                    sel_->read_only ? "" : absl::StrCat(kSystemFlags, " \\*"),
                    ")] flags the client can change\r\n");
    absl::StrAppend(&out, "* ", sel_->messages.size(), " EXISTS\r\n* 0 RECENT\r\n");
    for (size_t i = 0; i < sel_->messages.size(); ++i) {
      if (!HasFlag(sel_->messages[i], "\\Seen")) {
        absl::StrAppend(&out, "* OK [UNSEEN ", i + 1, "] first unseen message\r\n");
        break;
      }
    }
    absl::StrAppend(&out, "* OK [UIDVALIDITY ", sel_->uid_validity, "] UIDs valid\r\n");
    absl::StrAppend(&out, "* OK [UIDNEXT ", sel_->uid_next, "] predicted next UID\r\n");
    if (!Write(out)) return false;
    return Ok(cmd, absl::StrCat(sel_->read_only ? "[READ-ONLY] " : "[READ-WRITE] ", cmd.name,
                                " completed"));
  }

  bool Create(const ImapCommand& cmd) {
    std::string name = cmd.args[0];
    while (absl::EndsWith(name, "/")) name.pop_back();  // RFC 3501 6.3.3
    if (name.empty()) return Tagged(cmd, "NO", "[CANNOT] empty mailbox name");
    if (absl::EqualsIgnoreCase(name, "INBOX")) {
      return Tagged(cmd, "NO", "[ALREADYEXISTS] INBOX always exists");
    }
    auto ctx = NodeClient::Context(token_, kCallTimeout);
    v1::CreateFolderRequest req;
    req.set_name(name);
    v1::CreateFolderResponse resp;
    grpc::Status s = env_.nodes->mailbox().CreateFolder(ctx.get(), req, &resp);
    if (!s.ok()) return Tagged(cmd, "NO", NoText(FromGrpc(s), "CREATE"));
    return Ok(cmd);
  }

  // RFC 3501 6.3.11: args = {mailbox, message}; flags; items = {date-time}.
  bool Append(const ImapCommand& cmd) {
    v1::AppendRequest req;
    req.set_folder(cmd.args[0]);
    for (const std::string& f : cmd.flags) {
      // RFC 3501 2.3.2: \Recent cannot be stored; other flags are kept.
      if (!absl::EqualsIgnoreCase(f, "\\Recent")) req.add_flags(f);
    }
    if (!cmd.items.empty()) {
      std::optional<absl::Time> date = ParseImapDateTime(cmd.items[0]);
      if (!date.has_value()) return Tagged(cmd, "BAD", "invalid date-time");
      req.set_internal_date_unix_ms(absl::ToUnixMillis(*date));
    }
    const std::string& message = cmd.args[1];
    if (message.empty()) return Tagged(cmd, "NO", "[CANNOT] empty message");
    req.set_message(message);
    // Up to 64 MiB travel to the node in one call.
    auto ctx = NodeClient::Context(token_, kReadTimeout);
    v1::AppendResponse resp;
    grpc::Status s = env_.nodes->mailbox().Append(ctx.get(), req, &resp);
    if (!s.ok()) {
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
        return Tagged(cmd, "NO", "[TRYCREATE] no such mailbox");
      }
      PM_LOG(INFO) << "imap " << conn_.peer() << ": APPEND for " << user_
                   << " failed: " << FromGrpc(s);
      return Tagged(cmd, "NO", NoText(FromGrpc(s), cmd.name));
    }
    // RFC 3501 6.3.11: a message appended to the selected mailbox is
    // announced (EXISTS) now, not at the next command.
    bool to_selected = state_ == State::kSelected && sel_->name == cmd.args[0];
    return Refresh(true, to_selected) &&
           Ok(cmd, absl::StrCat("[APPENDUID ", resp.uid_validity(), " ", resp.uid(),
                                "] APPEND completed"));
  }

  bool Delete(const ImapCommand& cmd) {
    std::string name = cmd.args[0];
    while (absl::EndsWith(name, "/")) name.pop_back();
    if (name.empty()) return Tagged(cmd, "NO", "[NONEXISTENT] no such mailbox");
    if (name == "INBOX") return Tagged(cmd, "NO", "[CANNOT] INBOX cannot be deleted");  // RFC 3501 6.3.4
    if (state_ == State::kSelected && sel_->name == name) {
      // RFC 5530 INUSE: this session is sitting on it.
      return Tagged(cmd, "NO", "[INUSE] close the mailbox before deleting it");
    }
    auto ctx = NodeClient::Context(token_, kCallTimeout);
    v1::DeleteFolderRequest req;
    req.set_name(name);
    v1::DeleteFolderResponse resp;
    grpc::Status s = env_.nodes->mailbox().DeleteFolder(ctx.get(), req, &resp);
    if (!s.ok()) {
      switch (s.error_code()) {
        case grpc::StatusCode::NOT_FOUND:
          return Tagged(cmd, "NO", "[NONEXISTENT] no such mailbox");
        case grpc::StatusCode::FAILED_PRECONDITION:
          // "Junk cannot be deleted": the node's words are the client's here.
          return Tagged(cmd, "NO", absl::StrCat("[CANNOT] ", s.error_message()));
        default:
          return Tagged(cmd, "NO", NoText(FromGrpc(s), cmd.name));
      }
    }
    return Ok(cmd);
  }

  bool List(const ImapCommand& cmd) {
    const std::string& ref = cmd.args[0];
    const std::string& pattern = cmd.args[1];
    if (pattern.empty()) {
      // RFC 3501 6.3.8: the hierarchy delimiter and root.
      return Write(absl::StrCat("* ", cmd.name, " (\\Noselect) \"/\" \"\"\r\n")) && Ok(cmd);
    }
    auto folders = Folders();
    if (!folders.ok()) return Tagged(cmd, "NO", NoText(folders.status(), cmd.name));
    std::string full = ref.empty() || absl::EndsWith(ref, "/") ? ref + pattern : ref + "/" + pattern;
    std::vector<std::string> names;
    for (const v1::Folder& f : folders->folders()) names.push_back(f.name());
    if (std::find(names.begin(), names.end(), "INBOX") == names.end()) names.push_back("INBOX");
    std::string out;
    for (const std::string& name : names) {
      bool match = name == "INBOX" ? ListMatch(absl::AsciiStrToUpper(full), "INBOX")
                                   : ListMatch(full, name);
      if (!match) continue;
      bool children = std::any_of(names.begin(), names.end(), [&](const std::string& o) {
        return absl::StartsWith(o, name + "/");
      });
      absl::StrAppend(&out, "* ", cmd.name, " (", children ? "\\HasChildren" : "\\HasNoChildren",
                      ") \"/\" ", ImapString(name), "\r\n");
    }
    return Write(out) && Ok(cmd);
  }

  bool Status(const ImapCommand& cmd) {
    auto folders = Folders();
    if (!folders.ok()) return Tagged(cmd, "NO", NoText(folders.status(), "STATUS"));
    for (const v1::Folder& f : folders->folders()) {
      if (f.name() != cmd.args[0]) continue;
      std::vector<std::string> items;
      for (const std::string& item : cmd.items) {
        uint32_t v = 0;
        if (item == "MESSAGES") v = f.messages();
        else if (item == "RECENT") v = 0;
        else if (item == "UIDNEXT") v = f.uid_next();
        else if (item == "UIDVALIDITY") v = f.uid_validity();
        else if (item == "UNSEEN") v = f.unseen();
        items.push_back(absl::StrCat(item, " ", v));
      }
      return Write(absl::StrCat("* STATUS ", ImapString(f.name()), " (", absl::StrJoin(items, " "),
                                ")\r\n")) &&
             Ok(cmd);
    }
    return Tagged(cmd, "NO", "[NONEXISTENT] no such mailbox");
  }

  // --- selected ---

  // Brings the cached listing up to date when the watch stream reported a
  // change (or is broken, or `force`), and tells the client: "* n EXPUNGE"
  // (only when `allow_expunge`: RFC 3501 7.4.1 forbids it during FETCH,
  // STORE and SEARCH), "* n EXISTS", "* n RECENT" and "* n FETCH (FLAGS)"
  // for flags another session changed. False: the connection is gone.
  bool Refresh(bool allow_expunge, bool force) {
    if (state_ != State::kSelected) return true;
    Selected& sel = *sel_;
    uint64_t changes = sel.watcher->changes();
    bool poll = sel.watcher->broken() && absl::Now() - sel.last_list >= kIdlePoll;
    if (!force && !poll && changes == sel.seen_changes) return true;
    auto listing = ListAll(sel.name);
    if (!listing.ok()) {
      PM_LOG(INFO) << "imap " << conn_.peer() << ": re-list of " << sel.name
                   << " failed: " << listing.status();
      return true;  // try again at the next command
    }
    sel.seen_changes = changes;
    sel.last_list = absl::Now();
    if (listing->first.uid_validity() != sel.uid_validity) {
      // The folder was re-created: RFC 3501 2.3.1.1 says the client must
      // resynchronise; the clean way is to end the session.
      (void)Write("* BYE [UNAVAILABLE] mailbox UIDVALIDITY changed; reconnect\r\n");
      done_ = true;
      return false;
    }
    std::map<uint32_t, const v1::MessageInfo*> fresh;
    for (const v1::MessageInfo& m : listing->second) fresh[m.uid()] = &m;
    std::string out;
    std::vector<v1::MessageInfo> kept;
    for (size_t i = 0; i < sel.messages.size(); ++i) {
      auto it = fresh.find(sel.messages[i].uid());
      if (it == fresh.end()) {
        if (allow_expunge) {
          // The sequence number is the one the client knows now: earlier
          // expunges in this loop have shifted it down.
          absl::StrAppend(&out, "* ", kept.size() + 1, " EXPUNGE\r\n");
          sel.recent.erase(sel.messages[i].uid());
          continue;
        }
        kept.push_back(sel.messages[i]);  // stays until it can be announced
        continue;
      }
      const v1::MessageInfo& now = *it->second;
      std::vector<std::string> a(sel.messages[i].flags().begin(), sel.messages[i].flags().end());
      std::vector<std::string> b(now.flags().begin(), now.flags().end());
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      kept.push_back(now);
      if (a != b) {
        absl::StrAppend(&out, "* ", kept.size(), " FETCH (", FlagsItem(now), " UID ", now.uid(),
                        ")\r\n");
      }
    }
    uint32_t max_uid = sel.max_uid();
    size_t before = kept.size();
    for (const v1::MessageInfo& m : listing->second) {
      if (m.uid() <= max_uid) continue;
      kept.push_back(m);
      sel.recent.insert(m.uid());
    }
    bool grew = kept.size() != before;
    sel.messages = std::move(kept);
    sel.uid_next = listing->first.uid_next();
    if (grew || !out.empty()) {
      if (grew) {
        absl::StrAppend(&out, "* ", sel.messages.size(), " EXISTS\r\n* ", sel.recent.size(),
                        " RECENT\r\n");
      }
    }
    return out.empty() || Write(out);
  }

  std::string FlagsItem(const v1::MessageInfo& m) const {
    std::vector<std::string> flags(m.flags().begin(), m.flags().end());
    if (sel_ && sel_->recent.count(m.uid())) flags.push_back("\\Recent");
    return absl::StrCat("FLAGS (", absl::StrJoin(flags, " "), ")");
  }

  // The sequence numbers (1-based, ascending) that `cmd.set` names. For
  // sequence numbers past the end: nullopt (the caller answers BAD).
  std::optional<std::vector<uint32_t>> Resolve(const ImapCommand& cmd, const SequenceSet& set,
                                               bool uid) {
    const Selected& sel = *sel_;
    uint32_t count = static_cast<uint32_t>(sel.messages.size());
    std::vector<uint32_t> out;
    if (uid) {
      uint32_t star = sel.max_uid();
      for (uint32_t i = 0; i < count; ++i) {
        if (set.Contains(sel.messages[i].uid(), star)) out.push_back(i + 1);
      }
      return out;
    }
    for (const SequenceSet::Range& r : set.ranges) {
      if ((r.lo != 0 && r.lo > count) || (r.hi != 0 && r.hi > count) || count == 0) {
        return std::nullopt;
      }
    }
    for (uint32_t i = 1; i <= count; ++i) {
      if (set.Contains(i, count)) out.push_back(i);
    }
    (void)cmd;
    return out;
  }

  bool Close(const ImapCommand& cmd) {
    if (cmd.name == "CLOSE" && !sel_->read_only) {
      // RFC 3501 6.4.2: expunge silently.
      auto ctx = NodeClient::Context(token_, kCallTimeout);
      v1::ExpungeRequest req;
      req.set_folder(sel_->name);
      v1::ExpungeResponse resp;
      grpc::Status s = env_.nodes->mailbox().Expunge(ctx.get(), req, &resp);
      if (!s.ok()) PM_LOG(INFO) << "imap " << conn_.peer() << ": CLOSE expunge: " << FromGrpc(s);
    }
    sel_.reset();
    state_ = State::kAuthenticated;
    return Ok(cmd);
  }

  // Removes `uids` from the cache with EXPUNGE responses; appends them to out.
  void AnnounceExpunged(const std::vector<uint32_t>& uids, std::string* out) {
    for (uint32_t uid : uids) {
      uint32_t seq = sel_->SeqOf(uid);
      if (seq == 0) continue;
      absl::StrAppend(out, "* ", seq, " EXPUNGE\r\n");
      sel_->messages.erase(sel_->messages.begin() + (seq - 1));
      sel_->recent.erase(uid);
    }
  }

  bool Expunge(const ImapCommand& cmd) {
    if (sel_->read_only) return Tagged(cmd, "NO", "[READ-ONLY] mailbox is read-only");
    v1::ExpungeRequest req;
    req.set_folder(sel_->name);
    if (cmd.uid) {
      // RFC 4315 2.1: only messages in the set that have \Deleted.
      auto seqs = Resolve(cmd, cmd.set, true);
      for (uint32_t seq : *seqs) {
        const v1::MessageInfo& m = sel_->messages[seq - 1];
        if (HasFlag(m, "\\Deleted")) req.add_uids(m.uid());
      }
      if (req.uids_size() == 0) return Refresh(true, false) && Ok(cmd);
    }
    auto ctx = NodeClient::Context(token_, kCallTimeout);
    v1::ExpungeResponse resp;
    grpc::Status s = env_.nodes->mailbox().Expunge(ctx.get(), req, &resp);
    if (!s.ok()) return Tagged(cmd, "NO", NoText(FromGrpc(s), "EXPUNGE"));
    std::string out;
    AnnounceExpunged({resp.expunged().begin(), resp.expunged().end()}, &out);
    if (!out.empty() && !Write(out)) return false;
    return Refresh(true, false) && Ok(cmd);
  }

  bool Search(const ImapCommand& cmd) {
    if (!cmd.charset.empty() && cmd.charset != "UTF-8" && cmd.charset != "US-ASCII") {
      return Tagged(cmd, "NO", "[BADCHARSET (UTF-8 US-ASCII)] unsupported charset");
    }
    if (SearchNeedsBody(cmd.search)) {
      return Tagged(cmd, "NO",
                    "[CANNOT] searching message text would pull every body from its sender; "
                    "search headers, flags, dates or sizes");
    }
    if (!Refresh(cmd.uid, false)) return false;
    const Selected& sel = *sel_;
    uint32_t count = static_cast<uint32_t>(sel.messages.size());
    std::string out = "* SEARCH";
    for (uint32_t i = 0; i < count; ++i) {
      const v1::MessageInfo& m = sel.messages[i];
      ImapSearchItem item{i + 1, m.uid(), sel.recent.count(m.uid()) > 0, &m};
      if (SearchMatches(cmd.search, item, count, sel.max_uid())) {
        absl::StrAppend(&out, " ", cmd.uid ? m.uid() : i + 1);
      }
    }
    out += "\r\n";
    return Write(out) && Ok(cmd);
  }

  bool Store(const ImapCommand& cmd) {
    if (sel_->read_only) return Tagged(cmd, "NO", "[READ-ONLY] mailbox is read-only");
    auto seqs = Resolve(cmd, cmd.set, cmd.uid);
    if (!seqs) return Tagged(cmd, "BAD", "no such message sequence number");
    v1::SetFlagsRequest req;
    req.set_folder(sel_->name);
    for (uint32_t seq : *seqs) req.add_uids(sel_->messages[seq - 1].uid());
    req.set_op(cmd.store_op == StoreOp::kAdd      ? v1::FLAG_OP_ADD
               : cmd.store_op == StoreOp::kRemove ? v1::FLAG_OP_REMOVE
                                                  : v1::FLAG_OP_REPLACE);
    for (const std::string& f : cmd.flags) {
      if (absl::EqualsIgnoreCase(f, "\\Recent")) continue;  // not settable (RFC 3501 2.3.2)
      req.add_flags(f);
    }
    std::string out;
    if (req.uids_size() > 0 && (req.flags_size() > 0 || req.op() == v1::FLAG_OP_REPLACE)) {
      auto ctx = NodeClient::Context(token_, kCallTimeout);
      v1::SetFlagsResponse resp;
      grpc::Status s = env_.nodes->mailbox().SetFlags(ctx.get(), req, &resp);
      if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
        return Tagged(cmd, "NO", NoText(FromGrpc(s), "STORE"));
      }
      for (const v1::MessageInfo& m : resp.messages()) {
        uint32_t seq = sel_->SeqOf(m.uid());
        if (seq == 0) continue;
        *sel_->messages[seq - 1].mutable_flags() = m.flags();
        if (!cmd.store_silent) {
          absl::StrAppend(&out, "* ", seq, " FETCH (", FlagsItem(sel_->messages[seq - 1]),
                          cmd.uid ? absl::StrCat(" UID ", m.uid()) : "", ")\r\n");
        }
      }
    }
    if (!out.empty() && !Write(out)) return false;
    return Refresh(cmd.uid, false) && Ok(cmd);
  }

  bool Copy(const ImapCommand& cmd) {
    bool move = cmd.name == "MOVE";
    if (move && sel_->read_only) return Tagged(cmd, "NO", "[READ-ONLY] mailbox is read-only");
    auto seqs = Resolve(cmd, cmd.set, cmd.uid);
    if (!seqs) return Tagged(cmd, "BAD", "no such message sequence number");
    const std::string& dest = cmd.args[0];
    if (dest != "INBOX" && dest != "Junk") {
      auto folders = Folders();
      if (!folders.ok()) return Tagged(cmd, "NO", NoText(folders.status(), cmd.name));
      bool exists = std::any_of(folders->folders().begin(), folders->folders().end(),
                                [&](const v1::Folder& f) { return f.name() == dest; });
      if (!exists) return Tagged(cmd, "NO", "[TRYCREATE] no such mailbox");
    }
    if (seqs->empty()) return Ok(cmd);
    v1::CopyRequest req;
    req.set_folder(sel_->name);
    for (uint32_t seq : *seqs) req.add_uids(sel_->messages[seq - 1].uid());
    req.set_to_folder(dest);
    req.set_move(move);
    auto ctx = NodeClient::Context(token_, kCallTimeout);
    v1::CopyResponse resp;
    grpc::Status s = env_.nodes->mailbox().Copy(ctx.get(), req, &resp);
    if (!s.ok()) {
      if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
        return Tagged(cmd, "NO", "[EXPUNGEISSUED] the messages were expunged");
      }
      return Tagged(cmd, "NO", NoText(FromGrpc(s), cmd.name));
    }
    std::string copyuid;
    if (resp.source_uids_size() > 0) {
      copyuid = absl::StrCat("[COPYUID ", resp.to_uid_validity(), " ",
                             UidSet({resp.source_uids().begin(), resp.source_uids().end()}), " ",
                             UidSet({resp.dest_uids().begin(), resp.dest_uids().end()}), "] ");
    }
    if (!move) return Refresh(true, false) && Ok(cmd, absl::StrCat(copyuid, "COPY completed"));
    // RFC 6851 3.3: COPYUID in an untagged OK, then the EXPUNGEs.
    std::string out;
    if (!copyuid.empty()) absl::StrAppend(&out, "* OK ", copyuid, "moved\r\n");
    AnnounceExpunged({resp.source_uids().begin(), resp.source_uids().end()}, &out);
    if (!Write(out)) return false;
    return Refresh(true, false) && Ok(cmd, "MOVE completed");
  }

  // The message's bytes via Read (peek as asked), with the MessageInfo the
  // node sent along. kUnavailable: the sender's node cannot be reached (no
  // byte was sent to the client). Thread-safe (BodyPrefetch runs several).
  static absl::StatusOr<BodyPrefetch::Result> ReadBody(NodeClient* nodes, const std::string& token,
                                                       const std::string& folder, uint32_t uid,
                                                       bool peek, size_t max_bytes) {
    auto ctx = NodeClient::Context(token, kReadTimeout);
    v1::ReadRequest req;
    req.set_folder(folder);
    req.set_uid(uid);
    req.set_peek(peek);
    std::unique_ptr<grpc::ClientReader<v1::ReadChunk>> reader = nodes->mailbox().Read(ctx.get(), req);
    BodyPrefetch::Result r;
    v1::ReadChunk chunk;
    bool first = true;
    while (reader->Read(&chunk)) {
      if (first && chunk.has_info()) r.info = chunk.info();
      first = false;
      r.body += chunk.data();
      if (r.body.size() > max_bytes + (size_t{1} << 20)) {
        ctx->TryCancel();
        break;
      }
    }
    grpc::Status s = reader->Finish();
    if (!s.ok()) return FromGrpc(s);
    if (!first && r.body.size() != r.info.body_size()) {
      // The node promises a verified, complete body; anything else is not
      // shown (DESIGN.md: never a partial body).
      return absl::UnavailableError("short body from the node");
    }
    return r;
  }

  static std::string Literal(std::string_view bytes) {
    return absl::StrCat("{", bytes.size(), "}\r\n", AV(bytes));
  }

  static std::string Partial(std::string_view bytes, const FetchAtt& a, std::string* origin) {
    if (!a.partial_start) return std::string(bytes);
    *origin = absl::StrCat("<", *a.partial_start, ">");
    if (*a.partial_start >= bytes.size()) return "";
    return std::string(bytes.substr(*a.partial_start, a.partial_length));
  }

  bool Fetch(const ImapCommand& cmd) {
    using K = FetchAtt::Kind;
    auto seqs = Resolve(cmd, cmd.set, cmd.uid);
    if (!seqs) return Tagged(cmd, "BAD", "no such message sequence number");
    // What the request needs, the same for every message.
    bool wants_flags = false, wants_uid = cmd.uid, needs_body = false, sets_seen = false;
    for (const FetchAtt& a : cmd.fetch) {
      switch (a.kind) {
        case K::kFlags: wants_flags = true; break;
        case K::kUid: wants_uid = true; break;
        case K::kRfc822Size: case K::kInternalDate: case K::kEnvelope: break;
        case K::kBodyStructure: case K::kBody: case K::kRfc822Header: needs_body = true; break;
        case K::kRfc822: case K::kRfc822Text: needs_body = sets_seen = true; break;
        case K::kBodySection:
          if (!a.peek) sets_seen = true;
          needs_body = true;  // maybe served from the summary: decided per message
          break;
      }
    }
    if (sel_->read_only) sets_seen = false;
    // Header fields the summary holds need no pull (the point of pull mail:
    // listings never move bodies); what else needs the message's bytes.
    auto needs_read = [&](const v1::MessageInfo& m) {
      if (sets_seen && !HasFlag(m, "\\Seen")) return true;
      if (!needs_body) return false;
      for (const FetchAtt& a : cmd.fetch) {
        bool from_summary = a.kind == K::kBodySection && a.peek && a.section.part.empty() &&
                            a.section.text == FetchSection::Text::kHeaderFields &&
                            !SummaryEmpty(m.summary()) &&
                            SummaryHeaderFields(m.summary(), a.section.fields).has_value();
        bool simple = a.kind == K::kFlags || a.kind == K::kUid || a.kind == K::kRfc822Size ||
                      a.kind == K::kInternalDate || a.kind == K::kEnvelope;
        if (!from_summary && !simple) return true;
      }
      return false;
    };
    // The bodies are read ahead, several at once, and taken in order.
    constexpr size_t kNoRead = ~size_t{0};
    std::vector<size_t> read_slot(seqs->size(), kNoRead);
    std::vector<BodyPrefetch::Item> reads;
    for (size_t k = 0; k < seqs->size(); ++k) {
      const v1::MessageInfo& m = sel_->messages[(*seqs)[k] - 1];
      if (!needs_read(m)) continue;
      read_slot[k] = reads.size();
      reads.push_back({m.uid(), m.body_size()});
    }
    BodyPrefetch prefetch(
        [nodes = env_.nodes, token = token_, folder = sel_->name, peek = !sets_seen,
         max = env_.config->max_message_bytes](uint32_t uid) {
          return ReadBody(nodes, token, folder, uid, peek, max);
        },
        std::move(reads), kPrefetchWindow, kPrefetchBytes);
    bool expunged = false;
    for (size_t k = 0; k < seqs->size(); ++k) {
      const uint32_t seq = (*seqs)[k];
      v1::MessageInfo& m = sel_->messages[seq - 1];
      std::optional<std::string> body;
      bool was_seen = HasFlag(m, "\\Seen");
      if (read_slot[k] != kNoRead) {
        absl::StatusOr<BodyPrefetch::Result> read = prefetch.Take(read_slot[k]);
        absl::StatusOr<std::string> bytes =
            read.ok() ? absl::StatusOr<std::string>(std::move(read->body)) : read.status();
        if (!bytes.ok()) {
          if (bytes.status().code() == absl::StatusCode::kNotFound) {
            expunged = true;  // removed by another session; announced later
            continue;
          }
          PM_LOG(INFO) << "imap " << conn_.peer() << ": read of UID " << m.uid() << " in "
                       << sel_->name << " failed: " << bytes.status();
          if (bytes.status().code() == absl::StatusCode::kUnavailable ||
              bytes.status().code() == absl::StatusCode::kDeadlineExceeded) {
            return Tagged(cmd, "NO", kUnavailableText);
          }
          return Tagged(cmd, "NO", NoText(bytes.status(), "FETCH"));
        }
        body = *std::move(bytes);
        if (sets_seen && !was_seen) {
          // The node set \Seen with the read; say so (RFC 3501 6.4.5).
          if (!HasFlag(m, "\\Seen")) m.add_flags("\\Seen");
          wants_flags = true;
        }
      }
      std::optional<MimeEntity> mime;
      auto tree = [&]() -> const MimeEntity& {
        if (!mime) mime = ParseMime(*body);
        return *mime;
      };
      std::vector<std::string> items;
      if (wants_uid) items.push_back(absl::StrCat("UID ", m.uid()));
      if (wants_flags) items.push_back(FlagsItem(m));
      for (const FetchAtt& a : cmd.fetch) {
        switch (a.kind) {
          case K::kFlags: case K::kUid: break;
          case K::kRfc822Size: items.push_back(absl::StrCat("RFC822.SIZE ", m.body_size())); break;
          case K::kInternalDate:
            items.push_back(absl::StrCat(
                "INTERNALDATE ", ImapDateTime(absl::FromUnixMillis(m.received_unix_ms()))));
            break;
          case K::kEnvelope: items.push_back(absl::StrCat("ENVELOPE ", ImapEnvelope(m.summary()))); break;
          case K::kBodyStructure:
            items.push_back(absl::StrCat("BODYSTRUCTURE ", ImapBodyStructure(tree(), true)));
            break;
          case K::kBody: items.push_back(absl::StrCat("BODY ", ImapBodyStructure(tree(), false))); break;
          case K::kRfc822: items.push_back(absl::StrCat("RFC822 ", Literal(*body))); break;
          case K::kRfc822Header: {
            FetchSection h;
            h.text = FetchSection::Text::kHeader;
            auto b = SectionBytes(*body, tree(), h);
            items.push_back(absl::StrCat("RFC822.HEADER ", Literal(b.ok() ? *b : "")));
            break;
          }
          case K::kRfc822Text: {
            FetchSection t;
            t.text = FetchSection::Text::kText;
            auto b = SectionBytes(*body, tree(), t);
            items.push_back(absl::StrCat("RFC822.TEXT ", Literal(b.ok() ? *b : "")));
            break;
          }
          case K::kBodySection: {
            std::string bytes;
            if (!body) {
              bytes = *SummaryHeaderFields(m.summary(), a.section.fields);
            } else {
              auto b = SectionBytes(*body, tree(), a.section);
              // RFC 3501 6.4.5: a part that does not exist is empty.
              bytes = b.ok() ? *std::move(b) : "";
            }
            std::string origin;
            std::string shown = Partial(bytes, a, &origin);
            items.push_back(
                absl::StrCat("BODY[", SectionSpec(a.section), "]", origin, " ", Literal(shown)));
            break;
          }
        }
      }
      if (!Write(absl::StrCat("* ", seq, " FETCH (", absl::StrJoin(items, " "), ")\r\n"))) {
        return false;
      }
    }
    if (!Refresh(cmd.uid, false)) return false;
    if (expunged) return Tagged(cmd, "NO", "[EXPUNGEISSUED] some messages were expunged");
    return Ok(cmd);
  }

  // RFC 2177: untagged updates as they happen until the client says DONE.
  bool Idle(const ImapCommand& cmd) {
    if (!Write("+ idling\r\n")) return false;
    absl::Time deadline = absl::Now() + env_.config->idle_timeout;
    while (true) {
      if (conn_.WaitReadable(kIdleTurn)) {
        absl::StatusOr<std::string> line = conn_.ReadLine(env_.config->max_line_bytes);
        if (!line.ok()) {
          if (line.status().code() != absl::StatusCode::kResourceExhausted) return false;
          return Tagged(cmd, "BAD", "expected DONE");
        }
        if (absl::EqualsIgnoreCase(*line, "DONE")) return Ok(cmd, "IDLE terminated");
        return Tagged(cmd, "BAD", "expected DONE");
      }
      if (absl::Now() > deadline) {
        (void)Write("* BYE autologout; idle for too long\r\n");
        return false;
      }
      if (!Refresh(true, false)) return false;
    }
  }

  Conn& conn_;
  const SessionEnv& env_;
  ImapCommandReader reader_;
  State state_ = State::kNotAuthenticated;
  bool done_ = false;
  int failed_logins_ = 0;
  std::string user_;
  std::string token_;
  std::optional<Selected> sel_;
};

}  // namespace

void ServeImap(Conn& conn, const SessionEnv& env) { ImapSession(conn, env).Run(); }

}  // namespace pullmail::gateway
