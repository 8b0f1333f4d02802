// Fetch-on-read: pulls a body from the sender node the directory lists for
// the notification's signing domain (never from an endpoint the notification
// merely claims), resumes at the last verified offset when a stream breaks,
// checks size and SHA-256 against the notification (core's FetchVerifier)
// before a single byte is cached or shown, and caches it once per node.
#ifndef PULLMAIL_RECIPIENT_NODE_BODY_FETCHER_H_
#define PULLMAIL_RECIPIENT_NODE_BODY_FETCHER_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "core/config/node_config.h"
#include "core/directory/directory.h"
#include "core/storage/recipient_store.h"
#include "pullmail/v1/pullmail.grpc.pb.h"

namespace pullmail {

class BodyFetcher {
 public:
  // Not owned: all must outlive this. Thread-safe.
  BodyFetcher(const NodeConfig* config, const Directory* directory, RecipientStore* store);

  // Makes sure the body of `n` is in the cache. Returns true if it was
  // already there (no bytes moved). Concurrent calls for one body fetch it
  // once. Errors: kUnavailable "sender node temporarily unavailable" (down,
  // unreachable, timed out after resumes); kDataLoss (size or hash mismatch:
  // nothing cached); kPermissionDenied / kFailedPrecondition ("revoked") /
  // kNotFound ("expired") as the sender node said.
  absl::StatusOr<bool> EnsureCached(const StoredNotification& n);

 private:
  absl::Status Fetch(const StoredNotification& n);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> SenderChannel(const std::string& domain);

  const NodeConfig* config_;
  const Directory* directory_;
  RecipientStore* store_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  std::map<std::string, std::shared_ptr<std::mutex>> in_flight_;  // by body hash
};

}  // namespace pullmail

#endif  // PULLMAIL_RECIPIENT_NODE_BODY_FETCHER_H_
