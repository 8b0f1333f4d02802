// A minimal HTTP/1.0 scraper for the nodes' /metrics endpoints (see
// metrics_client.h). A blocking socket with poll() deadlines is plenty for a
// command-line tool that reads two small pages.
#include "cli/metrics_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/util/strings.h"

namespace pullmail::cli {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Waits until `fd` is ready for `events` or `deadline` passes.
bool WaitFd(int fd, short events, absl::Time deadline) {
  while (true) {
    int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    pollfd p{fd, events, 0};
    int r = poll(&p, 1, static_cast<int>(ms));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

MetricSamples ParseMetrics(std::string_view text) {
  MetricSamples out;
  for (absl::string_view line : absl::StrSplit(AV(text), '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    // The value follows the last space outside the label braces.
    size_t close = line.rfind('}');
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos || (close != absl::string_view::npos && space < close)) {
      continue;
    }
    absl::string_view series = absl::StripTrailingAsciiWhitespace(line.substr(0, space));
    double value = 0;
    if (!absl::SimpleAtod(line.substr(space + 1), &value)) continue;
    out[std::string(series)] = value;
  }
  return out;
}

absl::StatusOr<MetricSamples> ScrapeMetrics(const std::string& host_port,
                                            absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("metrics address without a port: ", host_port));
  }
  std::string host = host_port.substr(0, colon);
  std::string port = host_port.substr(colon + 1);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot resolve ", host_port));
  }
  Fd sock;
  sock.fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int rc = sock.fd < 0 ? -1 : connect(sock.fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (sock.fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", strerror(errno)));
  if (rc != 0 && errno != EINPROGRESS) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", host_port, ": ", strerror(errno)));
  }
  if (!WaitFd(sock.fd, POLLOUT, deadline)) {
    return absl::UnavailableError(absl::StrCat("timeout connecting to ", host_port));
  }
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(sock.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", host_port, ": ", strerror(err)));
  }
  std::string request = absl::StrCat("GET /metrics HTTP/1.0\r\nHost: ", host_port, "\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    if (!WaitFd(sock.fd, POLLOUT, deadline)) return absl::UnavailableError("timeout sending");
    ssize_t n = send(sock.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  std::string response;
  char buf[16384];
  while (true) {
    if (!WaitFd(sock.fd, POLLIN, deadline)) {
      return absl::UnavailableError(absl::StrCat("timeout reading metrics from ", host_port));
    }
    ssize_t n = recv(sock.fd, buf, sizeof(buf), 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(absl::StrCat("recv: ", strerror(errno)));
    }
    response.append(buf, static_cast<size_t>(n));
    if (response.size() > (16u << 20)) return absl::ResourceExhaustedError("metrics page too big");
  }
  size_t header_end = response.find("\r\n\r\n");
  size_t skip = 4;
  if (header_end == std::string::npos) {
    header_end = response.find("\n\n");
    skip = 2;
  }
  if (header_end == std::string::npos) {
    return absl::UnavailableError(absl::StrCat("malformed HTTP reply from ", host_port));
  }
  absl::string_view status_line = absl::string_view(response).substr(0, response.find('\n'));
  if (!absl::StrContains(status_line, " 200")) {
    return absl::UnavailableError(
        absl::StrCat("metrics endpoint ", host_port, " answered: ", status_line));
  }
  return ParseMetrics(SV(absl::string_view(response).substr(header_end + skip)));
}

double Metric(const MetricSamples& m, std::string_view series) {
  auto it = m.find(series);
  return it == m.end() ? 0 : it->second;
}

double MetricSum(const MetricSamples& m, std::string_view name) {
  double sum = 0;
  for (const auto& [series, value] : m) {
    std::string_view s = series;
    if (s == name || (s.size() > name.size() && s.substr(0, name.size()) == name &&
                      s[name.size()] == '{')) {
      sum += value;
    }
  }
  return sum;
}

}  // namespace pullmail::cli
