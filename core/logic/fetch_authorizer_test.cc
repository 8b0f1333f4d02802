#include "core/logic/fetch_authorizer.h"

#include <gtest/gtest.h>

namespace pullmail {
namespace {

class FetchAuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    msg_.message_id = "m1@a.example";
    msg_.body_size = 100;
    msg_.expires = now_ + absl::Hours(1);
    Delivery b, c;
    b.domain = "b.example";
    b.fetch_token = std::string(32, 'B');
    c.domain = "c.example";
    c.fetch_token = std::string(32, 'C');
    deliveries_ = {b, c};
  }
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  OutboundMessage msg_;
  std::vector<Delivery> deliveries_;
};

TEST_F(FetchAuthorizerTest, GoodTokenPicksItsDelivery) {
  auto d = AuthorizeFetch(msg_, deliveries_, "c.example", std::string(32, 'C'), 0, now_);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->domain, "c.example");
  EXPECT_TRUE(AuthorizeFetch(msg_, deliveries_, "", std::string(32, 'B'), 100, now_).ok());
}

TEST_F(FetchAuthorizerTest, RefusalsHaveTheirOwnCodes) {
  EXPECT_EQ(AuthorizeFetch(msg_, deliveries_, "b.example", std::string(32, 'X'), 0, now_)
                .status().code(), absl::StatusCode::kPermissionDenied);
  // Another domain's token is refused like a wrong one.
  EXPECT_EQ(AuthorizeFetch(msg_, deliveries_, "b.example", std::string(32, 'C'), 0, now_)
                .status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AuthorizeFetch(msg_, deliveries_, "b.example", std::string(31, 'B'), 0, now_)
                .status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AuthorizeFetch(msg_, deliveries_, "b.example", std::string(32, 'B'), 101, now_)
                .status().code(), absl::StatusCode::kOutOfRange);
  OutboundMessage revoked = msg_;
  revoked.revoked = true;
  EXPECT_EQ(AuthorizeFetch(revoked, deliveries_, "b.example", std::string(32, 'B'), 0, now_)
                .status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(AuthorizeFetch(msg_, deliveries_, "b.example", std::string(32, 'B'), 0,
                           now_ + absl::Hours(2)).status().code(), absl::StatusCode::kNotFound);
  // A bad token learns nothing about revocation.
  EXPECT_EQ(AuthorizeFetch(revoked, deliveries_, "b.example", std::string(32, 'X'), 0, now_)
                .status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(FetchAuthorizerTest, UnknownMessageIsRefusedLikeABadToken) {
  // The token is checked first: an unknown id and a wrong token look alike.
  auto unknown = AuthorizeFetch(nullptr, deliveries_, "b.example", std::string(32, 'B'), 0, now_);
  auto wrong = AuthorizeFetch(&msg_, deliveries_, "b.example", std::string(32, 'X'), 0, now_);
  EXPECT_EQ(unknown.status(), wrong.status());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kPermissionDenied);
  // An empty token never matches an unknown message.
  EXPECT_EQ(AuthorizeFetch(nullptr, {}, "", "", 0, now_).status().code(),
            absl::StatusCode::kPermissionDenied);
  // A known message through the pointer form behaves as the reference form.
  EXPECT_TRUE(AuthorizeFetch(&msg_, deliveries_, "b.example", std::string(32, 'B'), 0, now_).ok());
}

}  // namespace
}  // namespace pullmail
