// Buffered, limited, optionally TLS reads and writes on one client socket
// (see conn.h). The socket is non-blocking; every wait is a poll() with the
// idle timeout, so a silent or slow client can hold a thread only that long.
#include "gateway/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace pullmail::gateway {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr absl::Duration kHandshakeTimeout = absl::Seconds(30);
// TLS records (16 KiB each) gather in a buffer of this size before they go
// to the socket: a 256 KiB FETCH response is 4 writes instead of 17.
constexpr int kTlsWriteBuffer = 64 * 1024;

// Waits until `fd` has `events` or `deadline` passes. False on timeout.
bool WaitFd(int fd, short events, absl::Time deadline) {
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, events, 0};
    int ms = static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60'000));
    int r = poll(&p, 1, ms);
    if (r > 0) return true;  // ready, or an error/hang-up the next call reports
    if (r < 0 && errno != EINTR) return true;
  }
}

std::string TlsError(const char* what, int ssl_error) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  char buf[256] = "";
  if (e != 0) ERR_error_string_n(e, buf, sizeof buf);
  return absl::StrCat(what, ": TLS error ", ssl_error, e != 0 ? absl::StrCat(" (", buf, ")") : "");
}

void DescribePeer(int fd, std::string* peer, bool* loopback) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) {
    *peer = "unknown";
    return;
  }
  char host[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
    *loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    *peer = absl::StrCat(host, ":", port);
  } else if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
    const in6_addr& ip = a->sin6_addr;
    *loopback = IN6_IS_ADDR_LOOPBACK(&ip) ||
                (IN6_IS_ADDR_V4MAPPED(&ip) && ip.s6_addr[12] == 127);
    *peer = absl::StrCat("[", host, "]:", port);
  }
}

}  // namespace

Conn::Conn(int fd, SSL_CTX* tls, absl::Duration idle_timeout)
    : fd_(fd), tls_ctx_(tls), idle_timeout_(idle_timeout) {
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  // Every reply is written whole (sessions buffer a command's response), so
  // Nagle's algorithm only adds delay: a small write waiting for the ACK of
  // the previous one, which the client's delayed-ACK timer holds for ~40 ms.
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  DescribePeer(fd_, &peer_, &peer_loopback_);
}

Conn::~Conn() {
  if (ssl_ != nullptr) {
    SSL_shutdown(ssl_);  // one non-blocking close_notify; no wait for the reply
    SSL_free(ssl_);
  }
  close(fd_);
}

absl::Status Conn::Fill() {
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 64 * 1024) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  char tmp[kReadChunk];
  const absl::Time deadline = absl::Now() + idle_timeout_;
  for (;;) {
    short wait_for = POLLIN;
    if (ssl_ != nullptr) {
      int n = SSL_read(ssl_, tmp, sizeof tmp);
      if (n > 0) {
        buf_.append(tmp, static_cast<size_t>(n));
        return absl::OkStatus();
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_ZERO_RETURN) return absl::UnavailableError("peer closed the connection");
      if (err == SSL_ERROR_WANT_WRITE) {
        wait_for = POLLOUT;
      } else if (err != SSL_ERROR_WANT_READ) {
        ERR_clear_error();
        return absl::UnavailableError(TlsError("read", err));
      }
    } else {
      ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n > 0) {
        buf_.append(tmp, static_cast<size_t>(n));
        return absl::OkStatus();
      }
      if (n == 0) return absl::UnavailableError("peer closed the connection");
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
      }
    }
    if (wait_for == POLLIN) {
      // About to wait for more of the client's bytes: ACK what came at once.
      // A client that writes a command in two pieces (Python's imaplib sends
      // an APPEND literal and its CRLF separately) with Nagle on holds the
      // second until the first is ACKed, and the delayed ACK would hold
      // that for ~40 ms. TCP_QUICKACK is not sticky: set before each wait.
      int one = 1;
      setsockopt(fd_, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
    }
    if (!WaitFd(fd_, wait_for, deadline)) return absl::DeadlineExceededError("idle timeout");
  }
}

absl::StatusOr<std::string> Conn::ReadLine(size_t max_bytes) {
  size_t scanned = 0;  // bytes after pos_ already searched for a line end
  bool overlong = false;
  for (;;) {
    size_t nl = buf_.find('\n', pos_ + scanned);
    if (nl != std::string::npos) {
      if (overlong || nl + 1 - pos_ > max_bytes) {
        pos_ = nl + 1;
        return absl::ResourceExhaustedError(
            absl::StrCat("line longer than ", max_bytes, " bytes"));
      }
      size_t end = nl;
      last_bare_lf_ = !(end > pos_ && buf_[end - 1] == '\r');
      if (!last_bare_lf_) --end;
      std::string line = buf_.substr(pos_, end - pos_);
      pos_ = nl + 1;
      return line;
    }
    if (buf_.size() - pos_ > max_bytes) {
      // Too long already: drop what we have and keep reading to the line end.
      overlong = true;
      buf_.clear();
      pos_ = 0;
    }
    scanned = buf_.size() - pos_;  // Fill() may move the unread bytes to the front
    absl::Status s = Fill();
    if (!s.ok()) return s;
  }
}

absl::StatusOr<std::string> Conn::ReadSome(size_t max_bytes) {
  if (pos_ == buf_.size()) {
    absl::Status s = Fill();
    if (!s.ok()) return s;
  }
  size_t n = std::min(max_bytes, buf_.size() - pos_);
  std::string out = buf_.substr(pos_, n);
  pos_ += n;
  return out;
}

absl::StatusOr<std::string> Conn::ReadExact(size_t n) {
  while (buf_.size() - pos_ < n) {
    absl::Status s = Fill();
    if (!s.ok()) return s;
  }
  std::string out = buf_.substr(pos_, n);
  pos_ += n;
  return out;
}

absl::Status Conn::Write(std::string_view bytes) {
  const absl::Time deadline = absl::Now() + idle_timeout_;
  while (!bytes.empty()) {
    short wait_for = POLLOUT;
    if (ssl_ != nullptr) {
      int n = SSL_write(ssl_, bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), 1 << 20)));
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ) {
        wait_for = POLLIN;
      } else if (err != SSL_ERROR_WANT_WRITE) {
        return absl::UnavailableError(TlsError("write", err));
      }
    } else {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        return absl::UnavailableError(absl::StrCat("write: ", std::strerror(errno)));
      }
    }
    if (!WaitFd(fd_, wait_for, deadline)) return absl::UnavailableError("write timeout");
  }
  // The records still in the write buffer go out now (StartTls).
  while (ssl_ != nullptr) {
    BIO* out = SSL_get_wbio(ssl_);
    if (BIO_flush(out) > 0) break;
    if (!BIO_should_retry(out)) {
      ERR_clear_error();
      return absl::UnavailableError(absl::StrCat("write: ", std::strerror(errno)));
    }
    if (!WaitFd(fd_, POLLOUT, deadline)) return absl::UnavailableError("write timeout");
  }
  return absl::OkStatus();
}

absl::Status Conn::StartTls() {
  if (tls_ctx_ == nullptr) return absl::FailedPreconditionError("TLS is not configured");
  if (ssl_ != nullptr) return absl::FailedPreconditionError("TLS is already active");
  // RFC 3207 4.2 / RFC 2595 3.1: whatever the client sent before the
  // handshake is not trusted; drop it.
  buf_.clear();
  pos_ = 0;
  ssl_ = SSL_new(tls_ctx_);
  if (ssl_ == nullptr) return absl::UnavailableError(TlsError("SSL_new", 0));
  // Reads straight from the socket; writes through a buffer that Write
  // flushes at its end (OpenSSL flushes it itself after each handshake
  // flight and alert), so that a large response leaves in a few writes.
  BIO* rbio = BIO_new_socket(fd_, BIO_NOCLOSE);
  BIO* sock = BIO_new_socket(fd_, BIO_NOCLOSE);
  BIO* wbio = BIO_new(BIO_f_buffer());
  if (rbio == nullptr || sock == nullptr || wbio == nullptr ||
      BIO_set_write_buffer_size(wbio, kTlsWriteBuffer) <= 0) {
    BIO_free(rbio);
    BIO_free(sock);
    BIO_free(wbio);
    SSL_free(ssl_);
    ssl_ = nullptr;
    return absl::UnavailableError(TlsError("BIO_new", 0));
  }
  SSL_set_bio(ssl_, rbio, BIO_push(wbio, sock));
  const absl::Time deadline = absl::Now() + std::min(idle_timeout_, kHandshakeTimeout);
  for (;;) {
    int r = SSL_accept(ssl_);
    if (r == 1) return absl::OkStatus();
    int err = SSL_get_error(ssl_, r);
    short wait_for;
    if (err == SSL_ERROR_WANT_READ) {
      wait_for = POLLIN;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      wait_for = POLLOUT;
    } else {
      absl::Status s = absl::UnavailableError(TlsError("handshake", err));
      SSL_free(ssl_);
      ssl_ = nullptr;
      return s;
    }
    if (!WaitFd(fd_, wait_for, deadline)) {
      SSL_free(ssl_);
      ssl_ = nullptr;
      return absl::UnavailableError("TLS handshake timeout");
    }
  }
}

bool Conn::WaitReadable(absl::Duration timeout) {
  if (pos_ < buf_.size()) return true;
  if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return true;
  return WaitFd(fd_, POLLIN, absl::Now() + timeout);
}

}  // namespace pullmail::gateway
