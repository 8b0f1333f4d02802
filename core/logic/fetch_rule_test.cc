// The fetch rule (fetch_rule.h): resume, give up, and what the reader hears.
#include "core/logic/fetch_rule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pullmail {
namespace {

using ::testing::HasSubstr;

TEST(FetchRuleTest, WholeBodyIsDone) {
  FetchStep s = AfterFetchAttempt(FetchPolicy{}, 1, absl::OkStatus(), 0, 100, 100, "a.example");
  EXPECT_EQ(s.kind, FetchStep::kDone);
}

TEST(FetchRuleTest, BrokenStreamWithProgressResumesAtTheBytesHeld) {
  FetchStep s = AfterFetchAttempt(FetchPolicy{}, 1, absl::UnavailableError("reset"), 0, 40, 100,
                                  "a.example");
  EXPECT_EQ(s.kind, FetchStep::kResume);
  EXPECT_EQ(s.offset, 40u);
  // A stream that ended OK but short resumes too.
  s = AfterFetchAttempt(FetchPolicy{}, 2, absl::OkStatus(), 40, 70, 100, "a.example");
  EXPECT_EQ(s.kind, FetchStep::kResume);
  EXPECT_EQ(s.offset, 70u);
}

TEST(FetchRuleTest, NoProgressFailsFastAsUnavailable) {
  FetchStep s = AfterFetchAttempt(FetchPolicy{}, 1, absl::UnavailableError("connection refused"),
                                  0, 0, 100, "a.example");
  EXPECT_EQ(s.kind, FetchStep::kFail);
  EXPECT_EQ(s.error.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.error.message()), HasSubstr("a.example is temporarily unavailable"));
  EXPECT_THAT(std::string(s.error.message()), HasSubstr("connection refused"));
}

TEST(FetchRuleTest, AttemptsAreBounded) {
  FetchPolicy p;
  p.max_attempts = 2;
  EXPECT_EQ(AfterFetchAttempt(p, 1, absl::UnavailableError("x"), 0, 10, 100, "a").kind,
            FetchStep::kResume);
  FetchStep s = AfterFetchAttempt(p, 2, absl::UnavailableError("x"), 10, 20, 100, "a");
  EXPECT_EQ(s.kind, FetchStep::kFail);
  EXPECT_EQ(s.error.code(), absl::StatusCode::kUnavailable);
}

TEST(FetchRuleTest, PermanentRefusalsPassThrough) {
  for (absl::Status st : {absl::FailedPreconditionError("revoked"), absl::NotFoundError("expired"),
                          absl::PermissionDeniedError("bad_token")}) {
    FetchStep s = AfterFetchAttempt(FetchPolicy{}, 1, st, 0, 0, 100, "a");
    EXPECT_EQ(s.kind, FetchStep::kFail);
    EXPECT_EQ(s.error, st);
  }
}

TEST(FetchRuleTest, ChunkTotalMustMatchTheCommitment) {
  EXPECT_TRUE(CheckChunkTotal(100, 100).ok());
  EXPECT_EQ(CheckChunkTotal(101, 100).code(), absl::StatusCode::kDataLoss);
}

TEST(FetchRuleTest, RelayAnswersForFetchFailures) {
  const int kUnavailable = static_cast<int>(absl::StatusCode::kUnavailable);
  EXPECT_EQ(FetchFailureNotifyCode(absl::DataLossError("sha256 mismatch")), kUnavailable);
  EXPECT_EQ(FetchFailureNotifyCode(absl::DeadlineExceededError("slow")), kUnavailable);
  EXPECT_EQ(FetchFailureNotifyCode(absl::FailedPreconditionError("revoked")),
            static_cast<int>(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(FetchFailureNotifyCode(absl::NotFoundError("expired")),
            static_cast<int>(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace pullmail
