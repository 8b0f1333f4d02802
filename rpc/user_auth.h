// Authentication of a node's own users on user-facing gRPC services.
// Each call carries metadata "authorization" with either
//   "Basic <base64(user:password)>"  (checked against the scrypt hash), or
//   "Bearer <token>"                  (issued by Login: HMAC-SHA256 over the
//                                      user and expiry with the domain's
//                                      token key, so the domain's two nodes
//                                      accept each other's tokens; the
//                                      gateway, which reads the same key,
//                                      mints kBridgePrincipal's).
#ifndef PULLMAIL_RPC_USER_AUTH_H_
#define PULLMAIL_RPC_USER_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/logic/login_throttle.h"
#include "core/storage/user_store.h"
#include "core/util/clock.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

// The principal of the domain's gateway when it bridges SMTP in
// (SubmitService.Bridge). Not an address (no '@'), so no user can be it, and
// Authenticate() refuses its token for every user-facing call.
inline constexpr std::string_view kBridgePrincipal = "gateway:bridge";

// The one bearer-token rule: base64(principal "\n" expiry_ms) "."
// base64(HMAC-SHA256(key, principal "\n" expiry_ms)). Login issues users'
// tokens with it; the gateway mints kBridgePrincipal's with the domain's
// token key (NodeConfig::TokenKeyPath()). `key` is the 32-byte token key.
std::string MintBearerToken(std::string_view key, std::string_view principal, absl::Time expires);

// Metadata a gateway adds to a Login call it makes for a client of its own:
// the client's address, so that the node's login throttle counts that
// client and not the gateway. Believed only beside a valid bearer token of
// kBridgePrincipal (the domain's gateway) in "authorization".
inline constexpr char kClientAddressMetadata[] = "pullmail-client-address";

class UserAuthenticator {
 public:
  // `users` and `clock` are not owned and must outlive this. Thread-safe.
  // Failed logins slow further attempts for the same user and from the same
  // client (core/logic/login_throttle.h); `sleep` is how a wait is spent
  // (tests pass one that records it).
  UserAuthenticator(UserStore* users, std::string token_key, Clock* clock,
                    absl::Duration token_lifetime = absl::Hours(12),
                    LoginPenaltyConfig penalty = {},
                    std::function<void(absl::Duration)> sleep = nullptr);

  // Loads (or creates, mode 0600) the 32-byte token key at `path`.
  static absl::StatusOr<std::string> LoadOrCreateTokenKey(const std::string& path);

  // Checks a password; returns a bearer token and its expiry.
  // kUnauthenticated for an unknown user or a wrong password (same message).
  // Waits first as the login throttle says for `user` and `client` (the
  // caller's address, "" if unknown), and tells it the outcome.
  absl::StatusOr<std::pair<std::string, absl::Time>> Login(std::string_view user,
                                                           std::string_view password,
                                                           std::string_view client = "");

  // The authenticated user's address, or kUnauthenticated (also for a valid
  // token whose principal is not a user, such as kBridgePrincipal's).
  absl::StatusOr<std::string> Authenticate(const grpc::ServerContextBase& context);
  absl::StatusOr<std::string> AuthenticateHeader(std::string_view authorization,
                                                 std::string_view client = "");

  // The address a call's login attempts count against: the gRPC peer's host,
  // or the client a gateway names (kClientAddressMetadata) when the call
  // carries the gateway's token.
  std::string ClientOf(const grpc::ServerContextBase& context);

  LoginThrottle& throttle() { return throttle_; }

  // OK only for a valid bearer token of `principal` (e.g. kBridgePrincipal);
  // kUnauthenticated for missing, invalid or expired credentials;
  // kPermissionDenied for valid credentials of anyone else (every user).
  absl::Status AuthenticatePrincipal(const grpc::ServerContextBase& context,
                                     std::string_view principal);
  absl::Status AuthenticatePrincipalHeader(std::string_view authorization,
                                           std::string_view principal);

 private:
  // Any valid credentials' principal (a user's address, or a minted one).
  absl::StatusOr<std::string> Principal(std::string_view authorization,
                                        std::string_view client = "");
  std::string Mac(std::string_view data) const;
  UserStore* users_;
  std::string key_;
  Clock* clock_;
  absl::Duration lifetime_;
  LoginThrottle throttle_;
  std::function<void(absl::Duration)> sleep_;
};

// The Login RPC of SubmitService and MailboxService, both; `context` names
// the client for the login throttle.
grpc::Status ServeLogin(UserAuthenticator& auth, const grpc::ServerContextBase& context,
                        const v1::LoginRequest& req, v1::LoginResponse* resp);
grpc::Status ServeLogin(UserAuthenticator& auth, const v1::LoginRequest& req,
                        v1::LoginResponse* resp);

// The client side: metadata value for Basic credentials.
std::string BasicAuthorization(std::string_view user, std::string_view password);

}  // namespace pullmail

#endif  // PULLMAIL_RPC_USER_AUTH_H_
