// Authentication of a node's own users on user-facing gRPC services.
// Each call carries metadata "authorization" with either
//   "Basic <base64(user:password)>"  (checked against the scrypt hash), or
//   "Bearer <token>"                  (issued by Login: HMAC-SHA256 over the
//                                      user and expiry with the domain's
//                                      token key, so the domain's two nodes
//                                      accept each other's tokens).
#ifndef PULLMAIL_RPC_USER_AUTH_H_
#define PULLMAIL_RPC_USER_AUTH_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/storage/user_store.h"
#include "core/util/clock.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

class UserAuthenticator {
 public:
  // `users` and `clock` are not owned and must outlive this. Thread-safe.
  UserAuthenticator(UserStore* users, std::string token_key, Clock* clock,
                    absl::Duration token_lifetime = absl::Hours(12));

  // Loads (or creates, mode 0600) the 32-byte token key at `path`.
  static absl::StatusOr<std::string> LoadOrCreateTokenKey(const std::string& path);

  // Checks a password; returns a bearer token and its expiry.
  // kUnauthenticated for an unknown user or a wrong password (same message).
  absl::StatusOr<std::pair<std::string, absl::Time>> Login(std::string_view user,
                                                           std::string_view password);

  // The authenticated user's address, or kUnauthenticated.
  absl::StatusOr<std::string> Authenticate(const grpc::ServerContextBase& context);
  absl::StatusOr<std::string> AuthenticateHeader(std::string_view authorization);

 private:
  std::string Mac(std::string_view data) const;
  UserStore* users_;
  std::string key_;
  Clock* clock_;
  absl::Duration lifetime_;
};

// The Login RPC of SubmitService and MailboxService, both.
grpc::Status ServeLogin(UserAuthenticator& auth, const v1::LoginRequest& req,
                        v1::LoginResponse* resp);

// The client side: metadata value for Basic credentials.
std::string BasicAuthorization(std::string_view user, std::string_view password);

}  // namespace pullmail

#endif  // PULLMAIL_RPC_USER_AUTH_H_
