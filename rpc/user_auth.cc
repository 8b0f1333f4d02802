// Basic and bearer-token authentication (see user_auth.h).
#include "rpc/user_auth.h"

#include <fcntl.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "core/crypto/encoding.h"
#include "core/crypto/password.h"
#include "core/util/address.h"
#include "core/util/random.h"
#include "core/util/strings.h"
#include "rpc/grpc_status.h"
#include "rpc/metrics.h"

namespace pullmail {
namespace {

const absl::Status kBadCredentials =
    absl::UnauthenticatedError("authentication failed: unknown user or wrong password");

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[32];
  unsigned int len = sizeof(out);
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

std::string MintBearerToken(std::string_view key, std::string_view principal, absl::Time expires) {
  std::string body = absl::StrCat(AV(principal), "\n", absl::ToUnixMillis(expires));
  return absl::StrCat(Base64Encode(body), ".", Base64Encode(HmacSha256(key, body)));
}

UserAuthenticator::UserAuthenticator(UserStore* users, std::string token_key, Clock* clock,
                                     absl::Duration token_lifetime, LoginPenaltyConfig penalty,
                                     std::function<void(absl::Duration)> sleep)
    : users_(users),
      key_(std::move(token_key)),
      clock_(clock),
      lifetime_(token_lifetime),
      throttle_(penalty),
      sleep_(sleep ? std::move(sleep) : [](absl::Duration d) { absl::SleepFor(d); }) {}

absl::StatusOr<std::string> UserAuthenticator::LoadOrCreateTokenKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::ostringstream s;
    s << in.rdbuf();
    if (s.str().size() != 32) {
      return absl::FailedPreconditionError(absl::StrCat(path, ": token key must be 32 bytes"));
    }
    return s.str();
  }
  std::string key = SecureRandom().Bytes(32);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("cannot create ", path));
  bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("cannot write ", path));
  return key;
}

std::string UserAuthenticator::Mac(std::string_view data) const { return HmacSha256(key_, data); }

absl::StatusOr<std::pair<std::string, absl::Time>> UserAuthenticator::Login(
    std::string_view user, std::string_view password, std::string_view client) {
  // One key per user however the client spells the address (case, a
  // trailing dot): the store's key and the throttle's. What is not an
  // address cannot be a user; it is still checked and throttled alike.
  absl::StatusOr<std::string> key = UserKey(user);
  const std::string address = key.ok() ? *std::move(key) : absl::AsciiStrToLower(AV(user));
  // Dovecot's auth penalty: wait, then check (never refuse unchecked, so
  // that nobody can lock a user out by failing on their behalf).
  absl::Duration wait = throttle_.Delay(address, client, clock_->Now());
  if (wait > absl::ZeroDuration()) {
    Metrics::Global().Add("pullmail_login_delayed_total");
    Metrics::Global().Add("pullmail_login_delay_ms_total",
                          static_cast<uint64_t>(absl::ToInt64Milliseconds(wait)));
    sleep_(wait);
  }
  auto fail = [&]() {
    Metrics::Global().Add("pullmail_login_failures_total");
    throttle_.RecordFailure(address, client, clock_->Now());
    return kBadCredentials;
  };
  if (password.size() > 1024) return fail();
  auto stored = users_->GetUser(address);
  if (!stored.ok()) {
    if (stored.status().code() == absl::StatusCode::kNotFound) {
      // Spend the same time as a real check so the answer does not reveal
      // whether the user exists.
      VerifyPassword(password, "$scrypt$ln=14,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$"
                               "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
      return fail();
    }
    return stored.status();
  }
  if (!VerifyPassword(password, stored->password_hash)) return fail();
  throttle_.RecordSuccess(address, client);
  absl::Time expires = clock_->Now() + lifetime_;
  return std::make_pair(MintBearerToken(key_, stored->address, expires), expires);
}

absl::StatusOr<std::string> UserAuthenticator::AuthenticateHeader(std::string_view header,
                                                                  std::string_view client) {
  absl::StatusOr<std::string> principal = Principal(header, client);
  if (!principal.ok()) return principal.status();
  // Users are addresses; a minted principal (the gateway's) is not a user
  // and may call none of the users' services.
  if (principal->find('@') == std::string::npos) {
    return absl::UnauthenticatedError("this token is not a user's");
  }
  return principal;
}

absl::StatusOr<std::string> UserAuthenticator::Principal(std::string_view header,
                                                         std::string_view client) {
  absl::string_view h = AV(header);
  if (absl::ConsumePrefix(&h, "Basic ")) {
    auto decoded = Base64Decode(SV(h));
    if (!decoded.ok()) return kBadCredentials;
    size_t colon = decoded->find(':');
    if (colon == std::string::npos) return kBadCredentials;
    std::string user = decoded->substr(0, colon);
    auto login = Login(user, std::string_view(*decoded).substr(colon + 1), client);
    if (!login.ok()) return login.status();
    return UserKey(user);  // valid: the login succeeded
  }
  if (absl::ConsumePrefix(&h, "Bearer ")) {
    std::vector<absl::string_view> parts = absl::StrSplit(h, '.');
    if (parts.size() != 2) return absl::UnauthenticatedError("malformed bearer token");
    auto body = Base64Decode(SV(parts[0]));
    auto mac = Base64Decode(SV(parts[1]));
    if (!body.ok() || !mac.ok() || !ConstantTimeEquals(*mac, Mac(*body))) {
      return absl::UnauthenticatedError("invalid bearer token");
    }
    size_t nl = body->find('\n');
    int64_t expires_ms = 0;
    if (nl == std::string::npos || !absl::SimpleAtoi(AV(std::string_view(*body).substr(nl + 1)),
                                                     &expires_ms)) {
      return absl::UnauthenticatedError("invalid bearer token");
    }
    if (absl::FromUnixMillis(expires_ms) <= clock_->Now()) {
      return absl::UnauthenticatedError("bearer token expired; log in again");
    }
    return body->substr(0, nl);
  }
  return absl::UnauthenticatedError(
      "missing credentials: send metadata 'authorization: Basic ...' or 'Bearer ...'");
}

namespace {
std::string_view AuthorizationOf(const grpc::ServerContextBase& context) {
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return "";
  return std::string_view(it->second.data(), it->second.size());
}
}  // namespace

namespace {
std::string_view MetadataOf(const grpc::ServerContextBase& context, std::string_view key) {
  const auto& md = context.client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return "";
  return std::string_view(it->second.data(), it->second.size());
}

// "ipv4:127.0.0.1:5000" -> "127.0.0.1"; "ipv6:[::1]:5000" -> "::1".
std::string PeerHost(std::string peer) {
  for (std::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (absl::StartsWith(peer, AV(scheme))) peer.erase(0, scheme.size());
  }
  if (!peer.empty() && peer.front() == '[') {
    size_t close = peer.find(']');
    return close == std::string::npos ? peer : peer.substr(1, close - 1);
  }
  size_t colon = peer.rfind(':');
  if (colon != std::string::npos && peer.find(':') == colon) peer.resize(colon);
  return peer;
}
}  // namespace

std::string UserAuthenticator::ClientOf(const grpc::ServerContextBase& context) {
  std::string_view forwarded = MetadataOf(context, kClientAddressMetadata);
  std::string_view authorization = AuthorizationOf(context);
  // Only a bearer token is checked here: Basic credentials would be a
  // password check of their own.
  if (!forwarded.empty() && forwarded.size() <= 256 &&
      absl::StartsWith(AV(authorization), "Bearer ") &&
      AuthenticatePrincipalHeader(authorization, kBridgePrincipal).ok()) {
    return absl::StrCat("via-gateway:", AV(forwarded));
  }
  return PeerHost(context.peer());
}

absl::StatusOr<std::string> UserAuthenticator::Authenticate(
    const grpc::ServerContextBase& context) {
  std::string_view header = AuthorizationOf(context);
  // Only Basic credentials check a password (and so meet the throttle).
  if (!absl::StartsWith(AV(header), "Basic ")) return AuthenticateHeader(header);
  return AuthenticateHeader(header, ClientOf(context));
}

absl::Status UserAuthenticator::AuthenticatePrincipal(const grpc::ServerContextBase& context,
                                                      std::string_view principal) {
  return AuthenticatePrincipalHeader(AuthorizationOf(context), principal);
}

absl::Status UserAuthenticator::AuthenticatePrincipalHeader(std::string_view authorization,
                                                            std::string_view principal) {
  absl::StatusOr<std::string> who = Principal(authorization);
  if (!who.ok()) return who.status();
  if (*who != principal) {
    return absl::PermissionDeniedError(
        absl::StrCat("only ", AV(principal), " may make this call, not ", *who));
  }
  return absl::OkStatus();
}

grpc::Status ServeLogin(UserAuthenticator& auth, const grpc::ServerContextBase& context,
                        const v1::LoginRequest& req, v1::LoginResponse* resp) {
  auto token = auth.Login(req.user(), req.password(), auth.ClientOf(context));
  if (!token.ok()) return ToGrpc(token.status());
  resp->set_token(token->first);
  resp->set_expires_unix_ms(absl::ToUnixMillis(token->second));
  return grpc::Status::OK;
}

grpc::Status ServeLogin(UserAuthenticator& auth, const v1::LoginRequest& req,
                        v1::LoginResponse* resp) {
  auto token = auth.Login(req.user(), req.password());
  if (!token.ok()) return ToGrpc(token.status());
  resp->set_token(token->first);
  resp->set_expires_unix_ms(absl::ToUnixMillis(token->second));
  return grpc::Status::OK;
}

std::string BasicAuthorization(std::string_view user, std::string_view password) {
  return absl::StrCat("Basic ", Base64Encode(absl::StrCat(AV(user), ":", AV(password))));
}

}  // namespace pullmail
