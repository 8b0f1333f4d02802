// Parity of the simulator with the real nodes (issue 8): one scripted
// sequence of events -- notifications from a good and a bad domain, reads,
// spam reports reaching the threshold, a revocation, a sender node going
// down and coming back, a domain whose recipient node never answers, a
// recipient that does not exist, expiry -- is driven
//   (a) through the real programs' code: two SenderNodes (good.example,
//       bad.example) serving gRPC over TLS on 127.0.0.1, each with its
//       delivery worker, and one RecipientNode (rcpt.example) serving the
//       recipient service, all on memory stores and one fake clock; a
//       scripted reader reads, reports and retries through
//       RecipientNode::Read / Report, the sender recalls through
//       SenderNode::Revoke, the test calls the node's Maintain() (held
//       review, prefetch) as its maintenance thread would;
//   (b) through the simulator's pull world on SimGrid, built from the same
//       script (sim::WorldScript) with the same policy, retention, prefetch
//       margin and reader retry (tests/parity/parity.toml);
// and asserts the same outcome for every copy: shown, junk, held or hidden
// (or never stored); read (body fetched) or not; prefetched or not; bounced
// or not. A rule that one side stops sharing shows up as a copy whose
// outcome differs, named in the failure.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/crypto/ed25519.h"
#include "core/directory/memory_directory.h"
#include "core/logic/body_cache_key.h"
#include "core/logic/status_class.h"
#include "core/mail/flags.h"
#include "core/storage/memory_store.h"
#include "core/util/clock.h"
#include "gtest/gtest.h"
#include "recipient-node/recipient_node.h"
#include "rpc/certs.h"
#include "rpc/tls.h"
#include "sender-node/delivery_worker.h"
#include "sender-node/sender_node.h"
#include "sim/pull_world.h"
#include "sim/runner.h"
#include "sim/scenario.h"
#include "sim/workload_out.h"
#include "sim/world.h"

namespace pullmail {
namespace {

using sim::PullWorld;
using sim::WorldScript;

constexpr double kHour = 3600;
constexpr double kStep = 600;           // the node side's time step (s)
constexpr double kEnd = 3 * 86400;      // past every expiry (retention 2 d)
// The fake clock starts at the wall clock's now: the nodes derive gRPC
// deadlines from their clock (noted in the report: a deadline is wall time).
const absl::Time kStart = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));

// ---- The script -------------------------------------------------------------

// Domains (index = sim domain): users are numbered over all domains.
//   0 good.example  u0          sender node; down from 6 h to 8 h
//   1 bad.example   u1          sender node
//   2 rcpt.example  u2 .. u5    the recipient node
//   3 gone.example  u6          its recipient node never answers
enum : uint32_t { kGood = 0, kBad = 1, kRcpt = 2, kGone = 3 };

WorldScript MakeScript() {
  WorldScript s;
  s.domains = {{"good.example", 1, {{6 * kHour, 8 * kHour}}},
               {"bad.example", 1, {}},
               {"rcpt.example", 4, {}},
               {"gone.example", 1, {{0, 1e12}}}};
  auto rcpt = [](uint32_t u) { return WorldScript::Rcpt{u, true, 0}; };
  // M0: good -> u2, u3. u2 reads it; u3 never does (not pinned: the body is
  // cached since u2's read).
  s.messages.push_back({0, kGood, 0, 100, 3000, {rcpt(2), rcpt(3)}});
  // M1: bad -> u2..u5, one body. u2 and u3 read and report it (k = 2): the
  // unread copies of u4 and u5 move to Junk; bad.example turns bad.
  s.messages.push_back({600, kBad, 1, 101, 4000, {rcpt(2), rcpt(3), rcpt(4), rcpt(5)}});
  // M2: good -> u4, u5. u4 reads it, then the sender recalls it (4 h): u5's
  // copy is hidden, u4's stays.
  s.messages.push_back({1200, kGood, 0, 102, 2000, {rcpt(4), rcpt(5)}});
  // M3: good -> u3, u4, never read: pinned a day before expiry.
  s.messages.push_back({2 * kHour, kGood, 0, 103, 1800, {rcpt(3), rcpt(4)}});
  // M4: bad (now bad) -> u2, u3: held, and still held at expiry (never
  // pinned: the node pins only shown copies).
  s.messages.push_back({5 * kHour, kBad, 1, 104, 2500, {rcpt(2), rcpt(3)}});
  // M5: good -> u5; u5 opens it while good's node is down (6.5 h), again
  // at 7.5 h (still down) and gets it at 8.5 h.
  s.messages.push_back({5.5 * kHour, kGood, 0, 105, 1500, {rcpt(5)}});
  // M6: good -> a user rcpt.example does not have: refused, bounced.
  s.messages.push_back({5.5 * kHour, kGood, 0, 106, 1000, {{0, false, kRcpt}}});
  // M7: good -> u6 at gone.example: retried until expiry, bounced (4.4.7).
  s.messages.push_back({5.5 * kHour, kGood, 0, 107, 1000, {rcpt(6)}});
  s.reads = {{0, 2, 1 * kHour, false}, {1, 2, 2 * kHour, true}, {1, 3, 3 * kHour, true},
             {2, 4, 1 * kHour, false}, {5, 5, 1 * kHour, false},
             // Scripted but never done: by then the copy is held / in Junk.
             {4, 2, 1 * kHour, false}, {1, 5, 4 * kHour, false}};
  s.recalls = {{2, 4 * kHour}};
  return s;
}

std::string UserAddress(const WorldScript& s, uint32_t user) {
  uint32_t first = 0;
  for (const WorldScript::Domain& d : s.domains) {
    if (user < first + d.users) return absl::StrCat("u", user, "@", d.name);
    first += d.users;
  }
  return "";
}

// What happened to one copy, in PullWorld's trace encoding.
using Trace = std::map<std::pair<uint32_t, std::string>, uint8_t>;  // (message, address)

std::string Describe(uint8_t t) { return sim::DescribeCopyTrace(t); }

// ---- (b) the simulator ------------------------------------------------------------

Trace RunSimulator(const WorldScript& script, const sim::Scenario& sc) {
  sim::RunOptions options;
  options.script = &script;
  absl::StatusOr<sim::RunResult> r = sim::RunScenario(sc, options);
  EXPECT_TRUE(r.ok()) << r.status();
  Trace trace;
  if (!r.ok()) return trace;
  // Stopped at max_time with held copies still held: not every copy has
  // an outcome yet, by design (sim_test checks conservation).
  const sim::World& w = *r->world;
  for (uint32_t i = 0; i < w.messages().size(); ++i) {
    const sim::Message& m = w.messages()[i];
    for (uint32_t j = m.rcpt_begin; j < m.rcpt_begin + m.rcpt_count; ++j) {
      // The seen bit is the node's \Seen; compared as "read" (fetched).
      trace[{i, w.RecipientAddress(w.rcpts()[j])}] =
          r->pull_trace[j] & static_cast<uint8_t>(~PullWorld::kTraceSeen);
    }
  }
  return trace;
}

// ---- (a) the real nodes -----------------------------------------------------------

// One clock for every node and thread of the test; only the test moves it.
class SharedFakeClock : public Clock {
 public:
  absl::Time Now() const override { return absl::FromUnixNanos(ns_.load()); }
  void Set(absl::Time t) { ns_.store(absl::ToUnixNanos(t)); }

 private:
  std::atomic<int64_t> ns_{absl::ToUnixNanos(kStart)};
};

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// Waits (bounded) until `done` holds.
bool WaitFor(const std::function<bool()>& done, absl::Duration bound = absl::Seconds(30)) {
  const absl::Time until = absl::Now() + bound;
  while (!done()) {
    if (absl::Now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

struct Server {
  std::unique_ptr<grpc::Service> service;
  std::unique_ptr<grpc::Server> server;
};

class NodeWorld {
 public:
  NodeWorld(const WorldScript& script, const sim::Scenario& sc) : script_(script), sc_(sc) {}

  ~NodeWorld() {
    for (auto& [name, w] : workers_) w.reset();
    for (auto& [name, s] : servers_) {
      if (s.server) s.server->Shutdown(std::chrono::system_clock::now());
    }
    if (recipient_) recipient_->BeginShutdown();
    recipient_server_.server.reset();
    recipient_.reset();
    for (auto& [name, s] : servers_) s.server.reset();
    senders_.clear();
    std::filesystem::remove_all(dir_);
  }

  void SetUp() {
    dir_ = (std::filesystem::temp_directory_path() / absl::StrCat("parity-", getpid())).string();
    std::filesystem::create_directories(dir_);
    ASSERT_TRUE(EnsureCertificateAuthority(dir_).ok());
    for (const WorldScript::Domain& d : script_.domains) {
      Tls& t = tls_[d.name];
      t.config.ca = dir_ + "/ca.pem";
      t.config.cert = absl::StrCat(dir_, "/", d.name, ".pem");
      t.config.key = absl::StrCat(dir_, "/", d.name, ".key");
      ASSERT_TRUE(IssueNodeCertificate(dir_, d.name, t.config.cert, t.config.key).ok());
      std::string seed(32, static_cast<char>('a' + entries_.size()));
      absl::StatusOr<SigningKey> key = SigningKey::FromSeed(seed);
      ASSERT_TRUE(key.ok());
      DomainEntry e;
      e.domain = d.name;
      e.sender_endpoint = absl::StrCat("127.0.0.1:", FreePort());
      e.recipient_endpoint = absl::StrCat("127.0.0.1:", FreePort());
      e.keys["k1"] = key->PublicKey();
      entries_.push_back(e);
      seeds_[d.name] = seed;
    }
    // The senders: good.example and bad.example.
    for (uint32_t d : {kGood, kBad}) {
      const std::string& name = script_.domains[d].name;
      SenderNode::Parts p;
      p.config = Config(name);
      p.base.users = NewMemoryUserStore();
      User sender;
      sender.address = UserAddress(script_, d);  // u0@good.example, u1@bad.example
      ASSERT_TRUE(p.base.users->AddUser(sender).ok());
      p.base.directory = Directory();
      p.base.key = std::make_unique<SigningKey>(*SigningKey::FromSeed(seeds_[name]));
      p.store = NewMemorySenderStore();
      p.clock = &clock_;
      p.retry = sc_.retry;
      senders_[name] = SenderNode::FromParts(std::move(p));
      StartSender(name);
      workers_[name] = std::make_unique<DeliveryWorker>(senders_[name].get());
    }
    // The recipient: rcpt.example and its users.
    RecipientNode::Parts p;
    p.config = Config("rcpt.example");
    p.base.users = NewMemoryUserStore();
    for (uint32_t u = 2; u <= 5; ++u) {
      User user;
      user.address = UserAddress(script_, u);
      ASSERT_TRUE(p.base.users->AddUser(user).ok());
    }
    p.base.directory = Directory();
    p.base.key = std::make_unique<SigningKey>(*SigningKey::FromSeed(seeds_["rcpt.example"]));
    p.store = NewMemoryRecipientStore();
    p.clock = &clock_;
    p.policy = sc_.policy;
    absl::StatusOr<std::unique_ptr<RecipientNode>> r = RecipientNode::FromParts(std::move(p));
    ASSERT_TRUE(r.ok()) << r.status();
    recipient_ = *std::move(r);
    const std::string listen = Entry("rcpt.example").recipient_endpoint;
    recipient_server_.service = MakeRecipientService(recipient_.get());
    recipient_server_.server = Serve(listen, tls_["rcpt.example"].config, recipient_server_.service.get());
    ASSERT_NE(recipient_server_.server, nullptr);
  }

  // Runs the script on the fake clock in steps of kStep.
  Trace Run() {
    const double retry = sc_.readers.retry_delay;
    for (double t = 0; t <= kEnd; t += kStep) {
      clock_.Set(kStart + absl::Seconds(t));
      // A sender node going down / coming back.
      const bool good_up = !(t >= 6 * kHour && t < 8 * kHour);
      if (!good_up && servers_["good.example"].server) StopSender("good.example");
      if (good_up && !servers_["good.example"].server) StartSender("good.example");
      // New messages, submitted at their sender node.
      for (uint32_t i = 0; i < script_.messages.size(); ++i) {
        const WorldScript::Msg& m = script_.messages[i];
        if (m.created >= t && m.created < t + kStep) Submit(i);
      }
      DeliverDue();
      // Recalls through the sender's Revoke.
      for (const WorldScript::Recall& rc : script_.recalls) {
        if (rc.at >= t && rc.at < t + kStep) {
          const WorldScript::Msg& m = script_.messages[rc.msg];
          absl::StatusOr<v1::RevokeResponse> r =
              senders_[script_.domains[m.domain].name]->Revoke(UserAddress(script_, m.sender_user),
                                                               ids_[rc.msg], "recalled");
          EXPECT_TRUE(r.ok()) << r.status();
        }
      }
      NoteNewCopies(t);
      // Reads that are due: first opens and retries.
      for (const WorldScript::Read& rd : script_.reads) {
        auto key = std::make_pair(rd.msg, rd.user);
        auto vis = visible_since_.find(key);
        if (vis == visible_since_.end() || done_reads_.contains(key)) continue;
        const double due = vis->second + rd.delay + attempts_[key] * retry;
        if (due > t) continue;
        ReadOnce(rd, key);
      }
      // The maintenance pass: held review, prefetch, reports out.
      recipient_->Maintain();
      EXPECT_TRUE(WaitFor([this] { return recipient_->prefetcher()->in_flight() == 0; }));
      NotePrefetched();
    }
    return Collect();
  }

 private:
  struct Tls {
    TlsConfig config;
  };

  NodeConfig Config(const std::string& domain) {
    NodeConfig c;
    c.domain = domain;
    c.data_dir = absl::StrCat(dir_, "/", domain);
    std::filesystem::create_directories(c.data_dir);
    c.key_id = "k1";
    c.tls = tls_[domain].config;
    c.sender_listen = Entry(domain).sender_endpoint;
    c.recipient_listen = Entry(domain).recipient_endpoint;
    c.retention = absl::Seconds(sc_.legit.retention);
    c.prefetch_before_expiry = absl::Seconds(sc_.pull.pin_margin);
    return c;
  }
  const DomainEntry& Entry(const std::string& domain) {
    for (const DomainEntry& e : entries_) {
      if (e.domain == domain) return e;
    }
    ADD_FAILURE() << domain;
    return entries_[0];
  }
  std::unique_ptr<MemoryDirectory> Directory() {
    auto d = std::make_unique<MemoryDirectory>();
    for (const DomainEntry& e : entries_) d->Add(e);
    return d;
  }

  std::unique_ptr<grpc::Server> Serve(const std::string& listen, const TlsConfig& tls,
                                      grpc::Service* service) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = MakeServerCredentials(tls, listen);
    EXPECT_TRUE(creds.ok()) << creds.status();
    if (!creds.ok()) return nullptr;
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort(listen, *creds, &port);
    b.RegisterService(service);
    std::unique_ptr<grpc::Server> server = b.BuildAndStart();
    std::fprintf(stderr, "parity: serving %s: port %d\n", listen.c_str(), port);
    return server;
  }

  void StartSender(const std::string& name) {
    Server& s = servers_[name];
    s.service = MakeSenderService(senders_[name].get());
    s.server = Serve(Entry(name).sender_endpoint, tls_[name].config, s.service.get());
    ASSERT_NE(s.server, nullptr);
    if (started_.insert(name).second) return;
    // A restart: the recipient's channel to this node backed off while it
    // was down, in wall time (rpc/tls.cc: at most 5 s between reconnects),
    // while the script's hour passed on the fake clock in no time. Give the
    // backoff the wall time the hour would have given it.
    std::this_thread::sleep_for(std::chrono::milliseconds(6500));
  }
  void StopSender(const std::string& name) {
    Server& s = servers_[name];
    s.server->Shutdown(std::chrono::system_clock::now());
    s.server.reset();
    s.service.reset();
  }

  void Submit(uint32_t i) {
    const WorldScript::Msg& m = script_.messages[i];
    const std::string from = UserAddress(script_, m.sender_user);
    SubmissionInput in;
    in.authenticated_user = from;
    in.from = from;
    for (const WorldScript::Rcpt& r : m.rcpts) {
      in.to.push_back(r.exists ? UserAddress(script_, r.user)
                               : absl::StrCat("nx", r.domain, "@", script_.domains[r.domain].name));
    }
    in.message = absl::StrCat("From: ", from, "\r\nTo: ", in.to[0], "\r\nSubject: message ", i,
                              "\r\n\r\n", std::string(m.body_size, 'a' + i % 26), "\r\n");
    absl::StatusOr<v1::SubmitResponse> r = senders_[script_.domains[m.domain].name]->Submit(in);
    ASSERT_TRUE(r.ok()) << r.status();
    ids_[i] = r->message_id();
    sent_by_[i] = script_.domains[m.domain].name;
  }

  // Wakes both delivery workers and waits until no delivery is due now.
  void DeliverDue() {
    for (auto& [name, node] : senders_) {
      node->Wake();
      SenderNode* n = node.get();
      EXPECT_TRUE(WaitFor([this, n, name = name] {
        for (const auto& [i, id] : ids_) {
          if (sent_by_[i] != name) continue;
          absl::StatusOr<std::vector<Delivery>> ds = n->store().ListDeliveries(id);
          if (!ds.ok()) return false;
          for (const Delivery& d : *ds) {
            if (d.state == DeliveryState::kQueued && d.next_attempt <= clock_.Now()) return false;
          }
        }
        return true;
      })) << "delivery pass of " << name;
    }
  }

  // The entry of `user`'s copy of message i, if the node stored one.
  std::optional<MailboxEntry> EntryOf(uint32_t i, const std::string& user) {
    if (!ids_.contains(i)) return std::nullopt;
    absl::StatusOr<StoredNotification> n =
        recipient_->store().FindNotification(sent_by_[i], ids_[i]);
    if (!n.ok()) return std::nullopt;
    absl::StatusOr<std::vector<MailboxEntry>> es = recipient_->store().EntriesForNotification(n->id);
    if (!es.ok()) return std::nullopt;
    for (const MailboxEntry& e : *es) {
      if (e.user == user) return e;
    }
    return std::nullopt;
  }

  // A copy becomes visible to its reader: shown in the INBOX.
  void NoteNewCopies(double t) {
    for (const WorldScript::Read& rd : script_.reads) {
      auto key = std::make_pair(rd.msg, rd.user);
      if (visible_since_.contains(key)) continue;
      std::optional<MailboxEntry> e = EntryOf(rd.msg, UserAddress(script_, rd.user));
      if (e && e->folder == kInbox && e->state == EntryState::kShown) visible_since_[key] = t;
    }
  }

  // The reader opens the copy if it is still in the INBOX, unread; a read
  // that fails with a retryable code is tried again after retry_delay, up
  // to max_retries times (the simulator's reader).
  void ReadOnce(const WorldScript::Read& rd, std::pair<uint32_t, uint32_t> key) {
    const std::string user = UserAddress(script_, rd.user);
    std::optional<MailboxEntry> e = EntryOf(rd.msg, user);
    if (!e || e->folder != kInbox || e->state != EntryState::kShown || HasFlag(e->flags, kSeenFlag)) {
      done_reads_.insert(key);
      return;
    }
    v1::ReadRequest req;
    req.set_folder(std::string(kInbox));
    req.set_uid(e->uid);
    absl::StatusOr<RecipientNode::ReadResult> r = recipient_->Read(user, req);
    if (!r.ok()) {
      std::fprintf(stderr, "parity: read of message %u by %s failed: %s\n", rd.msg, user.c_str(),
                   r.status().ToString().c_str());
      if (IsRetryableCode(static_cast<int>(r.status().code())) &&
          attempts_[key] < sc_.readers.max_retries) {
        ++attempts_[key];
      } else {
        done_reads_.insert(key);
      }
      return;
    }
    done_reads_.insert(key);
    read_ok_.insert(key);
    if (rd.report) {
      v1::ReportRequest rep;
      rep.set_folder(std::string(kInbox));
      rep.set_uid(e->uid);
      rep.set_verdict(v1::VERDICT_SPAM);
      absl::StatusOr<v1::ReportResponse> out = recipient_->Report(user, rep);
      EXPECT_TRUE(out.ok()) << out.status();
    }
  }

  // A body in the cache of a message none of whose readers has read it yet
  // was prefetched.
  void NotePrefetched() {
    for (const auto& [i, id] : ids_) {
      if (prefetched_.contains(i)) continue;
      absl::StatusOr<StoredNotification> n = recipient_->store().FindNotification(sent_by_[i], id);
      if (!n.ok()) continue;
      bool read = false;
      for (const auto& k : read_ok_) read |= k.first == i;
      if (read) continue;
      absl::StatusOr<bool> cached = recipient_->store().HasBody(BodyCacheKey(*n));
      if (cached.ok() && *cached) prefetched_.insert(i);
    }
  }

  Trace Collect() {
    Trace trace;
    for (uint32_t i = 0; i < script_.messages.size(); ++i) {
      const WorldScript::Msg& m = script_.messages[i];
      absl::StatusOr<std::vector<Delivery>> ds = senders_[sent_by_[i]]->store().ListDeliveries(ids_[i]);
      EXPECT_TRUE(ds.ok());
      for (const WorldScript::Rcpt& r : m.rcpts) {
        const std::string user = r.exists ? UserAddress(script_, r.user)
                                          : absl::StrCat("nx", r.domain, "@",
                                                         script_.domains[r.domain].name);
        const std::string domain = user.substr(user.find('@') + 1);
        uint8_t t = PullWorld::kPlaceNone;
        if (std::optional<MailboxEntry> e = EntryOf(i, user)) {
          if (e->state == EntryState::kRevoked) {
            t = PullWorld::kPlaceHidden;
          } else if (e->state == EntryState::kHeld) {
            t = PullWorld::kPlaceHeld;
          } else if (e->folder == "Junk") {
            t = PullWorld::kPlaceJunk;
          } else {
            t = PullWorld::kPlaceShown;
          }
        }
        if (r.exists && read_ok_.contains({i, r.user})) t |= PullWorld::kTraceFetched;
        if (prefetched_.contains(i) && domain == "rcpt.example") t |= PullWorld::kTracePrefetched;
        if (ds.ok()) {
          for (const Delivery& d : *ds) {
            if (d.domain == domain && d.state == DeliveryState::kBounced) t |= PullWorld::kTraceBounced;
          }
        }
        trace[{i, user}] = t;
      }
    }
    return trace;
  }

  const WorldScript& script_;
  const sim::Scenario& sc_;
  std::string dir_;
  SharedFakeClock clock_;
  std::map<std::string, Tls> tls_;
  std::vector<DomainEntry> entries_;
  std::map<std::string, std::string> seeds_;
  std::map<std::string, std::unique_ptr<SenderNode>> senders_;
  std::map<std::string, Server> servers_;
  std::map<std::string, std::unique_ptr<DeliveryWorker>> workers_;
  std::unique_ptr<RecipientNode> recipient_;
  Server recipient_server_;
  std::map<uint32_t, std::string> ids_, sent_by_;
  std::map<std::pair<uint32_t, uint32_t>, double> visible_since_;
  std::map<std::pair<uint32_t, uint32_t>, int> attempts_;
  std::set<std::pair<uint32_t, uint32_t>> done_reads_, read_ok_;
  std::set<uint32_t> prefetched_;
  std::set<std::string> started_;
};

TEST(ParityTest, NodeAndSimulatorAgreeOnEveryCopy) {
  absl::StatusOr<sim::Scenario> sc = sim::LoadScenario(PULLMAIL_PARITY_SCENARIO, {});
  ASSERT_TRUE(sc.ok()) << sc.status();
  const WorldScript script = MakeScript();

  NodeWorld nodes(script, *sc);
  nodes.SetUp();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const Trace node = nodes.Run();
  const Trace simulated = RunSimulator(script, *sc);

  ASSERT_EQ(node.size(), simulated.size());
  for (const auto& [copy, t] : node) {
    auto it = simulated.find(copy);
    ASSERT_NE(it, simulated.end()) << "message " << copy.first << " to " << copy.second;
    EXPECT_EQ(Describe(t), Describe(it->second))
        << "message " << copy.first << " to " << copy.second << ": node (left) vs simulator";
  }
  // The script reaches every outcome it is meant to (so a rule that no
  // longer fires on either side is noticed too).
  std::set<std::string> seen;
  for (const auto& [copy, t] : node) seen.insert(Describe(t));
  for (const char* want : {"shown read", "shown prefetched", "junk read", "junk", "hidden",
                           "shown read", "held", "none bounced"}) {
    EXPECT_TRUE(seen.contains(want)) << want;
  }
}

}  // namespace
}  // namespace pullmail
