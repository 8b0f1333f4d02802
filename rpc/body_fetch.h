// The one FetchBody client (docs/PROTOCOL.md "Fetch"), used by the recipient
// node (recipient-node/body_fetcher.cc) and the gateway's SMTP-out relay
// (gateway/relay_service.cc). It does the I/O only: every decision -- check
// each chunk, resume or give up, what the caller is told -- is core's fetch
// rule (core/logic/fetch_rule.h) and FetchVerifier. Thread-safe (each call
// has its own streams).
#ifndef PULLMAIL_RPC_BODY_FETCH_H_
#define PULLMAIL_RPC_BODY_FETCH_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "core/logic/fetch_rule.h"
#include "pullmail/v1/pullmail.grpc.pb.h"

namespace pullmail {

struct BodyFetchRequest {
  std::string message_id;
  std::string fetch_token;
  std::string recipient_domain;  // who asks (the token's domain)
  std::string sender_domain;     // for the reader's UNAVAILABLE text
  uint64_t body_size = 0;        // committed by the signed notification
  std::string body_sha256;       // raw 32 bytes, committed likewise
};

// Streams the body over `stub`, resuming as core's rule says, and returns it
// only once its size and SHA-256 match the commitment. Errors: kUnavailable
// (down, unreachable, too many broken streams), kDataLoss (the peer sent
// other bytes than it signed for: nothing is returned), or the sender node's
// own permanent refusal (kPermissionDenied, kFailedPrecondition "revoked",
// kNotFound "expired"). `on_bytes`, if set, is told of every verified chunk
// (metrics).
absl::StatusOr<std::string> FetchVerifiedBody(v1::SenderService::StubInterface& stub,
                                              const BodyFetchRequest& request,
                                              const FetchPolicy& policy,
                                              const std::function<void(size_t)>& on_bytes = {});

}  // namespace pullmail

#endif  // PULLMAIL_RPC_BODY_FETCH_H_
