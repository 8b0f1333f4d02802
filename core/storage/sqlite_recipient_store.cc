// RecipientStore over SQLite (tables notifications, folders, entries,
// cached_bodies and cached_body_chunks, user_reports, peer_reports, the
// release queue `released`, and meta's uid_validity counter; schema in
// sqlite_db.cc). A cached body is its size in cached_bodies plus chunk rows
// (sqlite_db.h).
//
// Every method that changes more than one row runs in one IMMEDIATE
// transaction, so a folder's uid_next/highest_modseq and its entries never
// disagree, even after a crash.
#include <algorithm>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/imap/imap_mime.h"
#include "core/logic/body_cache_key.h"
#include "core/logic/body_retention.h"
#include "core/mail/flags.h"
#include "core/storage/sqlite_db.h"
#include "core/storage/sqlite_store.h"
#include "core/util/logging.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

constexpr char kNotificationColumns[] =
    "id, signing_domain, message_id, envelope_sender, signed_bytes, body_sha256, body_size, "
    "fetch_token, summary, created_us, expires_us, received_us, revoked";
constexpr char kEntryColumns[] =
    "user, folder, uid, notification_id, flags, seen, deleted, internal_date_us, modseq, state, "
    "reason";

// The columns a list such as kEntryColumns names.
constexpr int ColumnCount(std::string_view columns) {
  int n = 1;
  for (char c : columns) n += c == ',';
  return n;
}

// Batched lookups bind this many values to one cached statement's IN list
// (a shorter batch repeats its last value).
constexpr size_t kInGroup = 32;
// When the release pass looks again at the newest row, which it keeps
// (an idle node pays one small transaction per period for it).
constexpr int64_t kNewestRowRetryUs = 10'000'000;
// The most one ReadCachedBody call reads (its callers ask for slices).
constexpr uint64_t kMaxSlice = uint64_t{1} << 30;

// "?3, ?4, ..." : `n` numbered parameters from `first`.
std::string Params(int first, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) absl::StrAppend(&out, i > 0 ? ", ?" : "?", first + i);
  return out;
}

// "e.user, e.folder, ..." for a column list.
std::string Prefixed(std::string_view prefix, std::string_view columns) {
  std::string out;
  for (absl::string_view c : absl::StrSplit(AV(columns), ", ")) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", AV(prefix), c);
  }
  return out;
}

std::vector<uint32_t> SortedUnique(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  return uids;
}

// A folder's row (its counts are computed on demand by FolderWithCounts).
struct FolderRow {
  uint32_t uid_validity = 0;
  uint32_t uid_next = 1;
  uint64_t highest_modseq = 1;  // a new folder's (types.h)
};

class SqliteRecipientStore : public RecipientStore {
 public:
  explicit SqliteRecipientStore(std::shared_ptr<SqliteDb> db) : db_(std::move(db)) {
    // A database opened below migration 10 (only the migration tests do,
    // to write an older version's data) has no table for structure records.
    absl::MutexLock lock(&db_->mu());
    absl::StatusOr<int> v = db_->SchemaVersion();
    keeps_structures_ = v.ok() && *v >= 10;
    counts_reads_ = v.ok() && *v >= 9;
    queues_released_ = v.ok() && *v >= 11;
    // Chunks of bodies whose writing a crash cut off (StartBody): never
    // visible, only taking room.
    Statement st(db_.get(),
                 "DELETE FROM cached_body_chunks WHERE sha256 NOT IN "
                 "(SELECT sha256 FROM cached_bodies)");
    if (absl::Status s = st.Run(); !s.ok()) PM_LOG(WARNING) << "sqlite: " << s;
  }

  // --- Notifications -------------------------------------------------------

  absl::StatusOr<std::vector<InsertResult>> InsertNotifications(
      const std::vector<NotificationInsert>& batch) override {
    for (const NotificationInsert& item : batch) {
      std::set<std::pair<std::string_view, std::string>> seen;
      for (const EntryPlacement& p : item.placements) {
        if (p.user.empty() || p.folder.empty()) {
          return absl::InvalidArgumentError("placement with empty user or folder");
        }
        if (!seen.emplace(p.user, NormalizeFolderName(p.folder)).second) {
          return absl::InvalidArgumentError(
              absl::StrCat("two placements in ", p.user, "/", p.folder, " for one notification"));
        }
      }
    }
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    RETURN_IF_ERROR(txn.Begin());
    std::vector<InsertResult> results;
    results.reserve(batch.size());
    FolderRows folders;
    for (const NotificationInsert& item : batch) {
      const StoredNotification& n = item.notification;
      InsertResult& r = results.emplace_back();
      // The insert finds a duplicate itself (the unique index it has to
      // probe anyway): only then is the stored id looked up.
      bool inserted = false;
      {
        Statement st(db_.get(),
                     "INSERT INTO notifications(signing_domain, message_id, envelope_sender, "
                     "signed_bytes, body_sha256, body_size, fetch_token, summary, created_us, "
                     "expires_us, received_us, revoked) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                     "ON CONFLICT(signing_domain, message_id) DO NOTHING");
        // `n` outlives the statement: its bytes are bound without a copy.
        st.TextNoCopy(1, n.signing_domain)
            .TextNoCopy(2, n.message_id)
            .TextNoCopy(3, n.envelope_sender)
            .BlobNoCopy(4, n.signed_bytes)
            .BlobNoCopy(5, n.body_sha256)
            .Int(6, static_cast<int64_t>(n.body_size))
            .BlobNoCopy(7, n.fetch_token)
            .BlobNoCopy(8, n.summary)
            .Int(9, TimeToStoredMicros(n.created))
            .Int(10, TimeToStoredMicros(n.expires))
            .Int(11, TimeToStoredMicros(n.received))
            .Int(12, n.revoked ? 1 : 0);
        RETURN_IF_ERROR(st.Run());
        inserted = sqlite3_changes(db_->handle()) > 0;
      }
      if (!inserted) {
        ASSIGN_OR_RETURN(std::optional<int64_t> existing,
                         FindIdLocked(n.signing_domain, n.message_id));
        if (!existing.has_value()) {
          return absl::InternalError("sqlite: a notification neither inserted nor found");
        }
        r.duplicate = true;
        r.notification_id = *existing;
        continue;
      }
      r.notification_id = sqlite3_last_insert_rowid(db_->handle());
      for (const EntryPlacement& p : item.placements) {
        MailboxEntry e;
        e.user = p.user;
        e.folder = NormalizeFolderName(p.folder);
        e.notification_id = r.notification_id;
        e.internal_date = TruncateToMicros(n.received);
        e.state = p.state;
        e.reason = p.reason;
        e.flags = p.flags;
        NormalizeFlags(e.flags);
        RETURN_IF_ERROR(AppendEntryLocked(e, &folders));
        r.entries.push_back(std::move(e));
      }
    }
    RETURN_IF_ERROR(WriteFoldersLocked(folders));
    RETURN_IF_ERROR(txn.Commit());
    return results;
  }

  absl::StatusOr<StoredNotification> GetNotification(int64_t id) override {
    SqliteDb::ReadLock r(db_.get());
    Statement st(r.db(),
                 absl::StrCat("SELECT ", kNotificationColumns, " FROM notifications WHERE id = ?"));
    st.Int(1, id);
    ASSIGN_OR_RETURN(std::vector<StoredNotification> found, ReadNotifications(st));
    if (found.empty()) return absl::NotFoundError(absl::StrCat("no notification ", id));
    return std::move(found.front());
  }

  absl::StatusOr<std::vector<std::optional<StoredNotification>>> GetNotifications(
      const std::vector<int64_t>& ids) override {
    std::vector<std::optional<StoredNotification>> out;
    out.reserve(ids.size());
    if (ids.empty()) return out;
    // One read transaction on a reader for them all: each read on its own
    // would take and drop the WAL read lock (fcntl calls) every time.
    SqliteDb::ReadLock r(db_.get());
    RETURN_IF_ERROR(r.Snapshot());
    const std::string sql =
        absl::StrCat("SELECT ", kNotificationColumns, " FROM notifications WHERE id = ?");
    for (int64_t id : ids) {
      Statement st(r.db(), sql);
      st.Int(1, id);
      ASSIGN_OR_RETURN(std::vector<StoredNotification> found, ReadNotifications(st));
      if (found.empty()) {
        out.push_back(std::nullopt);
      } else {
        out.push_back(std::move(found.front()));
      }
    }
    return out;
  }

  absl::StatusOr<StoredNotification> FindNotification(std::string_view signing_domain,
                                                      std::string_view message_id) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), absl::StrCat("SELECT ", kNotificationColumns,
                                         " FROM notifications WHERE signing_domain = ? AND "
                                         "message_id = ?"));
    st.Text(1, signing_domain).Text(2, message_id);
    ASSIGN_OR_RETURN(std::vector<StoredNotification> found, ReadNotifications(st));
    if (found.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no notification ", AV(message_id), " from ", AV(signing_domain)));
    }
    return std::move(found.front());
  }

  absl::StatusOr<int64_t> FindNotificationId(std::string_view signing_domain,
                                             std::string_view message_id) override {
    absl::MutexLock lock(&db_->mu());
    ASSIGN_OR_RETURN(std::optional<int64_t> id, FindIdLocked(signing_domain, message_id));
    if (!id.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("no notification ", AV(message_id), " from ", AV(signing_domain)));
    }
    return *id;
  }

  absl::StatusOr<std::vector<std::optional<int64_t>>> FindNotificationIds(
      const std::vector<NotificationKey>& keys) override {
    std::vector<std::optional<int64_t>> out;
    out.reserve(keys.size());
    if (keys.empty()) return out;
    absl::MutexLock lock(&db_->mu());
    // One read transaction for them all: each lookup on its own would take
    // and drop the WAL read lock (fcntl calls) every time.
    RETURN_IF_ERROR(db_->Exec("BEGIN"));
    absl::Status status;
    for (const NotificationKey& k : keys) {
      absl::StatusOr<std::optional<int64_t>> id = FindIdLocked(k.signing_domain, k.message_id);
      if (!id.ok()) {
        status = id.status();
        break;
      }
      out.push_back(*id);
    }
    absl::Status end = db_->Exec(status.ok() ? "COMMIT" : "ROLLBACK");
    if (!status.ok()) return status;
    RETURN_IF_ERROR(end);
    return out;
  }

  absl::StatusOr<std::vector<StoredNotification>> NotificationsByBodyHash(
      std::string_view body_sha256) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), absl::StrCat("SELECT ", kNotificationColumns,
                                         " FROM notifications WHERE body_sha256 = ? ORDER BY id"));
    st.Blob(1, body_sha256);
    return ReadNotifications(st);
  }

  absl::Status MarkNotificationRevoked(int64_t id) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), "UPDATE notifications SET revoked = 1 WHERE id = ?");
    st.Int(1, id);
    RETURN_IF_ERROR(st.Run());
    if (sqlite3_changes(db_->handle()) == 0) {
      return absl::NotFoundError(absl::StrCat("no notification ", id));
    }
    return absl::OkStatus();
  }

  // --- Folders -------------------------------------------------------------

  absl::StatusOr<Folder> EnsureFolder(std::string_view user, std::string_view name) override {
    if (user.empty() || name.empty()) {
      return absl::InvalidArgumentError("empty user or folder name");
    }
    std::string folder = NormalizeFolderName(name);
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(FolderRow row, EnsureFolderLocked(user, folder));
    ASSIGN_OR_RETURN(Folder f, WithCountsLocked(db_.get(), user, folder, row));
    RETURN_IF_ERROR(txn.Commit());
    return f;
  }

  absl::StatusOr<Folder> GetFolder(std::string_view user, std::string_view name) override {
    std::string folder = NormalizeFolderName(name);
    SqliteDb::ReadLock r(db_.get());
    RETURN_IF_ERROR(r.Snapshot());  // the counts agree with the row
    ASSIGN_OR_RETURN(FolderRow row, RequireFolderLocked(r.db(), user, folder));
    return WithCountsLocked(r.db(), user, folder, row);
  }

  absl::StatusOr<std::vector<Folder>> ListFolders(std::string_view user) override {
    SqliteDb::ReadLock r(db_.get());
    RETURN_IF_ERROR(r.Snapshot());  // the counts agree with the rows
    std::vector<std::pair<std::string, FolderRow>> rows;
    {
      Statement st(r.db(),
                   "SELECT name, uid_validity, uid_next, highest_modseq FROM folders "
                   "WHERE user = ? ORDER BY name");
      st.Text(1, user);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        rows.emplace_back(st.ColText(0), FolderRow{static_cast<uint32_t>(st.ColInt(1)),
                                                   static_cast<uint32_t>(st.ColInt(2)),
                                                   static_cast<uint64_t>(st.ColInt(3))});
      }
    }
    std::vector<Folder> out;
    for (const auto& [name, row] : rows) {
      ASSIGN_OR_RETURN(Folder f, WithCountsLocked(r.db(), user, name, row));
      out.push_back(std::move(f));
    }
    return out;
  }

  absl::Status DeleteFolder(std::string_view user, std::string_view name) override {
    std::string folder = NormalizeFolderName(name);
    if (folder == kInbox) return absl::FailedPreconditionError("INBOX cannot be deleted");
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    RETURN_IF_ERROR(txn.Begin());
    if (queues_released_) {
      // Its entries' rows, for the release pass (they may have no entry left).
      Statement st(db_.get(),
                   "INSERT OR REPLACE INTO released(notification_id, due_us) "
                   "SELECT DISTINCT notification_id, 0 FROM entries WHERE user = ? AND folder = ?");
      st.Text(1, user).Text(2, folder);
      RETURN_IF_ERROR(st.Run());
    }
    {
      // Entries go with it (ON DELETE CASCADE); uid_validity is never reused
      // because the counter in meta only grows.
      Statement st(db_.get(), "DELETE FROM folders WHERE user = ? AND name = ?");
      st.Text(1, user).Text(2, folder);
      RETURN_IF_ERROR(st.Run());
      if (sqlite3_changes(db_->handle()) == 0) return NoFolder(user, folder);
    }
    return txn.Commit();
  }

  // --- Entries -------------------------------------------------------------

  absl::StatusOr<std::vector<MailboxEntry>> ListEntries(std::string_view user,
                                                        std::string_view folder_name,
                                                        uint32_t min_uid, size_t limit) override {
    std::string folder = NormalizeFolderName(folder_name);
    SqliteDb::ReadLock r(db_.get());
    RETURN_IF_ERROR(RequireFolderLocked(r.db(), user, folder).status());
    Statement st(r.db(), absl::StrCat("SELECT ", kEntryColumns,
                                         " FROM entries WHERE user = ? AND folder = ? AND "
                                         "uid >= ? ORDER BY uid LIMIT ?"));
    st.Text(1, user).Text(2, folder).Int(3, min_uid).Int(
        4, limit == 0 ? -1 : static_cast<int64_t>(limit));
    return ReadEntries(st);
  }

  absl::StatusOr<FolderChanges> ListFolderChanges(std::string_view user,
                                                  std::string_view folder_name,
                                                  uint64_t modseq) override {
    std::string folder = NormalizeFolderName(folder_name);
    SqliteDb::ReadLock r(db_.get());
    RETURN_IF_ERROR(r.Snapshot());  // the counts, changes and removals agree
    ASSIGN_OR_RETURN(FolderRow row, RequireFolderLocked(r.db(), user, folder));
    FolderChanges out;
    out.folder.name = folder;
    out.folder.uid_validity = row.uid_validity;
    out.folder.uid_next = row.uid_next;
    out.folder.highest_modseq = row.highest_modseq;
    {
      Statement st(r.db(),
                   "SELECT state, COUNT(*), COALESCE(SUM(seen = 0), 0) FROM entries "
                   "WHERE user = ? AND folder = ? GROUP BY state");
      st.Text(1, user).Text(2, folder);
      while (true) {
        ASSIGN_OR_RETURN(bool has, st.Step());
        if (!has) break;
        StateCount c{static_cast<EntryState>(st.ColInt(0)), static_cast<uint32_t>(st.ColInt(1)),
                     static_cast<uint32_t>(st.ColInt(2))};
        out.folder.messages += c.entries;
        out.folder.unseen += c.unseen;
        out.by_state.push_back(c);
      }
    }
    {
      Statement st(r.db(), absl::StrCat("SELECT ", kEntryColumns,
                                        " FROM entries WHERE user = ? AND folder = ? AND "
                                        "modseq > ? ORDER BY uid"));
      st.Text(1, user).Text(2, folder).Int(3, static_cast<int64_t>(modseq));
      ASSIGN_OR_RETURN(out.changed, ReadEntries(st));
    }
    ASSIGN_OR_RETURN(out.expunged, ExpungedSinceLocked(r.db(), user, folder, modseq));
    return out;
  }

  absl::StatusOr<MailboxEntry> GetEntry(std::string_view user, std::string_view folder_name,
                                        uint32_t uid) override {
    std::string folder = NormalizeFolderName(folder_name);
    SqliteDb::ReadLock r(db_.get());
    RETURN_IF_ERROR(RequireFolderLocked(r.db(), user, folder).status());
    ASSIGN_OR_RETURN(std::optional<MailboxEntry> e, ReadEntryLocked(r.db(), user, folder, uid));
    if (!e.has_value()) return NoEntry(user, folder, uid);
    return std::move(*e);
  }

  absl::StatusOr<std::vector<std::optional<EntryForRead>>> GetEntriesForRead(
      std::string_view user, std::string_view folder_name,
      const std::vector<uint32_t>& uids) override {
    std::string folder = NormalizeFolderName(folder_name);
    // One statement for a group of kInGroup UIDs, and one for a single UID
    // (a one-message FETCH should not bind 32).
    // The user's read mark comes along (a LEFT JOIN on its primary key), so
    // that a read of the set asks IsReadCounted of none of them.
    auto sql = [](size_t group, bool marks) {
      return absl::StrCat(
          "SELECT ", Prefixed("e.", kEntryColumns), ", ", Prefixed("n.", kNotificationColumns),
          marks ? ", r.notification_id IS NOT NULL" : ", NULL",
          " FROM entries e JOIN notifications n ON n.id = e.notification_id ",
          marks ? "LEFT JOIN read_counted r ON r.user = e.user AND r.notification_id = n.id " : "",
          "WHERE e.user = ?1 AND e.folder = ?2 AND e.uid IN (", Params(3, group), ")");
    };
    static const std::string group_sql = sql(kInGroup, true), one_sql = sql(1, true),
                             old_group_sql = sql(kInGroup, false), old_one_sql = sql(1, false);
    constexpr int kNotificationAt = 11;  // kEntryColumns' count
    constexpr int kCountedAt = 24;       // after kNotificationColumns'
    static_assert(kNotificationAt == ColumnCount(kEntryColumns));
    static_assert(kCountedAt == kNotificationAt + ColumnCount(kNotificationColumns));
    SqliteDb::ReadLock r(db_.get());
    // One state of the folder for the whole set.
    if (uids.size() > kInGroup) RETURN_IF_ERROR(r.Snapshot());
    RETURN_IF_ERROR(RequireFolderLocked(r.db(), user, folder).status());
    std::vector<std::optional<EntryForRead>> out(uids.size());
    for (size_t first = 0; first < uids.size(); first += kInGroup) {
      const size_t n = std::min(kInGroup, uids.size() - first);
      const size_t group = n == 1 ? 1 : kInGroup;
      Statement st(r.db(), counts_reads_ ? (n == 1 ? one_sql : group_sql)
                                         : (n == 1 ? old_one_sql : old_group_sql));
      st.Text(1, user).Text(2, folder);
      for (size_t i = 0; i < group; ++i) st.Int(3 + i, uids[first + std::min(i, n - 1)]);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        EntryForRead found;
        RETURN_IF_ERROR(EntryFromRow(st, 0, &found.entry));
        NotificationFromRow(st, kNotificationAt, &found.notification);
        if (counts_reads_) found.read_counted = st.ColInt(kCountedAt) != 0;
        // A UID asked for twice in the group gets the row twice.
        size_t last = first + n;
        for (size_t i = first; i < first + n; ++i) {
          if (uids[i] == found.entry.uid) last = i;
        }
        for (size_t i = first; i < first + n; ++i) {
          if (uids[i] != found.entry.uid) continue;
          if (i == last) {
            out[i] = std::move(found);
          } else {
            out[i] = found;
          }
        }
      }
    }
    return out;
  }

  absl::StatusOr<std::vector<MailboxEntry>> EntriesForNotification(
      int64_t notification_id) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), absl::StrCat("SELECT ", kEntryColumns,
                                         " FROM entries WHERE notification_id = ? "
                                         "ORDER BY user, folder, uid"));
    st.Int(1, notification_id);
    return ReadEntries(st);
  }

  absl::StatusOr<SetFlagsResult> SetFlagsUnchangedSince(
      std::string_view user, std::string_view folder_name, const std::vector<uint32_t>& uids,
      FlagOp op, std::vector<std::string> flags,
      std::optional<uint64_t> unchanged_since) override {
    NormalizeFlags(flags);
    std::string folder = NormalizeFolderName(folder_name);
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get(), Durability::kRelaxed);  // a flag change (header comment)
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(FolderRow row, RequireFolderLocked(db_.get(), user, folder));
    SetFlagsResult out;
    const uint64_t modseq_before = row.highest_modseq;
    for (uint32_t uid : SortedUnique(uids)) {
      ASSIGN_OR_RETURN(std::optional<MailboxEntry> e, ReadEntryLocked(db_.get(), user, folder, uid));
      if (!e.has_value()) continue;
      if (unchanged_since.has_value() && e->modseq > *unchanged_since) {
        out.modified.push_back(uid);
        continue;
      }
      std::vector<std::string> next = ApplyFlags(e->flags, op, flags);
      if (next != e->flags) {
        e->flags = std::move(next);
        e->modseq = ++row.highest_modseq;
        Statement st(db_.get(),
                     "UPDATE entries SET flags = ?, seen = ?, deleted = ?, modseq = ? "
                     "WHERE user = ? AND folder = ? AND uid = ?");
        st.Blob(1, EncodeStringList(e->flags))
            .Int(2, HasFlag(e->flags, kSeenFlag))
            .Int(3, HasFlag(e->flags, kDeletedFlag))
            .Int(4, static_cast<int64_t>(e->modseq))
            .Text(5, user)
            .Text(6, folder)
            .Int(7, uid);
        RETURN_IF_ERROR(st.Run());
      }
      out.entries.push_back(std::move(*e));
    }
    if (row.highest_modseq != modseq_before) RETURN_IF_ERROR(WriteFolderLocked(user, folder, row));
    RETURN_IF_ERROR(txn.Commit());
    return out;
  }

  absl::StatusOr<CopyResult> CopyEntries(std::string_view user, std::string_view from_name,
                                         const std::vector<uint32_t>& uids,
                                         std::string_view to_name, bool move) override {
    std::string from = NormalizeFolderName(from_name);
    std::string to = NormalizeFolderName(to_name);
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(FolderRow src_row, RequireFolderLocked(db_.get(), user, from));
    ASSIGN_OR_RETURN(FolderRow dst_row, RequireFolderLocked(db_.get(), user, to));
    CopyResult result;
    result.uid_validity = dst_row.uid_validity;
    for (uint32_t uid : SortedUnique(uids)) {
      ASSIGN_OR_RETURN(std::optional<MailboxEntry> e, ReadEntryLocked(db_.get(), user, from, uid));
      if (!e.has_value()) continue;
      if (move) RETURN_IF_ERROR(DeleteEntryLocked(user, from, uid));
      e->folder = to;
      RETURN_IF_ERROR(AppendEntryLocked(*e));
      result.src.push_back(uid);
      result.dst.push_back(e->uid);
    }
    if (move && !result.src.empty()) {
      // The removal from the source is a change there (RFC 7162 3.2.10).
      // Re-read: when source and destination are one folder (MOVE into the
      // selected mailbox, RFC 6851 3.3) the appends moved its counters.
      ASSIGN_OR_RETURN(src_row, RequireFolderLocked(db_.get(), user, from));
      RETURN_IF_ERROR(RememberExpungedLocked(user, from, src_row, result.src));
    }
    RETURN_IF_ERROR(txn.Commit());
    return result;
  }

  absl::StatusOr<MailboxEntry> MoveEntry(std::string_view user, std::string_view folder_name,
                                         uint32_t uid, std::string_view to_name, EntryState state,
                                         std::string_view reason) override {
    std::string folder = NormalizeFolderName(folder_name);
    std::string to = NormalizeFolderName(to_name);
    if (to.empty()) return absl::InvalidArgumentError("empty destination folder");
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(FolderRow src_row, RequireFolderLocked(db_.get(), user, folder));
    ASSIGN_OR_RETURN(std::optional<MailboxEntry> e, ReadEntryLocked(db_.get(), user, folder, uid));
    if (!e.has_value()) return NoEntry(user, folder, uid);
    RETURN_IF_ERROR(DeleteEntryLocked(user, folder, uid));
    RETURN_IF_ERROR(RememberExpungedLocked(user, folder, src_row, {uid}));
    e->folder = to;
    e->state = state;
    e->reason = std::string(reason);
    RETURN_IF_ERROR(AppendEntryLocked(*e));
    RETURN_IF_ERROR(txn.Commit());
    return std::move(*e);
  }

  absl::StatusOr<std::vector<uint32_t>> Expunge(
      std::string_view user, std::string_view folder_name,
      const std::optional<std::vector<uint32_t>>& uids) override {
    std::string folder = NormalizeFolderName(folder_name);
    std::optional<std::vector<uint32_t>> only;
    if (uids.has_value()) only = SortedUnique(*uids);
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get(), Durability::kRelaxed);  // an expunge (header comment)
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(FolderRow row, RequireFolderLocked(db_.get(), user, folder));
    std::vector<uint32_t> expunged;
    std::vector<int64_t> rows;  // their notifications
    {
      Statement st(db_.get(),
                   "SELECT uid, notification_id FROM entries WHERE user = ? AND folder = ? AND "
                   "deleted = 1 ORDER BY uid");
      st.Text(1, user).Text(2, folder);
      while (true) {
        ASSIGN_OR_RETURN(bool has, st.Step());
        if (!has) break;
        uint32_t uid = static_cast<uint32_t>(st.ColInt(0));
        if (!only.has_value() || std::binary_search(only->begin(), only->end(), uid)) {
          expunged.push_back(uid);
          rows.push_back(st.ColInt(1));
        }
      }
    }
    for (uint32_t uid : expunged) RETURN_IF_ERROR(DeleteEntryLocked(user, folder, uid));
    if (!expunged.empty()) RETURN_IF_ERROR(RememberExpungedLocked(user, folder, row, expunged));
    RETURN_IF_ERROR(QueueReleasedLocked(rows));
    RETURN_IF_ERROR(txn.Commit());
    return expunged;
  }

  absl::StatusOr<std::vector<uint32_t>> ExpungedSince(std::string_view user,
                                                      std::string_view folder_name,
                                                      uint64_t modseq) override {
    std::string folder = NormalizeFolderName(folder_name);
    SqliteDb::ReadLock r(db_.get());
    RETURN_IF_ERROR(RequireFolderLocked(r.db(), user, folder).status());
    return ExpungedSinceLocked(r.db(), user, folder, modseq);
  }

  static absl::StatusOr<std::vector<uint32_t>> ExpungedSinceLocked(SqliteDb* c,
                                                                   std::string_view user,
                                                                   std::string_view folder,
                                                                   uint64_t modseq) {
    // Through expunged_by_modseq, and sorted here: with "ORDER BY uid" SQLite
    // chose the primary key, which is in UID order, and so read the folder's
    // whole history of removals on every refresh (it grows with every
    // expunge), however few were above the modseq.
    Statement st(c,
                 "SELECT uid FROM expunged INDEXED BY expunged_by_modseq "
                 "WHERE user = ? AND folder = ? AND modseq > ?");
    st.Text(1, user).Text(2, folder).Int(3, static_cast<int64_t>(modseq));
    std::vector<uint32_t> out;
    while (true) {
      ASSIGN_OR_RETURN(bool has, st.Step());
      if (!has) break;
      out.push_back(static_cast<uint32_t>(st.ColInt(0)));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  absl::Status SetEntryState(std::string_view user, std::string_view folder_name, uint32_t uid,
                             EntryState state, std::string_view reason) override {
    std::string folder = NormalizeFolderName(folder_name);
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(FolderRow row, RequireFolderLocked(db_.get(), user, folder));
    ++row.highest_modseq;
    {
      Statement st(db_.get(),
                   "UPDATE entries SET state = ?, reason = ?, modseq = ? "
                   "WHERE user = ? AND folder = ? AND uid = ?");
      st.Int(1, static_cast<int>(state))
          .Text(2, reason)
          .Int(3, static_cast<int64_t>(row.highest_modseq))
          .Text(4, user)
          .Text(5, folder)
          .Int(6, uid);
      RETURN_IF_ERROR(st.Run());
      if (sqlite3_changes(db_->handle()) == 0) return NoEntry(user, folder, uid);
    }
    RETURN_IF_ERROR(WriteFolderLocked(user, folder, row));
    return txn.Commit();
  }

  // --- Body cache ----------------------------------------------------------

  // Group commit: concurrent PutBody calls (a FETCH set's first reads, the
  // prefetcher) queue; one of them, the leader, writes every queued body in
  // one transaction and one commit (one fsync), and all return after it.
  // A batch that fails is retried one body per transaction, so that each
  // caller gets its own body's result.
  absl::Status PutBody(std::string_view body_sha256, std::string_view body) override {
    PendingBody me{body_sha256, body, MimeRecordOf(body)};  // parsed before any lock
    std::unique_lock<std::mutex> lock(put_mu_);
    put_queue_.push_back(&me);
    put_cv_.wait(lock, [&] { return me.done || !put_leader_; });
    if (me.done) return me.result;
    put_leader_ = true;
    std::vector<PendingBody*> batch;
    batch.swap(put_queue_);
    lock.unlock();
    absl::Status s = WriteBodies(batch);
    if (!s.ok() && batch.size() > 1) {
      for (PendingBody* p : batch) p->result = WriteBodies({p});
    } else {
      for (PendingBody* p : batch) p->result = s;
    }
    lock.lock();
    for (PendingBody* p : batch) p->done = true;
    put_leader_ = false;
    put_cv_.notify_all();
    return me.result;
  }

  // A batched fetch's bodies: one transaction (WriteBodies), or one each if
  // it fails, so that each body gets its own result.
  std::vector<absl::Status> PutBodies(
      const std::vector<std::pair<std::string_view, std::string_view>>& bodies) override {
    std::vector<PendingBody> mine;
    mine.reserve(bodies.size());
    std::vector<PendingBody*> batch;
    for (const auto& [key, body] : bodies) mine.push_back(PendingBody{key, body, MimeRecordOf(body)});
    for (PendingBody& p : mine) batch.push_back(&p);
    absl::Status s = WriteBodies(batch);
    std::vector<absl::Status> out;
    for (PendingBody* p : batch) out.push_back(!s.ok() && batch.size() > 1 ? WriteBodies({p}) : s);
    return out;
  }

  // Chunk rows as they fill (one relaxed transaction per kWriterFlush bytes),
  // the size row at Finish: ReadCachedBody and HasBody find nothing before
  // it, since both start from cached_bodies.
  class ChunkBodyWriter : public BodyWriter {
   public:
    ChunkBodyWriter(SqliteRecipientStore* store, std::string key, uint64_t size)
        : store_(store), key_(std::move(key)), size_(size) {}
    ~ChunkBodyWriter() override {
      if (!finished_ && wrote_) (void)store_->DropUncommittedChunks(key_);
    }

    absl::Status Append(std::string_view data) override {
      if (received_ + data.size() > size_) {
        return absl::InvalidArgumentError(
            absl::StrCat("body writer: more than the ", size_, " bytes announced"));
      }
      received_ += data.size();
      pending_.append(data);
      if (pending_.size() >= kWriterFlush) return Flush(/*all=*/false);
      return absl::OkStatus();
    }

    absl::Status Finish() override {
      if (received_ != size_) {
        return absl::InvalidArgumentError(
            absl::StrCat("body writer: ", received_, " of ", size_, " bytes"));
      }
      absl::MutexLock lock(&store_->db_->mu());
      Transaction txn(store_->db_.get(), Durability::kRelaxed);  // the body cache
      RETURN_IF_ERROR(txn.Begin());
      {
        Statement st(store_->db_.get(), "SELECT 1 FROM cached_bodies WHERE sha256 = ?");
        st.Blob(1, key_);
        ASSIGN_OR_RETURN(bool cached, st.Step());
        if (cached) {  // cached meanwhile: that body stays, and so do its chunks
          finished_ = true;
          return absl::OkStatus();
        }
      }
      {
        Statement st(store_->db_.get(), "INSERT INTO cached_bodies(sha256, size) VALUES(?, ?)");
        st.Blob(1, key_).Int(2, static_cast<int64_t>(size_));
        RETURN_IF_ERROR(st.Run());
      }
      RETURN_IF_ERROR(WriteChunks(/*all=*/true));
      {
        // Every chunk written is still there (a DeleteBody of this key in
        // between would have taken some).
        Statement st(store_->db_.get(), "SELECT COUNT(*) FROM cached_body_chunks WHERE sha256 = ?");
        st.Blob(1, key_);
        ASSIGN_OR_RETURN(bool row, st.Step());
        const uint64_t want = (size_ + kStoredBodyChunkSize - 1) / kStoredBodyChunkSize;
        if (!row || static_cast<uint64_t>(st.ColInt(0)) != want) {
          return absl::AbortedError("body writer: chunks went missing while the body was written");
        }
      }
      RETURN_IF_ERROR(txn.Commit());
      finished_ = true;
      return absl::OkStatus();
    }

   private:
    // Whole chunks of pending_ (and, with `all`, the last partial one) in
    // one transaction. The chunk rows of an unfinished body have no
    // cached_bodies row yet, which their foreign key would refuse: the
    // connection's foreign keys are off for this one transaction (the
    // caller holds mu(), so no other transaction runs meanwhile), and on
    // again before the lock is let go.
    absl::Status Flush(bool all) {
      absl::MutexLock lock(&store_->db_->mu());
      RETURN_IF_ERROR(store_->db_->Exec("PRAGMA foreign_keys=OFF"));
      absl::Status s = [&]() -> absl::Status {
        Transaction txn(store_->db_.get(), Durability::kRelaxed);
        RETURN_IF_ERROR(txn.Begin());
        RETURN_IF_ERROR(WriteChunks(all));
        return txn.Commit();
      }();
      absl::Status on = store_->db_->Exec("PRAGMA foreign_keys=ON");
      if (!s.ok()) return s;
      return on;
    }
    absl::Status WriteChunks(bool all) ABSL_EXCLUSIVE_LOCKS_REQUIRED(store_->db_->mu()) {
      size_t pos = 0;
      while (pending_.size() - pos >= kStoredBodyChunkSize ||
             (all && pos < pending_.size())) {
        const std::string_view chunk =
            std::string_view(pending_).substr(pos, kStoredBodyChunkSize);
        Statement st(store_->db_.get(),
                     "INSERT OR REPLACE INTO cached_body_chunks(sha256, idx, data) "
                     "VALUES(?1, ?2, ?3)");
        st.Blob(1, key_).Int(2, static_cast<int64_t>(next_idx_)).BlobNoCopy(3, chunk);
        RETURN_IF_ERROR(st.Run());
        wrote_ = true;
        ++next_idx_;
        pos += chunk.size();
      }
      pending_.erase(0, pos);
      return absl::OkStatus();
    }

    SqliteRecipientStore* store_;
    const std::string key_;
    const uint64_t size_;
    uint64_t received_ = 0;
    uint64_t next_idx_ = 0;
    std::string pending_;  // less than kWriterFlush bytes between Appends
    bool wrote_ = false;
    bool finished_ = false;
  };
  static constexpr size_t kWriterFlush = 4 * kStoredBodyChunkSize;

  absl::StatusOr<std::unique_ptr<BodyWriter>> StartBody(std::string_view key,
                                                        uint64_t size) override {
    // Left by a writer of this key that did not finish (a crash between two
    // flushes): written again from the start.
    RETURN_IF_ERROR(DropUncommittedChunks(key));
    return std::make_unique<ChunkBodyWriter>(this, std::string(key), size);
  }

  // The chunk rows of `key` when it has no size row (an unfinished write).
  absl::Status DropUncommittedChunks(std::string_view key) {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(),
                 "DELETE FROM cached_body_chunks WHERE sha256 = ?1 AND NOT EXISTS "
                 "(SELECT 1 FROM cached_bodies WHERE sha256 = ?1)");
    st.Blob(1, key);
    return st.Run();
  }

  absl::StatusOr<bool> HasBody(std::string_view body_sha256) override {
    SqliteDb::ReadLock r(db_.get());
    Statement st(r.db(), "SELECT 1 FROM cached_bodies WHERE sha256 = ?");
    st.Blob(1, body_sha256);
    return st.Step();
  }

  absl::StatusOr<uint64_t> CachedBodySize(std::string_view body_sha256) override {
    SqliteDb::ReadLock r(db_.get());
    return CachedBodySizeLocked(r.db(), body_sha256);
  }

  // One statement: the size and the chunks the slice overlaps (a FETCH
  // reads every cached message this way, most of them in one chunk).
  absl::StatusOr<std::string> ReadCachedBody(std::string_view body_sha256, uint64_t offset,
                                             size_t max_len) override {
    SqliteDb::ReadLock r(db_.get());
    const uint64_t want_end = offset + std::min<uint64_t>(max_len, kMaxSlice);
    Statement st(r.db(),
                 "SELECT c.size, k.idx, k.data FROM cached_bodies c LEFT JOIN cached_body_chunks k "
                 "ON k.sha256 = c.sha256 AND k.idx BETWEEN ?2 AND ?3 WHERE c.sha256 = ?1 "
                 "ORDER BY k.idx");
    st.Blob(1, body_sha256)
        .Int(2, static_cast<int64_t>(offset / kStoredBodyChunkSize))
        .Int(3, static_cast<int64_t>(want_end == offset ? offset / kStoredBodyChunkSize
                                                        : (want_end - 1) / kStoredBodyChunkSize));
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return absl::NotFoundError("body not cached");
    const uint64_t size = static_cast<uint64_t>(st.ColInt(0));
    if (offset > size) {
      return absl::OutOfRangeError(
          absl::StrCat("offset ", offset, " beyond cached body size ", size));
    }
    const uint64_t end = std::min(want_end, size);
    std::string out;
    if (end <= offset) return out;
    out.reserve(end - offset);
    uint64_t want = offset / kStoredBodyChunkSize;
    const uint64_t last = (end - 1) / kStoredBodyChunkSize;
    while (row && !st.ColIsNull(1) && want <= last) {
      if (static_cast<uint64_t>(st.ColInt(1)) != want) break;  // reported below
      RETURN_IF_ERROR(r.db()->AppendChunkSlice(size, offset, end, want, st.ColBlobView(2), &out));
      ++want;
      ASSIGN_OR_RETURN(row, st.Step());
    }
    if (want != last + 1) {
      return absl::DataLossError(absl::StrCat("sqlite ", r.db()->path(), ": body chunk ", want,
                                              " of a ", size, "-byte body is missing"));
    }
    return out;
  }

  absl::StatusOr<std::vector<bool>> HasBodies(const std::vector<std::string>& keys) override {
    SqliteDb::ReadLock r(db_.get());
    std::vector<bool> out(keys.size(), false);
    static const std::string group_sql = absl::StrCat(
        "SELECT sha256 FROM cached_bodies WHERE sha256 IN (", Params(3, kInGroup), ")");
    static const std::string one_sql =
        absl::StrCat("SELECT sha256 FROM cached_bodies WHERE sha256 IN (", Params(3, 1), ")");
    for (size_t first = 0; first < keys.size(); first += kInGroup) {
      const size_t n = std::min(kInGroup, keys.size() - first);
      const size_t group = n == 1 ? 1 : kInGroup;
      {
        Statement st(r.db(), n == 1 ? one_sql : group_sql);
        // Unused places repeat the last key.
        for (size_t i = 0; i < group; ++i) st.Blob(3 + i, keys[first + std::min(i, n - 1)]);
        while (true) {
          ASSIGN_OR_RETURN(bool row, st.Step());
          if (!row) break;
          std::string_view k = st.ColBlobView(0);
          for (size_t i = 0; i < n; ++i) {
            if (keys[first + i] == k) out[first + i] = true;
          }
        }
      }
    }
    return out;
  }

  // HasBodies' statement, joined to each small body's only chunk: a body of
  // at most one chunk's size is that chunk (kStoredBodyChunkSize), so one
  // statement per kInGroup keys reads them all.
  absl::StatusOr<std::vector<CachedBodyRead>> ReadCachedBodies(const std::vector<std::string>& keys,
                                                               size_t max_each,
                                                               size_t max_total) override {
    max_each = std::min(max_each, kStoredBodyChunkSize);
    SqliteDb::ReadLock r(db_.get());
    std::vector<CachedBodyRead> out(keys.size());
    auto sql = [](size_t group) {
      return absl::StrCat(
          "SELECT c.sha256, c.size, k.data FROM cached_bodies c LEFT JOIN cached_body_chunks k "
          "ON k.sha256 = c.sha256 AND k.idx = 0 AND c.size <= ?1 WHERE c.sha256 IN (",
          Params(2, group), ")");
    };
    static const std::string group_sql = sql(kInGroup), one_sql = sql(1);
    size_t total = 0;
    // One snapshot for the groups: fewer lock round trips on the reader.
    if (keys.size() > kInGroup) RETURN_IF_ERROR(r.Snapshot());
    for (size_t first = 0; first < keys.size(); first += kInGroup) {
      const size_t n = std::min(kInGroup, keys.size() - first);
      const size_t group = n == 1 ? 1 : kInGroup;
      Statement st(r.db(), n == 1 ? one_sql : group_sql);
      st.Int(1, static_cast<int64_t>(max_each));
      // Unused places repeat the last key.
      for (size_t i = 0; i < group; ++i) st.Blob(2 + i, keys[first + std::min(i, n - 1)]);
      while (true) {
        ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        const std::string_view k = st.ColBlobView(0);
        const uint64_t size = static_cast<uint64_t>(st.ColInt(1));
        // A 0-byte body has no chunk; a chunk of another size than the body
        // is damage that ReadCachedBody reports (no bytes here).
        const bool whole = size <= max_each && total + size <= max_total &&
                           (st.ColIsNull(2) ? size == 0 : st.ColBlobView(2).size() == size);
        std::optional<std::string> bytes;
        if (whole) {
          bytes.emplace(size == 0 ? std::string_view() : st.ColBlobView(2));
          total += size;
        }
        for (size_t i = first; i < first + n; ++i) {
          if (keys[i] != k || out[i].cached) continue;
          out[i].cached = true;
          out[i].bytes = bytes;
        }
      }
    }
    return out;
  }

  absl::StatusOr<std::string> GetBody(std::string_view body_sha256) override {
    SqliteDb::ReadLock r(db_.get());
    ASSIGN_OR_RETURN(uint64_t size, CachedBodySizeLocked(r.db(), body_sha256));
    return ReadChunksLocked(r.db(), body_sha256, size, 0, size);
  }

  absl::Status DeleteBody(std::string_view body_sha256) override {
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get(), Durability::kRelaxed);  // the body cache (header comment)
    RETURN_IF_ERROR(txn.Begin());
    // The structure record goes with the body (ON DELETE CASCADE).
    for (const char* sql : {"DELETE FROM cached_body_chunks WHERE sha256 = ?",
                            "DELETE FROM cached_bodies WHERE sha256 = ?"}) {
      Statement st(db_.get(), sql);
      st.Blob(1, body_sha256);
      RETURN_IF_ERROR(st.Run());
    }
    return txn.Commit();
  }

  absl::StatusOr<std::string> GetBodyStructure(std::string_view key) override {
    if (!keeps_structures_) return absl::NotFoundError("no structure records before migration 10");
    SqliteDb::ReadLock r(db_.get());
    Statement st(r.db(), "SELECT record FROM cached_body_structures WHERE sha256 = ?");
    st.Blob(1, key);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return absl::NotFoundError("no structure record");
    return st.ColBlob(0);
  }

  absl::Status PutBodyStructure(std::string_view key, std::string_view record) override {
    if (!keeps_structures_) return absl::OkStatus();
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get(), Durability::kRelaxed);  // the body cache (header comment)
    RETURN_IF_ERROR(txn.Begin());
    {
      Statement st(db_.get(), "SELECT 1 FROM cached_bodies WHERE sha256 = ?");
      st.Blob(1, key);
      ASSIGN_OR_RETURN(bool cached, st.Step());
      if (!cached) return absl::NotFoundError("body not cached");
    }
    Statement st(db_.get(),
                 "INSERT OR REPLACE INTO cached_body_structures(sha256, record) VALUES(?, ?)");
    st.Blob(1, key).Blob(2, record);
    RETURN_IF_ERROR(st.Run());
    return txn.Commit();
  }

  // --- Space of expunged mail ----------------------------------------------

  absl::StatusOr<ReleaseStats> ReleaseUnreferenced(absl::Time now, size_t max) override {
    ReleaseStats stats;
    if (!queues_released_ || max == 0) return stats;
    const int64_t now_us = TimeToStoredMicros(now);
    absl::MutexLock lock(&db_->mu());
    // Relaxed, as Expunge is: an OS crash may undo the pass, whose queue
    // then comes back and is worked again.
    Transaction txn(db_.get(), Durability::kRelaxed);
    RETURN_IF_ERROR(txn.Begin());
    std::vector<int64_t> ids;
    {
      Statement st(db_.get(),
                   "SELECT notification_id FROM released WHERE due_us <= ? ORDER BY due_us "
                   "LIMIT ?");
      st.Int(1, now_us).Int(2, static_cast<int64_t>(max) + 1);
      while (true) {
        ASSIGN_OR_RETURN(bool has, st.Step());
        if (!has) break;
        ids.push_back(st.ColInt(0));
      }
    }
    if (ids.size() > max) {
      stats.more = true;
      ids.resize(max);
    }
    if (ids.empty()) return stats;
    // The newest row stays while it is the newest: SQLite gives a new row
    // max(id) + 1, and an id must never name two messages (the node keeps
    // verdicts and read marks by id).
    int64_t newest = 0;
    {
      Statement st(db_.get(), "SELECT COALESCE(MAX(id), 0) FROM notifications");
      ASSIGN_OR_RETURN(bool has, st.Step());
      if (has) newest = st.ColInt(0);
    }
    for (int64_t id : ids) {
      ++stats.examined;
      std::optional<StoredNotification> n;
      {
        Statement st(db_.get(),
                     "SELECT signing_domain, envelope_sender, body_sha256, "
                     "length(signed_bytes) > 0, expires_us FROM notifications WHERE id = ?");
        st.Int(1, id);
        ASSIGN_OR_RETURN(bool has, st.Step());
        if (has) {
          n.emplace();
          n->id = id;
          n->signing_domain = st.ColText(0);
          n->envelope_sender = st.ColText(1);
          n->body_sha256 = st.ColBlob(2);
          if (st.ColInt(3) != 0) n->signed_bytes = "signed";  // only IsLocalBody looks
          n->expires = StoredMicrosToTime(st.ColInt(4));
        }
      }
      if (!n.has_value()) {
        RETURN_IF_ERROR(UnqueueLocked(id));
        continue;
      }
      ReleaseFacts f;
      f.local = IsLocalBody(*n);
      f.expires = n->expires;
      ASSIGN_OR_RETURN(f.has_entries, HasEntriesLocked(id));
      const std::string key = BodyCacheKey(*n);
      std::optional<uint64_t> size;
      if (!f.has_entries) {
        absl::StatusOr<uint64_t> cached = CachedBodySizeLocked(db_.get(), key);
        if (cached.ok()) {
          size = *cached;
        } else if (!absl::IsNotFound(cached.status())) {
          return cached.status();
        }
        f.body_cached = size.has_value();
        if (f.body_cached) {
          ASSIGN_OR_RETURN(f.key_referenced, KeyReferencedLocked(*n, key));
        }
      }
      const ReleaseDecision d = DecideRelease(f, now);
      if (d.drop_body) {
        // The structure record goes with it (ON DELETE CASCADE).
        for (const char* sql : {"DELETE FROM cached_body_chunks WHERE sha256 = ?",
                                "DELETE FROM cached_bodies WHERE sha256 = ?"}) {
          Statement st(db_.get(), sql);
          st.Blob(1, key);
          RETURN_IF_ERROR(st.Run());
        }
        ++stats.bodies_dropped;
        stats.body_bytes_dropped += *size;
      }
      if (d.drop_row && id == newest) {
        RETURN_IF_ERROR(RequeueLocked(id, now_us + kNewestRowRetryUs));
      } else if (d.drop_row) {
        for (const char* sql : {"DELETE FROM user_reports WHERE notification_id = ?",
                                "DELETE FROM read_counted WHERE notification_id = ?",
                                "DELETE FROM notifications WHERE id = ?"}) {
          Statement st(db_.get(), sql);
          st.Int(1, id);
          RETURN_IF_ERROR(st.Run());
        }
        RETURN_IF_ERROR(UnqueueLocked(id));
        ++stats.rows_dropped;
      } else if (d.revisit.has_value()) {
        RETURN_IF_ERROR(RequeueLocked(id, TimeToStoredMicros(*d.revisit)));
      } else {
        RETURN_IF_ERROR(UnqueueLocked(id));
      }
    }
    RETURN_IF_ERROR(txn.Commit());
    return stats;
  }

  absl::Status RequeueUnreferenced(const std::vector<int64_t>& notification_ids) override {
    if (!queues_released_ || notification_ids.empty()) return absl::OkStatus();
    std::vector<int64_t> loose;
    {
      // A read first: the usual answer is "still referenced", which needs
      // no write.
      SqliteDb::ReadLock r(db_.get());
      if (notification_ids.size() > 1) RETURN_IF_ERROR(r.Snapshot());
      for (int64_t id : notification_ids) {
        Statement st(r.db(),
                     "SELECT 1 FROM notifications n WHERE n.id = ?1 AND NOT EXISTS "
                     "(SELECT 1 FROM entries e WHERE e.notification_id = ?1)");
        st.Int(1, id);
        ASSIGN_OR_RETURN(bool has, st.Step());
        if (has) loose.push_back(id);
      }
    }
    if (loose.empty()) return absl::OkStatus();
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get(), Durability::kRelaxed);
    RETURN_IF_ERROR(txn.Begin());
    for (int64_t id : loose) {
      Statement st(db_.get(),
                   "INSERT OR REPLACE INTO released(notification_id, due_us) "
                   "SELECT id, 0 FROM notifications WHERE id = ?");
      st.Int(1, id);
      RETURN_IF_ERROR(st.Run());
    }
    return txn.Commit();
  }

  absl::StatusOr<bool> ConfirmBody(std::string_view key) override {
    // On the writer: a release pass holds it from its check to its commit.
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), "SELECT 1 FROM cached_bodies WHERE sha256 = ?");
    st.Blob(1, key);
    return st.Step();
  }

  // --- Spam reports --------------------------------------------------------

  absl::StatusOr<bool> IsReadCounted(std::string_view user, int64_t notification_id) override {
    SqliteDb::ReadLock r(db_.get());  // a reader: no wait for the writer
    Statement st(r.db(), "SELECT 1 FROM read_counted WHERE user = ? AND notification_id = ?");
    st.Text(1, user).Int(2, notification_id);
    return st.Step();
  }

  absl::StatusOr<std::vector<bool>> MarkReadsCounted(const std::vector<ReadMark>& marks) override {
    std::vector<bool> out;
    out.reserve(marks.size());
    if (marks.empty()) return out;
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get(), Durability::kRelaxed);  // read marks (header comment)
    RETURN_IF_ERROR(txn.Begin());
    for (const ReadMark& m : marks) {
      Statement st(db_.get(),
                   "INSERT OR IGNORE INTO read_counted(user, notification_id) "
                   "SELECT ?, id FROM notifications WHERE id = ?");
      st.Text(1, m.user).Int(2, m.notification_id);
      RETURN_IF_ERROR(st.Run());
      out.push_back(sqlite3_changes(db_->handle()) > 0);
    }
    RETURN_IF_ERROR(txn.Commit());
    return out;
  }

  absl::StatusOr<bool> RecordReport(std::string_view user, int64_t notification_id, int verdict,
                                    absl::Time time) override {
    return RecordReportTxn(user, notification_id, verdict, time, nullptr);
  }

  absl::StatusOr<std::vector<UserReport>> ReportsForBodyHash(
      std::string_view body_sha256) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(),
                 "SELECT r.user, r.notification_id, r.verdict, r.time_us FROM user_reports r "
                 "JOIN notifications n ON n.id = r.notification_id WHERE n.body_sha256 = ? "
                 "ORDER BY r.notification_id, r.user");
    st.Blob(1, body_sha256);
    return ReadUserReports(st);
  }

  absl::StatusOr<std::vector<UserReport>> ReportsForSigningDomain(
      std::string_view signing_domain) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(),
                 "SELECT r.user, r.notification_id, r.verdict, r.time_us FROM user_reports r "
                 "JOIN notifications n ON n.id = r.notification_id WHERE n.signing_domain = ? "
                 "ORDER BY r.notification_id, r.user");
    st.Text(1, signing_domain);
    return ReadUserReports(st);
  }

  absl::StatusOr<bool> RecordPeerReport(const PeerReport& r) override {
    return RecordPeerReportTxn(r, nullptr);
  }

  absl::StatusOr<std::vector<PeerReport>> PeerReportsForBodyHash(
      std::string_view body_sha256) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(),
                 "SELECT peer_domain, report_id, body_sha256, verdict, count, time_us "
                 "FROM peer_reports WHERE body_sha256 = ? ORDER BY peer_domain, report_id");
    st.Blob(1, body_sha256);
    std::vector<PeerReport> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      PeerReport& r = out.emplace_back();
      r.peer_domain = st.ColText(0);
      r.report_id = st.ColText(1);
      r.body_sha256 = st.ColBlob(2);
      r.verdict = static_cast<int>(st.ColInt(3));
      r.count = static_cast<uint32_t>(st.ColInt(4));
      r.time = StoredMicrosToTime(st.ColInt(5));
    }
    return out;
  }

  // --- Spam-policy state ---------------------------------------------------
  // One row (migration 6), read and written inside a BEGIN IMMEDIATE
  // transaction: the database's write lock is held from the read to the
  // commit.

  absl::StatusOr<std::string> GetPolicyState() override {
    absl::MutexLock lock(&db_->mu());
    return ReadPolicyStateLocked();
  }

  absl::Status UpdatePolicyState(PolicyStateUpdate update) override {
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    RETURN_IF_ERROR(txn.Begin());
    RETURN_IF_ERROR(ApplyPolicyUpdateLocked(&update));
    return txn.Commit();
  }

  absl::StatusOr<bool> RecordReportWithPolicy(std::string_view user, int64_t notification_id,
                                              int verdict, absl::Time time,
                                              PolicyStateUpdate update) override {
    return RecordReportTxn(user, notification_id, verdict, time, &update);
  }

  absl::StatusOr<bool> RecordPeerReportWithPolicy(const PeerReport& report,
                                                  PolicyStateUpdate update) override {
    return RecordPeerReportTxn(report, &update);
  }

 private:
  absl::StatusOr<std::string> ReadPolicyStateLocked() {
    Statement st(db_.get(), "SELECT state FROM policy_state WHERE id = 1");
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.ColBlob(0) : std::string();
  }

  // Inside an open transaction: stores (*update)(stored state).
  absl::Status ApplyPolicyUpdateLocked(const PolicyStateUpdate* update) {
    if (update == nullptr) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::string old, ReadPolicyStateLocked());
    ASSIGN_OR_RETURN(std::string next, (*update)(old));
    Statement st(db_.get(), "INSERT OR REPLACE INTO policy_state(id, state) VALUES(1, ?)");
    st.Blob(1, next);
    return st.Run();
  }

  // A report and, if `update` is given and the report changes something,
  // the policy's state, in one transaction.
  absl::StatusOr<bool> RecordReportTxn(std::string_view user, int64_t notification_id,
                                       int verdict, absl::Time time,
                                       const PolicyStateUpdate* update) {
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    RETURN_IF_ERROR(txn.Begin());
    RETURN_IF_ERROR(RequireNotificationLocked(notification_id));
    {
      Statement st(db_.get(),
                   "SELECT verdict FROM user_reports WHERE user = ? AND notification_id = ?");
      st.Text(1, user).Int(2, notification_id);
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (row && st.ColInt(0) == verdict) return false;
    }
    {
      Statement st(db_.get(),
                   "INSERT OR REPLACE INTO user_reports(user, notification_id, verdict, time_us) "
                   "VALUES(?, ?, ?, ?)");
      st.Text(1, user).Int(2, notification_id).Int(3, verdict).Int(4, TimeToStoredMicros(time));
      RETURN_IF_ERROR(st.Run());
    }
    RETURN_IF_ERROR(ApplyPolicyUpdateLocked(update));
    RETURN_IF_ERROR(txn.Commit());
    return true;
  }

  absl::StatusOr<bool> RecordPeerReportTxn(const PeerReport& r, const PolicyStateUpdate* update) {
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    RETURN_IF_ERROR(txn.Begin());
    {
      Statement st(db_.get(),
                   "INSERT OR IGNORE INTO peer_reports(peer_domain, report_id, body_sha256, "
                   "verdict, count, time_us) VALUES(?, ?, ?, ?, ?, ?)");
      st.Text(1, r.peer_domain)
          .Text(2, r.report_id)
          .Blob(3, r.body_sha256)
          .Int(4, r.verdict)
          .Int(5, r.count)
          .Int(6, TimeToStoredMicros(r.time));
      RETURN_IF_ERROR(st.Run());
      if (sqlite3_changes(db_->handle()) == 0) return false;  // a replay: rolled back
    }
    RETURN_IF_ERROR(ApplyPolicyUpdateLocked(update));
    RETURN_IF_ERROR(txn.Commit());
    return true;
  }

  // Queues the rows of removed entries for the release pass, due at once.
  absl::Status QueueReleasedLocked(const std::vector<int64_t>& ids) {
    if (!queues_released_) return absl::OkStatus();
    std::vector<int64_t> unique = ids;
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    for (int64_t id : unique) RETURN_IF_ERROR(RequeueLocked(id, 0));
    return absl::OkStatus();
  }
  absl::Status RequeueLocked(int64_t id, int64_t due_us) {
    Statement st(db_.get(),
                 "INSERT OR REPLACE INTO released(notification_id, due_us) VALUES(?, ?)");
    st.Int(1, id).Int(2, due_us);
    return st.Run();
  }
  absl::Status UnqueueLocked(int64_t id) {
    Statement st(db_.get(), "DELETE FROM released WHERE notification_id = ?");
    st.Int(1, id);
    return st.Run();
  }
  absl::StatusOr<bool> HasEntriesLocked(int64_t id) {
    Statement st(db_.get(), "SELECT 1 FROM entries WHERE notification_id = ? LIMIT 1");
    st.Int(1, id);
    return st.Step();
  }
  // Whether an entry refers to a row other than `n` whose BodyCacheKey is
  // `key` (rows of the same hash, through notifications_by_body).
  absl::StatusOr<bool> KeyReferencedLocked(const StoredNotification& n, const std::string& key) {
    std::vector<int64_t> same;
    {
      Statement st(db_.get(),
                   "SELECT id, signing_domain, envelope_sender, length(signed_bytes) > 0 "
                   "FROM notifications WHERE body_sha256 = ?");
      st.Blob(1, n.body_sha256);
      while (true) {
        ASSIGN_OR_RETURN(bool has, st.Step());
        if (!has) break;
        StoredNotification m;
        m.id = st.ColInt(0);
        if (m.id == n.id) continue;
        m.body_sha256 = n.body_sha256;
        m.signing_domain = st.ColText(1);
        m.envelope_sender = st.ColText(2);
        if (st.ColInt(3) != 0) m.signed_bytes = "signed";
        if (BodyCacheKey(m) == key) same.push_back(m.id);
      }
    }
    for (int64_t id : same) {
      ASSIGN_OR_RETURN(bool has, HasEntriesLocked(id));
      if (has) return true;
    }
    return false;
  }

  // NotFound unless notification `id` exists.
  absl::Status RequireNotificationLocked(int64_t id) {
    Statement st(db_.get(), "SELECT 1 FROM notifications WHERE id = ?");
    st.Int(1, id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return absl::NotFoundError(absl::StrCat("no notification ", id));
    return absl::OkStatus();
  }

  static absl::Status NoFolder(std::string_view user, std::string_view folder) {
    return absl::NotFoundError(absl::StrCat("no folder ", AV(folder), " for ", AV(user)));
  }
  static absl::Status NoEntry(std::string_view user, std::string_view folder, uint32_t uid) {
    return absl::NotFoundError(absl::StrCat("no UID ", uid, " in ", AV(folder), " of ", AV(user)));
  }

  absl::StatusOr<std::optional<int64_t>> FindIdLocked(std::string_view signing_domain,
                                                      std::string_view message_id) {
    Statement st(db_.get(),
                 "SELECT id FROM notifications WHERE signing_domain = ? AND message_id = ?");
    st.Text(1, signing_domain).Text(2, message_id);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::nullopt;
    return st.ColInt(0);
  }

  absl::StatusOr<std::optional<FolderRow>> GetFolderRowLocked(SqliteDb* c, std::string_view user,
                                                              std::string_view folder) {
    Statement st(c,
                 "SELECT uid_validity, uid_next, highest_modseq FROM folders "
                 "WHERE user = ? AND name = ?");
    st.Text(1, user).Text(2, folder);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::nullopt;
    return FolderRow{static_cast<uint32_t>(st.ColInt(0)), static_cast<uint32_t>(st.ColInt(1)),
                     static_cast<uint64_t>(st.ColInt(2))};
  }

  absl::StatusOr<FolderRow> RequireFolderLocked(SqliteDb* c, std::string_view user, std::string_view folder) {
    ASSIGN_OR_RETURN(std::optional<FolderRow> row, GetFolderRowLocked(c, user, folder));
    if (!row.has_value()) return NoFolder(user, folder);
    return *row;
  }

  // Requires an open transaction (reads and bumps the uid_validity counter).
  absl::StatusOr<FolderRow> EnsureFolderLocked(std::string_view user, std::string_view folder) {
    ASSIGN_OR_RETURN(std::optional<FolderRow> existing, GetFolderRowLocked(db_.get(), user, folder));
    if (existing.has_value()) return *existing;
    FolderRow row;
    {
      Statement st(db_.get(),
                   "UPDATE meta SET value = value + 1 WHERE key = 'next_uid_validity' "
                   "RETURNING value - 1");
      ASSIGN_OR_RETURN(bool has, st.Step());
      if (!has) return absl::DataLossError("sqlite: meta.next_uid_validity missing");
      row.uid_validity = static_cast<uint32_t>(st.ColInt(0));
      RETURN_IF_ERROR(st.Run());
    }
    Statement st(db_.get(),
                 "INSERT INTO folders(user, name, uid_validity, uid_next, highest_modseq) "
                 "VALUES(?, ?, ?, ?, ?)");
    st.Text(1, user)
        .Text(2, folder)
        .Int(3, row.uid_validity)
        .Int(4, row.uid_next)
        .Int(5, static_cast<int64_t>(row.highest_modseq));
    RETURN_IF_ERROR(st.Run());
    return row;
  }

  absl::Status WriteFolderLocked(std::string_view user, std::string_view folder,
                                 const FolderRow& row) {
    Statement st(db_.get(),
                 "UPDATE folders SET uid_next = ?, highest_modseq = ? WHERE user = ? AND name = ?");
    st.Int(1, row.uid_next)
        .Int(2, static_cast<int64_t>(row.highest_modseq))
        .Text(3, user)
        .Text(4, folder);
    return st.Run();
  }

  absl::StatusOr<Folder> WithCountsLocked(SqliteDb* c, std::string_view user, std::string_view folder,
                                          const FolderRow& row) {
    Folder f;
    f.name = std::string(folder);
    f.uid_validity = row.uid_validity;
    f.uid_next = row.uid_next;
    f.highest_modseq = row.highest_modseq;
    Statement st(c,
                 "SELECT COUNT(*), COALESCE(SUM(seen = 0), 0) FROM entries "
                 "WHERE user = ? AND folder = ?");
    st.Text(1, user).Text(2, folder);
    ASSIGN_OR_RETURN(bool has, st.Step());
    if (has) {
      f.messages = static_cast<uint32_t>(st.ColInt(0));
      f.unseen = static_cast<uint32_t>(st.ColInt(1));
    }
    return f;
  }

  // Folder rows read and changed inside one transaction, written back once
  // at its end (WriteFoldersLocked): a group commit of many notifications
  // for one user reads and writes INBOX's row once, not once per entry.
  using FolderRows = std::map<std::pair<std::string, std::string>, FolderRow>;

  // Gives `e` the next UID and modseq of e.folder (created if missing) and
  // inserts it. Requires an open transaction. With `rows`, the folder's row
  // is taken from and left in *rows (the caller writes it back with
  // WriteFoldersLocked before committing); without, it is written at once.
  absl::Status AppendEntryLocked(MailboxEntry& e, FolderRows* rows = nullptr) {
    FolderRow* cached = nullptr;
    FolderRow own;
    if (rows != nullptr) {
      auto key = std::make_pair(e.user, e.folder);
      auto it = rows->find(key);
      if (it == rows->end()) {
        ASSIGN_OR_RETURN(FolderRow read, EnsureFolderLocked(e.user, e.folder));
        it = rows->emplace(std::move(key), read).first;
      }
      cached = &it->second;
    } else {
      ASSIGN_OR_RETURN(own, EnsureFolderLocked(e.user, e.folder));
    }
    FolderRow& row = cached != nullptr ? *cached : own;
    if (row.uid_next == 0) {
      // uid_next wrapped past 2^32-1: RFC 3501 would need a new UIDVALIDITY.
      return absl::ResourceExhaustedError(absl::StrCat("UIDs exhausted in ", e.folder));
    }
    e.uid = row.uid_next++;
    e.modseq = ++row.highest_modseq;
    {
      static const std::string kInsertEntry = absl::StrCat(
          "INSERT INTO entries(", kEntryColumns, ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      // `e` and `flags` outlive the statement: bound without a copy.
      const std::string flags = EncodeStringList(e.flags);
      Statement st(db_.get(), kInsertEntry);
      st.TextNoCopy(1, e.user)
          .TextNoCopy(2, e.folder)
          .Int(3, e.uid)
          .Int(4, e.notification_id)
          .BlobNoCopy(5, flags)
          .Int(6, HasFlag(e.flags, kSeenFlag))
          .Int(7, HasFlag(e.flags, kDeletedFlag))
          .Int(8, TimeToStoredMicros(e.internal_date))
          .Int(9, static_cast<int64_t>(e.modseq))
          .Int(10, static_cast<int>(e.state))
          .TextNoCopy(11, e.reason);
      RETURN_IF_ERROR(st.Run());
    }
    if (cached != nullptr) return absl::OkStatus();
    return WriteFolderLocked(e.user, e.folder, row);
  }

  absl::Status WriteFoldersLocked(const FolderRows& rows) {
    for (const auto& [key, row] : rows) {
      RETURN_IF_ERROR(WriteFolderLocked(key.first, key.second, row));
    }
    return absl::OkStatus();
  }

  // One removal from the folder (a change: its modseq goes up once) and its
  // UIDs, remembered with that modseq for ExpungedSince. Writes `row`.
  absl::Status RememberExpungedLocked(std::string_view user, std::string_view folder,
                                      FolderRow& row, const std::vector<uint32_t>& uids) {
    ++row.highest_modseq;
    for (uint32_t uid : uids) {
      Statement st(db_.get(),
                   "INSERT OR REPLACE INTO expunged(user, folder, uid, modseq) VALUES(?, ?, ?, ?)");
      st.Text(1, user).Text(2, folder).Int(3, uid).Int(4, static_cast<int64_t>(row.highest_modseq));
      RETURN_IF_ERROR(st.Run());
    }
    return WriteFolderLocked(user, folder, row);
  }

  absl::Status DeleteEntryLocked(std::string_view user, std::string_view folder, uint32_t uid) {
    Statement st(db_.get(), "DELETE FROM entries WHERE user = ? AND folder = ? AND uid = ?");
    st.Text(1, user).Text(2, folder).Int(3, uid);
    return st.Run();
  }

  absl::StatusOr<std::optional<MailboxEntry>> ReadEntryLocked(SqliteDb* c, std::string_view user,
                                                              std::string_view folder,
                                                              uint32_t uid) {
    Statement st(c, absl::StrCat("SELECT ", kEntryColumns,
                                         " FROM entries WHERE user = ? AND folder = ? AND uid = ?"));
    st.Text(1, user).Text(2, folder).Int(3, uid);
    ASSIGN_OR_RETURN(std::vector<MailboxEntry> found, ReadEntries(st));
    if (found.empty()) return std::nullopt;
    return std::move(found.front());
  }

  // Size of a cached body; NotFound if not cached.
  absl::StatusOr<uint64_t> CachedBodySizeLocked(SqliteDb* c, std::string_view body_sha256) {
    Statement st(c, "SELECT size FROM cached_bodies WHERE sha256 = ?");
    st.Blob(1, body_sha256);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return absl::NotFoundError("body not cached");
    return static_cast<uint64_t>(st.ColInt(0));
  }

  // [offset, offset + max_len) of a cached body of `size` bytes.
  absl::StatusOr<std::string> ReadChunksLocked(SqliteDb* c, std::string_view body_sha256, uint64_t size,
                                               uint64_t offset, size_t max_len) {
    return c->ReadBodyChunks(
        "SELECT idx, data FROM cached_body_chunks WHERE sha256 = ? AND idx BETWEEN ? AND ? "
        "ORDER BY idx",
        [&](Statement& st) { st.Blob(1, body_sha256); }, size, offset, max_len);
  }

  static absl::StatusOr<std::vector<MailboxEntry>> ReadEntries(Statement& st) {
    std::vector<MailboxEntry> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      RETURN_IF_ERROR(EntryFromRow(st, 0, &out.emplace_back()));
    }
    return out;
  }

  // kEntryColumns from column `c` on.
  static absl::Status EntryFromRow(Statement& st, int c, MailboxEntry* e) {
    e->user = st.ColText(c + 0);
    e->folder = st.ColText(c + 1);
    e->uid = static_cast<uint32_t>(st.ColInt(c + 2));
    e->notification_id = st.ColInt(c + 3);
    ASSIGN_OR_RETURN(e->flags, DecodeStringList(st.ColBlobView(c + 4)));
    // Columns 5 and 6 (seen, deleted) are derived from the flags.
    e->internal_date = StoredMicrosToTime(st.ColInt(c + 7));
    e->modseq = static_cast<uint64_t>(st.ColInt(c + 8));
    e->state = static_cast<EntryState>(st.ColInt(c + 9));
    e->reason = st.ColText(c + 10);
    return absl::OkStatus();
  }

  static absl::StatusOr<std::vector<StoredNotification>> ReadNotifications(Statement& st) {
    std::vector<StoredNotification> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      NotificationFromRow(st, 0, &out.emplace_back());
    }
    return out;
  }

  // kNotificationColumns from column `c` on.
  static void NotificationFromRow(Statement& st, int c, StoredNotification* n) {
    n->id = st.ColInt(c + 0);
    n->signing_domain = st.ColText(c + 1);
    n->message_id = st.ColText(c + 2);
    n->envelope_sender = st.ColText(c + 3);
    n->signed_bytes = st.ColBlob(c + 4);
    n->body_sha256 = st.ColBlob(c + 5);
    n->body_size = static_cast<uint64_t>(st.ColInt(c + 6));
    n->fetch_token = st.ColBlob(c + 7);
    n->summary = st.ColBlob(c + 8);
    n->created = StoredMicrosToTime(st.ColInt(c + 9));
    n->expires = StoredMicrosToTime(st.ColInt(c + 10));
    n->received = StoredMicrosToTime(st.ColInt(c + 11));
    n->revoked = st.ColInt(c + 12) != 0;
  }

  static absl::StatusOr<std::vector<UserReport>> ReadUserReports(Statement& st) {
    std::vector<UserReport> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      UserReport& r = out.emplace_back();
      r.user = st.ColText(0);
      r.notification_id = st.ColInt(1);
      r.verdict = static_cast<int>(st.ColInt(2));
      r.time = StoredMicrosToTime(st.ColInt(3));
    }
    return out;
  }

  // PutBody's group commit.
  struct PendingBody {
    std::string_view key;
    std::string_view body;
    std::string record;  // its MIME structure record (MimeRecordOf)
    absl::Status result;
    bool done = false;  // guarded by put_mu_
  };
  // One transaction for the lot. Already cached: the first body stays (the
  // size row and chunks were written together, so they are complete).
  absl::Status WriteBodies(const std::vector<PendingBody*>& batch) {
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get(), Durability::kRelaxed);  // the body cache (header comment)
    RETURN_IF_ERROR(txn.Begin());
    for (const PendingBody* p : batch) {
      {
        Statement st(db_.get(), "INSERT OR IGNORE INTO cached_bodies(sha256, size) VALUES(?, ?)");
        st.Blob(1, p->key).Int(2, static_cast<int64_t>(p->body.size()));
        RETURN_IF_ERROR(st.Run());
      }
      if (sqlite3_changes(db_->handle()) == 0) continue;
      RETURN_IF_ERROR(db_->InsertBodyChunks(
          kInsertCachedBodyChunkSql, [&](Statement& st) { st.Blob(1, p->key); }, p->body));
      if (!keeps_structures_) continue;
      Statement st(db_.get(),
                   "INSERT OR REPLACE INTO cached_body_structures(sha256, record) VALUES(?, ?)");
      st.Blob(1, p->key).Blob(2, p->record);
      RETURN_IF_ERROR(st.Run());
    }
    return txn.Commit();
  }

  std::shared_ptr<SqliteDb> db_;
  bool keeps_structures_ = false;  // the schema has cached_body_structures
  bool counts_reads_ = false;      // the schema has read_counted (migration 9)
  bool queues_released_ = false;   // the schema has released (migration 11)
  std::mutex put_mu_;
  std::condition_variable put_cv_;
  std::vector<PendingBody*> put_queue_;  // guarded by put_mu_
  bool put_leader_ = false;              // a PutBody is committing a batch; put_mu_
};

}  // namespace

std::unique_ptr<RecipientStore> NewSqliteRecipientStore(std::shared_ptr<SqliteDb> db) {
  return std::make_unique<SqliteRecipientStore>(std::move(db));
}

}  // namespace pullmail
