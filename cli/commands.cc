// The everyday subcommands of `pullmail`: init, user, send, list, read,
// flag, move, delete, report, revoke, status. Each is a thin adapter from
// flags to one or two gRPC calls and from the reply to readable text (or
// JSON with --json); no mail policy is decided here.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/compose.h"
#include "cli/init.h"
#include "cli/metrics_client.h"
#include "core/mail/flags.h"
#include "core/crypto/encoding.h"
#include "core/crypto/password.h"
#include "core/crypto/token.h"
#include "core/mail/utf8.h"
#include "core/policy/arf.h"
#include "core/util/address.h"
#include "core/util/clock.h"
#include "core/storage/open_store.h"
#include "core/storage/pg_store.h"
#include "core/storage/sqlite_store.h"
#include "core/util/random.h"
#include "core/util/strings.h"

namespace pullmail::cli {
namespace {

// `pullmail send`: attempts of one submission (the same idempotency key)
// while the sender node answers UNAVAILABLE or DEADLINE_EXCEEDED.
constexpr int kSendAttempts = 3;

std::string PasswordFrom(const Args& args) {
  if (auto p = args.Get("password")) return *p;
  if (const char* env = std::getenv("PULLMAIL_PASSWORD")) return env;
  return "";
}

// Opens a session for a command that needs a logged-in user.
absl::StatusOr<Session> OpenUserSession(const Args& args) {
  std::string user = args.GetOr("user", "");
  if (user.empty()) return absl::InvalidArgumentError("--user is required");
  std::string password = PasswordFrom(args);
  if (password.empty()) {
    return absl::InvalidArgumentError("--password (or env PULLMAIL_PASSWORD) is required");
  }
  return Session::Open(args.GetOr("config", ""), user, password);
}

absl::StatusOr<uint32_t> ParseUid(const Args& args, size_t index = 0) {
  if (args.positional().size() <= index) return absl::InvalidArgumentError("UID is required");
  auto v = ParseInt(args.positional()[index], "UID", 1, 0xFFFFFFFFll);
  if (!v.ok()) return v.status();
  return static_cast<uint32_t>(*v);
}

std::string FolderOf(const Args& args, std::string_view fallback = "INBOX") {
  return args.GetOr("folder", fallback);
}

std::string FormatTime(int64_t unix_ms) {
  if (unix_ms <= 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
}

bool HasFlag(const v1::MessageInfo& m, std::string_view flag) {
  return pullmail::HasFlag(m.flags(), flag);
}

std::string Clip(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  // Cut on a UTF-8 character boundary.
  size_t end = n - 1;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return absl::StrCat(AV(s.substr(0, end)), "~");
}

// For a command that named one UID which the folder does not hold.
int NoSuchUid(std::string_view command, std::string_view folder, uint32_t uid) {
  std::cerr << "pullmail: " << command << ": NOT_FOUND: no UID " << uid << " in " << folder
            << "\n";
  return kExitRefused;
}

void PrintMessageLine(const v1::MessageInfo& m, bool show_state) {
  std::string flags;
  flags += HasFlag(m, "\\Seen") ? ' ' : 'N';
  flags += HasFlag(m, "\\Flagged") ? 'F' : ' ';
  flags += HasFlag(m, "\\Answered") ? 'A' : ' ';
  flags += HasFlag(m, "\\Deleted") ? 'D' : ' ';
  std::string from = m.summary().from().empty() ? m.envelope_sender() : m.summary().from();
  std::string subject = m.summary().subject().empty() ? "(no subject)" : m.summary().subject();
  // The author mark (docs/PROTOCOL.md, verification record): nothing when
  // the From: domain is the signer's; '!' when it is not (a forged From:);
  // '~' for mail bridged from SMTP (From: unverified); '?' for no From:.
  char mark = ' ';
  if (m.author_check() == "fail") mark = '!';
  if (m.author_check() == "bridged") mark = '~';
  if (m.author_check() == "none") mark = '?';
  std::cout << absl::StrFormat("%5d %s %8d B  %-6s %c%-28s %s\n", m.uid(), flags, m.body_size(),
                               m.body_cached() ? "here" : "remote", mark, Clip(from, 28),
                               Clip(subject, 60));
  if (m.author_check() == "fail") {
    std::cout << "        ! From: is NOT verified: signed by " << m.signing_domain()
              << ", envelope sender " << m.envelope_sender() << "\n";
  } else if (m.author_check() == "bridged") {
    std::cout << "        ~ From: unverified: received over SMTP by " << m.signing_domain()
              << "'s gateway\n";
  }
  if (show_state || (!m.state().empty() && m.state() != "shown")) {
    std::cout << "        state: " << (m.state().empty() ? "?" : m.state());
    if (!m.reason().empty()) std::cout << " — " << m.reason();
    std::cout << "\n";
  }
}

}  // namespace

std::vector<OptionSpec> ClientOptions() {
  return {
      {"config", true,
       "the domain's node.toml (from `pullmail init`); the nodes are dialled at its\n"
       "                           [recipient]/[sender] endpoints (every replica), else listen",
       "FILE"},
      {"user", true, "your address, e.g. ann@a.example", "ADDRESS"},
      {"password", true, "your password (or set PULLMAIL_PASSWORD)", "PASSWORD"},
      {"json", false, "print JSON instead of text"},
  };
}

std::string SelfExeDir() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return ".";
  return p.parent_path().string();
}

// ---------------------------------------------------------------------------

int RunInit(const Args& args) {
  InitOptions o;
  o.root = args.GetOr("root", "");
  o.domain = args.GetOr("domain", "");
  if (o.root.empty() || o.domain.empty()) {
    return ReportLocalError(absl::InvalidArgumentError("--root and --domain are required"));
  }
  struct {
    const char* flag;
    int* port;
  } ports[] = {{"recipient-port", &o.recipient_port},
               {"sender-port", &o.sender_port},
               {"recipient-metrics-port", &o.recipient_metrics_port},
               {"sender-metrics-port", &o.sender_metrics_port}};
  for (auto& p : ports) {
    if (auto v = args.Get(p.flag)) {
      auto n = ParseInt(*v, absl::StrCat("--", p.flag), 1, 65535);
      if (!n.ok()) return ReportLocalError(n.status());
      *p.port = static_cast<int>(*n);
    }
  }
  if (auto v = args.Get("retention-hours")) {
    auto n = ParseInt(*v, "--retention-hours", 1, 2160);
    if (!n.ok()) return ReportLocalError(n.status());
    o.retention_hours = static_cast<int>(*n);
  }
  o.plaintext = args.Has("plaintext");
  o.database = args.GetOr("database", "");
  if (!o.database.empty() && !IsPostgresUrl(o.database)) {
    return ReportLocalError(
        absl::InvalidArgumentError("--database must be a postgresql:// URL"));
  }
  if (!o.database.empty()) {
    // Reach it now and create the schema, rather than fail at the nodes' start.
    auto db = OpenPgDb(o.database);
    if (!db.ok()) return ReportLocalError(db.status());
  }
  auto r = InitDomain(o);
  if (!r.ok()) return ReportLocalError(r.status());
  if (args.Has("json")) {
    std::vector<std::string> created;
    for (const std::string& c : r->created) created.push_back(JsonQuote(c));
    std::cout << "{\"domain\":" << JsonQuote(absl::AsciiStrToLower(o.domain))
              << ",\"config\":" << JsonQuote(r->config_path)
              << ",\"recipient_listen\":" << JsonQuote(r->recipient_listen)
              << ",\"sender_listen\":" << JsonQuote(r->sender_listen)
              << ",\"recipient_metrics_listen\":" << JsonQuote(r->recipient_metrics_listen)
              << ",\"sender_metrics_listen\":" << JsonQuote(r->sender_metrics_listen)
              << ",\"imap_listen\":" << JsonQuote(r->imap_listen)
              << ",\"pop3_listen\":" << JsonQuote(r->pop3_listen)
              << ",\"submission_listen\":" << JsonQuote(r->submission_listen)
              << ",\"smtp_listen\":" << JsonQuote(r->smtp_listen)
              << ",\"relay_listen\":" << JsonQuote(r->relay_listen)
              << ",\"public_key\":" << JsonQuote(r->public_key_base64)
              << ",\"created\":[" << absl::StrJoin(created, ",") << "]}\n";
    return kExitOk;
  }
  std::cout << (r->created_config ? "initialised " : "refreshed ")
            << absl::AsciiStrToLower(o.domain) << "\n"
            << "  config          " << r->config_path << "\n"
            << "  recipient node  " << r->recipient_listen << "  (metrics "
            << r->recipient_metrics_listen << ")\n"
            << "  sender node     " << r->sender_listen << "  (metrics "
            << r->sender_metrics_listen << ")\n"
            << "  gateway         IMAP " << r->imap_listen << ", POP3 " << r->pop3_listen
            << ", submission " << r->submission_listen << ", SMTP in " << r->smtp_listen
            << ", SMTP out relay " << r->relay_listen << "\n"
            << "  public key k1   " << r->public_key_base64 << "\n";
  for (const std::string& c : r->created) std::cout << "  created         " << c << "\n";
  if (o.plaintext) std::cout << "  WARNING: plaintext gRPC (loopback only)\n";
  std::cout << "next: pullmail user add --config " << r->config_path << " you@"
            << absl::AsciiStrToLower(o.domain) << "\n";
  return kExitOk;
}

int RunUserAdd(const Args& args) {
  if (args.positional().size() != 1) {
    return ReportLocalError(absl::InvalidArgumentError("give exactly one ADDRESS"));
  }
  auto session = Session::Open(args.GetOr("config", ""), "", "");
  if (!session.ok()) return ReportLocalError(session.status());
  const NodeConfig& config = session->config();
  std::string address = args.positional()[0];
  if (address.find('@') == std::string::npos) address = absl::StrCat(address, "@", config.domain);
  // Stored under its user key (core's UserKey), the spelling every lookup uses.
  absl::StatusOr<std::string> key = UserKey(address);
  if (!key.ok() || !SameDomain(AddressDomain(*key).value_or(""), config.domain)) {
    return ReportLocalError(absl::InvalidArgumentError(
        absl::StrCat(address, " is not an address at ", config.domain)));
  }
  address = *std::move(key);
  std::string password = PasswordFrom(args);
  if (password.empty()) {
    return ReportLocalError(
        absl::InvalidArgumentError("--password (or env PULLMAIL_PASSWORD) is required"));
  }
  auto store = OpenUserStore(config.UsersStoreLocation());
  if (!store.ok()) return ReportLocalError(store.status());
  User user;
  user.address = address;
  user.password_hash = HashPassword(password, SecureRandom());
  user.created = absl::Now();
  absl::Status st = (*store)->AddUser(user);
  if (absl::IsAlreadyExists(st) && args.Has("update")) {
    st = (*store)->SetPassword(address, user.password_hash);
  }
  if (!st.ok()) {
    std::cerr << "pullmail: user add: " << st.message()
              << (absl::IsAlreadyExists(st) ? " (use --update to change the password)" : "")
              << "\n";
    return kExitRefused;
  }
  if (args.Has("json")) {
    std::cout << "{\"user\":" << JsonQuote(address) << "}\n";
  } else {
    std::cout << "user " << address << " ready ("
              << (config.database.empty() ? config.UsersDbPath() : "PostgreSQL database") << ")\n";
  }
  return kExitOk;
}

int RunUserList(const Args& args) {
  auto session = Session::Open(args.GetOr("config", ""), "", "");
  if (!session.ok()) return ReportLocalError(session.status());
  auto store = OpenUserStore(session->config().UsersStoreLocation());
  if (!store.ok()) return ReportLocalError(store.status());
  auto users = (*store)->ListUsers();
  if (!users.ok()) return ReportLocalError(users.status());
  std::vector<std::string> quoted;
  for (const User& u : *users) {
    if (args.Has("json")) {
      quoted.push_back(JsonQuote(u.address));
    } else {
      std::cout << u.address << "\n";
    }
  }
  if (args.Has("json")) std::cout << "[" << absl::StrJoin(quoted, ",") << "]\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------

int RunSend(const Args& args) {
  auto session = OpenUserSession(args);
  if (!session.ok()) return ReportLocalError(session.status());
  std::vector<std::string> to;
  for (const std::string& t : args.GetAll("to")) to.push_back(absl::AsciiStrToLower(t));
  std::string message;
  if (args.Has("subject") || args.Has("body")) {
    if (args.Has("file")) {
      return ReportLocalError(absl::InvalidArgumentError("give --file or --subject/--body, not both"));
    }
    if (to.empty()) return ReportLocalError(absl::InvalidArgumentError("--to is required"));
    message = ComposeMessage(session->user(), to, args.GetOr("subject", ""),
                             args.GetOr("body", ""), absl::Now(), SecureRandom());
  } else {
    std::string file = args.GetOr("file", "-");
    if (file == "-") {
      message.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      auto text = ReadFileToString(file);
      if (!text.ok()) return ReportLocalError(text.status());
      message = *std::move(text);
    }
    if (to.empty()) {
      auto rcpts = RecipientsFromHeaders(message);
      if (!rcpts.ok()) return ReportLocalError(rcpts.status());
      to = *std::move(rcpts);
    }
  }
  auto stub = session->Submit();
  if (!stub.ok()) return ReportLocalError(stub.status());
  v1::SubmitRequest req;
  req.set_from(session->user());
  for (const std::string& t : to) req.add_to(t);
  req.set_message(message);
  // One key for this message and all its retries: a submission the node
  // committed but whose answer was lost is stored and delivered once.
  req.set_idempotency_key(
      args.GetOr("idempotency-key", absl::StrCat("cli-", HexEncode(NewToken(SecureRandom(), 16)))));
  v1::SubmitResponse resp;
  grpc::Status s;
  for (int attempt = 1;; ++attempt) {
    auto ctx = session->Context(absl::Seconds(60));
    s = (*stub)->Submit(ctx.get(), req, &resp);
    const bool transient = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (s.ok() || !transient || attempt >= kSendAttempts) break;
    std::cerr << "pullmail: send: " << StatusCodeName(s.error_code()) << " (" << s.error_message()
              << "); retrying with the same idempotency key\n";
    absl::SleepFor(absl::Seconds(attempt));
  }
  if (!s.ok()) return ReportRpcError("send", s);
  if (args.Has("json")) {
    std::cout << ProtoToJson(resp) << "\n";
    return kExitOk;
  }
  std::cout << "sent " << resp.message_id() << " (" << resp.body_size()
            << " bytes; the body stays on your sender node until read)\n";
  for (const v1::DomainQueued& q : resp.queued()) {
    std::cout << "  notification queued for " << q.domain() << " (" << q.recipients()
              << (q.recipients() == 1 ? " recipient" : " recipients") << ")\n";
  }
  return kExitOk;
}

int RunList(const Args& args) {
  auto session = OpenUserSession(args);
  if (!session.ok()) return ReportLocalError(session.status());
  auto stub = session->Mailbox();
  if (!stub.ok()) return ReportLocalError(stub.status());
  bool junk = args.Has("junk");
  v1::ListMessagesRequest req;
  req.set_folder(FolderOf(args, junk ? "Junk" : "INBOX"));
  if (auto limit = args.Get("limit")) {
    auto n = ParseInt(*limit, "--limit", 0, 10000);
    if (!n.ok()) return ReportLocalError(n.status());
    req.set_limit(static_cast<uint32_t>(*n));
  }
  v1::ListMessagesResponse resp;
  auto ctx = session->Context();
  grpc::Status s = (*stub)->ListMessages(ctx.get(), req, &resp);
  if (!s.ok()) return ReportRpcError("list", s);
  if (args.Has("json")) {
    std::cout << ProtoToJson(resp) << "\n";
    return kExitOk;
  }
  const v1::Folder& f = resp.folder();
  uint64_t remote = 0;
  for (const v1::MessageInfo& m : resp.messages()) remote += m.body_cached() ? 0 : m.body_size();
  std::cout << (f.name().empty() ? req.folder() : f.name()) << ": " << resp.messages_size()
            << (resp.messages_size() == 1 ? " message" : " messages") << ", " << f.unseen()
            << " unseen";
  if (remote > 0) std::cout << "; " << remote << " body bytes still at the senders' nodes";
  std::cout << "\n";
  if (resp.messages_size() > 0) {
    std::cout << absl::StrFormat("%5s %-4s %10s  %-6s %-28s %s\n", "UID", "FLAG", "SIZE", "BODY",
                                 "FROM", "SUBJECT");
  }
  for (const v1::MessageInfo& m : resp.messages()) PrintMessageLine(m, junk);
  return kExitOk;
}

int RunRead(const Args& args) {
  auto session = OpenUserSession(args);
  if (!session.ok()) return ReportLocalError(session.status());
  auto uid = ParseUid(args);
  if (!uid.ok()) return ReportLocalError(uid.status());
  auto stub = session->Mailbox();
  if (!stub.ok()) return ReportLocalError(stub.status());
  v1::ReadRequest req;
  req.set_folder(FolderOf(args));
  req.set_uid(*uid);
  req.set_peek(args.Has("peek"));
  auto ctx = session->Context(absl::Seconds(120));
  auto reader = (*stub)->Read(ctx.get(), req);
  v1::ReadChunk chunk;
  v1::MessageInfo info;
  bool from_cache = false;
  bool first = true;
  std::string body;
  while (reader->Read(&chunk)) {
    if (first) {
      info = chunk.info();
      from_cache = chunk.from_cache();
      first = false;
    }
    body += chunk.data();
  }
  grpc::Status s = reader->Finish();
  // The body is printed only once the whole of it has arrived: a failed
  // read never shows a partial message.
  if (!s.ok()) return ReportRpcError(absl::StrCat("read ", *uid), s);
  if (args.Has("json")) {
    std::cout << "{\"info\":" << ProtoToJson(info)
              << ",\"from_cache\":" << (from_cache ? "true" : "false")
              << ",\"bytes\":" << body.size() << ",";
    if (IsValidUtf8(body)) {
      std::cout << "\"body\":" << JsonQuote(body);
    } else {
      std::cout << "\"body_base64\":" << JsonQuote(Base64Encode(body));
    }
    std::cout << "}\n";
    return kExitOk;
  }
  std::cout.write(body.data(), static_cast<std::streamsize>(body.size()));
  std::cout.flush();
  std::string domain = info.signing_domain();
  if (domain.empty()) {
    size_t at = info.envelope_sender().rfind('@');
    if (at != std::string::npos) domain = info.envelope_sender().substr(at + 1);
  }
  std::cerr << "-- " << req.folder() << " UID " << *uid << ": "
            << (info.summary().from().empty() ? info.envelope_sender() : info.summary().from())
            << ", \"" << info.summary().subject() << "\", " << body.size() << " bytes, "
            << (from_cache ? "from cache"
                           : absl::StrCat("fetched from sender node ", domain))
            << "\n";
  return kExitOk;
}

int RunFlag(const Args& args) {
  auto session = OpenUserSession(args);
  if (!session.ok()) return ReportLocalError(session.status());
  auto uid = ParseUid(args);
  if (!uid.ok()) return ReportLocalError(uid.status());
  std::vector<std::string> add, remove;
  for (size_t i = 1; i < args.positional().size(); ++i) {
    const std::string& op = args.positional()[i];
    if (op.size() < 2 || (op[0] != '+' && op[0] != '-')) {
      return ReportLocalError(absl::InvalidArgumentError(
          absl::StrCat("'", op, "': write +FLAG to set or -FLAG to clear, e.g. +\\\\Flagged")));
    }
    (op[0] == '+' ? add : remove).push_back(op.substr(1));
  }
  if (add.empty() && remove.empty()) {
    return ReportLocalError(absl::InvalidArgumentError("give at least one +FLAG or -FLAG"));
  }
  auto stub = session->Mailbox();
  if (!stub.ok()) return ReportLocalError(stub.status());
  v1::SetFlagsResponse resp;
  for (auto [op, flags] : {std::pair{v1::FLAG_OP_ADD, &add}, std::pair{v1::FLAG_OP_REMOVE, &remove}}) {
    if (flags->empty()) continue;
    v1::SetFlagsRequest req;
    req.set_folder(FolderOf(args));
    req.add_uids(*uid);
    req.set_op(op);
    for (const std::string& f : *flags) req.add_flags(f);
    auto ctx = session->Context();
    grpc::Status s = (*stub)->SetFlags(ctx.get(), req, &resp);
    if (!s.ok()) return ReportRpcError("flag", s);
    // IMAP semantics: STORE on a UID that does not exist is not an error,
    // but for a person who named one UID it is.
    if (resp.messages_size() == 0) return NoSuchUid("flag", req.folder(), *uid);
  }
  if (args.Has("json")) {
    std::cout << ProtoToJson(resp) << "\n";
    return kExitOk;
  }
  for (const v1::MessageInfo& m : resp.messages()) {
    std::cout << "UID " << m.uid() << " flags: "
              << (m.flags().empty() ? "(none)" : absl::StrJoin(m.flags(), " ")) << "\n";
  }
  return kExitOk;
}

int RunMove(const Args& args) {
  auto session = OpenUserSession(args);
  if (!session.ok()) return ReportLocalError(session.status());
  auto uid = ParseUid(args);
  if (!uid.ok()) return ReportLocalError(uid.status());
  std::string to = args.GetOr("to", "");
  if (to.empty()) return ReportLocalError(absl::InvalidArgumentError("--to FOLDER is required"));
  auto stub = session->Mailbox();
  if (!stub.ok()) return ReportLocalError(stub.status());
  // Create the destination if it does not exist yet (as `mkdir -p` would).
  {
    v1::ListFoldersResponse folders;
    auto ctx = session->Context();
    grpc::Status s = (*stub)->ListFolders(ctx.get(), v1::ListFoldersRequest(), &folders);
    if (!s.ok()) return ReportRpcError("move", s);
    bool exists = false;
    for (const v1::Folder& f : folders.folders()) exists = exists || f.name() == to;
    if (!exists && absl::AsciiStrToUpper(to) != "INBOX") {
      v1::CreateFolderRequest creq;
      creq.set_name(to);
      v1::CreateFolderResponse cresp;
      auto cctx = session->Context();
      s = (*stub)->CreateFolder(cctx.get(), creq, &cresp);
      if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
        return ReportRpcError(absl::StrCat("create folder ", to), s);
      }
    }
  }
  v1::CopyRequest req;
  req.set_folder(FolderOf(args));
  req.add_uids(*uid);
  req.set_to_folder(to);
  req.set_move(true);
  v1::CopyResponse resp;
  auto ctx = session->Context();
  grpc::Status s = (*stub)->Copy(ctx.get(), req, &resp);
  if (!s.ok()) return ReportRpcError("move", s);
  if (resp.dest_uids_size() == 0) return NoSuchUid("move", req.folder(), *uid);
  if (args.Has("json")) {
    std::cout << ProtoToJson(resp) << "\n";
    return kExitOk;
  }
  std::cout << "moved " << req.folder() << " UID " << *uid << " to " << to;
  if (resp.dest_uids_size() > 0) std::cout << " (UID " << resp.dest_uids(0) << " there)";
  std::cout << "\n";
  return kExitOk;
}

int RunDelete(const Args& args) {
  auto session = OpenUserSession(args);
  if (!session.ok()) return ReportLocalError(session.status());
  auto uid = ParseUid(args);
  if (!uid.ok()) return ReportLocalError(uid.status());
  auto stub = session->Mailbox();
  if (!stub.ok()) return ReportLocalError(stub.status());
  v1::SetFlagsRequest freq;
  freq.set_folder(FolderOf(args));
  freq.add_uids(*uid);
  freq.set_op(v1::FLAG_OP_ADD);
  freq.add_flags("\\Deleted");
  v1::SetFlagsResponse fresp;
  auto ctx = session->Context();
  grpc::Status s = (*stub)->SetFlags(ctx.get(), freq, &fresp);
  if (!s.ok()) return ReportRpcError("delete", s);
  if (fresp.messages_size() == 0) return NoSuchUid("delete", freq.folder(), *uid);
  v1::ExpungeRequest ereq;
  ereq.set_folder(freq.folder());
  ereq.add_uids(*uid);  // UID EXPUNGE: only this one, not other \Deleted messages
  v1::ExpungeResponse eresp;
  auto ectx = session->Context();
  s = (*stub)->Expunge(ectx.get(), ereq, &eresp);
  if (!s.ok()) return ReportRpcError("delete (expunge)", s);
  if (args.Has("json")) {
    std::cout << ProtoToJson(eresp) << "\n";
  } else {
    std::cout << "deleted " << freq.folder() << " UID " << *uid << "\n";
  }
  return kExitOk;
}

int RunReport(const Args& args) {
  auto session = OpenUserSession(args);
  if (!session.ok()) return ReportLocalError(session.status());
  auto uid = ParseUid(args);
  if (!uid.ok()) return ReportLocalError(uid.status());
  if (args.positional().size() != 2) {
    return ReportLocalError(absl::InvalidArgumentError("usage: report UID spam|not-spam"));
  }
  std::string verdict = absl::AsciiStrToLower(args.positional()[1]);
  v1::ReportRequest req;
  if (verdict == "spam") {
    req.set_verdict(v1::VERDICT_SPAM);
  } else if (verdict == "not-spam" || verdict == "ham" || verdict == "notspam") {
    req.set_verdict(v1::VERDICT_NOT_SPAM);
  } else {
    return ReportLocalError(absl::InvalidArgumentError(
        absl::StrCat("verdict '", verdict, "': expected spam or not-spam")));
  }
  req.set_folder(FolderOf(args));
  req.set_uid(*uid);
  auto stub = session->Mailbox();
  if (!stub.ok()) return ReportLocalError(stub.status());
  // With --arf, look the message up first: a spam report moves it to Junk.
  v1::MessageInfo info;
  if (args.Has("arf")) {
    v1::ListMessagesRequest lreq;
    lreq.set_folder(req.folder());
    lreq.set_since_uid(*uid - 1);
    lreq.set_limit(1);
    v1::ListMessagesResponse lresp;
    auto lctx = session->Context();
    grpc::Status ls = (*stub)->ListMessages(lctx.get(), lreq, &lresp);
    if (!ls.ok()) return ReportRpcError("report", ls);
    if (lresp.messages_size() == 0 || lresp.messages(0).uid() != *uid) {
      return ReportRpcError("report", grpc::Status(grpc::StatusCode::NOT_FOUND,
                                                   "no message with that UID"));
    }
    info = lresp.messages(0);
  }
  v1::ReportResponse resp;
  auto ctx = session->Context();
  grpc::Status s = (*stub)->Report(ctx.get(), req, &resp);
  if (!s.ok()) return ReportRpcError("report", s);
  if (args.Has("arf")) {
    // RFC 5965 feedback report for operators of classic mail.
    ArfInfo arf;
    arf.date = absl::Now();
    arf.feedback_type = req.verdict() == v1::VERDICT_SPAM ? "abuse" : "not-spam";
    arf.original_mail_from = info.envelope_sender();
    arf.arrival_date = FromUnixMs(info.received_unix_ms());
    arf.reporting_mta = session->config().domain;
    arf.reported_domains = {info.signing_domain()};
    arf.message_id = info.message_id();
    arf.body_sha256 = info.body_sha256();
    arf.explanation = resp.explanation();
    arf.summary = info.summary();
    std::string out = MakeArfReport(arf);
    std::string path = args.GetOr("arf", "-");
    if (path == "-") {
      std::cout << out;
      return kExitOk;
    }
    absl::Status w = WriteFileAtomically(path, out, 0600);
    if (!w.ok()) return ReportLocalError(w);
  }
  if (args.Has("json")) {
    std::cout << ProtoToJson(resp) << "\n";
    return kExitOk;
  }
  std::cout << "reported " << req.folder() << " UID " << *uid << " as " << verdict;
  if (resp.suppressed() > 0) {
    std::cout << "; " << resp.suppressed() << " unread "
              << (resp.suppressed() == 1 ? "copy" : "copies") << " suppressed";
  }
  std::cout << "\n";
  if (!resp.explanation().empty()) std::cout << "  " << resp.explanation() << "\n";
  return kExitOk;
}

int RunRevoke(const Args& args) {
  auto session = OpenUserSession(args);
  if (!session.ok()) return ReportLocalError(session.status());
  if (args.positional().size() != 1) {
    return ReportLocalError(absl::InvalidArgumentError("usage: revoke MESSAGE_ID"));
  }
  auto stub = session->Submit();
  if (!stub.ok()) return ReportLocalError(stub.status());
  v1::RevokeRequest req;
  req.set_message_id(args.positional()[0]);
  req.set_reason(args.GetOr("reason", "revoked by the sender"));
  v1::RevokeResponse resp;
  auto ctx = session->Context();
  grpc::Status s = (*stub)->Revoke(ctx.get(), req, &resp);
  if (!s.ok()) return ReportRpcError("revoke", s);
  if (args.Has("json")) {
    std::cout << ProtoToJson(resp) << "\n";
    return kExitOk;
  }
  std::cout << "revoked " << req.message_id() << "; " << resp.domains_notified()
            << " recipient domain(s) told to hide unread copies\n";
  if (resp.already_fetched()) {
    std::cout << "  note: some recipient had already fetched the body; that copy stays\n";
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------

namespace {

struct NodeCounters {
  std::string endpoint;
  std::string metrics;
  absl::StatusOr<MetricSamples> samples = absl::UnavailableError("not scraped");
};

std::string CountersJson(const NodeCounters& n) {
  std::string out = absl::StrCat("{\"endpoint\":", JsonQuote(n.endpoint),
                                 ",\"metrics\":", JsonQuote(n.metrics),
                                 ",\"up\":", n.samples.ok() ? "true" : "false");
  if (!n.samples.ok()) {
    absl::StrAppend(&out, ",\"error\":", JsonQuote(SV(n.samples.status().message())));
  } else {
    std::vector<std::string> kv;
    for (const auto& [k, v] : *n.samples) {
      if (k.rfind("pullmail_", 0) != 0) continue;
      kv.push_back(absl::StrCat(JsonQuote(k), ":", absl::StrFormat("%.17g", v)));
    }
    absl::StrAppend(&out, ",\"counters\":{", absl::StrJoin(kv, ","), "}");
  }
  return out + "}";
}

std::string N(double v) { return absl::StrFormat("%.0f", v); }

}  // namespace

int RunStatus(const Args& args) {
  auto session = Session::Open(args.GetOr("config", ""), args.GetOr("user", ""), PasswordFrom(args));
  if (!session.ok()) return ReportLocalError(session.status());
  const NodeConfig& c = session->config();
  NodeCounters sender{c.sender_listen, c.sender_metrics_listen};
  NodeCounters recipient{c.recipient_listen, c.recipient_metrics_listen};
  for (NodeCounters* n : {&sender, &recipient}) {
    if (n->metrics.empty()) {
      n->samples = absl::FailedPreconditionError("no metrics_listen in node.toml");
    } else {
      n->samples = ScrapeMetrics(n->metrics);
    }
  }
  v1::ListSentResponse sent;
  std::optional<grpc::Status> sent_status;
  if (!session->user().empty()) {
    auto stub = session->Submit();
    if (!stub.ok()) return ReportLocalError(stub.status());
    v1::ListSentRequest req;
    req.set_limit(20);
    auto ctx = session->Context(absl::Seconds(10));
    sent_status = (*stub)->ListSent(ctx.get(), req, &sent);
  }
  int rc = (sender.samples.ok() && recipient.samples.ok()) ? kExitOk : kExitUnavailable;
  if (sent_status && !sent_status->ok() && rc == kExitOk) rc = ExitCodeFor(*sent_status);

  if (args.Has("json")) {
    std::cout << "{\"domain\":" << JsonQuote(c.domain) << ",\"sender\":" << CountersJson(sender)
              << ",\"recipient\":" << CountersJson(recipient);
    if (sent_status) {
      if (sent_status->ok()) {
        std::cout << ",\"sent\":" << ProtoToJson(sent);
      } else {
        std::cout << ",\"sent_error\":"
                  << JsonQuote(absl::StrCat(StatusCodeName(sent_status->error_code()), ": ",
                                            sent_status->error_message()));
      }
    }
    std::cout << "}\n";
    return rc;
  }
  std::cout << c.domain << "  (" << c.path << ")\n";
  std::cout << "  sender node     " << sender.endpoint << "  ";
  if (sender.samples.ok()) {
    const MetricSamples& m = *sender.samples;
    std::cout << "up\n"
              << "    submissions " << N(Metric(m, "pullmail_submissions_total"))
              << ", notifications sent " << N(Metric(m, "pullmail_notifications_sent_total"))
              << " (" << N(Metric(m, "pullmail_notification_bytes_sent_total")) << " bytes)"
              << ", body bytes served " << N(Metric(m, "pullmail_body_bytes_served_total"))
              << "\n    fetches: ok "
              << N(Metric(m, "pullmail_fetch_requests_total{result=\"ok\"}")) << ", denied "
              << N(Metric(m, "pullmail_fetch_requests_total{result=\"denied\"}"))
              << ", not found "
              << N(Metric(m, "pullmail_fetch_requests_total{result=\"not_found\"}"))
              << ", revoked " << N(Metric(m, "pullmail_fetch_requests_total{result=\"revoked\"}"))
              << ", expired " << N(Metric(m, "pullmail_fetch_requests_total{result=\"expired\"}"))
              << "; bounces " << N(Metric(m, "pullmail_bounces_total")) << "\n";
  } else {
    std::cout << "DOWN (" << sender.samples.status().message() << ")\n";
  }
  std::cout << "  recipient node  " << recipient.endpoint << "  ";
  if (recipient.samples.ok()) {
    const MetricSamples& m = *recipient.samples;
    std::cout << "up\n"
              << "    notifications accepted "
              << N(Metric(m, "pullmail_notifications_accepted_total")) << " ("
              << N(Metric(m, "pullmail_notification_bytes_received_total")) << " bytes)"
              << ", duplicates " << N(Metric(m, "pullmail_notifications_duplicate_total"))
              << ", rejected " << N(MetricSum(m, "pullmail_notifications_rejected_total"))
              << "\n    reads " << N(Metric(m, "pullmail_reads_total")) << ", body fetches ok "
              << N(Metric(m, "pullmail_fetches_total{result=\"ok\"}")) << " ("
              << N(Metric(m, "pullmail_body_bytes_fetched_total")) << " bytes), unavailable "
              << N(Metric(m, "pullmail_fetches_total{result=\"unavailable\"}"))
              << ", cache hits " << N(Metric(m, "pullmail_cache_hits_total")) << "\n";
  } else {
    std::cout << "DOWN (" << recipient.samples.status().message() << ")\n";
  }
  if (!sent_status) {
    std::cout << "  (give --user and --password to see your sent messages' delivery)\n";
  } else if (!sent_status->ok()) {
    std::cout << "  sent messages: " << StatusCodeName(sent_status->error_code()) << ": "
              << sent_status->error_message() << "\n";
  } else {
    std::cout << "  sent by " << session->user() << ": " << sent.messages_size()
              << (sent.messages_size() == 1 ? " message" : " messages") << "\n";
    for (const v1::SentMessage& m : sent.messages()) {
      std::cout << "    " << m.message_id() << "  \"" << Clip(m.summary().subject(), 40) << "\"  "
                << m.body_size() << " B" << (m.revoked() ? "  REVOKED" : "") << "\n";
      for (const v1::DeliveryStatus& d : m.deliveries()) {
        std::cout << "      " << d.domain() << ": " << d.state() << " (" << d.attempts()
                  << (d.attempts() == 1 ? " attempt" : " attempts");
        if (d.state() == "queued" && d.next_attempt_unix_ms() > 0) {
          std::cout << ", next " << FormatTime(d.next_attempt_unix_ms()) << " UTC";
        }
        if (!d.last_error().empty()) std::cout << ", last error: " << d.last_error();
        std::cout << ")\n";
      }
    }
  }
  return rc;
}

}  // namespace pullmail::cli
