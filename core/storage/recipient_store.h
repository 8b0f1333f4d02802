// RecipientStore: what a recipient node keeps. Accepted notifications
// (deduplicated), users' folders and mailbox entries with IMAP semantics
// (UIDVALIDITY, strictly ascending never-reused UIDs, flags, MODSEQ), the
// cache of fetched bodies under opaque keys (the node uses core's
// BodyCacheKey: hash plus sending domain), spam reports, and the spam
// policy's state, committed with the reports that change it. What expunged
// mail held is freed by ReleaseUnreferenced (core/logic/body_retention.h).
// Back ends: sqlite_store.h (durable), memory_store.h (tests, simulator).
//
// Storage hides nothing: entries in every EntryState are listed and counted.
// Policy decides what a reader sees; the node filters. To hide an entry from
// a folder, move it (MoveEntry) to another folder; to show a held entry as
// new mail, MoveEntry it into the same folder, which gives it a fresh UID
// above every UID a client has seen (RFC 3501 2.3.1.1).
#ifndef PULLMAIL_CORE_STORAGE_RECIPIENT_STORE_H_
#define PULLMAIL_CORE_STORAGE_RECIPIENT_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/storage/types.h"

namespace pullmail {

// Where one local user's copy of a new notification goes.
struct EntryPlacement {
  std::string user;
  std::string folder = std::string(kInbox);  // created if missing
  EntryState state = EntryState::kShown;
  std::string reason;
  std::vector<std::string> flags;  // the new entry's flags (normalized on insert)
};

// One notification to insert with its entries (see InsertNotifications).
struct NotificationInsert {
  StoredNotification notification;
  std::vector<EntryPlacement> placements;
};

struct InsertResult {
  bool duplicate = false;       // (signing_domain, message_id) was already stored
  int64_t notification_id = 0;  // the new id, or the stored one for a duplicate
  std::vector<MailboxEntry> entries;  // entries created (empty for a duplicate)
};

// How many entries of a folder are in one state, and how many of those lack
// "\\Seen" (which states a user sees is core's rule: VisibleToUser).
struct StateCount {
  EntryState state = EntryState::kShown;
  uint32_t entries = 0;
  uint32_t unseen = 0;
};

// A folder's changes above a modseq (RecipientStore::ListFolderChanges):
// the folder (its messages/unseen count every entry, as GetFolder's do), its
// entries counted by state, the entries whose modseq is above it (ascending
// UID) and the UIDs that left the folder above it (as ExpungedSince).
struct FolderChanges {
  Folder folder;
  std::vector<StateCount> by_state;
  std::vector<MailboxEntry> changed;
  std::vector<uint32_t> expunged;
};

// UID mapping of a COPY/MOVE (RFC 4315 COPYUID): src[i] became dst[i].
struct CopyResult {
  uint32_t uid_validity = 0;  // of the destination folder
  std::vector<uint32_t> src, dst;
};

// One message as a read needs it (RecipientStore::GetEntriesForRead).
struct EntryForRead {
  MailboxEntry entry;
  StoredNotification notification;
  // Whether the user's read of it is marked counted (IsReadCounted's
  // answer), when the back end looked it up with the entry (SQLite);
  // nullopt: not looked up (ask IsReadCounted when it matters).
  std::optional<bool> read_counted;
};

// One key of RecipientStore::ReadCachedBodies.
struct CachedBodyRead {
  bool cached = false;
  // The whole cached body, when the back end read it along (see
  // ReadCachedBodies); nullopt: read it with ReadCachedBody.
  std::optional<std::string> bytes;
};

// What SetFlagsUnchangedSince did (RFC 7162 3.1.3 STORE UNCHANGEDSINCE).
struct SetFlagsResult {
  std::vector<MailboxEntry> entries;  // as SetFlags returns them (the modified ones left out)
  std::vector<uint32_t> modified;     // UIDs left alone: modseq above unchanged_since; ascending
};

// Every method is thread-safe and, when it returns OK, its change is
// committed (durably, for the SQLite back end). Folder names pass through
// NormalizeFolderName ("inbox" is "INBOX"). Errors common to all methods:
// kUnavailable (database busy or I/O failed: retry later), kDataLoss
// (database corrupt), kInternal (anything else from the back end).
class RecipientStore {
 public:
  virtual ~RecipientStore() = default;

  // --- Notifications -------------------------------------------------------

  // Inserts a batch in ONE transaction (group commit for the streaming
  // Notify path). For each item in order: if (signing_domain, message_id) is
  // already stored (before or earlier in this batch), its result says
  // duplicate=true with the stored id and nothing changes; otherwise the
  // notification is stored (notification.id is ignored and assigned) and one
  // entry per placement is created in its folder (folder created if missing;
  // UID = the folder's uid_next, which then increments; internal_date =
  // notification.received; no flags). Results are in input order.
  // InvalidArgument (and nothing stored) if a placement names an empty user,
  // or the same (user, folder) twice for one notification.
  virtual absl::StatusOr<std::vector<InsertResult>> InsertNotifications(
      const std::vector<NotificationInsert>& batch) = 0;

  // One notification; each local user gets an entry in INBOX with the same
  // state and reason. Same rules as InsertNotifications.
  absl::StatusOr<InsertResult> InsertNotification(const StoredNotification& notification,
                                                  const std::vector<std::string>& local_users,
                                                  EntryState initial_state,
                                                  std::string_view reason);

  // NotFound if unknown.
  virtual absl::StatusOr<StoredNotification> GetNotification(int64_t id) = 0;
  virtual absl::StatusOr<StoredNotification> FindNotification(std::string_view signing_domain,
                                                              std::string_view message_id) = 0;
  // The id alone (the intake's duplicate check asks this for every
  // notification); NotFound if unknown. The default reads the whole row.
  virtual absl::StatusOr<int64_t> FindNotificationId(std::string_view signing_domain,
                                                     std::string_view message_id);
  // FindNotificationId for many at once (the intake asks once per commit
  // group): one answer per key, in order, nullopt for an unknown one. A
  // store error fails the whole call. The default asks FindNotificationId
  // for each; SQLite answers from one read transaction.
  struct NotificationKey {
    std::string_view signing_domain, message_id;
  };
  virtual absl::StatusOr<std::vector<std::optional<int64_t>>> FindNotificationIds(
      const std::vector<NotificationKey>& keys);
  // GetNotification for many at once (the maintenance pass's review asks
  // for every unread copy's notification): one answer per id, in order,
  // nullopt for an unknown one. A store error fails the whole call. The
  // default asks GetNotification for each; SQLite answers from one read
  // transaction.
  virtual absl::StatusOr<std::vector<std::optional<StoredNotification>>> GetNotifications(
      const std::vector<int64_t>& ids);

  // Every stored notification with that body hash, by id.
  virtual absl::StatusOr<std::vector<StoredNotification>> NotificationsByBodyHash(
      std::string_view body_sha256) = 0;

  // Sets `revoked` on the notification (entries' states are the caller's to
  // change with SetEntryState). Idempotent. NotFound if unknown.
  virtual absl::Status MarkNotificationRevoked(int64_t id) = 0;

  // --- Folders -------------------------------------------------------------

  // The folder, created if missing. A new folder gets a uid_validity from a
  // store-wide counter (never reused, even after DeleteFolder). InvalidArgument
  // if user or name is empty.
  virtual absl::StatusOr<Folder> EnsureFolder(std::string_view user, std::string_view name) = 0;

  // NotFound if the folder does not exist.
  virtual absl::StatusOr<Folder> GetFolder(std::string_view user, std::string_view name) = 0;

  // The user's folders sorted by name (empty if none).
  virtual absl::StatusOr<std::vector<Folder>> ListFolders(std::string_view user) = 0;

  // Deletes a folder and every entry in it (their rows are queued for
  // ReleaseUnreferenced). NotFound if missing; FailedPrecondition for INBOX.
  virtual absl::Status DeleteFolder(std::string_view user, std::string_view name) = 0;

  // --- Entries -------------------------------------------------------------

  // Entries with uid >= min_uid in ascending UID order, at most `limit`
  // (0 = no limit). NotFound if the folder does not exist.
  virtual absl::StatusOr<std::vector<MailboxEntry>> ListEntries(std::string_view user,
                                                                std::string_view folder,
                                                                uint32_t min_uid,
                                                                size_t limit) = 0;

  // NotFound if the folder or the UID does not exist.
  virtual absl::StatusOr<MailboxEntry> GetEntry(std::string_view user, std::string_view folder,
                                                uint32_t uid) = 0;

  // A FETCH set's lookups at once: for each of `uids` (in that order; any
  // order, repeats allowed) the entry and the notification it refers to, or
  // nullopt for a UID the folder does not hold. NotFound if the folder does
  // not exist. The default asks GetEntry and GetNotification per UID; the
  // SQLite back end answers a few dozen UIDs per statement.
  virtual absl::StatusOr<std::vector<std::optional<EntryForRead>>> GetEntriesForRead(
      std::string_view user, std::string_view folder, const std::vector<uint32_t>& uids);

  // What changed in a folder above `modseq`, for an IMAP refresh (see
  // FolderChanges). NotFound if the folder does not exist. The default reads
  // the whole folder with ListEntries; the SQLite back end reads one snapshot
  // and materializes only the changed entries (the counts are one grouped
  // statement), so that a refresh of a big folder costs little more than a
  // small one's.
  virtual absl::StatusOr<FolderChanges> ListFolderChanges(std::string_view user,
                                                          std::string_view folder,
                                                          uint64_t modseq);

  // Every entry (all users, all folders) that refers to the notification,
  // sorted by (user, folder, uid).
  virtual absl::StatusOr<std::vector<MailboxEntry>> EntriesForNotification(
      int64_t notification_id) = 0;

  // Adds, removes or replaces flags on the given UIDs (missing UIDs are
  // skipped, as IMAP's UID STORE does). Each entry whose flags change gets a
  // new modseq. Returns every existing entry among `uids`, updated, in
  // ascending UID order. NotFound if the folder does not exist.
  absl::StatusOr<std::vector<MailboxEntry>> SetFlags(std::string_view user,
                                                     std::string_view folder,
                                                     const std::vector<uint32_t>& uids, FlagOp op,
                                                     std::vector<std::string> flags);

  // SetFlags, in the same transaction checking each entry's modseq first
  // (RFC 7162 3.1.3): an entry whose modseq is above `unchanged_since` is
  // left alone and its UID listed in `modified`. Without `unchanged_since`
  // it is SetFlags.
  virtual absl::StatusOr<SetFlagsResult> SetFlagsUnchangedSince(
      std::string_view user, std::string_view folder, const std::vector<uint32_t>& uids,
      FlagOp op, std::vector<std::string> flags, std::optional<uint64_t> unchanged_since) = 0;

  // Copies (or moves, if `move`) the given UIDs from one folder of the user
  // to another in ascending UID order; each copy gets the destination's next
  // UID and keeps flags, state, reason and internal date. Missing source UIDs
  // are skipped. NotFound if either folder does not exist (IMAP's TRYCREATE:
  // the caller creates it); from == to copies (or moves) within the folder: new UIDs (RFC 6851 3.3).
  virtual absl::StatusOr<CopyResult> CopyEntries(std::string_view user, std::string_view from,
                                                 const std::vector<uint32_t>& uids,
                                                 std::string_view to, bool move) = 0;

  // Moves one entry to `to` (created if missing; may equal the source folder,
  // which renumbers it) with a new UID there and the given state and reason;
  // flags are kept. Returns the new entry. NotFound if the entry does not exist.
  virtual absl::StatusOr<MailboxEntry> MoveEntry(std::string_view user, std::string_view folder,
                                                 uint32_t uid, std::string_view to,
                                                 EntryState state, std::string_view reason) = 0;

  // Removes the entries flagged \Deleted (only those among `uids`, if
  // given) and queues their rows for ReleaseUnreferenced. Returns the
  // removed UIDs ascending. UIDs are never reused.
  // NotFound if the folder does not exist.
  virtual absl::StatusOr<std::vector<uint32_t>> Expunge(
      std::string_view user, std::string_view folder,
      const std::optional<std::vector<uint32_t>>& uids) = 0;

  // The UIDs that left the folder (Expunge, a CopyEntries move, MoveEntry)
  // in a change whose modseq is above `modseq`, ascending: what RFC 7162's
  // VANISHED (EARLIER) needs. Every removal bumps the folder's
  // highest_modseq once and remembers each removed UID with that modseq
  // until the folder is deleted. NotFound if the folder does not exist.
  virtual absl::StatusOr<std::vector<uint32_t>> ExpungedSince(std::string_view user,
                                                              std::string_view folder,
                                                              uint64_t modseq) = 0;

  // Sets an entry's state and reason (bumps its modseq). NotFound if the
  // entry does not exist.
  virtual absl::Status SetEntryState(std::string_view user, std::string_view folder, uint32_t uid,
                                     EntryState state, std::string_view reason) = 0;

  // --- Body cache (one copy per key, whatever the number of readers) -------
  // Keys are opaque bytes compared exactly (any length; a key that is a
  // prefix of another is a different key). The recipient node keys by
  // core's BodyCacheKey, so that one domain's body never serves another's
  // notification (docs/PROTOCOL.md "Fetch").

  // Stores a body under `key` (the caller has verified it), with its MIME
  // structure record (core's MimeRecordOf, imap_mime.h) beside it in the
  // same commit. Idempotent: a second Put of the same key keeps the first
  // body.
  virtual absl::Status PutBody(std::string_view key, std::string_view body) = 0;

  // PutBody for each (key, body), committed together where the store can
  // (SQLite: one transaction, so a batch of first reads pays one commit);
  // one status per body, in order.
  virtual std::vector<absl::Status> PutBodies(
      const std::vector<std::pair<std::string_view, std::string_view>>& bodies) {
    std::vector<absl::Status> out;
    out.reserve(bodies.size());
    for (const auto& [key, body] : bodies) out.push_back(PutBody(key, body));
    return out;
  }

  virtual absl::StatusOr<bool> HasBody(std::string_view key) = 0;

  // A body written in pieces as it arrives, so that a big first read is not
  // held whole until its hash checks: Append the bytes in order (each piece
  // already checked against the committed size and running hash, core's
  // FetchVerifier), then Finish once the whole body has checked out. Nothing
  // of it is visible (HasBody, ReadCachedBody) before Finish commits it; a
  // writer destroyed without a successful Finish drops what it wrote. Finish
  // keeps no MIME structure record (it is computed on first need, as for a
  // body cached before records were kept). If the key is cached meanwhile,
  // the cached body stays (a body is fixed by its key), as with PutBody.
  class BodyWriter {
   public:
    virtual ~BodyWriter() = default;
    virtual absl::Status Append(std::string_view data) = 0;
    // kInvalidArgument if the pieces did not add up to the size given to
    // StartBody; kAborted if part of what was written went missing meanwhile
    // (DeleteBody of the same key): nothing is then cached.
    virtual absl::Status Finish() = 0;
  };
  // A writer for a body of `size` bytes under `key`. The default holds the
  // pieces in memory and stores them with PutBody at Finish (the memory and
  // PostgreSQL stores); SQLite writes chunk rows as they fill.
  virtual absl::StatusOr<std::unique_ptr<BodyWriter>> StartBody(std::string_view key,
                                                                uint64_t size);


  // HasBody for each of `keys`, in order. The default asks HasBody per key;
  // the SQLite back end answers a few dozen keys per statement.
  virtual absl::StatusOr<std::vector<bool>> HasBodies(const std::vector<std::string>& keys);

  // HasBodies, with the bytes of small cached bodies read along (a FETCH
  // set's bodies without a statement per message): for each of `keys`, in
  // order, whether it is cached and, for some cached bodies of at most
  // `max_each` bytes, the whole body, so long as the bodies returned come to
  // at most `max_total` bytes in all. Any cached body may come without its
  // bytes (the default answers HasBodies and returns none: the memory and
  // PostgreSQL stores); a body's bytes are never partial.
  virtual absl::StatusOr<std::vector<CachedBodyRead>> ReadCachedBodies(
      const std::vector<std::string>& keys, size_t max_each, size_t max_total);

  // Size of the cached body. NotFound if not cached.
  virtual absl::StatusOr<uint64_t> CachedBodySize(std::string_view key) = 0;

  // Up to `max_len` bytes from `offset`, reading only that slice. NotFound if
  // not cached; OutOfRange if offset > size.
  virtual absl::StatusOr<std::string> ReadCachedBody(std::string_view key, uint64_t offset,
                                                     size_t max_len) = 0;

  // The whole body. NotFound if not cached.
  virtual absl::StatusOr<std::string> GetBody(std::string_view key) = 0;

  // Drops a cached body and its structure record. Idempotent (OK if not
  // cached).
  virtual absl::Status DeleteBody(std::string_view key) = 0;

  // The MIME structure record (serialized proto MimeStructure) kept beside
  // the cached body `key`, as stored: the caller checks it (MimeFromRecord;
  // it is untrusted like any stored bytes). NotFound when there is none (a
  // body cached before records were kept, or no body).
  virtual absl::StatusOr<std::string> GetBodyStructure(std::string_view key) = 0;
  // Stores (or replaces) the record of the cached body `key`: one computed
  // later for a body that had none or had a record of another version.
  // NotFound if the body is not cached.
  virtual absl::Status PutBodyStructure(std::string_view key, std::string_view record) = 0;

  // --- Space of expunged mail (core/logic/body_retention.h) -----------------
  // Expunge and DeleteFolder queue, in their own transaction, the row of
  // every entry they remove (durably: a crash right after loses nothing).
  // ReleaseUnreferenced works the queue in bounded batches with core's
  // DecideRelease: a row that entries still refer to leaves the queue; an
  // unreferenced row's cached body (BodyCacheKey) goes when no entry of any
  // user refers to any row with that key, checked and deleted in one
  // transaction serialised with the writes that add references; an APPENDed
  // copy's row goes at once, an accepted notification's at RowKeptUntil
  // (queued until then), with its user reports and read marks. The SQLite
  // back end keeps the newest row (its id would be given out again) until a
  // newer one exists.

  struct ReleaseStats {
    size_t examined = 0;          // queued rows looked at
    size_t rows_dropped = 0;
    size_t bodies_dropped = 0;
    uint64_t body_bytes_dropped = 0;
    bool more = false;            // rows due at `now` are left for another call
  };
  // One batch: up to `max` queued rows due at `now`, in one transaction.
  virtual absl::StatusOr<ReleaseStats> ReleaseUnreferenced(absl::Time now, size_t max) = 0;

  // After bodies were cached for these notifications (a fetch that may
  // have run while their last entry was expunged, after a pass had found
  // nothing cached to drop): each one no entry refers to any more is queued
  // again, due at once. Unknown ids are skipped. Cheap when every one is
  // referenced (a read, no write).
  virtual absl::Status RequeueUnreferenced(const std::vector<int64_t>& notification_ids) = 0;

  // HasBody, but waiting for a release pass in progress to commit: called
  // after a new reference to `key` was committed (APPEND's row), true means
  // the body stays for as long as that reference does; false means a pass
  // took it meanwhile (PutBody it again).
  virtual absl::StatusOr<bool> ConfirmBody(std::string_view key) = 0;

  // --- Reads counted for reputation -----------------------------------------

  // A read counts for its sender's reputation (SpamPolicy::OnRead) once per
  // user and message, however often it is read again (a BODY.PEEK, or \Seen
  // cleared and read again); the store keeps a mark per counted read.
  //
  // True if `user`'s read of notification `notification_id` is marked
  // counted (false for an unknown notification).
  virtual absl::StatusOr<bool> IsReadCounted(std::string_view user,
                                             int64_t notification_id) = 0;
  struct ReadMark {
    std::string user;
    int64_t notification_id = 0;
  };
  // Marks reads counted, all in one transaction (the recipient node writes
  // the reads of one maintenance pass at once): one answer per mark, in
  // order, true if this call made it, false if it was there already (also
  // for the second of two equal marks) or the notification is unknown.
  // Atomic across replicas sharing a store. Commits without fsync (SQLite
  // Durability::kRelaxed): an OS crash may lose the last marks, and such a
  // read is counted once more.
  virtual absl::StatusOr<std::vector<bool>> MarkReadsCounted(
      const std::vector<ReadMark>& marks) = 0;

  // --- Spam reports --------------------------------------------------------

  // Records a local reader's verdict (v1::Verdict's number) on a
  // notification; one verdict per (user, notification): a different verdict
  // replaces the earlier one. Returns false, changing nothing, if the user
  // already reported that notification with the same verdict. NotFound if the
  // notification is unknown.
  virtual absl::StatusOr<bool> RecordReport(std::string_view user, int64_t notification_id,
                                            int verdict, absl::Time time) = 0;

  // Every user report on a notification with that body hash, sorted by
  // (notification id, user).
  virtual absl::StatusOr<std::vector<UserReport>> ReportsForBodyHash(
      std::string_view body_sha256) = 0;

  // Every user report on a notification signed by that domain, sorted by
  // (notification id, user).
  virtual absl::StatusOr<std::vector<UserReport>> ReportsForSigningDomain(
      std::string_view signing_domain) = 0;

  // Records a trusted peer's report. Returns false, changing nothing, if
  // (peer_domain, report_id) was recorded before (a replay).
  virtual absl::StatusOr<bool> RecordPeerReport(const PeerReport& report) = 0;

  // Every peer report on that body hash, sorted by (peer domain, report id).
  virtual absl::StatusOr<std::vector<PeerReport>> PeerReportsForBodyHash(
      std::string_view body_sha256) = 0;

  // --- Spam-policy state ---------------------------------------------------
  // One opaque state per store: the recipient node keeps core's SpamPolicy
  // snapshot here (recipient-node/policy_state.h), so that a report's record
  // and the counts it adds commit together, and so that replicas on one
  // database share the counts. "" until first written.

  // Computes the new state from the stored one. It runs inside the store's
  // transaction with the state locked against every other writer (SQLite:
  // BEGIN IMMEDIATE; PostgreSQL: SELECT ... FOR UPDATE of the state's one
  // row, so replicas take turns; memory: under the store's mutex), so it
  // must not call into the store. It may run more than once for one call
  // (PostgreSQL runs a conflicting transaction again): it must assign its
  // outputs, not accumulate them. Its error rolls everything back and is
  // returned as is.
  using PolicyStateUpdate =
      absl::FunctionRef<absl::StatusOr<std::string>(std::string_view old_state)>;

  // The state as last committed ("" if never written).
  virtual absl::StatusOr<std::string> GetPolicyState() = 0;

  // Replaces the state with update(stored state), in one transaction.
  virtual absl::Status UpdatePolicyState(PolicyStateUpdate update) = 0;

  // RecordReport and UpdatePolicyState in ONE transaction: the report is
  // "counted" exactly when the state it produced is stored. When
  // RecordReport would return false (this user already reported this
  // notification with this verdict), nothing is written and `update` does not
  // run; NotFound (notification unknown) likewise.
  virtual absl::StatusOr<bool> RecordReportWithPolicy(std::string_view user,
                                                      int64_t notification_id, int verdict,
                                                      absl::Time time,
                                                      PolicyStateUpdate update) = 0;

  // RecordPeerReport and UpdatePolicyState in ONE transaction; for a replay
  // (false) nothing is written and `update` does not run.
  virtual absl::StatusOr<bool> RecordPeerReportWithPolicy(const PeerReport& report,
                                                          PolicyStateUpdate update) = 0;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_STORAGE_RECIPIENT_STORE_H_
