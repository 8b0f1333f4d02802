// The FetchBodies rule (see fetch_batch.h).
#include "core/logic/fetch_batch.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/logic/fetch_rule.h"
#include "core/logic/status_class.h"
#include "core/util/strings.h"

namespace pullmail {

BatchFetchCheck::BatchFetchCheck(std::vector<BatchBody> bodies) {
  bodies_.reserve(bodies.size());
  for (BatchBody& b : bodies) bodies_.push_back(Body{std::move(b)});
}

uint64_t BatchFetchCheck::current_received() const {
  return verifier_ ? verifier_->received() : 0;
}

void BatchFetchCheck::Settle(BatchVerdict v, absl::Status s) {
  bodies_[current_].verdict = v;
  bodies_[current_].status = std::move(s);
  ++current_;
  verifier_.reset();
}

BatchFetchCheck::Step BatchFetchCheck::Reject(absl::Status why, bool stop) {
  Step step;
  step.settled = current_;
  step.stop = stop;
  Settle(BatchVerdict::kFailed, std::move(why));
  if (stop) stopped_ = true;
  return step;
}

BatchFetchCheck::Step BatchFetchCheck::Add(const BatchPiece& piece) {
  Step step;
  if (stopped_) {
    step.stop = true;
    return step;
  }
  any_piece_ = true;
  if (current_ >= bodies_.size()) {
    // More than was asked for: nothing left to reject, but the call ends.
    stopped_ = true;
    step.stop = true;
    return step;
  }
  const BatchBody& want = bodies_[current_].want;
  if (piece.index != current_) {
    return Reject(absl::DataLossError(absl::StrCat("out of order: a piece of body ", piece.index,
                                                   " while body ", current_, " is incomplete")),
                  true);
  }
  if (piece.code != 0) {
    if (verifier_ || !piece.data.empty()) {
      return Reject(absl::DataLossError("a refusal after or with data"), true);
    }
    if (piece.code < 1 || piece.code > 16) {
      return Reject(absl::DataLossError(absl::StrCat("refused with code ", piece.code,
                                                     ", which is no gRPC code")),
                    true);
    }
    absl::Status s(static_cast<absl::StatusCode>(piece.code), AV(piece.error));
    step.settled = current_;
    // A transient answer for one body is worth a call of its own.
    const BatchVerdict v = IsRetryableCode(piece.code) ? BatchVerdict::kAlone : BatchVerdict::kFailed;
    Settle(v, std::move(s));
    return step;
  }
  if (absl::Status s = CheckChunkTotal(piece.total_size, want.size); !s.ok()) {
    return Reject(std::move(s), true);
  }
  if (!verifier_) verifier_.emplace(want.size, want.sha256);
  if (absl::Status s = verifier_->Add(piece.offset, piece.data); !s.ok()) {
    return Reject(std::move(s), true);
  }
  step.keep = true;
  if (piece.last) {
    step.settled = current_;
    absl::Status s = verifier_->Finish();
    // Well-formed but wrong bytes (truncated, another body): this body
    // alone is rejected, and the call goes on.
    const BatchVerdict v = s.ok() ? BatchVerdict::kVerified : BatchVerdict::kFailed;
    Settle(v, std::move(s));
  }
  return step;
}

void BatchFetchCheck::Finish(const absl::Status& stream, std::string_view cut,
                             std::string_view sender_domain) {
  const bool down = !any_piece_ && IsRetryable(stream);
  if (!cut.empty() && current_ < bodies_.size()) {
    // The body the sender stalled on; the ones after it get calls of their
    // own, each with its own deadline and rate.
    Settle(BatchVerdict::kFailed, absl::UnavailableError(AV(cut)));
  }
  while (current_ < bodies_.size()) {
    if (down && cut.empty()) {
      Settle(BatchVerdict::kFailed,
             absl::UnavailableError(absl::StrCat("the sender node of ", AV(sender_domain),
                                                 " is temporarily unavailable; try again later (",
                                                 stream.message(), ")")));
    } else {
      Settle(BatchVerdict::kAlone, stream);
    }
  }
  stopped_ = true;
}

}  // namespace pullmail
