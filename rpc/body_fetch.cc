// The FetchBody client loop (see body_fetch.h).
#include "rpc/body_fetch.h"

#include <chrono>

#include "core/logic/fetch_verifier.h"
#include "core/util/logging.h"
#include "rpc/grpc_status.h"

namespace pullmail {

absl::StatusOr<std::string> FetchVerifiedBody(v1::SenderService::StubInterface& stub,
                                              const BodyFetchRequest& r,
                                              const FetchPolicy& policy,
                                              const std::function<void(size_t)>& on_bytes) {
  FetchVerifier verifier(r.body_size, r.body_sha256);
  std::string body;
  body.reserve(r.body_size);
  for (int attempt = 1;; ++attempt) {
    const uint64_t before = body.size();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoSeconds(policy.deadline) +
                     absl::ToChronoMilliseconds(policy.deadline % absl::Seconds(1)));
    v1::FetchRequest req;
    req.set_message_id(r.message_id);
    req.set_fetch_token(r.fetch_token);
    req.set_offset(body.size());
    req.set_recipient_domain(r.recipient_domain);
    auto reader = stub.FetchBody(&ctx, req);
    v1::BodyChunk chunk;
    while (reader->Read(&chunk)) {
      // A peer can lie: another total, wrong offsets, more bytes than
      // promised. Each is refused before anything is kept.
      absl::Status s = CheckChunkTotal(chunk.total_size(), r.body_size);
      if (s.ok()) s = verifier.Add(chunk.offset(), chunk.data());
      if (!s.ok()) {
        ctx.TryCancel();
        reader->Finish();
        return s;
      }
      body.append(chunk.data());
      if (on_bytes) on_bytes(chunk.data().size());
    }
    absl::Status stream = FromGrpc(reader->Finish());
    FetchStep step =
        AfterFetchAttempt(policy, attempt, stream, before, body.size(), r.body_size, r.sender_domain);
    if (step.kind == FetchStep::kFail) return step.error;
    if (step.kind == FetchStep::kDone) break;
    PM_LOG(INFO) << "fetch of " << r.message_id << " broke at " << body.size() << "/"
                 << r.body_size << " bytes (" << stream << "); resuming";
  }
  if (absl::Status s = verifier.Finish(); !s.ok()) return s;
  return body;
}

}  // namespace pullmail
