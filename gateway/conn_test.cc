// Conn and Listener over real loopback sockets: line limits, literals, the
// connection cap, STARTTLS (with injected pipelined bytes dropped), idle
// timeout, Stop() ending live sessions, and the listener's kept threads.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "gateway/conn.h"
#include "gateway/listener.h"
#include "gateway/tls_context.h"
#include "rpc/certs.h"

namespace pullmail::gateway {
namespace {

// A tiny line protocol served by the listener under test:
//   LIT n     -> reads n bytes, answers "GOT <bytes>"
//   STARTTLS  -> "OK", then the TLS handshake
//   QUIT      -> "BYE", end
//   anything  -> "LINE <text>"; an over-long line -> "TOOLONG"
void Echo(Conn& conn) {
  (void)conn.Write("HELLO\r\n");
  for (;;) {
    auto line = conn.ReadLine(64);
    if (absl::IsResourceExhausted(line.status())) {
      (void)conn.Write("TOOLONG\r\n");
      continue;
    }
    if (!line.ok()) return;
    absl::string_view l = *line;
    size_t n = 0;
    if (absl::ConsumePrefix(&l, "LIT ") && absl::SimpleAtoi(l, &n)) {
      auto bytes = conn.ReadExact(n);
      if (!bytes.ok()) return;
      (void)conn.Write(absl::StrCat("GOT ", *bytes, "\r\n"));
    } else if (*line == "STARTTLS") {
      (void)conn.Write("OK\r\n");
      if (!conn.StartTls().ok()) return;
      (void)conn.Write(conn.tls_active() ? "SECURE\r\n" : "PLAIN\r\n");
    } else if (*line == "QUIT") {
      (void)conn.Write("BYE\r\n");
      return;
    } else {
      (void)conn.Write(absl::StrCat("LINE ", *line, "\r\n"));
    }
  }
}

// A blocking test client (plain socket, optionally switched to TLS).
class Client {
 public:
  explicit Client(const std::string& address) {
    size_t colon = address.rfind(':');
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
    inet_pton(AF_INET, address.substr(0, colon).c_str(), &a.sin_addr);
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    close(fd_);
  }
  bool connected() const { return connected_; }
  void Send(const std::string& s) {
    if (ssl_ != nullptr) {
      SSL_write(ssl_, s.data(), static_cast<int>(s.size()));
    } else {
      (void)send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
    }
  }
  // One line without CRLF; "" on EOF or timeout.
  std::string Line() {
    std::string out;
    char c;
    for (;;) {
      int n = ssl_ != nullptr ? SSL_read(ssl_, &c, 1) : static_cast<int>(recv(fd_, &c, 1, 0));
      if (n <= 0) return out;
      if (c == '\n') break;
      out.push_back(c);
    }
    if (!out.empty() && out.back() == '\r') out.pop_back();
    return out;
  }
  bool StartTls(const std::string& ca_file, const std::string& name) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_tlsext_host_name(ssl_, name.c_str());
    SSL_set1_host(ssl_, name.c_str());
    SSL_set_fd(ssl_, fd_);
    return SSL_connect(ssl_) == 1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

ListenerSpec EchoSpec() {
  ListenerSpec spec;
  spec.name = "echo";
  spec.listen = "127.0.0.1:0";
  spec.max_connections = 4;
  spec.idle_timeout = absl::Seconds(20);
  spec.busy_reply = "BUSY\r\n";
  spec.serve = Echo;
  return spec;
}

TEST(Conn, ReadsCrlfAndBareLfLinesAndLiterals) {
  auto l = Listener::Start(EchoSpec(), nullptr);
  ASSERT_TRUE(l.ok()) << l.status();
  Client c((*l)->address());
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.Line(), "HELLO");
  c.Send("one\r\ntwo\nLIT 7\r\nab\r\ncdeQUIT\r\n");
  EXPECT_EQ(c.Line(), "LINE one");
  EXPECT_EQ(c.Line(), "LINE two");
  EXPECT_EQ(c.Line(), "GOT ab");  // the literal holds a CRLF: printed as two lines
  EXPECT_EQ(c.Line(), "cde");
  EXPECT_EQ(c.Line(), "BYE");
}

TEST(Conn, LinesArrivingOneAtATimeInSeparateWritesAreRead) {
  auto l = Listener::Start(EchoSpec(), nullptr);
  ASSERT_TRUE(l.ok()) << l.status();
  Client c((*l)->address());
  EXPECT_EQ(c.Line(), "HELLO");
  for (const char* word : {"first", "second", "third"}) {
    c.Send(std::string(word) + "\r\n");
    EXPECT_EQ(c.Line(), std::string("LINE ") + word);
  }
  c.Send("spl");  // one line in two writes
  usleep(20 * 1000);
  c.Send("it\r\n");
  EXPECT_EQ(c.Line(), "LINE split");
}

TEST(Conn, OverlongLineIsRefusedAndTheNextLineStillWorks) {
  auto l = Listener::Start(EchoSpec(), nullptr);
  ASSERT_TRUE(l.ok()) << l.status();
  Client c((*l)->address());
  EXPECT_EQ(c.Line(), "HELLO");
  c.Send(std::string(10000, 'x') + "\r\nafter\r\n" + std::string(65, 'y') + "\r\n" +
         std::string(62, 'z') + "\r\n");
  EXPECT_EQ(c.Line(), "TOOLONG");
  EXPECT_EQ(c.Line(), "LINE after");
  EXPECT_EQ(c.Line(), "TOOLONG");  // 65 + CRLF > 64
  EXPECT_EQ(c.Line(), "LINE " + std::string(62, 'z'));
}

TEST(Listener, ConnectionsBeyondTheCapGetTheBusyReply) {
  ListenerSpec spec = EchoSpec();
  spec.max_connections = 2;
  auto l = Listener::Start(std::move(spec), nullptr);
  ASSERT_TRUE(l.ok()) << l.status();
  Client a((*l)->address()), b((*l)->address());
  EXPECT_EQ(a.Line(), "HELLO");
  EXPECT_EQ(b.Line(), "HELLO");
  Client c((*l)->address());
  EXPECT_EQ(c.Line(), "BUSY");
  EXPECT_EQ(c.Line(), "");  // closed
  a.Send("QUIT\r\n");
  EXPECT_EQ(a.Line(), "BYE");
  // The slot frees once the session ends; a bounded retry covers the
  // moment between "BYE" and the thread's exit.
  std::string greeting;
  for (int i = 0; i < 100 && greeting != "HELLO"; ++i) {
    Client d((*l)->address());
    greeting = d.Line();
    if (greeting != "HELLO") usleep(20 * 1000);
  }
  EXPECT_EQ(greeting, "HELLO");
}

// The kernel ids of the threads that served connections.
struct ThreadLog {
  absl::Mutex mu;
  std::set<pid_t> ids ABSL_GUARDED_BY(mu);
};

ListenerSpec EchoServedOnLoggedThreads(ThreadLog* log) {
  ListenerSpec spec = EchoSpec();
  spec.serve = [log](Conn& conn) {
    {
      absl::MutexLock lock(&log->mu);
      log->ids.insert(gettid());
    }
    Echo(conn);
  };
  return spec;
}

// Connections one after another are served by one kept thread, not by a
// thread started for each (a client that saw the close finds the thread
// waiting: the listener counts it idle before it closes the socket).
TEST(Listener, ReusesItsThreadForConnectionsOneAfterAnother) {
  ThreadLog log;
  ListenerSpec spec = EchoServedOnLoggedThreads(&log);
  auto l = Listener::Start(std::move(spec), nullptr);
  ASSERT_TRUE(l.ok()) << l.status();
  for (int i = 0; i < 20; ++i) {
    Client c((*l)->address());
    ASSERT_EQ(c.Line(), "HELLO");
    c.Send("QUIT\r\n");
    ASSERT_EQ(c.Line(), "BYE");
    ASSERT_EQ(c.Line(), "");  // closed by the server
  }
  (*l)->Stop();
  absl::MutexLock lock(&log.mu);
  EXPECT_EQ(log.ids.size(), 1u);
}

// Concurrent connections each get a thread of their own (a blocked session
// never holds up another), and after they end, as many later connections
// at once reuse those threads.
TEST(Listener, ServesConcurrentConnectionsOnThreadsOfTheirOwn) {
  ThreadLog log;
  ListenerSpec spec = EchoServedOnLoggedThreads(&log);
  spec.max_connections = 3;
  auto l = Listener::Start(std::move(spec), nullptr);
  ASSERT_TRUE(l.ok()) << l.status();
  for (int round = 0; round < 3; ++round) {
    Client a((*l)->address()), b((*l)->address()), c((*l)->address());
    for (Client* x : {&a, &b, &c}) ASSERT_EQ(x->Line(), "HELLO");
    // All three are open at once: each answers while the others wait.
    for (Client* x : {&c, &a, &b}) {
      x->Send("ping\r\n");
      ASSERT_EQ(x->Line(), "LINE ping");
    }
    for (Client* x : {&a, &b, &c}) {
      x->Send("QUIT\r\n");
      ASSERT_EQ(x->Line(), "BYE");
      ASSERT_EQ(x->Line(), "");
    }
  }
  (*l)->Stop();
  absl::MutexLock lock(&log.mu);
  EXPECT_EQ(log.ids.size(), 3u);  // never more threads than max_connections
}

// A thread that waited thread_linger with no connection exits, and the
// listener knows it: the next connection gets a new thread rather than
// waiting in the queue for one that is gone.
TEST(Listener, AnIdleThreadExitsAfterItsLingerAndTheNextConnectionIsServed) {
  ListenerSpec spec = EchoSpec();
  spec.thread_linger = absl::Milliseconds(50);
  auto l = Listener::Start(std::move(spec), nullptr);
  ASSERT_TRUE(l.ok()) << l.status();
  for (int i = 0; i < 3; ++i) {
    Client c((*l)->address());
    ASSERT_EQ(c.Line(), "HELLO");
    c.Send("QUIT\r\n");
    ASSERT_EQ(c.Line(), "BYE");
    usleep(300 * 1000);  // well past the linger
  }
}

TEST(Listener, IdleTimeoutEndsTheSession) {
  ListenerSpec spec = EchoSpec();
  spec.idle_timeout = absl::Milliseconds(200);
  auto l = Listener::Start(std::move(spec), nullptr);
  ASSERT_TRUE(l.ok()) << l.status();
  Client c((*l)->address());
  EXPECT_EQ(c.Line(), "HELLO");
  EXPECT_EQ(c.Line(), "");  // the server closed: EOF well before the client's 10 s
}

TEST(Listener, StopEndsLiveSessions) {
  auto l = Listener::Start(EchoSpec(), nullptr);
  ASSERT_TRUE(l.ok()) << l.status();
  Client c((*l)->address());
  EXPECT_EQ(c.Line(), "HELLO");
  (*l)->Stop();  // returns only once the session thread has finished
  EXPECT_EQ(c.Line(), "");
}

TEST(Listener, RefusesABadAddress) {
  ListenerSpec spec = EchoSpec();
  spec.listen = "no-port";
  EXPECT_EQ(Listener::Start(spec, nullptr).status().code(), absl::StatusCode::kInvalidArgument);
  spec.listen = "127.0.0.1:0";
  spec.implicit_tls = true;
  EXPECT_EQ(Listener::Start(spec, nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pullmail-conn-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ASSERT_TRUE(EnsureCertificateAuthority(dir_ + "/ca").ok());
    ASSERT_TRUE(IssueNodeCertificate(dir_ + "/ca", "a.example", dir_ + "/node.pem",
                                     dir_ + "/node.key")
                    .ok());
    TlsConfig tls;
    tls.cert = dir_ + "/node.pem";
    tls.key = dir_ + "/node.key";
    auto ctx = MakeServerTlsContext(tls);
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    ctx_ = std::move(*ctx);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  SslCtxPtr ctx_;
};

TEST_F(TlsTest, StartTlsDropsBytesPipelinedBeforeTheHandshake) {
  auto l = Listener::Start(EchoSpec(), ctx_.get());
  ASSERT_TRUE(l.ok()) << l.status();
  Client c((*l)->address());
  EXPECT_EQ(c.Line(), "HELLO");
  // A man in the middle appends a command after STARTTLS (CVE-2011-0411):
  // it must not be executed inside the TLS session.
  c.Send("STARTTLS\r\nINJECTED\r\n");
  EXPECT_EQ(c.Line(), "OK");
  usleep(50 * 1000);  // let both lines arrive before the handshake starts
  ASSERT_TRUE(c.StartTls(dir_ + "/ca/ca.pem", "a.example"));
  EXPECT_EQ(c.Line(), "SECURE");
  c.Send("hello over tls\r\n");
  EXPECT_EQ(c.Line(), "LINE hello over tls");
  c.Send("QUIT\r\n");
  EXPECT_EQ(c.Line(), "BYE");
}

TEST_F(TlsTest, ImplicitTlsHandshakesBeforeTheGreeting) {
  ListenerSpec spec = EchoSpec();
  spec.implicit_tls = true;
  auto l = Listener::Start(std::move(spec), ctx_.get());
  ASSERT_TRUE(l.ok()) << l.status();
  Client c((*l)->address());
  ASSERT_TRUE(c.StartTls(dir_ + "/ca/ca.pem", "a.example"));
  EXPECT_EQ(c.Line(), "HELLO");
  c.Send("STARTTLS\r\n");  // already TLS: the server refuses to nest
  EXPECT_EQ(c.Line(), "OK");
  EXPECT_EQ(c.Line(), "");
}

TEST_F(TlsTest, AMismatchedKeyIsRefused) {
  ASSERT_TRUE(IssueNodeCertificate(dir_ + "/ca", "b.example", dir_ + "/b.pem", dir_ + "/b.key")
                  .ok());
  TlsConfig tls;
  tls.cert = dir_ + "/node.pem";
  tls.key = dir_ + "/b.key";
  EXPECT_EQ(MakeServerTlsContext(tls).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace pullmail::gateway
