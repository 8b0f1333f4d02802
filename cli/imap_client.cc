// The demo's IMAP client (see imap_client.h).
#include "cli/imap_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"

namespace pullmail::cli {

ImapClient::~ImapClient() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
}

absl::Status ImapClient::Connect(const std::string& host_port, const std::string& ca_file,
                                 const std::string& server_name, absl::Duration timeout) {
  size_t colon = host_port.rfind(':');
  int port = 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  if (colon == std::string::npos || !absl::SimpleAtoi(host_port.substr(colon + 1), &port) ||
      inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &a.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("not an IPv4 host:port: ", host_port));
  }
  a.sin_port = htons(static_cast<uint16_t>(port));
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{static_cast<time_t>(absl::ToInt64Seconds(timeout)), 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    return absl::UnavailableError(absl::StrCat("connect ", host_port, ": ", std::strerror(errno)));
  }
  auto greeting = ReadLine();
  if (!greeting.ok()) return greeting.status();
  if (!absl::StartsWith(*greeting, "* OK")) {
    return absl::UnavailableError(absl::StrCat("greeting: ", *greeting));
  }
  auto r = Command("STARTTLS");
  if (!r.ok()) return r.status();
  if (!absl::StartsWith(r->status, "OK")) {
    return absl::UnavailableError(absl::StrCat("STARTTLS: ", r->status));
  }
  buf_.clear();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr || SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) {
    return absl::UnavailableError(absl::StrCat("cannot load CA ", ca_file));
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  ssl_ = SSL_new(ctx_);
  SSL_set_tlsext_host_name(ssl_, server_name.c_str());
  SSL_set1_host(ssl_, server_name.c_str());
  SSL_set_fd(ssl_, fd_);
  if (SSL_connect(ssl_) != 1) {
    long v = SSL_get_verify_result(ssl_);
    return absl::UnavailableError(absl::StrCat("TLS handshake with ", server_name, " failed: ",
                                               X509_verify_cert_error_string(v)));
  }
  return absl::OkStatus();
}

absl::Status ImapClient::Write(const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    int n = ssl_ != nullptr ? SSL_write(ssl_, s.data() + done, static_cast<int>(s.size() - done))
                            : static_cast<int>(send(fd_, s.data() + done, s.size() - done,
                                                    MSG_NOSIGNAL));
    if (n <= 0) return absl::UnavailableError("IMAP connection lost while writing");
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ImapClient::ReadBytes(size_t n) {
  char tmp[16384];
  while (buf_.size() < n) {
    int got = ssl_ != nullptr ? SSL_read(ssl_, tmp, sizeof tmp)
                              : static_cast<int>(recv(fd_, tmp, sizeof tmp, 0));
    if (got <= 0) return absl::UnavailableError("IMAP connection closed or timed out");
    buf_.append(tmp, static_cast<size_t>(got));
  }
  std::string out = buf_.substr(0, n);
  buf_.erase(0, n);
  return out;
}

absl::StatusOr<std::string> ImapClient::ReadLine() {
  for (;;) {
    size_t crlf = buf_.find("\r\n");
    if (crlf != std::string::npos) {
      std::string line = buf_.substr(0, crlf);
      buf_.erase(0, crlf + 2);
      return line;
    }
    if (buf_.size() > (1 << 20)) return absl::DataLossError("IMAP response line over 1 MiB");
    auto more = ReadBytes(buf_.size() + 1);  // at least one byte more
    if (!more.ok()) return more.status();
    buf_ = *more + buf_;
  }
}

absl::StatusOr<ImapClient::Response> ImapClient::Command(const std::string& command) {
  std::string tag = absl::StrCat("d", next_tag_++);
  if (absl::Status s = Write(absl::StrCat(tag, " ", command, "\r\n")); !s.ok()) return s;
  Response r;
  for (;;) {
    auto line = ReadLine();
    if (!line.ok()) return line.status();
    if (absl::StartsWith(*line, tag + " ")) {
      r.status = line->substr(tag.size() + 1);
      return r;
    }
    std::string full = *line;
    // A literal: "{n}" ends the line and n bytes follow, then the line goes on.
    while (!full.empty() && full.back() == '}') {
      size_t open = full.rfind('{');
      size_t n = 0;
      if (open == std::string::npos ||
          !absl::SimpleAtoi(full.substr(open + 1, full.size() - open - 2), &n)) {
        break;
      }
      auto bytes = ReadBytes(n);
      if (!bytes.ok()) return bytes.status();
      r.literals.push_back(*bytes);
      auto rest = ReadLine();
      if (!rest.ok()) return rest.status();
      full += *rest;
    }
    r.untagged.push_back(std::move(full));
  }
}

}  // namespace pullmail::cli
