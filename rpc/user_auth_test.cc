// Tests for the bearer-token rule and who may call what (rpc/user_auth.h):
// users' tokens are good for users' calls only, the gateway's minted
// "gateway:bridge" token for SubmitService.Bridge only.
#include "rpc/user_auth.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/crypto/password.h"
#include "core/storage/memory_store.h"
#include "core/util/random.h"

namespace pullmail {
namespace {

class UserAuthTest : public ::testing::Test {
 protected:
  UserAuthTest() : users_(NewMemoryUserStore()), key_(32, 'k') {
    SeededRandom random(3);
    User u;
    u.address = "alice@b.example";
    u.password_hash = HashPassword("pw", random);
    EXPECT_TRUE(users_->AddUser(u).ok());
    auth_ = std::make_unique<UserAuthenticator>(users_.get(), key_, &clock_);
  }
  static std::string Bearer(const std::string& token) { return absl::StrCat("Bearer ", token); }

  FakeClock clock_;
  std::unique_ptr<UserStore> users_;
  std::string key_;
  std::unique_ptr<UserAuthenticator> auth_;
};

TEST_F(UserAuthTest, LoginTokenIsTheMintedToken) {
  auto login = auth_->Login("alice@b.example", "pw");
  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_EQ(login->first, MintBearerToken(key_, "alice@b.example", login->second));
  EXPECT_EQ(*auth_->AuthenticateHeader(Bearer(login->first)), "alice@b.example");
}

TEST_F(UserAuthTest, UsersMayNotBridge) {
  auto login = auth_->Login("alice@b.example", "pw");
  ASSERT_TRUE(login.ok());
  absl::Status s = auth_->AuthenticatePrincipalHeader(Bearer(login->first), kBridgePrincipal);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  // Basic credentials of a real user: also denied.
  s = auth_->AuthenticatePrincipalHeader(BasicAuthorization("alice@b.example", "pw"),
                                         kBridgePrincipal);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  // A user named "bridge" is still an address, not the principal.
  std::string bridge_user =
      MintBearerToken(key_, "gateway:bridge@b.example", clock_.Now() + absl::Hours(1));
  EXPECT_EQ(auth_->AuthenticatePrincipalHeader(Bearer(bridge_user), kBridgePrincipal).code(),
            absl::StatusCode::kPermissionDenied);
  // No or bad credentials: unauthenticated.
  EXPECT_EQ(auth_->AuthenticatePrincipalHeader("", kBridgePrincipal).code(),
            absl::StatusCode::kUnauthenticated);
  std::string other_key =
      MintBearerToken(std::string(32, 'x'), kBridgePrincipal, clock_.Now() + absl::Hours(1));
  EXPECT_EQ(auth_->AuthenticatePrincipalHeader(Bearer(other_key), kBridgePrincipal).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(UserAuthTest, BridgeTokenIsGoodForBridgeOnly) {
  std::string token = MintBearerToken(key_, kBridgePrincipal, clock_.Now() + absl::Minutes(5));
  EXPECT_TRUE(auth_->AuthenticatePrincipalHeader(Bearer(token), kBridgePrincipal).ok());
  // Not a user: every user-facing call refuses it.
  EXPECT_EQ(auth_->AuthenticateHeader(Bearer(token)).status().code(),
            absl::StatusCode::kUnauthenticated);
  // It expires like any token.
  clock_.Advance(absl::Minutes(6));
  EXPECT_EQ(auth_->AuthenticatePrincipalHeader(Bearer(token), kBridgePrincipal).code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace pullmail
