// Incremental size and SHA-256 check of a fetched body (see fetch_verifier.h).
#include "core/logic/fetch_verifier.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/crypto/encoding.h"

namespace pullmail {

FetchVerifier::FetchVerifier(uint64_t expected_size, std::string expected_sha256)
    : expected_size_(expected_size), expected_sha256_(std::move(expected_sha256)) {}

FetchVerifier::FetchVerifier(uint64_t expected_size, std::string expected_sha256,
                             std::string_view prefix)
    : FetchVerifier(expected_size, std::move(expected_sha256)) {
  (void)Resume(prefix);  // Any error is kept in error_ and returned by later calls.
}

absl::Status FetchVerifier::Resume(std::string_view prefix) {
  if (!error_.ok()) return error_;
  if (received_ != 0 || finished_) {
    return absl::FailedPreconditionError("resume is only possible before any bytes are added");
  }
  return Add(0, prefix);
}

absl::Status FetchVerifier::Add(uint64_t offset, std::string_view chunk) {
  if (!error_.ok()) return error_;
  if (finished_) return absl::FailedPreconditionError("Add after Finish");
  if (offset != received_) {
    error_ = absl::DataLossError(absl::StrCat("out of order: chunk at offset ", offset,
                                              ", expected offset ", received_));
    return error_;
  }
  if (chunk.size() > expected_size_ - received_) {
    error_ = absl::DataLossError(absl::StrCat("overflow: ", received_ + chunk.size(),
                                              " bytes exceed the announced size of ",
                                              expected_size_));
    return error_;
  }
  hasher_.Update(chunk);
  received_ += chunk.size();
  return absl::OkStatus();
}

absl::Status FetchVerifier::Finish() {
  if (!error_.ok()) return error_;
  if (finished_) return finish_result_;
  finished_ = true;
  if (received_ < expected_size_) {
    finish_result_ = absl::DataLossError(
        absl::StrCat("truncated: ", received_, " of ", expected_size_, " bytes"));
    return finish_result_;
  }
  std::string digest = hasher_.Finish();
  if (digest != expected_sha256_) {
    finish_result_ = absl::DataLossError(absl::StrCat(
        "sha256 mismatch: got ", HexEncode(digest), ", the notification says ",
        HexEncode(expected_sha256_)));
  }
  return finish_result_;
}

}  // namespace pullmail
