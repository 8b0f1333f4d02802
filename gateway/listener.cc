// Accept loop and the reused connection threads (see listener.h).
#include "gateway/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <pthread.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/util/logging.h"

namespace pullmail::gateway {

struct Listener::State {
  ListenerSpec spec;
  SSL_CTX* tls = nullptr;
  int listen_fd = -1;
  std::string address;
  std::thread acceptor;
  std::atomic<bool> stopping{false};

  absl::Mutex mu;
  absl::CondVar work;                       // queued got a socket, or stopping
  std::set<int> live ABSL_GUARDED_BY(mu);   // sockets accepted, not yet closed
  int running ABSL_GUARDED_BY(mu) = 0;      // connections queued or being served
  std::deque<int> queued ABSL_GUARDED_BY(mu);  // accepted, no thread on them yet
  int threads ABSL_GUARDED_BY(mu) = 0;      // connection threads alive
  int idle ABSL_GUARDED_BY(mu) = 0;         // of those, not serving a connection

  // Both hold `self` so that the state outlives the last connection thread.
  void AcceptLoop(const std::shared_ptr<State>& self);
  // A connection thread: serves `fd`, then whatever is queued, until it has
  // waited thread_linger for nothing or the listener stops.
  void Worker(int fd);
  // Serves one connection and closes it. The thread counts as idle again
  // (under mu) before the socket is closed, so a client that saw the close
  // and connects again finds it waiting.
  void Serve(int fd);
};

namespace {

// Splits "host:port" / "[v6]:port".
bool SplitHostPort(const std::string& hp, std::string* host, std::string* port) {
  size_t colon = hp.rfind(':');
  if (colon == std::string::npos || colon + 1 == hp.size()) return false;
  *host = hp.substr(0, colon);
  *port = hp.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return !host->empty();
}

std::string BoundAddress(int fd, const std::string& host) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  int port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  bool v6 = host.find(':') != std::string::npos;
  return v6 ? absl::StrCat("[", host, "]:", port) : absl::StrCat(host, ":", port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Listener>> Listener::Start(ListenerSpec spec, SSL_CTX* tls) {
  if (spec.implicit_tls && tls == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(spec.name, ": implicit TLS needs [tls] cert and key"));
  }
  std::string host, port;
  if (!SplitHostPort(spec.listen, &host, &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.name, ": listen address \"", spec.listen, "\" is not host:port"));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int gai = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(spec.name, ": ", spec.listen, ": ", gai_strerror(gai)));
  }
  int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 128) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    return absl::UnavailableError(absl::StrCat(spec.name, ": cannot listen on ", spec.listen,
                                               ": ", why));
  }
  freeaddrinfo(res);

  auto state = std::make_shared<State>();
  state->address = BoundAddress(fd, host);
  state->spec = std::move(spec);
  state->tls = tls;
  state->listen_fd = fd;
  state->acceptor = std::thread([state] { state->AcceptLoop(state); });
  return std::unique_ptr<Listener>(new Listener(std::move(state)));
}

Listener::Listener(std::shared_ptr<State> state) : state_(std::move(state)) {}

Listener::~Listener() { Stop(); }

const std::string& Listener::address() const { return state_->address; }

void Listener::Stop() {
  State& s = *state_;
  if (s.stopping.exchange(true)) return;
  s.acceptor.join();
  close(s.listen_fd);
  absl::MutexLock lock(&s.mu);
  for (int fd : s.live) shutdown(fd, SHUT_RDWR);
  s.work.SignalAll();  // idle threads exit; queued sockets are served (and see EOF)
  s.mu.Await(absl::Condition(
      +[](State* st) ABSL_NO_THREAD_SAFETY_ANALYSIS {  // Await holds st->mu
        return st->running == 0 && st->threads == 0;
      },
      &s));
}

void Listener::State::AcceptLoop(const std::shared_ptr<State>& self) {
  while (!stopping.load()) {
    pollfd p{listen_fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        PM_LOG(WARNING) << spec.name << ": accept: " << std::strerror(errno);
        usleep(100 * 1000);
      }
      continue;
    }
    bool busy = false;
    bool spawn = false;
    {
      absl::MutexLock lock(&mu);
      if (running >= spec.max_connections) {
        busy = true;
      } else {
        ++running;
        live.insert(fd);
        if (idle > static_cast<int>(queued.size())) {
          // A thread is waiting: hand it the socket.
          queued.push_back(fd);
          work.Signal();
        } else {
          // Every thread is busy: start one for this socket. threads =
          // serving + idle <= running <= max_connections.
          ++threads;
          spawn = true;
        }
      }
    }
    if (busy) {
      // Over the cap: a protocol "busy" line in the clear (not for implicit
      // TLS ports, where the client expects a handshake), then close.
      if (!spec.implicit_tls) {
        (void)send(fd, spec.busy_reply.data(), spec.busy_reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      close(fd);
      PM_LOG(WARNING) << spec.name << ": refused a connection: " << spec.max_connections
                      << " already open";
      continue;
    }
    if (spawn) {
      std::thread([self, fd] {
        // "smtp-conn", "imap-conn": for top -H and perf.
        std::string name = absl::StrCat(self->spec.name, "-conn").substr(0, 15);
        pthread_setname_np(pthread_self(), name.c_str());
        self->Worker(fd);
      }).detach();
    }
  }
}

void Listener::State::Worker(int fd) {
  while (true) {
    Serve(fd);  // leaves this thread counted idle
    absl::MutexLock lock(&mu);
    absl::Time give_up = absl::Now() + spec.thread_linger;
    while (queued.empty() && !stopping.load() && absl::Now() < give_up) {
      work.WaitWithDeadline(&mu, give_up);
    }
    if (queued.empty()) {
      // Lingered for nothing, or the listener stops.
      --idle;
      --threads;
      return;
    }
    fd = queued.front();
    queued.pop_front();
    --idle;
  }
}

void Listener::State::Serve(int fd) {
  {
    Conn conn(fd, tls, spec.idle_timeout);
    PM_LOG(DEBUG) << spec.name << ": connection from " << conn.peer();
    bool ok = true;
    if (spec.implicit_tls) {
      absl::Status s = conn.StartTls();
      if (!s.ok()) {
        PM_LOG(INFO) << spec.name << ": " << conn.peer() << ": " << s;
        ok = false;
      }
    }
    if (ok) spec.serve(conn);
    absl::MutexLock lock(&mu);
    live.erase(fd);  // before ~Conn closes it, so Stop never shuts a reused fd
    --running;
    ++idle;
  }
  // OpenSSL's per-thread error queue: the next connection starts clean.
  ERR_clear_error();
}

}  // namespace pullmail::gateway
