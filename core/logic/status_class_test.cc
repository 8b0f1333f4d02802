// The one retryable/permanent classification (status_class.h).
#include "core/logic/status_class.h"

#include <gtest/gtest.h>

namespace pullmail {
namespace {

TEST(StatusClassTest, EveryCode) {
  const ErrorClass O = ErrorClass::kOk, R = ErrorClass::kRetryable, P = ErrorClass::kPermanent;
  // Index = code 0..16 (google.rpc.Code).
  const ErrorClass want[] = {O, R, R, P, R, P, P, P, R, P, R, P, P, R, R, P, P};
  for (int code = 0; code <= 16; ++code) {
    EXPECT_EQ(ClassifyCode(code), want[code]) << "code " << code;
  }
  EXPECT_EQ(ClassifyCode(-1), P);
  EXPECT_EQ(ClassifyCode(99), P);
}

TEST(StatusClassTest, StatusHelpers) {
  EXPECT_TRUE(IsRetryable(absl::UnavailableError("down")));
  EXPECT_TRUE(IsRetryable(absl::DeadlineExceededError("slow")));
  EXPECT_FALSE(IsRetryable(absl::OkStatus()));
  EXPECT_FALSE(IsRetryable(absl::PermissionDeniedError("bad_token")));
  EXPECT_FALSE(IsRetryable(absl::DataLossError("sha256 mismatch")));
  EXPECT_EQ(ClassifyStatus(absl::FailedPreconditionError("revoked")), ErrorClass::kPermanent);
}

}  // namespace
}  // namespace pullmail
