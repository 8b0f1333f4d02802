// Channels to the domain's nodes and user login (see node_client.h).
#include "gateway/node_client.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/util/address.h"
#include "core/util/strings.h"
#include "rpc/grpc_status.h"
#include "rpc/tls.h"
#include "rpc/user_auth.h"

namespace pullmail::gateway {
namespace {

// The node may itself wait up to its own penalty cap before answering.
constexpr absl::Duration kLoginTimeout = absl::Seconds(40);

// "192.0.2.1:5555" -> "192.0.2.1"; "[::1]:5555" -> "::1".
std::string HostOf(std::string_view peer) {
  if (!peer.empty() && peer.front() == '[') {
    size_t close = peer.find(']');
    if (close != std::string_view::npos) return std::string(peer.substr(1, close - 1));
  }
  size_t colon = peer.rfind(':');
  if (colon != std::string_view::npos && peer.find(':') == colon) peer = peer.substr(0, colon);
  return std::string(peer);
}

}  // namespace

template <typename Stub>
absl::StatusOr<v1::LoginResponse> NodeClient::Login(Stub& stub, const std::string& address,
                                                    std::string_view password,
                                                    std::string_view client) {
  const std::string key = absl::AsciiStrToLower(address);
  const std::string host = HostOf(client);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + kLoginTimeout));
  if (!host.empty() && bridge_enabled()) {
    // Proves to the node that the gateway names its client.
    ctx.AddMetadata("authorization",
                    absl::StrCat("Bearer ", MintBearerToken(bridge_key_, kBridgePrincipal,
                                                            absl::Now() + absl::Minutes(2))));
    ctx.AddMetadata(kClientAddressMetadata, host);
  }
  v1::LoginRequest req;
  req.set_user(address);
  req.set_password(std::string(password));
  v1::LoginResponse resp;
  grpc::Status s = stub.Login(&ctx, req, &resp);
  if (!s.ok()) {
    if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      throttle_->RecordFailure(key, host, absl::Now());
    }
    return FromGrpc(s);
  }
  throttle_->RecordSuccess(key, host);
  return resp;
}

namespace {
// Dovecot's auth penalty, before anything else (the cache included): a
// wrong guess costs the same wait whether or not it would have been cached.
void WaitPenalty(LoginThrottle& throttle, const std::string& address, std::string_view client) {
  absl::Duration wait =
      throttle.Delay(absl::AsciiStrToLower(address), HostOf(client), absl::Now());
  if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
}
}  // namespace

absl::StatusOr<std::unique_ptr<NodeClient>> NodeClient::Open(const NodeConfig& node) {
  if (node.RecipientEndpoints().empty() || node.SenderEndpoints().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        node.path, ": [recipient] and [sender] listen (or endpoints) are both needed"));
  }
  // One channel per node over every replica listed (round_robin): a
  // replica that dies leaves the others serving the sessions' next calls.
  auto recipient = Dial(node.tls, node.RecipientEndpoints(), node.domain);
  if (!recipient.ok()) return recipient.status();
  auto sender = Dial(node.tls, node.SenderEndpoints(), node.domain);
  if (!sender.ok()) return sender.status();
  std::unique_ptr<NodeClient> c(new NodeClient());
  c->domain_ = node.domain;
  c->mailbox_ = v1::MailboxService::NewStub(*recipient);
  c->submit_ = v1::SubmitService::NewStub(*sender);
  return c;
}

std::string NodeClient::Address(std::string_view user) const {
  // The user's one spelling (core's UserKey), so that the login cache and
  // the penalty count one user however a client spells the address.
  std::string address = user.find('@') == std::string_view::npos
                            ? absl::StrCat(AV(user), "@", domain_)
                            : std::string(user);
  absl::StatusOr<std::string> key = UserKey(address);
  return key.ok() ? *std::move(key) : address;
}

absl::StatusOr<std::string> NodeClient::LoginMailbox(std::string_view user,
                                                     std::string_view password,
                                                     std::string_view client) {
  std::string address = Address(user);
  WaitPenalty(*throttle_, address, client);
  absl::Time now = absl::Now();
  if (std::optional<std::string> token = mailbox_logins_.Lookup(address, password, now)) {
    throttle_->RecordSuccess(absl::AsciiStrToLower(address), HostOf(client));
    return *std::move(token);
  }
  absl::StatusOr<v1::LoginResponse> r = Login(*mailbox_, address, password, client);
  if (!r.ok()) return r.status();
  mailbox_logins_.Insert(address, password, r->token(), absl::FromUnixMillis(r->expires_unix_ms()),
                         now);
  return r->token();
}

absl::StatusOr<std::string> NodeClient::LoginSubmit(std::string_view user,
                                                    std::string_view password,
                                                    std::string_view client) {
  // Not cached: a submission session logs in once and its AUTH answer must
  // say whether the sender node can take mail now (454 4.7.0 when down).
  std::string address = Address(user);
  WaitPenalty(*throttle_, address, client);
  absl::StatusOr<v1::LoginResponse> r = Login(*submit_, address, password, client);
  if (!r.ok()) return r.status();
  return r->token();
}

absl::Status NodeClient::LoadBridgeKey(const std::string& token_key_path) {
  // Read only, never created: a key the nodes do not share is useless.
  std::ifstream in(token_key_path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the token key ", token_key_path,
                     " (SMTP in needs it; `pullmail init` creates it)"));
  }
  std::ostringstream key;
  key << in.rdbuf();
  if (key.str().size() != 32) {
    return absl::FailedPreconditionError(
        absl::StrCat(token_key_path, ": token key must be 32 bytes"));
  }
  bridge_key_ = key.str();
  return absl::OkStatus();
}

std::unique_ptr<grpc::ClientContext> NodeClient::BridgeContext(absl::Duration timeout) const {
  // A short-lived token per call: nothing long-lived to steal from memory.
  absl::Time expires = absl::Now() + timeout + absl::Minutes(1);
  return Context(MintBearerToken(bridge_key_, kBridgePrincipal, expires), timeout);
}

std::unique_ptr<grpc::ClientContext> NodeClient::Context(const std::string& token,
                                                         absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

}  // namespace pullmail::gateway
