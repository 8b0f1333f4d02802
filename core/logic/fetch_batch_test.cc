// The FetchBodies rule (fetch_batch.h): each body checked as FetchBody's is,
// a bad body rejects only itself, and what the call did not settle goes alone.
#include "core/logic/fetch_batch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/crypto/sha256.h"

namespace pullmail {
namespace {

using ::testing::HasSubstr;

BatchBody Want(const std::string& body) { return BatchBody{body.size(), Sha256(body)}; }

BatchPiece Data(size_t index, uint64_t offset, std::string_view data, uint64_t total, bool last) {
  BatchPiece p;
  p.index = index;
  p.offset = offset;
  p.data = data;
  p.total_size = total;
  p.last = last;
  return p;
}

BatchPiece Refusal(size_t index, absl::StatusCode code, std::string_view error) {
  BatchPiece p;
  p.index = index;
  p.code = static_cast<int>(code);
  p.error = error;
  p.last = true;
  return p;
}

TEST(FetchBatchTest, BodiesInOrderAreVerifiedOneByOne) {
  const std::string a = "first body", b = "second, longer body";
  BatchFetchCheck c({Want(a), Want(b), Want("")});
  auto s = c.Add(Data(0, 0, "first", a.size(), false));
  EXPECT_TRUE(s.keep);
  EXPECT_FALSE(s.settled);
  EXPECT_EQ(c.current_received(), 5u);
  s = c.Add(Data(0, 5, " body", a.size(), true));
  EXPECT_TRUE(s.keep);
  ASSERT_TRUE(s.settled);
  EXPECT_EQ(*s.settled, 0u);
  EXPECT_EQ(c.verdict(0), BatchVerdict::kVerified);
  s = c.Add(Data(1, 0, b, b.size(), true));
  EXPECT_EQ(c.verdict(1), BatchVerdict::kVerified);
  // An empty body is one empty piece.
  s = c.Add(Data(2, 0, "", 0, true));
  EXPECT_EQ(c.verdict(2), BatchVerdict::kVerified);
  EXPECT_FALSE(s.stop);
  c.Finish(absl::OkStatus(), "", "a.example");
  EXPECT_EQ(c.current(), 3u);
}

TEST(FetchBatchTest, AnotherMessagesBytesRejectOnlyThatBody) {
  const std::string a = "body of a", b = "body of b", other = "body of x";
  BatchFetchCheck c({Want(a), Want(b)});
  auto s = c.Add(Data(0, 0, other, a.size(), true));  // same size, other bytes
  ASSERT_TRUE(s.settled);
  EXPECT_FALSE(s.stop);
  EXPECT_EQ(c.verdict(0), BatchVerdict::kFailed);
  EXPECT_EQ(c.status(0).code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(c.status(0).message()), HasSubstr("sha256 mismatch"));
  c.Add(Data(1, 0, b, b.size(), true));
  EXPECT_EQ(c.verdict(1), BatchVerdict::kVerified);
}

TEST(FetchBatchTest, TooManyBytesRejectTheBodyAndEndTheCall) {
  const std::string a = "abc", b = "def";
  BatchFetchCheck c({Want(a), Want(b)});
  auto s = c.Add(Data(0, 0, "abcd", a.size(), false));
  EXPECT_FALSE(s.keep);
  EXPECT_TRUE(s.stop);
  EXPECT_EQ(c.verdict(0), BatchVerdict::kFailed);
  EXPECT_THAT(std::string(c.status(0).message()), HasSubstr("overflow"));
  // Whatever comes next is not looked at; the rest go alone.
  EXPECT_TRUE(c.Add(Data(1, 0, b, b.size(), true)).stop);
  c.Finish(absl::CancelledError("cancelled"), "", "a.example");
  EXPECT_EQ(c.verdict(1), BatchVerdict::kAlone);
}

TEST(FetchBatchTest, AnotherTotalIsDataLoss) {
  BatchFetchCheck c({Want("abc")});
  auto s = c.Add(Data(0, 0, "abc", 4, true));
  EXPECT_TRUE(s.stop);
  EXPECT_EQ(c.status(0).code(), absl::StatusCode::kDataLoss);
}

TEST(FetchBatchTest, OutOfOrderRejectsTheBodyBeingReceived) {
  const std::string a = "aaaa", b = "bbbb", d = "dddd";
  BatchFetchCheck c({Want(a), Want(b), Want(d)});
  c.Add(Data(0, 0, a, 4, true));
  auto s = c.Add(Data(2, 0, d, 4, true));  // skips body 1
  EXPECT_TRUE(s.stop);
  EXPECT_FALSE(s.keep);
  EXPECT_EQ(c.verdict(0), BatchVerdict::kVerified);
  EXPECT_EQ(c.verdict(1), BatchVerdict::kFailed);
  EXPECT_THAT(std::string(c.status(1).message()), HasSubstr("out of order"));
  c.Finish(absl::CancelledError("x"), "", "a.example");
  EXPECT_EQ(c.verdict(2), BatchVerdict::kAlone);
  // Offsets out of order within a body too.
  BatchFetchCheck c2({Want(a)});
  EXPECT_TRUE(c2.Add(Data(0, 2, "aa", 4, false)).stop);
  EXPECT_EQ(c2.status(0).code(), absl::StatusCode::kDataLoss);
}

TEST(FetchBatchTest, PiecesPastTheLastBodyEndTheCall) {
  BatchFetchCheck c({Want("a")});
  c.Add(Data(0, 0, "a", 1, true));
  EXPECT_TRUE(c.Add(Data(1, 0, "b", 1, true)).stop);
  EXPECT_EQ(c.verdict(0), BatchVerdict::kVerified);
}

TEST(FetchBatchTest, RefusalsArePerBody) {
  BatchFetchCheck c({Want("a"), Want("b"), Want("c"), Want("d")});
  c.Add(Refusal(0, absl::StatusCode::kPermissionDenied, "bad_token: no"));
  c.Add(Refusal(1, absl::StatusCode::kFailedPrecondition, "revoked: yes"));
  c.Add(Refusal(2, absl::StatusCode::kUnavailable, "busy"));
  c.Add(Data(3, 0, "d", 1, true));
  EXPECT_EQ(c.verdict(0), BatchVerdict::kFailed);
  EXPECT_EQ(c.status(0).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(c.status(0).message(), "bad_token: no");
  EXPECT_EQ(c.verdict(1), BatchVerdict::kFailed);
  EXPECT_EQ(c.status(1).code(), absl::StatusCode::kFailedPrecondition);
  // A transient answer for one body: that body is asked for alone.
  EXPECT_EQ(c.verdict(2), BatchVerdict::kAlone);
  EXPECT_EQ(c.verdict(3), BatchVerdict::kVerified);
}

TEST(FetchBatchTest, ARefusalAfterDataOrWithAFakeCodeIsDataLoss) {
  BatchFetchCheck c({Want("abcd"), Want("e")});
  c.Add(Data(0, 0, "ab", 4, false));
  auto s = c.Add(Refusal(0, absl::StatusCode::kNotFound, "expired"));
  EXPECT_TRUE(s.stop);
  EXPECT_EQ(c.status(0).code(), absl::StatusCode::kDataLoss);
  BatchFetchCheck c2({Want("a")});
  BatchPiece p = Refusal(0, absl::StatusCode::kNotFound, "x");
  p.code = 99;
  EXPECT_TRUE(c2.Add(p).stop);
  EXPECT_EQ(c2.status(0).code(), absl::StatusCode::kDataLoss);
}

TEST(FetchBatchTest, AStreamThatEndsEarlyLeavesTheRestAlone) {
  BatchFetchCheck c({Want("ab"), Want("cd"), Want("ef")});
  c.Add(Data(0, 0, "ab", 2, true));
  c.Add(Data(1, 0, "c", 2, false));  // broken in the middle of body 1
  c.Finish(absl::UnavailableError("reset"), "", "a.example");
  EXPECT_EQ(c.verdict(0), BatchVerdict::kVerified);
  EXPECT_EQ(c.verdict(1), BatchVerdict::kAlone);
  EXPECT_EQ(c.verdict(2), BatchVerdict::kAlone);
  // A truncated last piece is not a verified body.
  BatchFetchCheck c2({Want("abc")});
  c2.Add(Data(0, 0, "ab", 3, true));
  EXPECT_EQ(c2.verdict(0), BatchVerdict::kFailed);
  EXPECT_THAT(std::string(c2.status(0).message()), HasSubstr("truncated"));
}

TEST(FetchBatchTest, UnimplementedSendsEveryBodyAlone) {
  BatchFetchCheck c({Want("ab"), Want("cd")});
  c.Finish(absl::UnimplementedError("no FetchBodies"), "", "a.example");
  EXPECT_EQ(c.verdict(0), BatchVerdict::kAlone);
  EXPECT_EQ(c.verdict(1), BatchVerdict::kAlone);
}

TEST(FetchBatchTest, ANodeThatIsDownFailsEveryBodyAtOnce) {
  BatchFetchCheck c({Want("ab"), Want("cd")});
  c.Finish(absl::UnavailableError("connection refused"), "", "a.example");
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(c.verdict(i), BatchVerdict::kFailed);
    EXPECT_EQ(c.status(i).code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(std::string(c.status(i).message()),
                HasSubstr("a.example is temporarily unavailable"));
  }
}

TEST(FetchBatchTest, ACutCallFailsTheBodyItStalledOnAndLeavesTheRestAlone) {
  BatchFetchCheck c({Want("ab"), Want("cd"), Want("ef")});
  c.Add(Data(0, 0, "ab", 2, true));
  c.Add(Data(1, 0, "c", 2, false));
  c.Finish(absl::CancelledError("cancelled"), "too_slow: the sender node of a.example ...",
           "a.example");
  EXPECT_EQ(c.verdict(0), BatchVerdict::kVerified);
  EXPECT_EQ(c.verdict(1), BatchVerdict::kFailed);
  EXPECT_EQ(c.status(1).code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(c.status(1).message()), HasSubstr("too_slow"));
  EXPECT_EQ(c.verdict(2), BatchVerdict::kAlone);
}

}  // namespace
}  // namespace pullmail
