// THE fetch rule (docs/PROTOCOL.md "Fetch"), shared by every client of
// FetchBody: the recipient node's fetch-on-read and prefetch
// (recipient-node/body_fetcher.cc), the gateway's SMTP-out relay
// (gateway/relay_service.cc), both through rpc/body_fetch.h, and the
// simulator's modelled fetch (sim/pull_world.cc). Pure; thread-safe.
//
// A fetch is a series of FetchBody streams. Each chunk is checked as it
// arrives (CheckChunk: the announced total must be the size the signed
// notification committed to; FetchVerifier: order, overflow, and at the end
// size and SHA-256). After each stream AfterFetchAttempt says what next:
//   the whole body arrived and the stream ended OK            -> kDone
//   the stream failed with a permanent code (status_class.h)  -> kFail, that status
//   the stream made no progress (a node that is down fails
//   fast: the reader gets UNAVAILABLE at once, not a wait)    -> kFail UNAVAILABLE
//   policy.max_attempts streams used                          -> kFail UNAVAILABLE
//   otherwise (retryable code, or OK but short)               -> kResume at the bytes held
#ifndef PULLMAIL_CORE_LOGIC_FETCH_RULE_H_
#define PULLMAIL_CORE_LOGIC_FETCH_RULE_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace pullmail {

struct FetchPolicy {
  int max_attempts = 3;                         // one fetch plus two resumes
  absl::Duration deadline = absl::Seconds(60);  // per stream
};

struct FetchStep {
  enum Kind { kDone, kResume, kFail } kind = kDone;
  uint64_t offset = 0;  // kResume: the offset to ask for (bytes already held)
  absl::Status error;   // kFail: what the reader is told
};

// What follows stream number `attempt` (1-based), which ended with `stream`
// after taking the body from `before` to `have` verified bytes of
// `body_size`. `sender_domain` names the sender node in the UNAVAILABLE text.
FetchStep AfterFetchAttempt(const FetchPolicy& policy, int attempt, const absl::Status& stream,
                            uint64_t before, uint64_t have, uint64_t body_size,
                            std::string_view sender_domain);

// A chunk's announced total_size against the committed body size: kDataLoss
// when they differ (a peer can lie; nothing of the body is kept).
absl::Status CheckChunkTotal(uint64_t total_size, uint64_t body_size);

// The NotifyResult code a relay answers when its fetch of the body failed:
// a sender node that was down, slow, or sent bad bytes (DATA_LOSS) is worth
// trying again later (UNAVAILABLE); any other code is passed on as is (a
// revoked or expired message bounces).
int FetchFailureNotifyCode(const absl::Status& fetch_error);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_FETCH_RULE_H_
