// `pullmail demo`: the whole idea of pullmail in one run on loopback. Two
// domains (a.example, b.example), each with a sender node and a recipient
// node (four real processes, real TLS), built with the same code as
// `pullmail init`. The demo sends mail both ways and narrates, with the byte
// counters read from the nodes' /metrics at each step, that:
//   - a listing needs no body (only the small signed notification moved),
//   - the first read pulls the body from the sender's node,
//   - a second read is served from the recipient node's cache,
//   - a sender node that is down gives a clean UNAVAILABLE, never a wrong or
//     empty body, and after its restart the read succeeds,
//   - a spam campaign to ten users at b.example (whose policy suppresses a
//     body at k = 2 reports) is read and reported by two early readers; the
//     other eight never see it in their inbox (it waits in Junk with the
//     reason) and b.example fetched its body once, for the two readers.
// Every step checks what it claims; any surprise makes the demo exit 1 with
// the nodes' log tails, so ctest runs it as a smoke test.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/compose.h"
#include "cli/imap_client.h"
#include "cli/init.h"
#include "cli/metrics_client.h"
#include "cli/process.h"
#include "core/crypto/encoding.h"
#include "core/crypto/password.h"
#include "core/storage/sqlite_store.h"
#include "core/util/random.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail::cli {
namespace fs = std::filesystem;
namespace {

constexpr absl::Duration kReadyTimeout = absl::Seconds(30);
constexpr absl::Duration kDeliveryTimeout = absl::Seconds(30);
constexpr absl::Duration kStopGrace = absl::Seconds(10);

// A failed expectation: what was expected, and what happened.
struct DemoFailure {
  std::string what;
};

std::string Bytes(double v) {
  // "1,234 bytes" reads better than "1234" in a narration.
  std::string digits = absl::StrFormat("%.0f", v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out + (v == 1 ? " byte" : " bytes");
}

// The first non-empty line after the header block, for the narration.
std::string FirstBodyLine(const std::string& message) {
  size_t start = message.find("\r\n\r\n");
  start = start == std::string::npos ? 0 : start + 4;
  size_t end = message.find_first_of("\r\n", start);
  return message.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

struct ReadOutcome {
  grpc::Status status;
  v1::MessageInfo info;
  bool from_cache = false;
  std::string body;
};

// A user of the spam act: address, password and a logged-in view.
struct Account {
  std::string address;
  std::string password;
  std::optional<Session> session;
};

struct DomainWorld {
  std::string name;
  InitResult init;
  std::string user;
  std::string display_name;
  std::string password;
  std::optional<Session> session;
  ChildProcess sender;
  ChildProcess recipient;
  ChildProcess gateway;  // started for the gateway act (b.example only)
};

class Demo {
 public:
  Demo(std::string root, std::string bin_dir) : root_(std::move(root)), bin_dir_(std::move(bin_dir)) {}

  // Runs every step; throws nothing: returns the first failure, if any.
  std::optional<DemoFailure> Run();
  // Stops whatever still runs (SIGTERM, bounded wait, SIGKILL); the exit
  // statuses must be 0 for the demo to pass.
  std::optional<DemoFailure> StopAll(bool narrate);
  void PrintLogTails();

 private:
  std::optional<DemoFailure> SetUp();
  std::optional<DemoFailure> StartNode(DomainWorld& d, bool sender);
  std::optional<DemoFailure> Story();
  std::optional<DemoFailure> SpamAct();
  std::optional<DemoFailure> GatewayAct();

  // Adds users `locals` to domain `d` (its users.db, as `pullmail user add`
  // does) and opens a session for each.
  absl::StatusOr<std::vector<Account>> AddAccounts(const DomainWorld& d,
                                                   const std::vector<std::string>& locals);

  std::string Binary(bool sender) const;
  std::string LogPath(const DomainWorld& d, bool sender, std::string_view ext) const {
    return absl::StrCat(root_, "/logs/", d.name, sender ? "-sender." : "-recipient.", AV(ext));
  }

  absl::StatusOr<v1::ListMessagesResponse> List(DomainWorld& d) { return List(*d.session, "INBOX"); }
  absl::StatusOr<v1::ListMessagesResponse> List(Session& s, const std::string& folder);
  ReadOutcome Read(DomainWorld& d, uint32_t uid) { return Read(*d.session, uid); }
  ReadOutcome Read(Session& s, uint32_t uid);
  absl::StatusOr<v1::ReportResponse> ReportSpam(Session& s, uint32_t uid);
  absl::StatusOr<v1::SubmitResponse> Send(DomainWorld& from, const DomainWorld& to,
                                          const std::string& subject, const std::string& body);
  // Polls the inbox of `d` until it lists `count` messages.
  absl::StatusOr<v1::ListMessagesResponse> WaitForInbox(DomainWorld& d, int count);
  // Scrapes a node's counters (its metrics endpoint, from node.toml).
  absl::StatusOr<MetricSamples> Counters(const DomainWorld& d, bool sender);
  // Polls `series` on a node until `pred` holds; returns the last value.
  absl::StatusOr<double> WaitCounter(const DomainWorld& d, bool sender, const std::string& series,
                                     const std::function<bool(double)>& pred,
                                     absl::Duration timeout = absl::Seconds(10));

  void Say(const std::string& text) { std::cout << text << "\n" << std::flush; }
  void Step(const std::string& text) {
    std::cout << "\n[" << ++step_ << "] " << text << "\n" << std::flush;
  }

  std::string root_;
  std::string bin_dir_;
  DomainWorld a_, b_;
  std::vector<Account> spam_accounts_;  // the spammer at a.example, then ten at b.example
  int step_ = 0;
};

#define DEMO_EXPECT(cond, ...)                                   \
  do {                                                           \
    if (!(cond)) return DemoFailure{absl::StrCat(__VA_ARGS__)}; \
  } while (0)

#define DEMO_ASSIGN(lhs, expr, what)                                                   \
  auto PM_CONCAT_(demo_, __LINE__) = (expr);                                           \
  if (!PM_CONCAT_(demo_, __LINE__).ok()) {                                             \
    return DemoFailure{absl::StrCat(what, ": ", PM_CONCAT_(demo_, __LINE__).status().ToString())}; \
  }                                                                                    \
  lhs = *std::move(PM_CONCAT_(demo_, __LINE__))

std::string Demo::Binary(bool sender) const {
  const char* name = sender ? "pullmail-sender" : "pullmail-recipient";
  const char* sub = sender ? "sender-node" : "recipient-node";
  for (std::string candidate : {absl::StrCat(bin_dir_, "/", sub, "/", name),
                                absl::StrCat(bin_dir_, "/", name)}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::StrCat(bin_dir_, "/", sub, "/", name);
}

absl::StatusOr<MetricSamples> Demo::Counters(const DomainWorld& d, bool sender) {
  return ScrapeMetrics(sender ? d.init.sender_metrics_listen : d.init.recipient_metrics_listen);
}

absl::StatusOr<double> Demo::WaitCounter(const DomainWorld& d, bool sender,
                                         const std::string& series,
                                         const std::function<bool(double)>& pred,
                                         absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  double last = 0;
  while (true) {
    auto m = Counters(d, sender);
    if (m.ok()) {
      last = Metric(*m, series);
      if (pred(last)) return last;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          d.name, sender ? " sender" : " recipient", " node: ", series, " stayed at ", last,
          m.ok() ? "" : absl::StrCat(" (", m.status().message(), ")")));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::StatusOr<v1::ListMessagesResponse> Demo::List(Session& session, const std::string& folder) {
  auto stub = session.Mailbox();
  if (!stub.ok()) return stub.status();
  v1::ListMessagesRequest req;
  req.set_folder(folder);
  v1::ListMessagesResponse resp;
  auto ctx = session.Context(absl::Seconds(10));
  grpc::Status s = (*stub)->ListMessages(ctx.get(), req, &resp);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat(StatusCodeName(s.error_code()), ": ", s.error_message()));
  }
  return resp;
}

ReadOutcome Demo::Read(Session& session, uint32_t uid) {
  ReadOutcome out;
  auto stub = session.Mailbox();
  if (!stub.ok()) {
    out.status = grpc::Status(grpc::StatusCode::INTERNAL, std::string(stub.status().message()));
    return out;
  }
  v1::ReadRequest req;
  req.set_folder("INBOX");
  req.set_uid(uid);
  auto ctx = session.Context(absl::Seconds(30));
  auto reader = (*stub)->Read(ctx.get(), req);
  v1::ReadChunk chunk;
  bool first = true;
  while (reader->Read(&chunk)) {
    if (first) {
      out.info = chunk.info();
      out.from_cache = chunk.from_cache();
      first = false;
    }
    out.body += chunk.data();
  }
  out.status = reader->Finish();
  return out;
}

absl::StatusOr<v1::ReportResponse> Demo::ReportSpam(Session& session, uint32_t uid) {
  auto stub = session.Mailbox();
  if (!stub.ok()) return stub.status();
  v1::ReportRequest req;
  req.set_folder("INBOX");
  req.set_uid(uid);
  req.set_verdict(v1::VERDICT_SPAM);
  v1::ReportResponse resp;
  auto ctx = session.Context(absl::Seconds(10));
  grpc::Status s = (*stub)->Report(ctx.get(), req, &resp);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat(StatusCodeName(s.error_code()), ": ", s.error_message()));
  }
  return resp;
}

absl::StatusOr<std::vector<Account>> Demo::AddAccounts(const DomainWorld& d,
                                                       const std::vector<std::string>& locals) {
  ASSIGN_OR_RETURN(auto users,
                   OpenSqliteUserStore(absl::StrCat(root_, "/", d.name, "/data/users.db")));
  std::vector<Account> out;
  for (const std::string& local : locals) {
    Account a;
    a.address = absl::StrCat(local, "@", d.name);
    a.password = absl::StrCat("demo-", HexEncode(SecureRandom().Bytes(6)));
    User u;
    u.address = a.address;
    u.password_hash = HashPassword(a.password, SecureRandom());
    u.created = absl::Now();
    RETURN_IF_ERROR(users->AddUser(u));
    ASSIGN_OR_RETURN(Session session, Session::Open(d.init.config_path, a.address, a.password));
    a.session.emplace(std::move(session));
    out.push_back(std::move(a));
  }
  return out;
}

absl::StatusOr<v1::SubmitResponse> Demo::Send(DomainWorld& from, const DomainWorld& to,
                                              const std::string& subject,
                                              const std::string& body) {
  auto stub = from.session->Submit();
  if (!stub.ok()) return stub.status();
  v1::SubmitRequest req;
  req.set_from(from.user);
  req.add_to(to.user);
  req.set_message(ComposeMessage(absl::StrCat(from.display_name, " <", from.user, ">"),
                                 {absl::StrCat(to.display_name, " <", to.user, ">")}, subject,
                                 body, absl::Now(), SecureRandom()));
  v1::SubmitResponse resp;
  auto ctx = from.session->Context(absl::Seconds(30));
  grpc::Status s = (*stub)->Submit(ctx.get(), req, &resp);
  if (!s.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        absl::StrCat(StatusCodeName(s.error_code()), ": ", s.error_message()));
  }
  return resp;
}

absl::StatusOr<v1::ListMessagesResponse> Demo::WaitForInbox(DomainWorld& d, int count) {
  absl::Time deadline = absl::Now() + kDeliveryTimeout;
  absl::Status last = absl::OkStatus();
  int seen = 0;
  while (true) {
    auto r = List(d);
    if (r.ok()) {
      seen = r->messages_size();
      if (seen >= count) return r;
    } else {
      last = r.status();
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          d.user, "'s inbox shows ", seen, " messages after ",
          absl::FormatDuration(kDeliveryTimeout), ", expected ", count,
          last.ok() ? "" : absl::StrCat(" (last error: ", last.message(), ")")));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

std::optional<DemoFailure> Demo::StartNode(DomainWorld& d, bool sender) {
  ChildProcess& p = sender ? d.sender : d.recipient;
  std::vector<std::string> argv = {Binary(sender), "--config", d.init.config_path};
  absl::Status s = p.Start(argv, LogPath(d, sender, "out"), LogPath(d, sender, "log"));
  DEMO_EXPECT(s.ok(), "starting the ", d.name, sender ? " sender" : " recipient",
              " node: ", s.message(), "\n  (build it first: cmake --build <build> --target ",
              sender ? "pullmail-sender" : "pullmail-recipient", ", or pass --bin-dir)");
  auto ready = p.WaitReady(kReadyTimeout);
  DEMO_EXPECT(ready.ok(), d.name, sender ? " sender" : " recipient", " node (pid ", p.pid(),
              ") did not become ready: ", ready.status().message());
  return std::nullopt;
}

std::optional<DemoFailure> Demo::SetUp() {
  std::error_code ec;
  fs::create_directories(root_ + "/logs", ec);
  DEMO_EXPECT(!ec, "cannot create ", root_, "/logs: ", ec.message());
  a_.name = "a.example";
  a_.user = "ann@a.example";
  a_.display_name = "Ann";
  b_.name = "b.example";
  b_.user = "bob@b.example";
  b_.display_name = "Bob";
  for (DomainWorld* d : {&a_, &b_}) {
    InitOptions o;
    o.root = root_;
    o.domain = d->name;
    DEMO_ASSIGN(d->init, InitDomain(o), absl::StrCat("pullmail init ", d->name));
    if (d == &b_) {
      // The spam act: two reports on one body suppress its unread copies
      // (init writes k = 3, docs/POLICY.md).
      DEMO_ASSIGN(std::string toml, ReadFileToString(d->init.config_path), "reading node.toml");
      constexpr std::string_view kDefaultK = "spam_threshold_k = 3.0";
      size_t at = toml.find(kDefaultK);
      DEMO_EXPECT(at != std::string::npos, d->init.config_path, " has no '", AV(kDefaultK), "'");
      toml.replace(at, kDefaultK.size(), "spam_threshold_k = 2.0");
      absl::Status w = WriteFileAtomically(d->init.config_path, toml);
      DEMO_EXPECT(w.ok(), "writing ", d->init.config_path, ": ", w.message());
    }
    d->password = absl::StrCat("demo-", HexEncode(SecureRandom().Bytes(6)));
    DEMO_ASSIGN(auto users, OpenSqliteUserStore(absl::StrCat(root_, "/", d->name, "/data/users.db")),
                "opening users.db");
    User u;
    u.address = d->user;
    u.password_hash = HashPassword(d->password, SecureRandom());
    u.created = absl::Now();
    absl::Status st = users->AddUser(u);
    DEMO_EXPECT(st.ok(), "adding user ", d->user, ": ", st.message());
    DEMO_ASSIGN(Session session, Session::Open(d->init.config_path, d->user, d->password),
                "loading " + d->init.config_path);
    d->session.emplace(std::move(session));
  }
  Step("Set up two domains in " + root_ + ":");
  for (DomainWorld* d : {&a_, &b_}) {
    Say(absl::StrCat("    ", d->name, ": an Ed25519 signing key, a TLS certificate from the demo CA,",
                     " a node.toml, user ", d->user));
  }
  Say("    directory.toml lists both domains' endpoints and public keys.");
  Say("    b.example's spam policy: spam_threshold_k = 2 (two reports on one body suppress its"
      " unread copies).");

  absl::Time t0 = absl::Now();
  for (DomainWorld* d : {&a_, &b_}) {
    for (bool sender : {true, false}) {
      if (auto f = StartNode(*d, sender)) return f;
    }
  }
  Step(absl::StrFormat("Started four node processes (all READY in %.1f s; logs in %s/logs):",
                       absl::ToDoubleSeconds(absl::Now() - t0), root_));
  for (DomainWorld* d : {&a_, &b_}) {
    Say(absl::StrCat("    ", d->name, "  sender node    ", d->init.sender_listen, "  pid ",
                     d->sender.pid()));
    Say(absl::StrCat("    ", d->name, "  recipient node ", d->init.recipient_listen, "  pid ",
                     d->recipient.pid()));
  }
  return std::nullopt;
}

std::optional<DemoFailure> Demo::Story() {
  const std::string lunch_body =
      "Hi Bob,\n\nShall we have lunch on Friday? The new place on the corner does a very good\n"
      "soup, and I would like to hear how the pull-based mail experiment is going.\n\n"
      "This body stays on a.example's sender node until you open it.\n\nAnn\n";

  // --- ann -> bob: notification only --------------------------------------
  DEMO_ASSIGN(auto sent1, Send(a_, b_, "Lunch on Friday?", lunch_body), "ann's submission");
  Step(absl::StrCat("ann@a.example sends \"Lunch on Friday?\" to bob@b.example (",
                    Bytes(sent1.body_size()), ")."));
  Say("    a.example's sender node keeps the body and sends b.example only a signed notification.");
  DEMO_ASSIGN(auto inbox, WaitForInbox(b_, 1), "waiting for the notification at b.example");
  DEMO_ASSIGN(double notif_bytes,
              WaitCounter(b_, false, "pullmail_notification_bytes_received_total",
                          [](double v) { return v > 0; }),
              "b.example's notification byte counter");
  DEMO_ASSIGN(auto a_sender, Counters(a_, true), "a.example sender counters");
  DEMO_ASSIGN(auto b_recipient, Counters(b_, false), "b.example recipient counters");
  double served = Metric(a_sender, "pullmail_body_bytes_served_total");
  double fetched = Metric(b_recipient, "pullmail_body_bytes_fetched_total");
  const v1::MessageInfo& m1 = inbox.messages(0);
  Step(absl::StrCat("bob lists his inbox: 1 message, \"", m1.summary().subject(), "\" from ",
                    m1.summary().from().empty() ? m1.envelope_sender() : m1.summary().from(),
                    ", ", Bytes(m1.body_size()), "."));
  Say(absl::StrCat("    Bytes moved so far: the notification, ", Bytes(notif_bytes),
                   "; the body: ", Bytes(served + fetched),
                   ". The listing came from the notification alone."));
  DEMO_EXPECT(inbox.messages_size() == 1, "expected 1 message at bob's, got ",
              inbox.messages_size());
  DEMO_EXPECT(m1.summary().subject() == "Lunch on Friday?", "subject in the listing is '",
              m1.summary().subject(), "'");
  DEMO_EXPECT(!m1.body_cached(), "the body is already at b.example before any read");
  DEMO_EXPECT(served == 0 && fetched == 0, "body bytes moved before any read: served ", served,
              ", fetched ", fetched);

  // --- first read: fetch ----------------------------------------------------
  ReadOutcome r1 = Read(b_, m1.uid());
  DEMO_EXPECT(r1.status.ok(), "bob's first read: ", StatusCodeName(r1.status.error_code()), ": ",
              r1.status.error_message());
  // What moves between the nodes is the message as sent (sent_size); what
  // bob reads has b.example's Authentication-Results: field on top of it.
  const double sent_size = static_cast<double>(m1.sent_size());
  DEMO_ASSIGN(double served1,
              WaitCounter(a_, true, "pullmail_body_bytes_served_total",
                          [&](double v) { return v >= sent_size; }),
              "a.example's body-served counter after the first read");
  Step(absl::StrCat("bob reads it: b.example fetches the body from a.example's sender node now (",
                    Bytes(served1), " moved), and checks it against the SHA-256 in the ",
                    "notification before showing it."));
  DEMO_EXPECT(!r1.from_cache, "the first read says it came from the cache");
  DEMO_EXPECT(r1.body.size() == m1.body_size(), "read ", r1.body.size(),
              " bytes but the notification said ", m1.body_size());
  DEMO_EXPECT(absl::StrContains(r1.body, "Shall we have lunch on Friday?"),
              "the body read is not the one ann sent");
  DEMO_EXPECT(served1 == sent_size, "a.example served ", served1, " body bytes for a ",
              sent_size, "-byte body");
  DEMO_EXPECT(absl::StartsWith(r1.body, "Authentication-Results: b.example; ") &&
                  r1.body.size() > m1.sent_size(),
              "bob's read does not start with b.example's Authentication-Results: field");
  Say(absl::StrCat("    (bob sees: \"", FirstBodyLine(r1.body), " ...\")"));

  // --- second read: cache ---------------------------------------------------
  DEMO_ASSIGN(auto before2, Counters(b_, false), "b.example recipient counters");
  ReadOutcome r2 = Read(b_, m1.uid());
  DEMO_EXPECT(r2.status.ok(), "bob's second read: ", StatusCodeName(r2.status.error_code()), ": ",
              r2.status.error_message());
  DEMO_ASSIGN(double hits,
              WaitCounter(b_, false, "pullmail_cache_hits_total",
                          [&](double v) { return v > Metric(before2, "pullmail_cache_hits_total"); }),
              "b.example's cache-hit counter after the second read");
  DEMO_ASSIGN(auto a_after2, Counters(a_, true), "a.example sender counters");
  double served2 = Metric(a_after2, "pullmail_body_bytes_served_total");
  Step(absl::StrCat("bob reads it again: served from b.example's cache (cache hits: ",
                    absl::StrFormat("%.0f", hits), "); no byte left a.example (",
                    Bytes(served2 - served1), " more)."));
  DEMO_EXPECT(r2.from_cache, "the second read did not come from the cache");
  DEMO_EXPECT(r2.body == r1.body, "the cached body differs from the fetched one");
  DEMO_EXPECT(served2 == served1, "a.example served more body bytes on a cached read: ",
              served1, " -> ", served2);

  // --- bob -> ann: the other way ----------------------------------------------
  DEMO_ASSIGN(auto sent2,
              Send(b_, a_, "Re: Lunch on Friday?",
                   "Friday works. Noon?\n\n(This reply's body waits on b.example's node.)\n"),
              "bob's reply");
  DEMO_ASSIGN(auto ann_inbox, WaitForInbox(a_, 1), "waiting for bob's reply at a.example");
  ReadOutcome ra = Read(a_, ann_inbox.messages(0).uid());
  DEMO_EXPECT(ra.status.ok(), "ann's read of bob's reply: ", StatusCodeName(ra.status.error_code()),
              ": ", ra.status.error_message());
  DEMO_EXPECT(!ra.from_cache && absl::StrContains(ra.body, "Friday works"),
              "ann's read did not fetch bob's reply");
  DEMO_ASSIGN(double b_served,
              WaitCounter(b_, true, "pullmail_body_bytes_served_total",
                          [&](double v) { return v >= static_cast<double>(sent2.body_size()); }),
              "b.example's body-served counter");
  Step(absl::StrCat("The other way: bob replies (", Bytes(sent2.body_size()),
                    "); ann's inbox lists it, and her read pulls ", Bytes(b_served),
                    " from b.example's sender node."));

  // --- the sender goes down ---------------------------------------------------
  DEMO_ASSIGN(auto sent3,
              Send(a_, b_, "Directions", "Take the tram to the square; it is the green door.\n"),
              "ann's second message");
  DEMO_ASSIGN(auto inbox2, WaitForInbox(b_, 2), "waiting for ann's second notification");
  uint32_t uid3 = 0;
  for (const v1::MessageInfo& m : inbox2.messages()) {
    if (m.summary().subject() == "Directions") uid3 = m.uid();
  }
  DEMO_EXPECT(uid3 != 0, "ann's \"Directions\" is not in bob's inbox");
  pid_t old_pid = a_.sender.pid();
  a_.sender.Kill();
  Step(absl::StrCat("ann sends \"Directions\" (", Bytes(sent3.body_size()),
                    "); bob's inbox lists it. Then a.example's sender node is killed (SIGKILL, pid ",
                    old_pid, ")."));
  ReadOutcome r3 = Read(b_, uid3);
  DEMO_EXPECT(r3.status.error_code() == grpc::StatusCode::UNAVAILABLE,
              "a read while the sender node is down should say UNAVAILABLE, got ",
              StatusCodeName(r3.status.error_code()), ": ", r3.status.error_message(), " (",
              r3.body.size(), " body bytes)");
  DEMO_EXPECT(r3.body.empty(), "a failed read returned ", r3.body.size(), " body bytes");
  // The node's message ends with the transport's details in parentheses;
  // the first part is what a user is shown.
  std::string why = r3.status.error_message();
  if (size_t paren = why.find(" ("); paren != std::string::npos) why.resize(paren);
  Say(absl::StrCat("    bob reads it: UNAVAILABLE: \"", why, "\""));
  Say("    A clear \"try later\", never a wrong or empty body.");
  ReadOutcome r1again = Read(b_, m1.uid());
  DEMO_EXPECT(r1again.status.ok() && r1again.from_cache,
              "the cached \"Lunch\" message should still read while a.example is down: ",
              StatusCodeName(r1again.status.error_code()), ": ", r1again.status.error_message());
  Say("    \"Lunch on Friday?\", already fetched, still reads fine from b.example's cache.");

  // --- restart ------------------------------------------------------------------
  if (auto f = StartNode(a_, true)) return f;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  ReadOutcome r4;
  int attempts = 0;
  while (true) {
    ++attempts;
    r4 = Read(b_, uid3);
    // Right after the restart b.example's channel may still be in its
    // reconnect backoff: UNAVAILABLE then is expected, briefly.
    if (r4.status.error_code() != grpc::StatusCode::UNAVAILABLE || absl::Now() > deadline) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  DEMO_EXPECT(r4.status.ok(), "the read after the restart: ",
              StatusCodeName(r4.status.error_code()), ": ", r4.status.error_message());
  DEMO_EXPECT(absl::StrContains(r4.body, "green door") && !r4.from_cache,
              "the read after the restart did not fetch the right body");
  DEMO_ASSIGN(auto a_final, Counters(a_, true), "a.example sender counters after the restart");
  Step(absl::StrCat("a.example's sender node restarts (pid ", a_.sender.pid(),
                    "; its bodies and queue are in SQLite). bob reads \"Directions\": OK, ",
                    Bytes(r4.body.size()), " fetched",
                    attempts > 1 ? absl::StrCat(" (", attempts, " tries while b.example reconnected)")
                                 : "",
                    "."));
  Say(absl::StrCat("    (the restarted node has served ",
                   Bytes(Metric(a_final, "pullmail_body_bytes_served_total")),
                   " since it started)"));
  return std::nullopt;
}

std::optional<DemoFailure> Demo::SpamAct() {
  constexpr int kUsers = 10;
  constexpr int kEarlyReaders = 2;
  std::vector<std::string> locals;
  for (int i = 1; i <= kUsers; ++i) locals.push_back(absl::StrFormat("user%02d", i));
  DEMO_ASSIGN(spam_accounts_, AddAccounts(a_, {"spammer"}), "adding spammer@a.example");
  DEMO_ASSIGN(std::vector<Account> readers, AddAccounts(b_, locals), "adding users at b.example");
  for (Account& r : readers) spam_accounts_.push_back(std::move(r));
  Account& spammer = spam_accounts_[0];
  std::vector<Account*> users;
  for (size_t i = 1; i < spam_accounts_.size(); ++i) users.push_back(&spam_accounts_[i]);

  // Finds the copy of `message_id` in one user's `folder`, if listed there.
  auto find = [&](Account& u, const std::string& folder,
                  const std::string& message_id) -> absl::StatusOr<std::optional<v1::MessageInfo>> {
    auto list = List(*u.session, folder);
    if (!list.ok()) return list.status();
    for (const v1::MessageInfo& m : list->messages()) {
      if (m.message_id() == message_id) return m;
    }
    return std::optional<v1::MessageInfo>();
  };

  // --- the campaign ----------------------------------------------------------
  std::string body;
  for (int i = 0; i < 48; ++i) {
    body += "CONGRATULATIONS! You have been selected for a FREE cruise. Claim it now at "
            "http://cruise.invalid/\n";
  }
  v1::SubmitRequest req;
  req.set_from(spammer.address);
  std::vector<std::string> to;
  for (Account* u : users) {
    req.add_to(u->address);
    to.push_back(u->address);
  }
  req.set_message(ComposeMessage(absl::StrCat("Prize Desk <", spammer.address, ">"), to,
                                 "You have WON a cruise", body, absl::Now(), SecureRandom()));
  DEMO_ASSIGN(auto submit_stub, spammer.session->Submit(), "spammer's submit channel");
  v1::SubmitResponse sent;
  {
    auto ctx = spammer.session->Context(absl::Seconds(30));
    grpc::Status st = submit_stub->Submit(ctx.get(), req, &sent);
    DEMO_EXPECT(st.ok(), "the spammer's submission: ", StatusCodeName(st.error_code()), ": ",
                st.error_message());
  }
  const std::string& mid = sent.message_id();
  const double size = static_cast<double>(sent.body_size());
  Step(absl::StrCat("A spam campaign: spammer@a.example sends \"You have WON a cruise\" (",
                    Bytes(size), ") to ten users at b.example, user01 ... user10."));

  std::vector<uint32_t> uids(users.size(), 0);
  absl::Time deadline = absl::Now() + kDeliveryTimeout;
  for (size_t i = 0; i < users.size(); ++i) {
    while (true) {
      DEMO_ASSIGN(auto copy, find(*users[i], "INBOX", mid), "listing " + users[i]->address);
      if (copy) {
        DEMO_EXPECT(copy->state() == "shown" && !copy->body_cached(), users[i]->address,
                    "'s new copy is ", copy->state(), copy->body_cached() ? ", body cached" : "");
        uids[i] = copy->uid();
        break;
      }
      DEMO_EXPECT(absl::Now() < deadline, users[i]->address, "'s inbox does not list ", mid,
                  " after ", absl::FormatDuration(kDeliveryTimeout));
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  DEMO_ASSIGN(auto b_before, Counters(b_, false), "b.example recipient counters");
  DEMO_ASSIGN(auto a_before, Counters(a_, true), "a.example sender counters");
  const double fetched0 = Metric(b_before, "pullmail_body_bytes_fetched_total");
  const double served0 = Metric(a_before, "pullmail_body_bytes_served_total");
  const double abuse0 = Metric(a_before, "pullmail_abuse_reports_total{verdict=\"spam\"}");
  Say("    All ten inboxes list it; b.example has the notification only, no body yet.");

  // --- two early readers read and report it ------------------------------------
  for (int i = 0; i < kEarlyReaders; ++i) {
    Account& u = *users[i];
    ReadOutcome r = Read(*u.session, uids[i]);
    DEMO_EXPECT(r.status.ok(), u.address, "'s read: ", StatusCodeName(r.status.error_code()), ": ",
                r.status.error_message());
    // The campaign's body as sent, below b.example's Authentication-Results:.
    DEMO_EXPECT(static_cast<double>(r.body.size()) > size &&
                    absl::StartsWith(r.body, "Authentication-Results: b.example; ") &&
                    absl::StrContains(r.body, "FREE cruise"),
                u.address, " read ", r.body.size(), " bytes, not the campaign's body");
    DEMO_EXPECT(r.from_cache == (i > 0), u.address, "'s read ",
                r.from_cache ? "came from the cache" : "fetched the body again");
    DEMO_ASSIGN(double fetched,
                WaitCounter(b_, false, "pullmail_body_bytes_fetched_total",
                            [&](double v) { return v >= fetched0 + size; }),
                "b.example's body-fetched counter");
    DEMO_EXPECT(fetched == fetched0 + size, "b.example fetched ", fetched - fetched0,
                " body bytes for a ", size, "-byte body");
    DEMO_ASSIGN(auto rep, ReportSpam(*u.session, uids[i]), u.address + "'s spam report");
    const uint32_t expect_suppressed = i + 1 < kEarlyReaders ? 0 : kUsers - kEarlyReaders;
    DEMO_EXPECT(rep.suppressed() == expect_suppressed, u.address, "'s report suppressed ",
                rep.suppressed(), " copies, expected ", expect_suppressed, " (",
                rep.explanation(), ")");
    if (i == 0) {
      Step(absl::StrCat(u.address, " opens it first: b.example fetches the body (",
                        Bytes(fetched - fetched0), "). ", u.address, " reports it as spam."));
      Say("    1 report, below the threshold of 2: the other nine still see it.");
    } else {
      Step(absl::StrCat(u.address, " opens it too (from b.example's cache, no byte fetched) and "
                        "reports it: threshold reached, ", rep.suppressed(),
                        " unread copies moved to Junk."));
    }
  }

  // --- the other eight -----------------------------------------------------------
  std::string reason;
  for (size_t i = kEarlyReaders; i < users.size(); ++i) {
    Account& u = *users[i];
    DEMO_ASSIGN(auto in_inbox, find(u, "INBOX", mid), "listing " + u.address);
    DEMO_EXPECT(!in_inbox, u.address, "'s inbox still lists the spam (state ",
                in_inbox ? in_inbox->state() : "", ")");
    DEMO_ASSIGN(auto in_junk, find(u, "Junk", mid), "listing " + u.address + "'s Junk");
    DEMO_EXPECT(in_junk && in_junk->state() == "suppressed" &&
                    absl::StartsWith(in_junk->reason(), "body_hash_threshold"),
                u.address, "'s Junk does not hold the suppressed copy with its reason");
    reason = in_junk->reason();
  }
  DEMO_ASSIGN(auto b_after, Counters(b_, false), "b.example recipient counters");
  const double fetched = Metric(b_after, "pullmail_body_bytes_fetched_total") - fetched0;
  // The sender node counts a served body as its stream ends.
  DEMO_ASSIGN(double served_total,
              WaitCounter(a_, true, "pullmail_body_bytes_served_total",
                          [&](double v) { return v >= served0 + size; }),
              "a.example's body-served counter");
  const double served = served_total - served0;
  DEMO_EXPECT(fetched == size && served == size, "the campaign moved ", fetched,
              " body bytes to b.example (", served, " served by a.example); expected one body, ",
              size);
  const int others = kUsers - kEarlyReaders;
  Step(absl::StrCat("The other ", others, " users (",
                    absl::StrFormat("user%02d ... user%02d", kEarlyReaders + 1, kUsers),
                    ") never see it in their inbox; it waits in their Junk folder, with why:"));
  Say(absl::StrCat("    \"", reason, "\""));
  Say(absl::StrCat("    b.example fetched the body once, ", Bytes(fetched), ", for its two "
                   "readers. Pushed, the spam would have landed in all ten mailboxes (",
                   Bytes(kUsers * size), ") and in front of ten people; here ", others, " x ",
                   Bytes(size), " = ", Bytes(others * size), " were never delivered to the ",
                   others, " who did not open it, and they were never shown it."));
  DEMO_ASSIGN(double abuse,
              WaitCounter(a_, true, "pullmail_abuse_reports_total{verdict=\"spam\"}",
                          [&](double v) { return v >= abuse0 + kEarlyReaders; }),
              "a.example's abuse-report counter");
  DEMO_EXPECT(abuse == abuse0 + kEarlyReaders, "a.example counted ", abuse - abuse0,
              " abuse reports, expected ", kEarlyReaders);
  Say(absl::StrCat("    b.example also sent both reports to a.example's sender node, which counts ",
                   abuse - abuse0, " abuse reports against spammer@a.example."));
  return std::nullopt;
}

std::optional<DemoFailure> Demo::StopAll(bool narrate) {
  std::optional<DemoFailure> failure;
  std::vector<std::string> lines;
  absl::Time t0 = absl::Now();
  // Our own client channels go first (a node's shutdown waits for open
  // client connections, up to its drain bound); then all four at once.
  for (DomainWorld* d : {&a_, &b_}) d->session.reset();
  for (Account& acc : spam_accounts_) acc.session.reset();
  for (DomainWorld* d : {&a_, &b_}) {
    d->gateway.Terminate();
    d->sender.Terminate();
    d->recipient.Terminate();
  }
  for (DomainWorld* d : {&a_, &b_}) {
    for (int kind = 0; kind < 3; ++kind) {
      ChildProcess& p = kind == 0 ? d->sender : kind == 1 ? d->recipient : d->gateway;
      if (!p.running()) continue;
      std::string who = absl::StrCat(d->name, kind == 0   ? " sender node"
                                              : kind == 1 ? " recipient node"
                                                          : " gateway");
      auto ws = p.Stop(kStopGrace);
      if (!ws.ok()) {
        if (!failure) failure = DemoFailure{absl::StrCat(who, ": ", ws.status().message())};
        lines.push_back(absl::StrCat("    ", who, ": ", ws.status().message()));
      } else {
        lines.push_back(absl::StrFormat("    %s: %s (after %.1f s)", who, ExitDescription(*ws),
                                        absl::ToDoubleSeconds(absl::Now() - t0)));
        if (*ws != 0 && !failure) {
          failure = DemoFailure{absl::StrCat(who, " did not exit cleanly on SIGTERM: ",
                                             ExitDescription(*ws))};
        }
      }
    }
  }
  if (narrate && !lines.empty()) {
    Step(absl::StrFormat("Stopped every process with SIGTERM (%.1f s):",
                         absl::ToDoubleSeconds(absl::Now() - t0)));
    for (const std::string& l : lines) Say(l);
  }
  return failure;
}

std::optional<DemoFailure> Demo::Run() {
  if (auto f = SetUp()) return f;
  if (auto f = Story()) return f;
  // Before the spam act, whose reports lower a.example's reputation at
  // b.example (new mail from it may then be held back).
  if (auto f = GatewayAct()) return f;
  return SpamAct();
}

// A classic mail program reads pullmail through the gateway: IMAP over
// STARTTLS; the listing moves no body, FETCH BODY[] is what pulls it.
std::optional<DemoFailure> Demo::GatewayAct() {
  const std::string log = absl::StrCat(root_, "/logs/", b_.name, "-gateway.");
  absl::Status s = b_.gateway.Start(
      {bin_dir_ + "/gateway/pullmail-gateway", "--config", b_.init.config_path}, log + "out",
      log + "log");
  DEMO_EXPECT(s.ok(), "starting b.example's gateway: ", s.message(),
              "\n  (build it first: cmake --build <build> --target pullmail-gateway)");
  auto ready = b_.gateway.WaitReady(kReadyTimeout);
  DEMO_EXPECT(ready.ok(), "b.example's gateway (pid ", b_.gateway.pid(),
              ") did not become ready: ", ready.status().message());

  DEMO_ASSIGN(auto before, List(b_), "bob's inbox");
  const std::string body =
      "Bob,\n\nthe minutes of Tuesday's meeting: we keep the bodies where they were written,\n"
      "and the readers pull them. Next meeting on the 30th.\n\nAnn\n";
  DEMO_ASSIGN(auto sent, Send(a_, b_, "Minutes of Tuesday's meeting", body), "ann's submission");
  DEMO_ASSIGN(auto inbox, WaitForInbox(b_, before.messages_size() + 1),
              "waiting for the minutes at b.example");
  DEMO_ASSIGN(auto c0, Counters(a_, true), "a.example sender counters");
  const double served0 = Metric(c0, "pullmail_body_bytes_served_total");
  Step(absl::StrCat("bob's mail program (IMAP, any client: mutt, Thunderbird, mbsync) connects to "
                    "b.example's gateway (pid ", b_.gateway.pid(), ", ", b_.init.imap_listen,
                    ") with STARTTLS and logs in."));

  ImapClient imap;
  s = imap.Connect(b_.init.imap_listen, root_ + "/ca/ca.pem", b_.name, absl::Seconds(20));
  DEMO_EXPECT(s.ok(), "IMAP connection to the gateway: ", s.message());
  auto quote = [](const std::string& x) { return absl::StrCat("\"", x, "\""); };
  DEMO_ASSIGN(auto login, imap.Command(absl::StrCat("LOGIN ", quote(b_.user), " ",
                                                    quote(b_.password))),
              "IMAP LOGIN");
  DEMO_EXPECT(absl::StartsWith(login.status, "OK"), "IMAP LOGIN: ", login.status);
  DEMO_ASSIGN(auto select, imap.Command("SELECT INBOX"), "IMAP SELECT");
  DEMO_EXPECT(absl::StartsWith(select.status, "OK"), "IMAP SELECT: ", select.status);
  const int n = inbox.messages_size();
  DEMO_ASSIGN(auto env, imap.Command(absl::StrCat("FETCH ", n, " (ENVELOPE RFC822.SIZE)")),
              "IMAP FETCH ENVELOPE");
  DEMO_EXPECT(absl::StartsWith(env.status, "OK") && env.untagged.size() == 1 &&
                  absl::StrContains(env.untagged[0], "Minutes of Tuesday"),
              "IMAP FETCH ENVELOPE: ", env.status);
  DEMO_ASSIGN(auto c1, Counters(a_, true), "a.example sender counters");
  const double served1 = Metric(c1, "pullmail_body_bytes_served_total");
  Say(absl::StrCat("    C: FETCH ", n, " (ENVELOPE RFC822.SIZE)"));
  Say(absl::StrCat("    S: ", env.untagged[0].substr(0, 110), " ..."));
  Say(absl::StrCat("    The envelope and size came from the notification: ",
                   Bytes(served1 - served0), " of the body moved."));
  DEMO_EXPECT(served1 == served0, "the IMAP listing pulled ", served1 - served0, " body bytes");

  DEMO_ASSIGN(auto fetch, imap.Command(absl::StrCat("FETCH ", n, " BODY[]")), "IMAP FETCH BODY[]");
  DEMO_EXPECT(absl::StartsWith(fetch.status, "OK") && fetch.literals.size() == 1,
              "IMAP FETCH BODY[]: ", fetch.status);
  DEMO_ASSIGN(double served2,
              WaitCounter(a_, true, "pullmail_body_bytes_served_total",
                          [&](double v) { return v > served1; }),
              "a.example's body-served counter after the IMAP fetch");
  Step(absl::StrCat("bob opens it: FETCH BODY[] makes b.example pull the body from a.example (",
                    Bytes(served2 - served1), "), verified, then sent to the client as an IMAP "
                    "literal of ", Bytes(fetch.literals[0].size()), "."));
  // The recipient node puts its Authentication-Results: field on top of
  // what it serves (docs/PROTOCOL.md, verification record).
  const size_t field_end = fetch.literals[0].find("\r\n");
  DEMO_EXPECT(absl::StartsWith(fetch.literals[0], "Authentication-Results: b.example; ") &&
                  field_end != std::string::npos &&
                  fetch.literals[0].size() == field_end + 2 + sent.body_size(),
              "IMAP returned ", fetch.literals[0].size(), " bytes for a ", sent.body_size(),
              "-byte message");
  DEMO_EXPECT(absl::StrContains(fetch.literals[0], "dmarc=pass"),
              "the Authentication-Results: field does not say the From: is verified");
  DEMO_EXPECT(served2 - served1 == static_cast<double>(sent.body_size()), "a.example served ",
              served2 - served1, " bytes for a ", sent.body_size(), "-byte message");
  DEMO_EXPECT(absl::StrContains(fetch.literals[0], "we keep the bodies where they were written"),
              "the body fetched over IMAP is not the one ann sent");
  DEMO_ASSIGN(auto bye, imap.Command("LOGOUT"), "IMAP LOGOUT");
  Say("    Classic clients need no change: the pull happens behind the IMAP FETCH.");
  return std::nullopt;
}

void Demo::PrintLogTails() {
  for (DomainWorld* d : {&a_, &b_}) {
    for (bool sender : {true, false}) {
      ChildProcess& p = sender ? d->sender : d->recipient;
      std::string log = LogPath(*d, sender, "log");
      if (!fs::exists(log)) continue;  // never started
      std::cerr << "--- last lines of " << log << "\n" << p.StderrTail(12);
    }
    std::string log = absl::StrCat(root_, "/logs/", d->name, "-gateway.log");
    if (fs::exists(log)) {
      std::cerr << "--- last lines of " << log << "\n" << d->gateway.StderrTail(12);
    }
  }
}

}  // namespace

int RunDemo(const Args& args) {
  std::string bin_dir = args.GetOr("bin-dir", SelfExeDir() + "/..");
  std::string root;
  if (auto dir = args.Get("dir")) {
    std::error_code ec;
    if (fs::exists(*dir) && !fs::is_empty(*dir, ec)) {
      return ReportLocalError(absl::InvalidArgumentError(
          absl::StrCat("--dir ", *dir, " exists and is not empty")));
    }
    fs::create_directories(*dir, ec);
    if (ec) return ReportLocalError(absl::UnavailableError(ec.message()));
    root = fs::absolute(*dir).lexically_normal().string();
  } else {
    std::string tmpl = (fs::temp_directory_path() / "pullmail-demo-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      return ReportLocalError(absl::UnavailableError("mkdtemp failed"));
    }
    root = tmpl;
  }
  std::cout << "pullmail demo: two domains, four node processes, on 127.0.0.1 with TLS.\n"
            << "The body of a message stays on its sender's node until someone reads it.\n"
            << std::flush;

  absl::Time start = absl::Now();
  Demo demo(root, bin_dir);
  std::optional<DemoFailure> failure = demo.Run();
  std::optional<DemoFailure> stop_failure = demo.StopAll(!failure.has_value());
  if (!failure) failure = stop_failure;
  if (failure) {
    std::cerr << "\npullmail demo FAILED: " << failure->what << "\n";
    demo.PrintLogTails();
    std::cerr << "(files kept in " << root << ")\n";
    return kExitRefused;
  }
  std::cout << absl::StrFormat("\nDemo passed in %.1f s.",
                               absl::ToDoubleSeconds(absl::Now() - start));
  if (args.Has("keep")) {
    std::cout << " Files kept in " << root << " (try: pullmail status --config " << root
              << "/a.example/node.toml)\n";
  } else {
    std::error_code ec;
    fs::remove_all(root, ec);
    std::cout << " Removed " << root << ".\n";
  }
  return kExitOk;
}

}  // namespace pullmail::cli
