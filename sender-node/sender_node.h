// The sender node's state and operations: it keeps bodies, queues one signed
// notification per recipient domain, serves body fetches and revocations.
// Protocol decisions come from core (core/logic/submission.h,
// fetch_authorizer.h, outbox.h); this class wires them to storage and gRPC.
//
// SECURITY: bodies are served only to a caller presenting the fetch token
// issued to one recipient domain (compared in constant time); users submit
// only as themselves; private keys are read from 0600 files and never logged.
// Bridge (SMTP in) is open only to the gateway's minted principal
// (kBridgePrincipal), only for this domain's existing users, and never for a
// sender at a pullmail domain (the signing rule, core/envelope).
#ifndef PULLMAIL_SENDER_NODE_SENDER_NODE_H_
#define PULLMAIL_SENDER_NODE_SENDER_NODE_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config/node_config.h"
#include "core/crypto/ed25519.h"
#include "core/crypto/signature_scheme.h"
#include "core/directory/directory.h"
#include "core/logic/outbox.h"
#include "core/logic/routing.h"
#include "core/logic/submission.h"
#include "core/storage/sender_store.h"
#include "core/storage/user_store.h"
#include "core/util/clock.h"
#include "pullmail/v1/pullmail.grpc.pb.h"
#include "rpc/channel_cache.h"
#include "rpc/node_base.h"
#include "rpc/user_auth.h"

namespace pullmail {

class SenderNode {
 public:
  // Opens the node's SQLite store, users, directory and key. `clock` (not
  // owned; outlives the node) is the node's only source of time; `scheme`
  // signs (null = Ed25519).
  static absl::StatusOr<std::unique_ptr<SenderNode>> Open(const NodeConfig& config,
                                                          Clock* clock = &SystemClock(),
                                                          const SignatureScheme* scheme = nullptr);
  // The same from parts already open (unit tests: memory stores, a fake
  // clock). base.users may be null (then Bridge cannot check users);
  // base.auth may be null when no gRPC service is served.
  struct Parts {
    NodeConfig config;
    NodeBase base;  // users, directory, key (required), auth (may be null)
    std::unique_ptr<SenderStore> store;
    Clock* clock = &SystemClock();
    const SignatureScheme* scheme = nullptr;
    RetryPolicy retry;
    std::string relay_endpoint;  // [gateway] relay_listen; empty = none
  };
  static std::unique_ptr<SenderNode> FromParts(Parts parts);

  // Stores the message and queues its notifications (durable before return).
  absl::StatusOr<v1::SubmitResponse> Submit(const SubmissionInput& input);
  // Submit for several messages at once: each is prepared and answered on
  // its own (one's error never fails another) and all that pass are stored
  // in one group commit. Durable before return. Thread-safe.
  std::vector<absl::StatusOr<v1::SubmitResponse>> SubmitMany(
      const std::vector<const SubmissionInput*>& inputs);
  // SMTP in, for the domain's gateway (the caller has checked that it is):
  // Submit with origin ORIGIN_BRIDGED_SMTP and envelope_from as given; the
  // recipients must be users of this domain (core's CheckBridgeRecipients).
  // With check_only, validates the recipients and stores nothing.
  absl::StatusOr<v1::SubmitResponse> Bridge(const v1::BridgeRequest& request);
  // Bridge for each of `requests` (BridgeBatch: at most kMaxBridgeBatch, a
  // check_only request is refused), stored in one group commit; one result
  // per request, in order. InvalidArgument for the whole call past the cap.
  static constexpr size_t kMaxBridgeBatch = 64;
  absl::StatusOr<std::vector<absl::StatusOr<v1::SubmitResponse>>> BridgeBatch(
      const v1::BridgeBatchRequest& request);
  // Revokes `message_id` on behalf of `user` (its sender), drops the body and
  // tells each recipient domain with a signed Revocation.
  absl::StatusOr<v1::RevokeResponse> Revoke(std::string_view user, std::string_view message_id,
                                            std::string_view reason);
  absl::StatusOr<v1::ListSentResponse> ListSent(std::string_view user, uint32_t limit);
  // Counts a verified abuse report against the message's submitter.
  absl::Status ReportAbuse(const v1::SignedSpamReport& report);

  // Where `domain`'s notifications go, by core's routing rule
  // (core/logic/routing.h): its recipient node, or for a legacy domain this
  // domain's own gateway relay. FailedPrecondition (permanent: the sender
  // gets a bounce) when there is no route; the directory's status otherwise.
  absl::StatusOr<Route> RouteFor(const std::string& domain) const;
  // A (cached) channel to RouteFor(domain), or to a route already found.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> RecipientChannel(const std::string& domain);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> ChannelFor(const Route& route);

  // Wakes the delivery worker (new mail queued).
  void Wake();
  // Blocks until woken, `deadline`, or Stop(). True when woken by Wake().
  bool WaitForWork(absl::Time deadline);
  // Blocks for `d` of the node's clock, or until Stop() (Wake() does not
  // end it: this is the wait that lets more mail queue up).
  void Gather(absl::Duration d);
  void Stop();
  bool stopped();

  const NodeConfig& config() const { return config_; }
  SenderStore& store() { return *store_; }
  const Directory& directory() const { return *directory_; }
  UserAuthenticator& auth() { return *auth_; }
  const Clock& clock() const { return *clock_; }
  const SignatureScheme* scheme() const { return scheme_; }
  const RetryPolicy& retry() const { return retry_; }
  const SigningKey& key() const { return *key_; }

 private:
  explicit SenderNode(NodeConfig config) : config_(std::move(config)) {}
  // The submission context for now; bridged mail also gets the directory
  // and the user check.
  SubmissionContext MakeSubmissionContext();
  // store_->PutMessage with group commit: concurrent callers' messages are
  // stored by whichever of them finds no commit running (the leader), in one
  // PutMessages transaction, while the others wait for their result. One
  // status per request, in order.
  std::vector<absl::Status> PutGrouped(const std::vector<SenderStore::PutRequest>& requests);
  // The stored answer when `prepared`'s sender already stored a message
  // under its idempotency key (core's CheckSubmissionRetry decides whether
  // that is a retry or a reused key); nullopt when the key is new.
  absl::StatusOr<std::optional<v1::SubmitResponse>> AnswerRetry(const OutboundMessage& prepared);
  NodeConfig config_;
  std::unique_ptr<SenderStore> store_;
  std::unique_ptr<UserStore> users_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<SigningKey> key_;
  std::unique_ptr<UserAuthenticator> auth_;
  RetryPolicy retry_;
  std::string relay_endpoint_;  // [gateway] relay_listen; empty = none
  Clock* clock_ = &SystemClock();
  const SignatureScheme* scheme_ = nullptr;

  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stop_ = false;
  ChannelCache channels_{&config_.tls};

  struct PendingPut {
    SenderStore::PutRequest request;
    absl::Status status;
    bool done = false;
  };
  std::mutex put_mu_;
  std::condition_variable put_cv_;
  std::vector<PendingPut*> put_queue_;  // guarded by put_mu_
  bool put_leader_ = false;             // guarded by put_mu_
};

// gRPC services (services.cc): thin adapters over SenderNode.
std::unique_ptr<grpc::Service> MakeSubmitService(SenderNode* node);
std::unique_ptr<grpc::Service> MakeSenderService(SenderNode* node);

}  // namespace pullmail

#endif  // PULLMAIL_SENDER_NODE_SENDER_NODE_H_
