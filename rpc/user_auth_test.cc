// Tests for the bearer-token rule and who may call what (rpc/user_auth.h):
// users' tokens are good for users' calls only, the gateway's minted
// "gateway:bridge" token for SubmitService.Bridge only.
#include "rpc/user_auth.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "core/crypto/password.h"
#include "core/storage/memory_store.h"
#include "core/util/random.h"
#include "core/util/clock.h"

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

// One user however the address is spelt (core's UserKey: the domain's case
// and trailing dot, the local part's case); the principal is the user key.
TEST_F(UserAuthTest, AnySpellingOfTheAddressIsTheSameUser) {
  auto login = auth_->Login("Alice@B.Example.", "pw");
  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_EQ(*auth_->AuthenticateHeader(Bearer(login->first)), "alice@b.example");
  auto basic = auth_->AuthenticateHeader(BasicAuthorization("ALICE@b.example.", "pw"));
  ASSERT_TRUE(basic.ok()) << basic.status();
  EXPECT_EQ(*basic, "alice@b.example");
  EXPECT_EQ(auth_->Login("alice@b.example..", "pw").status().code(),
            absl::StatusCode::kUnauthenticated);
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

namespace pullmail {
namespace {

// Issue 10 point 8: wrong passwords slow further attempts (per user, per
// client) but never lock the user out; a success clears the penalty.
// (Twelve failures reach the cap; scrypt makes each check slow, and the
// e2e suite sends forty through the gateway.)
TEST(UserAuthThrottle, WrongPasswordsThenSlowButTheRightOneWorks) {
  FakeClock clock;
  auto users = NewMemoryUserStore();
  SeededRandom random(5);
  User u;
  u.address = "alice@b.example";
  u.password_hash = HashPassword("pw", random);
  ASSERT_TRUE(users->AddUser(u).ok());
  std::vector<absl::Duration> waits;
  LoginPenaltyConfig penalty;  // Dovecot's: 2 s doubling to 15 s
  UserAuthenticator auth(users.get(), std::string(32, 'k'), &clock, absl::Hours(12), penalty,
                         [&](absl::Duration d) {
                           waits.push_back(d);
                           clock.Advance(d);
                         });
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(auth.Login("alice@b.example", "wrong", "192.0.2.9").status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  ASSERT_EQ(waits.size(), 11u);  // the first failure had nothing to wait for
  EXPECT_EQ(waits[0], absl::Seconds(2));
  EXPECT_EQ(waits[1], absl::Seconds(4));
  EXPECT_EQ(waits.back(), absl::Seconds(15));
  // Basic credentials on every call meet the same penalty.
  waits.clear();
  EXPECT_FALSE(auth.AuthenticateHeader(BasicAuthorization("alice@b.example", "nope"),
                                       "192.0.2.9").ok());
  ASSERT_EQ(waits.size(), 1u);
  // The right password, from elsewhere: slow (the user is penalised), not refused.
  waits.clear();
  auto ok = auth.Login("alice@b.example", "pw", "198.51.100.1");
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_EQ(waits[0], absl::Seconds(15));
  // Cleared for that user: the next login does not wait.
  waits.clear();
  EXPECT_TRUE(auth.Login("alice@b.example", "pw", "198.51.100.1").ok());
  EXPECT_TRUE(waits.empty());
  // Unknown users count per client address too.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(auth.Login("nobody@b.example", "x", "203.0.113.5").ok());
  waits.clear();
  EXPECT_TRUE(auth.Login("alice@b.example", "pw", "203.0.113.5").ok());
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_EQ(waits[0], absl::Seconds(8));
}

// The penalty is the user's however the failing client spells the address:
// failures as "Alice@B.Example." slow a login as "alice@b.example".
TEST(UserAuthThrottle, ASpellingOfTheAddressDoesNotEscapeThePenalty) {
  FakeClock clock;
  auto users = NewMemoryUserStore();
  SeededRandom random(6);
  User u;
  u.address = "alice@b.example";
  u.password_hash = HashPassword("pw", random);
  ASSERT_TRUE(users->AddUser(u).ok());
  std::vector<absl::Duration> waits;
  UserAuthenticator auth(users.get(), std::string(32, 'k'), &clock, absl::Hours(12),
                         LoginPenaltyConfig(), [&](absl::Duration d) {
                           waits.push_back(d);
                           clock.Advance(d);
                         });
  for (const char* spelling : {"Alice@B.Example.", "alice@b.example.", "ALICE@b.EXAMPLE"}) {
    EXPECT_FALSE(auth.Login(spelling, "wrong", "192.0.2.9").ok());
  }
  waits.clear();
  EXPECT_TRUE(auth.Login("alice@b.example", "pw", "198.51.100.1").ok());
  ASSERT_EQ(waits.size(), 1u);  // the user's penalty, from another client
  EXPECT_EQ(waits[0], absl::Seconds(8));
}

}  // namespace
}  // namespace pullmail
