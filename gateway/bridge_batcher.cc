// BridgeBatcher (see bridge_batcher.h).
#include "gateway/bridge_batcher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/util/logging.h"
#include "gateway/node_client.h"
#include "rpc/grpc_status.h"

namespace pullmail::gateway {

namespace {

BridgeBatcher::Options Sane(BridgeBatcher::Options o) {
  if (o.max_messages == 0) o.max_messages = 1;
  if (o.max_calls < 1) o.max_calls = 1;
  return o;
}

}  // namespace

BridgeBatcher::BridgeBatcher(Transport transport, Options options)
    : transport_(std::move(transport)), options_(Sane(options)) {}

size_t BridgeBatcher::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

size_t BridgeBatcher::messages() const {
  absl::MutexLock lock(&mu_);
  return messages_;
}

size_t BridgeBatcher::waiting() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

absl::StatusOr<v1::SubmitResponse> BridgeBatcher::Bridge(v1::BridgeRequest request) {
  Pending me{std::move(request)};
  absl::MutexLock lock(&mu_);
  queue_.push_back(&me);
  changed_.SignalAll();
  while (!me.done) {
    // Lead a call only while this message still waits for one and a call
    // slot is free; otherwise wait for the leader that took it, or a slot.
    if (me.taken || in_flight_ >= options_.max_calls) {
      changed_.Wait(&mu_);
      continue;
    }
    // Everything queued by now, oldest first, up to the caps (at least one).
    std::vector<Pending*> group;
    size_t bytes = 0;
    while (!queue_.empty() && group.size() < options_.max_messages) {
      size_t next = queue_.front()->request.message().size();
      if (!group.empty() && bytes + next > options_.max_bytes) break;
      bytes += next;
      group.push_back(queue_.front());
      queue_.front()->taken = true;
      queue_.pop_front();
    }
    ++in_flight_;
    ++calls_;
    messages_ += group.size();
    mu_.Unlock();
    Send(group);
    mu_.Lock();
    --in_flight_;
    for (Pending* p : group) p->done = true;
    changed_.SignalAll();
  }
  return std::move(me.result);
}

void BridgeBatcher::Send(const std::vector<Pending*>& group) {
  bool batch;
  {
    absl::MutexLock lock(&mu_);
    batch = !batch_unsupported_ && group.size() > 1;
  }
  if (batch) {
    v1::BridgeBatchRequest req;
    // Each session's request moves in (no copy of its message) and back.
    for (Pending* p : group) req.add_requests()->Swap(&p->request);
    absl::StatusOr<std::vector<absl::StatusOr<v1::SubmitResponse>>> r = transport_.batch(req);
    for (size_t i = 0; i < group.size(); ++i) group[i]->request.Swap(req.mutable_requests(i));
    if (r.ok() && r->size() != group.size()) {
      r = absl::InternalError(absl::StrCat("the sender node answered ", r->size(),
                                           " results for ", group.size(), " messages"));
    }
    if (!absl::IsUnimplemented(r.status())) {
      for (size_t i = 0; i < group.size(); ++i) {
        group[i]->result = r.ok() ? std::move((*r)[i])
                                  : absl::StatusOr<v1::SubmitResponse>(r.status());
      }
      return;
    }
    PM_LOG(WARNING) << "smtp: the sender node does not know BridgeBatch ("
                    << r.status().message() << "); bridging one message per call";
    absl::MutexLock lock(&mu_);
    batch_unsupported_ = true;
  }
  for (Pending* p : group) p->result = transport_.single(p->request);
}

BridgeBatcher::Transport NodeBridgeTransport(NodeClient* nodes) {
  constexpr absl::Duration kTimeout = absl::Minutes(5);
  BridgeBatcher::Transport t;
  t.batch = [nodes](const v1::BridgeBatchRequest& req)
      -> absl::StatusOr<std::vector<absl::StatusOr<v1::SubmitResponse>>> {
    v1::BridgeBatchResponse resp;
    std::unique_ptr<grpc::ClientContext> ctx = nodes->BridgeContext(kTimeout);
    absl::Status s = FromGrpc(nodes->submit().BridgeBatch(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    std::vector<absl::StatusOr<v1::SubmitResponse>> out;
    out.reserve(resp.results_size());
    for (v1::BridgeResult& r : *resp.mutable_results()) {
      if (r.code() == 0) {
        out.emplace_back(std::move(*r.mutable_response()));
      } else {
        // The same mapping as a Bridge call's status (rpc/grpc_status.h).
        out.emplace_back(FromGrpc(grpc::Status(static_cast<grpc::StatusCode>(r.code()),
                                               r.error())));
      }
    }
    return out;
  };
  t.single = [nodes](const v1::BridgeRequest& req) -> absl::StatusOr<v1::SubmitResponse> {
    v1::SubmitResponse resp;
    std::unique_ptr<grpc::ClientContext> ctx = nodes->BridgeContext(kTimeout);
    absl::Status s = FromGrpc(nodes->submit().Bridge(ctx.get(), req, &resp));
    if (!s.ok()) return s;
    return resp;
  };
  return t;
}

}  // namespace pullmail::gateway
