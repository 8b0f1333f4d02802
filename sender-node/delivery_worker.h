// The sender node's delivery worker: one thread that sends due notifications
// (grouped per recipient domain, over one NotifyStream each), applies core's
// retry schedule to the answers, bounces what fails for good or expires, and
// drops bodies past their expiry.
#ifndef PULLMAIL_SENDER_NODE_DELIVERY_WORKER_H_
#define PULLMAIL_SENDER_NODE_DELIVERY_WORKER_H_

#include <thread>
#include <vector>

#include "core/logic/outbox.h"
#include "sender-node/sender_node.h"

namespace pullmail {

class DeliveryWorker {
 public:
  // Starts the thread. `node` must outlive this.
  explicit DeliveryWorker(SenderNode* node);
  // Stops the node's wait and joins the thread.
  ~DeliveryWorker();

  // One pass (exposed for the thread loop): returns when it is next needed.
  absl::Time RunOnce();

 private:
  void Loop();
  void SendToDomain(const std::string& domain, std::vector<Delivery>& due);
  // Applies core's retry schedule to `d` in memory and queues the write;
  // Flush() stores every queued write in one transaction, then bounces.
  // `expires`: the message's expiry (the caller has read the message).
  void Apply(Delivery& d, int code, const std::string& error, absl::Time expires);
  void Flush();
  void Bounce(const Delivery& d, const std::string& reason, const std::string& status_code);
  void ExpireBodies();

  struct Update {
    Delivery delivery;
    OutboxStep step;
  };
  SenderNode* node_;
  std::vector<Update> updates_;  // worker thread only
  std::thread thread_;
};

}  // namespace pullmail

#endif  // PULLMAIL_SENDER_NODE_DELIVERY_WORKER_H_
