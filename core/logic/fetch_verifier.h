// The recipient node's check of a fetched body against the notification that
// announced it (docs/PROTOCOL.md "Fetch"): the bytes must arrive in order,
// never exceed the announced size, and add up to exactly that size with the
// announced SHA-256. A body that fails is rejected before any user sees a
// byte. Incremental, so a 64 MiB body is checked as its 64 KiB chunks arrive,
// and resumable, so a broken stream continues from the bytes already held.
#ifndef PULLMAIL_CORE_LOGIC_FETCH_VERIFIER_H_
#define PULLMAIL_CORE_LOGIC_FETCH_VERIFIER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "core/crypto/sha256.h"

namespace pullmail {

// One body being received. Not thread-safe; movable. Every error is
// kDataLoss (the peer sent something other than what it signed for), and is
// sticky: once Add or Resume fails, every later call returns the same error.
class FetchVerifier {
 public:
  // `expected_sha256` is the raw 32-byte digest from the notification.
  FetchVerifier(uint64_t expected_size, std::string expected_sha256);
  // As above, resuming after `prefix` (the bytes already held, e.g. from an
  // earlier broken stream or a partial cache). Equivalent to the two-argument
  // constructor followed by Resume(prefix); check status() for its result.
  FetchVerifier(uint64_t expected_size, std::string expected_sha256, std::string_view prefix);

  // Feeds the bytes already held before any Add. kDataLoss if the prefix is
  // longer than the expected size; kFailedPrecondition if bytes were already
  // added (resuming is only possible from the start).
  absl::Status Resume(std::string_view prefix);

  // Feeds the chunk whose first byte is at `offset` in the body. kDataLoss
  // "out of order" unless offset == received(); kDataLoss "overflow" if the
  // chunk would take the body past the expected size.
  absl::Status Add(uint64_t offset, std::string_view chunk);

  // Call once the stream has ended. kDataLoss "truncated" if fewer bytes than
  // expected arrived, kDataLoss "sha256 mismatch" if the digest differs, OK
  // otherwise. Calling it again returns the same result.
  absl::Status Finish();

  // Bytes accepted so far (the offset the next chunk must start at, and the
  // resume offset to ask the sender for).
  uint64_t received() const { return received_; }
  uint64_t expected_size() const { return expected_size_; }
  // The first error, or OK.
  const absl::Status& status() const { return error_; }

 private:
  uint64_t expected_size_;
  std::string expected_sha256_;
  uint64_t received_ = 0;
  Sha256Hasher hasher_;
  absl::Status error_;
  bool finished_ = false;
  absl::Status finish_result_;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_FETCH_VERIFIER_H_
