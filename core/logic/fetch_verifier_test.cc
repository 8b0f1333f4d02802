// Tests for FetchVerifier: a good body in chunks, and each way a sender can
// get it wrong (truncated, extended, a flipped byte, chunks out of order),
// plus resuming after half the body.
#include "core/logic/fetch_verifier.h"

#include <string>

#include "core/crypto/sha256.h"
#include "core/util/limits.h"
#include "core/util/random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::HasSubstr;

std::string Body(size_t n) {
  SeededRandom rng(n);
  return rng.Bytes(n);
}

// Feeds `body` in kBodyChunkSize chunks; returns the first error or Finish().
absl::Status Feed(FetchVerifier& v, std::string_view body, uint64_t from = 0) {
  for (uint64_t off = from; off < body.size(); off += limits::kBodyChunkSize) {
    absl::Status s = v.Add(off, body.substr(off, limits::kBodyChunkSize));
    if (!s.ok()) return s;
  }
  return v.Finish();
}

TEST(FetchVerifierTest, GoodBodyInChunks) {
  std::string body = Body(300'000);  // 4 full chunks and a partial one
  FetchVerifier v(body.size(), Sha256(body));
  EXPECT_TRUE(Feed(v, body).ok());
  EXPECT_EQ(v.received(), body.size());
  EXPECT_TRUE(v.Finish().ok());  // idempotent
}

TEST(FetchVerifierTest, EmptyBody) {
  FetchVerifier v(0, Sha256(""));
  EXPECT_TRUE(v.Add(0, "").ok());
  EXPECT_TRUE(v.Finish().ok());
}

TEST(FetchVerifierTest, Truncated) {
  std::string body = Body(200'000);
  FetchVerifier v(body.size(), Sha256(body));
  absl::Status s = Feed(v, std::string_view(body).substr(0, body.size() - 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("truncated"));
}

TEST(FetchVerifierTest, Extended) {
  std::string body = Body(100'000);
  FetchVerifier v(body.size(), Sha256(body));
  absl::Status s = Feed(v, body + "X");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("overflow"));
  // Sticky: nothing more is accepted and Finish reports the same error.
  EXPECT_EQ(v.Finish(), s);
  EXPECT_EQ(v.Add(v.received(), "").code(), absl::StatusCode::kDataLoss);
}

TEST(FetchVerifierTest, OneFlippedByte) {
  std::string body = Body(150'000);
  FetchVerifier v(body.size(), Sha256(body));
  std::string bad = body;
  bad[123'456] ^= 0x01;
  absl::Status s = Feed(v, bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("sha256 mismatch"));
}

TEST(FetchVerifierTest, OutOfOrderChunks) {
  std::string body = Body(200'000);
  const size_t c = limits::kBodyChunkSize;
  {
    FetchVerifier v(body.size(), Sha256(body));
    ASSERT_TRUE(v.Add(0, body.substr(0, c)).ok());
    absl::Status s = v.Add(2 * c, body.substr(2 * c, c));  // skipped a chunk
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(s.message()), HasSubstr("out of order"));
    EXPECT_EQ(v.received(), c);
  }
  {
    FetchVerifier v(body.size(), Sha256(body));
    ASSERT_TRUE(v.Add(0, body.substr(0, c)).ok());
    EXPECT_EQ(v.Add(0, body.substr(0, c)).code(), absl::StatusCode::kDataLoss);  // replayed
  }
  {
    FetchVerifier v(body.size(), Sha256(body));
    EXPECT_EQ(v.Add(1, body.substr(1, c)).code(), absl::StatusCode::kDataLoss);  // not from 0
  }
}

TEST(FetchVerifierTest, ResumeAfterHalf) {
  std::string body = Body(250'000);
  const size_t half = body.size() / 2;  // deliberately not on a chunk boundary
  // The first stream broke after `half` bytes; the node kept them.
  FetchVerifier resumed(body.size(), Sha256(body), std::string_view(body).substr(0, half));
  ASSERT_TRUE(resumed.status().ok());
  EXPECT_EQ(resumed.received(), half);
  // The second stream starts at offset `half`.
  for (uint64_t off = half; off < body.size(); off += limits::kBodyChunkSize) {
    ASSERT_TRUE(resumed.Add(off, std::string_view(body).substr(off, limits::kBodyChunkSize)).ok());
  }
  EXPECT_TRUE(resumed.Finish().ok());

  // Resume with a corrupted prefix still fails at the end.
  std::string bad = body.substr(0, half);
  bad[10] ^= 0x80;
  FetchVerifier v2(body.size(), Sha256(body));
  ASSERT_TRUE(v2.Resume(bad).ok());
  EXPECT_EQ(Feed(v2, body, half).code(), absl::StatusCode::kDataLoss);

  // A prefix longer than the body, and a second Resume, are refused.
  FetchVerifier v3(10, Sha256("0123456789"), "0123456789ab");
  EXPECT_EQ(v3.status().code(), absl::StatusCode::kDataLoss);
  FetchVerifier v4(10, Sha256("0123456789"));
  ASSERT_TRUE(v4.Add(0, "0123").ok());
  EXPECT_EQ(v4.Resume("0123").code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace pullmail
