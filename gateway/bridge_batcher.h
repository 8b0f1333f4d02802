// SMTP in's hand-off to the sender node, several messages per call. Every
// SMTP-in session that reaches the end of DATA asks the sender node to keep
// its message (SubmitService.Bridge) and answers its client only once the
// node has stored it durably. A busy MX has many sessions finishing at about
// the same moment (smtp-source, or a Postfix delivering over ten
// connections, opens one per message); one gRPC call per message cost the
// gateway and the sender node more CPU than anything else on that path.
// A BridgeBatcher sends what sessions hand it at the same moment as one
// BridgeBatch call: the first session to find a free call slot sends
// everything queued by then (up to the caps) and the others wait for their
// own result, as the sender node's group commit does for its store. A
// session alone waits for nobody: its message goes at once.
//
// Each message keeps its own result: the node answers each request as
// Bridge would, so an SMTP client sees exactly the reply it saw before.
// When the node does not know BridgeBatch (an older sender node:
// UNIMPLEMENTED) the batcher says so once in the log and bridges one
// message per call from then on.
#ifndef PULLMAIL_GATEWAY_BRIDGE_BATCHER_H_
#define PULLMAIL_GATEWAY_BRIDGE_BATCHER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail::gateway {

class BridgeBatcher {
 public:
  // One call to the node. Batch: the node's per-request results, in order
  // (or the call's own error, which then holds for every request). Single:
  // SubmitService.Bridge.
  struct Transport {
    std::function<absl::StatusOr<std::vector<absl::StatusOr<v1::SubmitResponse>>>(
        const v1::BridgeBatchRequest&)>
        batch;
    std::function<absl::StatusOr<v1::SubmitResponse>(const v1::BridgeRequest&)> single;
  };
  struct Options {
    size_t max_messages = 32;             // per call; the node takes up to 64
    size_t max_bytes = 16 * 1024 * 1024;  // message bytes per call, unless one alone
    int max_calls = 2;                    // calls in flight at once
  };

  BridgeBatcher(Transport transport, Options options);

  // Hands `request` (not check_only) to the node and returns its answer,
  // once the node has stored the message durably or refused it. Blocking;
  // thread-safe.
  absl::StatusOr<v1::SubmitResponse> Bridge(v1::BridgeRequest request);

  // Calls made and messages sent so far; messages waiting for a call now.
  size_t calls() const;
  size_t messages() const;
  size_t waiting() const;

 private:
  struct Pending {
    v1::BridgeRequest request;  // moved into the call's request, and back
    absl::StatusOr<v1::SubmitResponse> result = absl::InternalError("not sent");
    bool taken = false;  // in a call (or done)
    bool done = false;
  };
  // Sends `group` (taken off the queue by the caller) and fills each result.
  void Send(const std::vector<Pending*>& group);

  const Transport transport_;
  const Options options_;
  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  std::deque<Pending*> queue_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool batch_unsupported_ ABSL_GUARDED_BY(mu_) = false;
  size_t calls_ ABSL_GUARDED_BY(mu_) = 0;
  size_t messages_ ABSL_GUARDED_BY(mu_) = 0;
};

class NodeClient;

// The transport to the domain's sender node through `nodes` (not owned;
// outlives the batcher): BridgeBatch and Bridge with the gateway's
// kBridgePrincipal token (NodeClient::BridgeContext), each call bounded by
// 5 minutes (a call stores up to 64 MiB durably before it answers).
BridgeBatcher::Transport NodeBridgeTransport(NodeClient* nodes);

}  // namespace pullmail::gateway

#endif  // PULLMAIL_GATEWAY_BRIDGE_BATCHER_H_
