// The fetch rule for FetchBodies (docs/PROTOCOL.md section 8.1): several
// bodies asked of one sender node in one call, each checked exactly as a
// FetchBody of it alone is (fetch_rule.h, FetchVerifier), and a bad body
// rejects only itself. Used by the recipient node's batched fetch
// (recipient-node/body_fetcher.cc). Pure; not thread-safe (one per call).
//
// The sender answers the bodies in request order, each as pieces that follow
// one another and end with a piece marked `last`. For every piece Add says
// what it means; after the stream has ended, Finish gives every body still
// without a verdict one. Each body ends as exactly one of:
//   kVerified  all its bytes arrived, size and SHA-256 match the commitment:
//              the caller keeps (caches) the bytes it was told to keep;
//   kFailed    the sender refused it (its piece's code: PERMISSION_DENIED,
//              FAILED_PRECONDITION "revoked", NOT_FOUND "expired", ...) or
//              sent other bytes than it signed for (DATA_LOSS: another
//              total, out of order, overflow, truncated, hash mismatch);
//              the reader is told `status`;
//   kAlone     the call did not settle it (the stream broke or ended before
//              it, the node answered UNIMPLEMENTED, a transient per-body
//              code, or another body broke the call): fetch it again alone
//              with FetchBody, under that call's own rules.
// A piece for any body other than the one being received, a code after data,
// or data past the announced size rejects the body being received and ends
// the call (Add's `stop`): the bodies after it go alone. A call that failed
// with a retryable code before a single piece arrived fails every body as
// UNAVAILABLE at once (a sender node that is down: fetch_rule.h's "no
// progress" rule), and a call cut for slowness (`cut`) fails the body it was
// receiving as UNAVAILABLE with the cut's reason (the bodies after it go
// alone, each with its own deadline and rate).
#ifndef PULLMAIL_CORE_LOGIC_FETCH_BATCH_H_
#define PULLMAIL_CORE_LOGIC_FETCH_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "core/logic/fetch_verifier.h"

namespace pullmail {

// Bounds of one FetchBodies call (the protocol's, and what a recipient node
// asks for at once).
inline constexpr size_t kMaxBatchBodies = 256;                 // per call (protocol)
inline constexpr uint64_t kMaxBatchBytes = uint64_t{32} << 20;  // sizes asked per call

// One body asked for: what its signed notification committed to.
struct BatchBody {
  uint64_t size = 0;
  std::string sha256;  // raw 32 bytes
};

// One piece as it arrived (proto BodyPiece).
struct BatchPiece {
  uint64_t index = 0;
  uint64_t offset = 0;
  std::string_view data;
  uint64_t total_size = 0;
  bool last = false;
  int code = 0;
  std::string_view error;
};

enum class BatchVerdict { kPending, kVerified, kFailed, kAlone };

class BatchFetchCheck {
 public:
  // The bodies in request order.
  explicit BatchFetchCheck(std::vector<BatchBody> bodies);

  struct Step {
    bool keep = false;                // append the piece's data to the current body's bytes
    std::optional<size_t> settled;    // this body got its verdict (drop or cache its bytes)
    bool stop = false;                // end the call (cancel it); Finish settles the rest
  };
  // One piece, in arrival order. After a step with `stop`, call Finish.
  Step Add(const BatchPiece& piece);

  // The stream ended with `stream` (its status; OK for a clean end). `cut`,
  // if not empty, is why this node cut the call (too_slow / deadline text,
  // or shutting down): the body being received fails as UNAVAILABLE with it.
  // `sender_domain` names the sender node in UNAVAILABLE texts.
  void Finish(const absl::Status& stream, std::string_view cut, std::string_view sender_domain);

  size_t size() const { return bodies_.size(); }
  BatchVerdict verdict(size_t i) const { return bodies_[i].verdict; }
  // kFailed: what the reader is told.
  const absl::Status& status(size_t i) const { return bodies_[i].status; }
  // The body being received (== size() once all are settled).
  size_t current() const { return current_; }
  // Bytes of the current body accepted so far (Add's kept data).
  uint64_t current_received() const;

 private:
  struct Body {
    BatchBody want;
    BatchVerdict verdict = BatchVerdict::kPending;
    absl::Status status;
  };
  Step Reject(absl::Status why, bool stop);
  void Settle(BatchVerdict v, absl::Status s);

  std::vector<Body> bodies_;
  size_t current_ = 0;
  std::optional<FetchVerifier> verifier_;  // for bodies_[current_], once data came
  bool any_piece_ = false;
  bool stopped_ = false;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_FETCH_BATCH_H_
