// Counter registry and the /metrics HTTP endpoint.
#include "rpc/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"

namespace pullmail {

Metrics& Metrics::Global() {
  static Metrics* m = new Metrics();
  return *m;
}

void Metrics::Add(const std::string& series, uint64_t delta) {
  std::atomic<uint64_t>* c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = counters_[series];
    if (!slot) slot = std::make_unique<std::atomic<uint64_t>>(0);
    c = slot.get();
  }
  c->fetch_add(delta, std::memory_order_relaxed);
}

uint64_t Metrics::Get(const std::string& series) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counters_.find(series);
  return it == counters_.end() ? 0 : it->second->load(std::memory_order_relaxed);
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  std::string last_name;
  for (const auto& [series, value] : counters_) {
    std::string name = series.substr(0, series.find('{'));
    if (name != last_name) {
      absl::StrAppend(&out, "# TYPE ", name, " counter\n");
      last_name = name;
    }
    absl::StrAppend(&out, series, " ", value->load(std::memory_order_relaxed), "\n");
  }
  return out;
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("metrics_listen: host:port");
  std::string host = listen.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  int port = std::atoi(listen.c_str() + colon + 1);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("metrics_listen: bad IPv4 host ", host));
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 16) != 0) {
    int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("metrics: bind ", listen, ": ", std::strerror(err)));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<MetricsServer>(new MetricsServer(fd, ntohs(addr.sin_port)));
}

MetricsServer::MetricsServer(int fd, int port) : fd_(fd), port_(port) {
  thread_ = std::thread([this] { Loop(); });
}

MetricsServer::~MetricsServer() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

void MetricsServer::Loop() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    timeval tv{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[2048];
    ssize_t n = ::recv(c, buf, sizeof(buf) - 1, 0);  // the request line is all we need
    std::string request(buf, n > 0 ? static_cast<size_t>(n) : 0);
    std::string body, status = "200 OK";
    if (request.rfind("GET /metrics", 0) == 0) {
      body = Metrics::Global().Render();
    } else {
      status = "404 Not Found";
      body = "try /metrics\n";
    }
    std::string resp = absl::StrCat("HTTP/1.0 ", status,
                                    "\r\nContent-Type: text/plain; version=0.0.4\r\n"
                                    "Content-Length: ",
                                    body.size(), "\r\nConnection: close\r\n\r\n", body);
    size_t off = 0;
    while (off < resp.size()) {
      ssize_t w = ::send(c, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    ::close(c);
  }
}

}  // namespace pullmail
