// The gateway's view of its domain's two nodes: gRPC channels (TLS, from the
// domain's node.toml), logging a user in, and the contexts every call uses.
// Thread-safe: sessions on many threads share one NodeClient.
#ifndef PULLMAIL_GATEWAY_NODE_CLIENT_H_
#define PULLMAIL_GATEWAY_NODE_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/config/node_config.h"
#include "core/logic/auth_cache.h"
#include "core/logic/login_throttle.h"
#include "core/util/random.h"
#include "pullmail/v1/pullmail.grpc.pb.h"

namespace pullmail::gateway {

class NodeClient {
 public:
  // Dials the domain's recipient node (MailboxService) and sender node
  // (SubmitService) at `node`'s RecipientEndpoints() / SenderEndpoints():
  // one channel each, over every replica listed (docs/SCALE-OUT.md), calls
  // spread over those that are up. Channels connect lazily.
  static absl::StatusOr<std::unique_ptr<NodeClient>> Open(const NodeConfig& node);

  const std::string& domain() const { return domain_; }

  // "alice" -> "alice@<domain>"; an address in its user-key form (core's
  // UserKey: "Alice@B.Example." -> "alice@b.example").
  std::string Address(std::string_view user) const;

  // Logs `user` in at the recipient node (mailbox) or the sender node
  // (submission) and returns a bearer token for Context(). A mailbox login
  // (IMAP, POP3) that succeeded within kLoginCacheTtl with the same password
  // is answered from the login cache (core/logic/auth_cache.h: Dovecot's
  // auth cache, successes only, keyed on a salted hash of user and
  // password).
  // kUnauthenticated: wrong user or password. kUnavailable: node down.
  // `client` is the IMAP/POP3/SMTP client's address ("host:port"): failed
  // logins slow the next ones for that user and that host (core's
  // LoginThrottle, Dovecot's auth penalty; waited here, on the session's
  // thread, before the cache or the node is asked), and the node is told
  // the host so that its own throttle counts the client, not the gateway.
  absl::StatusOr<std::string> LoginMailbox(std::string_view user, std::string_view password,
                                           std::string_view client = "");
  absl::StatusOr<std::string> LoginSubmit(std::string_view user, std::string_view password,
                                          std::string_view client = "");

  // The penalties of LoginMailbox/LoginSubmit ([auth] of node.toml). Call
  // once, before sessions start.
  void SetLoginPenalty(const LoginPenaltyConfig& config) {
    throttle_ = std::make_unique<LoginThrottle>(config);
  }

  // SMTP in: reads the domain's token key (NodeConfig::TokenKeyPath(), the
  // file both nodes use) so that BridgeContext() can mint the gateway's
  // kBridgePrincipal token. kFailedPrecondition when it cannot be read.
  // Call once, before sessions start.
  absl::Status LoadBridgeKey(const std::string& token_key_path);
  bool bridge_enabled() const { return !bridge_key_.empty(); }

  // A context for SubmitService.Bridge: a fresh kBridgePrincipal token
  // (valid a few minutes more than `timeout`) and the deadline. Requires
  // LoadBridgeKey() to have succeeded.
  std::unique_ptr<grpc::ClientContext> BridgeContext(absl::Duration timeout) const;

  v1::MailboxService::Stub& mailbox() { return *mailbox_; }
  v1::SubmitService::Stub& submit() { return *submit_; }

  // A context carrying "authorization: Bearer <token>" and a deadline.
  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token,
                                                       absl::Duration timeout = absl::Seconds(60));

 private:
  NodeClient() = default;
  // One login at a node, after the throttle's wait; tells the throttle.
  template <typename Stub>
  absl::StatusOr<v1::LoginResponse> Login(Stub& stub, const std::string& address,
                                          std::string_view password, std::string_view client);
  std::unique_ptr<LoginThrottle> throttle_ = std::make_unique<LoginThrottle>();
  static constexpr absl::Duration kLoginCacheTtl = absl::Minutes(5);
  static constexpr size_t kLoginCacheEntries = 10000;
  AuthCache mailbox_logins_{SecureRandom().Bytes(32), kLoginCacheTtl, kLoginCacheEntries};
  std::string domain_;
  std::string bridge_key_;  // the domain's 32-byte token key; never logged
  std::unique_ptr<v1::MailboxService::Stub> mailbox_;
  std::unique_ptr<v1::SubmitService::Stub> submit_;
};

}  // namespace pullmail::gateway

#endif  // PULLMAIL_GATEWAY_NODE_CLIENT_H_
