// The SMTP-out relay (see relay_service.h): verification and routing checks,
// the body fetch from the own sender node, and the socket side of the SMTP
// client dialogue whose logic is core/smtp/smtp_client.h.
#include "gateway/relay_service.h"

#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/envelope/envelope.h"
#include "core/logic/fetch_rule.h"
#include "core/logic/relay_acceptor.h"
#include "core/smtp/smtp_client.h"
#include "core/smtp/smtp_reply.h"
#include "core/util/logging.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "rpc/body_fetch.h"
#include "rpc/grpc_status.h"
#include "rpc/tls.h"

namespace pullmail::gateway {
namespace {

// The sender node gives a relay stream 60 s in all (core/logic/delivery_pass.h):
// the fetch gets half of it, the SMTP dialogue the rest.
const FetchPolicy kRelayFetch{.max_attempts = 3, .deadline = absl::Seconds(30)};
constexpr absl::Duration kConnectTimeout = absl::Seconds(10);

bool WaitFd(int fd, short events, absl::Time deadline) {
  for (;;) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, events, 0};
    int r = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

// A blocking SMTP client connection to the smarthost with per-operation
// timeouts and optional client TLS (opportunistic: SSL_VERIFY_NONE).
class SmtpConn {
 public:
  explicit SmtpConn(absl::Duration timeout) : timeout_(timeout) {}
  ~SmtpConn() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
  }

  absl::Status Connect(const std::string& host_port) {
    size_t colon = host_port.rfind(':');
    if (colon == std::string::npos) return absl::InvalidArgumentError("smarthost needs a port");
    host_ = host_port.substr(0, colon);
    if (host_.size() >= 2 && host_.front() == '[' && host_.back() == ']') {
      host_ = host_.substr(1, host_.size() - 2);
    }
    std::string port = host_port.substr(colon + 1);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int e = getaddrinfo(host_.c_str(), port.c_str(), &hints, &res); e != 0) {
      return absl::UnavailableError(absl::StrCat("cannot resolve ", host_port, ": ", gai_strerror(e)));
    }
    std::string last = "no address";
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      int r = connect(fd, a->ai_addr, a->ai_addrlen);
      if (r != 0 && errno == EINPROGRESS && WaitFd(fd, POLLOUT, absl::Now() + kConnectTimeout)) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        r = err == 0 ? 0 : -1;
        errno = err;
      }
      if (r == 0) {
        fd_ = fd;
        break;
      }
      last = errno ? std::strerror(errno) : "timeout";
      close(fd);
    }
    freeaddrinfo(res);
    if (fd_ < 0) return absl::UnavailableError(absl::StrCat("cannot connect to ", host_port, ": ", last));
    return absl::OkStatus();
  }

  absl::Status StartTls() {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return absl::UnavailableError("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    // Opportunistic TLS (RFC 3207 as MTAs use it): encrypt, verify nothing.
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr) return absl::UnavailableError("SSL_new failed");
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, host_.c_str());
    buf_.clear();
    const absl::Time deadline = absl::Now() + timeout_;
    for (;;) {
      ERR_clear_error();
      int r = SSL_connect(ssl_);
      if (r == 1) return absl::OkStatus();
      int err = SSL_get_error(ssl_, r);
      short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (events == 0) {
        char msg[256];
        ERR_error_string_n(ERR_peek_last_error(), msg, sizeof(msg));
        return absl::UnavailableError(absl::StrCat("TLS handshake with the smarthost failed: ", msg));
      }
      if (!WaitFd(fd_, events, deadline)) return absl::UnavailableError("TLS handshake timeout");
    }
  }

  absl::Status Write(std::string_view data) {
    const absl::Time deadline = absl::Now() + timeout_;
    while (!data.empty()) {
      ssize_t n;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        int r = SSL_write(ssl_, data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
        if (r <= 0) {
          int err = SSL_get_error(ssl_, r);
          short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
          if (events == 0) return absl::UnavailableError("TLS write failed");
          if (!WaitFd(fd_, events, deadline)) return absl::UnavailableError("write timeout");
          continue;
        }
        n = r;
      } else {
        n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return absl::UnavailableError(absl::StrCat("write: ", std::strerror(errno)));
          }
          if (!WaitFd(fd_, POLLOUT, deadline)) return absl::UnavailableError("write timeout");
          continue;
        }
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  }

  // One line without CRLF (or LF); at most max_bytes.
  absl::StatusOr<std::string> ReadLine(size_t max_bytes) {
    const absl::Time deadline = absl::Now() + timeout_;
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
      }
      if (buf_.size() > max_bytes) return absl::UnavailableError("over-long reply line");
      char tmp[4096];
      ssize_t n;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        int r = SSL_read(ssl_, tmp, sizeof(tmp));
        if (r <= 0) {
          int err = SSL_get_error(ssl_, r);
          short events = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
          if (events == 0) return absl::UnavailableError("connection closed");
          if (!WaitFd(fd_, events, deadline)) return absl::UnavailableError("read timeout");
          continue;
        }
        n = r;
      } else {
        n = recv(fd_, tmp, sizeof(tmp), 0);
        if (n == 0) return absl::UnavailableError("connection closed");
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno != EAGAIN && errno != EWOULDBLOCK) {
            return absl::UnavailableError(absl::StrCat("read: ", std::strerror(errno)));
          }
          if (!WaitFd(fd_, POLLIN, deadline)) return absl::UnavailableError("read timeout");
          continue;
        }
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

 private:
  absl::Duration timeout_;
  int fd_ = -1;
  std::string host_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buf_;
};

// One SMTP dialogue with the smarthost, driven by core's SmtpClient.
// *tls_failed is set when the STARTTLS handshake itself failed.
SmtpClientResult RunSmtp(const RelayOptions& o, SmtpClientParams params, const std::string& body,
                         bool* tls_failed) {
  *tls_failed = false;
  SmtpClient client(std::move(params));
  SmtpConn conn(o.smtp_timeout);
  SmtpClientAction a = client.Start();  // kClose: an envelope SMTP cannot carry
  if (a.kind != SmtpClientAction::kClose) {
    if (absl::Status s = conn.Connect(o.smarthost); !s.ok()) {
      a = client.OnTransportError(SV(s.message()));
    }
  }
  while (a.kind != SmtpClientAction::kClose) {
    absl::Status s;
    switch (a.kind) {
      case SmtpClientAction::kReadReply: {
        auto line = conn.ReadLine(SmtpClient::kMaxReplyLineBytes);
        if (!line.ok()) {
          a = client.OnTransportError(SV(line.status().message()));
          continue;
        }
        a = client.OnReplyLine(*line);
        continue;
      }
      case SmtpClientAction::kSend:
        s = conn.Write(a.data);
        break;
      case SmtpClientAction::kSendMessage:
        s = conn.Write(DotStuff(body));
        break;
      case SmtpClientAction::kStartTls:
        s = conn.StartTls();
        *tls_failed = !s.ok();
        if (s.ok()) {
          a = client.OnTlsStarted();
          continue;
        }
        break;
      case SmtpClientAction::kClose:
        break;
    }
    if (!s.ok()) {
      a = client.OnTransportError(SV(s.message()));
      continue;
    }
    a = SmtpClientAction{};
  }
  return client.result();
}

// Fetches and checks the body from this domain's own sender node (the one
// fetch client, rpc/body_fetch.h, on core's fetch rule).
absl::StatusOr<std::string> FetchBody(const RelayOptions& o, const v1::Notification& n) {
  ASSIGN_OR_RETURN(DomainEntry own, o.directory->Lookup(o.domain));
  if (own.sender_endpoint.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("directory lists no sender endpoint for ", o.domain));
  }
  ASSIGN_OR_RETURN(auto channel, Dial(*o.tls, own.sender_endpoint, o.domain));
  auto stub = v1::SenderService::NewStub(channel);
  BodyFetchRequest req;
  req.message_id = n.message_id();
  req.fetch_token = n.fetch_token();
  req.recipient_domain = n.recipient_domain();
  req.sender_domain = o.domain;
  req.body_size = n.body_size();
  req.body_sha256 = n.body_sha256();
  return FetchVerifiedBody(*stub, req, kRelayFetch);
}

class RelayServiceImpl final : public v1::RecipientService::Service {
 public:
  explicit RelayServiceImpl(RelayOptions options) : options_(std::move(options)) {}

  grpc::Status Notify(grpc::ServerContext*, const v1::SignedNotification* req,
                      v1::NotifyResult* resp) override {
    *resp = RelayNotification(options_, *req);
    return grpc::Status::OK;
  }

  grpc::Status NotifyStream(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::NotifyResult, v1::SignedNotification>* stream) override {
    v1::SignedNotification n;
    uint64_t seq = 0;
    while (!ctx->IsCancelled() && stream->Read(&n)) {
      v1::NotifyResult r = RelayNotification(options_, n);
      r.set_sequence(seq++);
      if (!stream->Write(r)) break;
    }
    return grpc::Status::OK;
  }

 private:
  RelayOptions options_;
};

}  // namespace

v1::NotifyResult RelayNotification(const RelayOptions& o, const v1::SignedNotification& signed_n) {
  // Whether to relay at all is core's rule (core/logic/relay_acceptor.h).
  RelayAcceptContext ctx;
  ctx.domain = o.domain;
  ctx.directory = o.directory;
  ctx.now = o.clock->Now();
  ctx.smarthost_configured = !o.smarthost.empty();
  ctx.max_message_bytes = o.max_message_bytes;
  RelayDecision decision = AcceptForRelay(signed_n, ctx);
  if (!decision.accepted) {
    if (decision.result.reason() == "not_own_domain") {
      PM_LOG(WARNING) << "relay: refused a notification signed by "
                      << SanitizeReplyText(signed_n.signing_domain(), 100);
    }
    return decision.result;
  }
  const v1::Notification* n = &decision.notification;
  const std::string& id = n->message_id();
  auto body = FetchBody(o, *n);
  if (!body.ok()) {
    PM_LOG(WARNING) << "relay: fetch of " << id << " failed: " << body.status();
    return RelayFetchFailed(body.status(), id);
  }

  SmtpClientParams params;
  params.helo_domain = o.domain;
  params.mail_from = n->envelope_sender();
  params.recipients.assign(n->recipients().begin(), n->recipients().end());
  params.message_size = body->size();
  params.tls_possible = true;
  bool tls_failed = false;
  SmtpClientResult r = RunSmtp(o, params, *body, &tls_failed);
  if (tls_failed) {
    // Opportunistic TLS as MTAs do it: a server that offers STARTTLS but
    // cannot complete the handshake gets the message in plaintext on a new
    // connection rather than never (nothing was sent before the handshake).
    PM_LOG(WARNING) << "relay: " << id << ": STARTTLS with " << o.smarthost << " failed ("
                    << r.reply << "); retrying without TLS";
    params.tls_possible = false;
    r = RunSmtp(o, params, *body, &tls_failed);
  }
  for (const auto& [rcpt, reply] : r.refused) {
    PM_LOG(WARNING) << "relay: " << id << ": " << o.smarthost << " refused <" << rcpt
                    << "> (" << reply << "); delivered to the others (no bounce: the "
                    << "notification answer has no per-recipient result)";
  }
  PM_LOG(INFO) << "relay: " << id << " from <" << n->envelope_sender() << "> to "
               << n->recipient_domain() << " via " << o.smarthost << (r.tls ? " (TLS)" : "")
               << ": " << r.reply;
  return RelaySmtpResult(r, id);
}

absl::StatusOr<std::unique_ptr<RelayServer>> RelayServer::Start(const std::string& listen,
                                                                RelayOptions options) {
  ASSIGN_OR_RETURN(auto creds, MakeServerCredentials(*options.tls, listen));
  std::unique_ptr<RelayServer> s(new RelayServer());
  s->service_ = std::make_unique<RelayServiceImpl>(std::move(options));
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, creds, &port);
  builder.RegisterService(s->service_.get());
  // Other domains' nodes call it as a RecipientService: notifications only,
  // per-method and per-peer limits as on a recipient node.
  const CallLimits limits;
  s->peer_calls_ = std::make_unique<PeerCallCounter>(limits.max_calls_per_peer);
  ApplyCallLimits(limits, {"pullmail.v1.RecipientService"}, s->peer_calls_.get(), &builder);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("relay: cannot listen on ", listen));
  }
  s->address_ = listen;
  return s;
}

RelayServer::~RelayServer() { Stop(); }

void RelayServer::Stop() {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server_->Wait();
  server_.reset();
}

}  // namespace pullmail::gateway
