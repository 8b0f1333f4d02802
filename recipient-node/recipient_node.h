// The recipient node's state and operations: it accepts signed notifications
// (core's acceptor decides), keeps mailboxes with IMAP semantics, fetches a
// body from its sender node only when a user reads it, and applies
// revocations. gRPC adapters live in services.cc; mailbox operations in
// mailbox.cc.
//
// SECURITY: every notification is verified against the directory's keys
// before its payload is parsed; bodies are fetched only from the sender node
// the directory lists for the signing domain, and checked against the
// committed size and SHA-256 before anyone sees a byte; users see only their
// own mailboxes.
#ifndef PULLMAIL_RECIPIENT_NODE_RECIPIENT_NODE_H_
#define PULLMAIL_RECIPIENT_NODE_RECIPIENT_NODE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "core/config/node_config.h"
#include "core/crypto/ed25519.h"
#include "core/crypto/signature_scheme.h"
#include "core/directory/directory.h"
#include "core/logic/acceptor.h"
#include "core/logic/body_cache_key.h"
#include "core/logic/author.h"
#include "core/policy/policy_config.h"
#include "core/policy/spam_policy.h"
#include "core/storage/recipient_store.h"
#include "core/storage/user_store.h"
#include "core/util/clock.h"
#include "pullmail/v1/pullmail.grpc.pb.h"
#include "recipient-node/body_fetcher.h"
#include "recipient-node/change_feed.h"
#include "recipient-node/intake.h"
#include "recipient-node/prefetcher.h"
#include "rpc/node_base.h"
#include "rpc/user_auth.h"

namespace pullmail {

class RecipientNode {
 public:
  // Opens the node's SQLite store, users, directory, key and policy state.
  // `clock` (not owned; outlives the node) is the node's only source of
  // time; `scheme` signs and verifies (null = Ed25519).
  static absl::StatusOr<std::unique_ptr<RecipientNode>> Open(
      const NodeConfig& config, Clock* clock = &SystemClock(),
      const SignatureScheme* scheme = nullptr);
  // The same from parts already open (unit tests and the parity test:
  // memory stores, a fake clock). base.auth may be null when no gRPC
  // service is served.
  struct Parts {
    NodeConfig config;
    NodeBase base;  // users, directory, key (required), auth (may be null)
    std::unique_ptr<RecipientStore> store;
    Clock* clock = &SystemClock();
    const SignatureScheme* scheme = nullptr;
    PolicyConfig policy;
  };
  static absl::StatusOr<std::unique_ptr<RecipientNode>> FromParts(Parts parts);
  // Cancels fetches in flight and stops the maintenance thread and the
  // prefetch workers if they run (a joinable std::thread would otherwise
  // end the process with std::terminate).
  ~RecipientNode();

  // Verifies, deduplicates and stores a batch in one transaction (group
  // commit); one result per input, in order, each final only after commit.
  // Verification runs on the intake's pool, beside every other call's.
  std::vector<v1::NotifyResult> AcceptBatch(std::vector<v1::SignedNotification> batch);
  // The pool every Notify and NotifyStream feeds (see intake.h).
  Intake& intake() { return *intake_; }

  // For the intake: the context core's acceptor runs with (callbacks into
  // this node's stores), and the second half of acceptance: *decisions[i]
  // is VerifyForAccept's decision on *batch[i]; applies FinishAccept (in
  // place: the caller owns and frees the decisions), places and stores
  // every accepted one in one transaction and returns one result per input
  // (sequence unset). Called on one thread at a time.
  AcceptContext MakeAcceptContext();
  std::vector<v1::NotifyResult> CommitVerified(const std::vector<const v1::SignedNotification*>& batch,
                                               const std::vector<AcceptDecision*>& decisions);
  // A sender's recall: hides unread copies. Returns how many were hidden.
  absl::StatusOr<uint32_t> ApplyRevocation(const v1::SignedRevocation& rev);

  // --- Mailbox (mailbox.cc); `user` is authenticated by the caller. -------
  absl::StatusOr<v1::ListFoldersResponse> ListFolders(const std::string& user);
  absl::StatusOr<v1::Folder> CreateFolder(const std::string& user, const std::string& name);
  absl::StatusOr<v1::ListMessagesResponse> ListMessages(const std::string& user,
                                                        const v1::ListMessagesRequest& req);
  struct ReadResult {
    v1::MessageInfo info;
    std::string body_key;  // in the body cache (core's BodyCacheKey)
    bool from_cache = false;
    // What Read serves: `prefix` (the Authentication-Results: field, core's
    // AuthenticationResultsField) and then the stored body, `stored_size`
    // bytes read from the cache (info.body_size is their sum).
    std::string prefix;
    uint64_t stored_size = 0;
  };
  // Makes sure the body is here (fetching it on first read), sets \Seen
  // unless peek, and returns what to stream (read slices from store()).
  // `before_fetch(size)`, if given, runs before a body of `size` bytes is
  // fetched (not for a cached one): ReadSet waits there for room; false
  // gives up (kCancelled) without fetching.
  absl::StatusOr<ReadResult> Read(const std::string& user, const v1::ReadRequest& req,
                                  const std::function<bool(uint64_t)>& before_fetch = nullptr);
  // ReadSet's batched first read: the bodies of `wanted` (a FETCH set's
  // messages whose bodies are not cached, from PrepareReads) go to the
  // fetcher at once (BodyFetcher::FetchAhead: batches per sender node);
  // returns at once, and each Read of them then waits for its batch. A
  // user's own stored copies are never fetched.
  void FetchAhead(std::vector<StoredNotification> wanted);
  // A FETCH set's lookups (ReadSet): each of `uids` of `folder` found at
  // once (RecipientStore::GetEntriesForRead, HasBodies), so that a message
  // whose body is cached is read by ReadPrepared without lookups of its own
  // and only the others need Read (which fetches). `status` is Read's
  // NotFound for a UID that does not exist or is not visible.
  //
  // A window's small cached bodies come read along (`body`: at most
  // kPreparedBodyBytes each and kPreparedBytes in all per call; the store's
  // bytes, as ReadCachedBody would give them), so that streaming them needs
  // no statement of its own; the others are read in slices as before.
  struct PreparedRead {
    absl::Status status;
    MailboxEntry entry;
    StoredNotification notification;
    bool cached = false;
    std::optional<bool> read_counted;  // EntryForRead::read_counted
    std::optional<std::string> body;   // the stored body, when read along
  };
  static constexpr size_t kPreparedBodyBytes = 64 * 1024;
  static constexpr size_t kPreparedBytes = 1024 * 1024;
  absl::StatusOr<std::vector<PreparedRead>> PrepareReads(const std::string& user,
                                                         const std::string& folder,
                                                         const std::vector<uint32_t>& uids);
  // Read of a prepared message (p.status OK), by the same rules. `brief`:
  // info has only uid, body_size, sent_size, flags and modseq (proto
  // ReadSetRequest.brief_info).
  absl::StatusOr<ReadResult> ReadPrepared(const std::string& user, const std::string& folder,
                                          const PreparedRead& p, bool peek, bool brief = false);
  absl::StatusOr<v1::SetFlagsResponse> SetFlags(const std::string& user,
                                                const v1::SetFlagsRequest& req);
  absl::StatusOr<v1::CopyResponse> Copy(const std::string& user, const v1::CopyRequest& req);
  absl::StatusOr<v1::ExpungeResponse> Expunge(const std::string& user,
                                              const v1::ExpungeRequest& req);
  absl::StatusOr<v1::ReportResponse> Report(const std::string& user,
                                            const v1::ReportRequest& req);

  // Stores a message of the user's own (IMAP APPEND) in one of their
  // folders: the body goes into the body cache, a local row (no signature,
  // no fetch token, never expires) and one entry with the given flags are
  // committed together, and Watch streams are woken. No sender node is
  // involved and the spam policy never sees it (see IsLocalMessage).
  // NotFound "[TRYCREATE]" if the folder does not exist (INBOX and Junk
  // always do); InvalidArgument for an empty message or a bad flag;
  // ResourceExhausted over limits::kMaxBodySize.
  absl::StatusOr<v1::AppendResponse> Append(const std::string& user,
                                            const v1::AppendRequest& req);
  // Deletes one of the user's folders and its entries (RFC 3501 6.3.4).
  // FailedPrecondition for INBOX and Junk; NotFound if it does not exist.
  absl::Status DeleteFolder(const std::string& user, const std::string& name);

  // Whether a stored row is a local message (Append) rather than an accepted
  // notification: only an accepted notification has signed bytes. Local
  // messages are never fetched, prefetched, revoked, suppressed or counted
  // by the spam policy.
  static bool IsLocalMessage(const StoredNotification& n) { return IsLocalBody(n); }

  // `cached`: whether the body is in the cache, if the caller knows.
  v1::MessageInfo ToInfo(const MailboxEntry& e, const StoredNotification& n,
                         std::optional<bool> cached = std::nullopt);
  // What this node verified about the message's author (core/logic/author.h):
  // MessageInfo.author_check and the Authentication-Results: field. Every
  // listing and read asks again; a verdict that depends only on the stored
  // row and this node's configuration (not a bridged message's, which asks
  // the directory) is remembered per row (a few thousand at most).
  AuthorVerdict VerifyAuthorOf(const StoredNotification& n);

  // --- Spam policy and federation (suppression.cc) -------------------------
  // Where a new copy for `user` goes, as core's policy decides.
  EntryPlacement PlaceFor(const StoredNotification& n, const std::string& user, absl::Time now);
  // Moves every unread copy of the body at this node to Junk with the
  // explanation. Returns how many moved.
  absl::StatusOr<uint32_t> SuppressUnreadCopies(const std::string& body_sha256,
                                                const std::string& explanation);
  // A trusted peer's signed report: verified, replay-checked, weighted.
  absl::StatusOr<v1::ReportResult> AcceptPeerReport(const v1::SignedSpamReport& report);
  // One pass of the background work: release or suppress held copies,
  // offer unread bodies close to expiry to the prefetcher (which fetches on
  // its own workers), send queued reports, write this process's reads to
  // the policy state in the store and refresh the policy from it (so a
  // replica sees the others' counts). Called by the maintenance thread every
  // few seconds.
  void Maintain();
  // The maintenance pass's last step: frees the cached bodies and rows of
  // expunged mail that no entry needs any more (core's DecideRelease, run
  // by RecipientStore::ReleaseUnreferenced), at most kReleasePerPass rows
  // per pass in transactions of kReleaseBatch. mailbox.cc.
  void ReleaseSpace();
  // Starts / stops the maintenance thread (stopping also stops the
  // prefetch workers).
  void StartMaintenance();
  void StopMaintenance();
  // With a PostgreSQL database (replicas, docs/SCALE-OUT.md): starts / stops
  // the thread that wakes this replica's Watch streams when another replica
  // changes a mailbox (LISTEN/NOTIFY). No-op with SQLite. replica_changes.cc.
  void StartChangeListener();
  void StopChangeListener();

  // Set when a shutdown signal arrives, before the server drains: long-lived
  // Watch streams end at once (UNAVAILABLE) instead of holding the drain,
  // and every body fetch in flight (reads, prefetches) is cancelled.
  void BeginShutdown();
  bool shutting_down() const { return shutting_down_.load(); }

  RecipientStore& store() { return *store_; }
  UserAuthenticator& auth() { return *auth_; }
  ChangeFeed& changes() { return changes_; }
  const NodeConfig& config() const { return config_; }
  const Clock& clock() const { return *clock_; }
  // The prefetch workers (tests wait for them to be idle).
  Prefetcher* prefetcher() { return prefetcher_.get(); }

 private:
  explicit RecipientNode(NodeConfig config) : config_(std::move(config)) {}
  std::atomic<bool> shutting_down_{false};
  bool UserExists(std::string_view address);
  void QueueReportOut(const v1::SpamReport& report, const std::string& signing_domain);
  void SendQueuedReports();
  void ReviewHeldAndPrefetch();

  // --- The spam policy's state (suppression.cc) ----------------------------
  // The state lives in the store (RecipientStore's policy state): a report's
  // record and the counts it adds commit in one transaction, and replicas on
  // one database share it. policy_ is the stored state as last read or
  // written by this process, plus policy_pending_: what this process fed the
  // policy since (first reads, and bodies tracked for held copies), written
  // to the store by the next SyncPolicy.
  struct PolicyEvent {
    enum class Kind { kNotification, kRead };
    Kind kind;
    std::string signing_domain, body_sha256, user;
    absl::Time time;
    // kRead: the notification read by `user`; unmarked until SyncPolicy has
    // committed its mark (RecipientStore::MarkReadsCounted).
    int64_t notification_id = 0;
    bool unmarked = false;
  };
  // Start-up: imports an old DATA_DIR/policy.state into the store once (if
  // the store has no state yet; the file is then renamed
  // policy.state.migrated), then reads the state.
  absl::Status LoadPolicy();
  // Maintenance: writes policy_pending_ to the store and re-reads the state.
  absl::Status SyncPolicy();
  // A fresh policy with this node's configuration and `state` restored.
  absl::StatusOr<SpamPolicy> PolicyFrom(std::string_view state) const;
  // A policy-state update: restores `old`, runs `apply` on it, keeps the
  // result in *next and returns its text.
  absl::StatusOr<std::string> ApplyToState(std::string_view old, std::optional<SpamPolicy>* next,
                                           absl::FunctionRef<absl::Status(SpamPolicy&)> apply) const;
  // Counts one report: `record` is the store call that commits the report's
  // record together with the policy update it is given; `apply` feeds the
  // report to core's policy inside that transaction. After a commit: the
  // crash point (crash_point.h), then this process adopts the new state.
  // Returns what `record` returns (false: counted before; nothing ran).
  absl::StatusOr<bool> CountReport(
      absl::FunctionRef<absl::StatusOr<bool>(RecipientStore::PolicyStateUpdate)> record,
      absl::FunctionRef<absl::Status(SpamPolicy&)> apply, std::string_view crash_point);
  // policy_ = `committed` (a state just read or committed) + policy_pending_.
  void AdoptPolicy(SpamPolicy committed);
  static void Replay(SpamPolicy& policy, const PolicyEvent& e);
  // The first read of a copy, for the policy (mailbox.cc calls it).
  // A read core's ReadMayCount lets count: counted unless this user's read
  // of `n` is marked counted in the store or waits in policy_pending_.
  // `counted`: the store's mark as a look-up of the set found it
  // (EntryForRead::read_counted); nullopt asks the store. A mark found
  // missing that a pass then writes is harmless: CommitReadMarks drops the
  // second read of it.
  absl::Status NoteFirstRead(const std::string& user, const StoredNotification& n,
                             std::optional<bool> counted = std::nullopt);
  // SyncPolicy's first step: commits the marks of the unmarked reads in
  // *events in one transaction and drops the reads whose mark was there
  // already (another replica counted them meanwhile).
  absl::Status CommitReadMarks(std::vector<PolicyEvent>* events);
  // Read's rules once the entry and its notification are known (`cached`:
  // whether the body is, if known).
  absl::StatusOr<ReadResult> ReadFound(const std::string& user, const std::string& folder,
                                       MailboxEntry e, const StoredNotification& n,
                                       std::optional<bool> cached, bool peek,
                                       const std::function<bool(uint64_t)>& before_fetch,
                                       std::optional<bool> read_counted = std::nullopt,
                                       bool brief = false);
  // The folder with its counts; INBOX and Junk, which always exist, are
  // created on first use. NotFound for another folder that does not exist.
  absl::StatusOr<Folder> GetOrMakeFolder(const std::string& user, const std::string& folder);
  // ListMessages for changed_since = vanished_since = `modseq` (an IMAP
  // refresh), from RecipientStore::ListFolderChanges.
  absl::StatusOr<v1::ListMessagesResponse> ListChanges(const std::string& user,
                                                       const std::string& folder, uint64_t modseq,
                                                       uint32_t limit);

  NodeConfig config_;
  std::unique_ptr<RecipientStore> store_;
  std::unique_ptr<UserStore> users_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<SigningKey> key_;
  std::unique_ptr<UserAuthenticator> auth_;
  std::unique_ptr<BodyFetcher> fetcher_;
  std::unique_ptr<Prefetcher> prefetcher_;  // after fetcher_: destroyed first
  Clock* clock_ = &SystemClock();
  const SignatureScheme* scheme_ = nullptr;
  ChangeFeed changes_;

  // Held from a policy-state write to its adoption, so that this process
  // never adopts an older state after a newer one. Taken before policy_mu_.
  std::mutex verdicts_mu_;
  absl::flat_hash_map<int64_t, AuthorVerdict> verdicts_;  // by row id; verdicts_mu_
  std::mutex policy_write_mu_;
  std::mutex policy_mu_;  // serialises every SpamPolicy call
  std::unique_ptr<SpamPolicy> policy_;
  PolicyConfig policy_config_;  // policy_'s, set once by LoadPolicy
  std::vector<PolicyEvent> policy_pending_;  // guarded by policy_mu_
  // (user, notification id) of the reads in policy_pending_ not yet marked
  // in the store; guarded by policy_mu_.
  absl::flat_hash_set<std::pair<std::string, int64_t>> reads_unmarked_;
  // When SyncPolicy last ran core's SpamPolicy::Prune (once a day; the first
  // pass prunes). Guarded by policy_write_mu_.
  absl::Time last_prune_ = absl::InfinitePast();
  std::mutex out_mu_;
  std::vector<std::pair<v1::SignedSpamReport, std::string>> reports_out_;  // (report, signing domain)
  std::mutex maint_mu_;
  std::condition_variable maint_cv_;
  bool maint_stop_ = false;
  std::thread maint_thread_;
  // The held-copy review walks every unread INBOX entry of every user; it
  // runs on a pass only when the time since the last review is at least
  // kReviewDutyFactor times what that review took, so that it takes at most
  // about a tenth of one core however large the mailboxes grow (a few ms
  // with small ones: every pass). Maintenance thread only.
  static constexpr int kReviewDutyFactor = 10;
  // Maintain, with or without the review.
  void MaintainOnce(bool review);
  std::chrono::steady_clock::time_point next_review_{};
  std::atomic<bool> listen_stop_{false};
  std::thread listen_thread_;
  // Last: its threads call into everything above, so it stops first.
  std::unique_ptr<Intake> intake_;
};

std::unique_ptr<grpc::Service> MakeRecipientService(RecipientNode* node);
std::unique_ptr<grpc::Service> MakeMailboxService(RecipientNode* node);

}  // namespace pullmail

#endif  // PULLMAIL_RECIPIENT_NODE_RECIPIENT_NODE_H_
