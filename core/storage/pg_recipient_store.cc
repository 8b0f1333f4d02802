// RecipientStore over PostgreSQL (tables notifications, folders, entries,
// cached_bodies and cached_body_chunks, user_reports, peer_reports and the
// pm_uid_validity sequence; schema in pg_db.cc).
//
// Several recipient-node replicas share it. A method that gives out UIDs or
// modseqs locks the folder row (SELECT ... FOR UPDATE) for its transaction,
// so replicas never hand out the same UID; a notification is deduplicated by
// the unique (signing_domain, message_id) index (INSERT ... ON CONFLICT DO
// NOTHING), so two replicas taking the same notification store it once.
// Every method that changes a user's mailbox sends NOTIFY kPgMailboxChannel
// with the user, delivered at commit to every listening replica.
#include <algorithm>
#include <memory>
#include <optional>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/imap/imap_mime.h"
#include "core/logic/body_cache_key.h"
#include "core/logic/body_retention.h"
#include "core/mail/flags.h"
#include "core/storage/pg_db.h"
#include "core/storage/pg_store.h"
#include "core/storage/sqlite_db.h"  // EncodeStringList: the same list encoding
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

constexpr char kNotificationColumns[] =
    "id, signing_domain, message_id, envelope_sender, signed_bytes, body_sha256, body_size, "
    "fetch_token, summary, created_us, expires_us, received_us, revoked";
constexpr char kEntryColumns[] =
    "usr, folder, uid, notification_id, flags, seen, deleted, internal_date_us, modseq, state, "
    "reason";

std::vector<uint32_t> SortedUnique(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  return uids;
}

struct FolderRow {
  uint32_t uid_validity = 0;
  uint32_t uid_next = 1;
  uint64_t highest_modseq = 1;  // a new folder's (types.h)
};

absl::Status NoFolder(std::string_view user, std::string_view folder) {
  return absl::NotFoundError(absl::StrCat("no folder ", AV(folder), " for ", AV(user)));
}
absl::Status NoEntry(std::string_view user, std::string_view folder, uint32_t uid) {
  return absl::NotFoundError(absl::StrCat("no UID ", uid, " in ", AV(folder), " of ", AV(user)));
}

absl::StatusOr<std::vector<MailboxEntry>> ReadEntries(const PgResult& r) {
  std::vector<MailboxEntry> out;
  for (int i = 0; i < r.rows(); ++i) {
    MailboxEntry& e = out.emplace_back();
    e.user = std::string(r.Text(i, 0));
    e.folder = std::string(r.Text(i, 1));
    e.uid = static_cast<uint32_t>(r.Int(i, 2));
    e.notification_id = r.Int(i, 3);
    ASSIGN_OR_RETURN(e.flags, DecodeStringList(r.Bytea(i, 4)));
    e.internal_date = StoredMicrosToTime(r.Int(i, 7));
    e.modseq = static_cast<uint64_t>(r.Int(i, 8));
    e.state = static_cast<EntryState>(r.Int(i, 9));
    e.reason = std::string(r.Text(i, 10));
  }
  return out;
}

std::vector<StoredNotification> ReadNotifications(const PgResult& r) {
  std::vector<StoredNotification> out;
  for (int i = 0; i < r.rows(); ++i) {
    StoredNotification& n = out.emplace_back();
    n.id = r.Int(i, 0);
    n.signing_domain = std::string(r.Text(i, 1));
    n.message_id = std::string(r.Text(i, 2));
    n.envelope_sender = std::string(r.Text(i, 3));
    n.signed_bytes = r.Bytea(i, 4);
    n.body_sha256 = r.Bytea(i, 5);
    n.body_size = static_cast<uint64_t>(r.Int(i, 6));
    n.fetch_token = r.Bytea(i, 7);
    n.summary = r.Bytea(i, 8);
    n.created = StoredMicrosToTime(r.Int(i, 9));
    n.expires = StoredMicrosToTime(r.Int(i, 10));
    n.received = StoredMicrosToTime(r.Int(i, 11));
    n.revoked = r.Int(i, 12) != 0;
  }
  return out;
}

std::vector<UserReport> ReadUserReports(const PgResult& r) {
  std::vector<UserReport> out;
  for (int i = 0; i < r.rows(); ++i) {
    UserReport& u = out.emplace_back();
    u.user = std::string(r.Text(i, 0));
    u.notification_id = r.Int(i, 1);
    u.verdict = static_cast<int>(r.Int(i, 2));
    u.time = StoredMicrosToTime(r.Int(i, 3));
  }
  return out;
}

// The queries of one transaction on one connection.
class Tx {
 public:
  Tx(PgConn& c, const std::string& channel) : c_(c), channel_(channel) {}

  absl::Status Changed(std::string_view user) {
    return c_.Exec("SELECT pg_notify($1, $2)", PgParams().Text(channel_).Text(user)).status();
  }

  // The folder row, locked for this transaction if `lock`.
  absl::StatusOr<std::optional<FolderRow>> GetFolderRow(std::string_view user,
                                                        std::string_view folder, bool lock) {
    ASSIGN_OR_RETURN(PgResult r,
                     c_.Exec(lock ? "SELECT uid_validity, uid_next, highest_modseq FROM folders "
                                    "WHERE usr = $1 AND name = $2 FOR UPDATE"
                                  : "SELECT uid_validity, uid_next, highest_modseq FROM folders "
                                    "WHERE usr = $1 AND name = $2",
                             PgParams().Text(user).Text(folder)));
    if (r.rows() == 0) return std::nullopt;
    return FolderRow{static_cast<uint32_t>(r.Int(0, 0)), static_cast<uint32_t>(r.Int(0, 1)),
                     static_cast<uint64_t>(r.Int(0, 2))};
  }

  absl::StatusOr<FolderRow> RequireFolder(std::string_view user, std::string_view folder,
                                          bool lock) {
    ASSIGN_OR_RETURN(std::optional<FolderRow> row, GetFolderRow(user, folder, lock));
    if (!row.has_value()) return NoFolder(user, folder);
    return *row;
  }

  // The folder row, created if missing, locked for this transaction.
  absl::StatusOr<FolderRow> EnsureFolder(std::string_view user, std::string_view folder) {
    ASSIGN_OR_RETURN(std::optional<FolderRow> row, GetFolderRow(user, folder, true));
    if (row.has_value()) return *row;
    // Two replicas may create it at once: the loser's insert does nothing
    // and its next SELECT waits for, then sees, the winner's row.
    ASSIGN_OR_RETURN(PgResult ins,
                     c_.Exec("INSERT INTO folders(usr, name, uid_validity, uid_next, "
                             "highest_modseq) VALUES($1, $2, nextval('pm_uid_validity'), 1, 1) "
                             "ON CONFLICT DO NOTHING",
                             PgParams().Text(user).Text(folder)));
    if (ins.affected() > 0) RETURN_IF_ERROR(Changed(user));
    return RequireFolder(user, folder, true);
  }

  absl::Status WriteFolder(std::string_view user, std::string_view folder, const FolderRow& row) {
    return c_.Exec("UPDATE folders SET uid_next = $1, highest_modseq = $2 WHERE usr = $3 AND "
                   "name = $4",
                   PgParams()
                       .Int(row.uid_next)
                       .Int(static_cast<int64_t>(row.highest_modseq))
                       .Text(user)
                       .Text(folder))
        .status();
  }

  absl::StatusOr<Folder> WithCounts(std::string_view user, std::string_view folder,
                                    const FolderRow& row) {
    Folder f;
    f.name = std::string(folder);
    f.uid_validity = row.uid_validity;
    f.uid_next = row.uid_next;
    f.highest_modseq = row.highest_modseq;
    ASSIGN_OR_RETURN(PgResult r, c_.Exec("SELECT COUNT(*), COALESCE(SUM(1 - seen), 0) FROM "
                                         "entries WHERE usr = $1 AND folder = $2",
                                         PgParams().Text(user).Text(folder)));
    if (r.rows() > 0) {
      f.messages = static_cast<uint32_t>(r.Int(0, 0));
      f.unseen = static_cast<uint32_t>(r.Int(0, 1));
    }
    return f;
  }

  // Gives `e` the next UID and modseq of e.folder (created if missing) and
  // inserts it.
  absl::Status AppendEntry(MailboxEntry& e) {
    ASSIGN_OR_RETURN(FolderRow row, EnsureFolder(e.user, e.folder));
    RETURN_IF_ERROR(InsertEntry(e, row));
    RETURN_IF_ERROR(WriteFolder(e.user, e.folder, row));
    return Changed(e.user);
  }

  // Gives `e` the next UID and modseq of `row` (e.folder's, locked by this
  // transaction) and inserts it; the caller writes `row` back and calls
  // Changed before the commit.
  absl::Status InsertEntry(MailboxEntry& e, FolderRow& row) {
    if (row.uid_next == 0) {
      return absl::ResourceExhaustedError(absl::StrCat("UIDs exhausted in ", e.folder));
    }
    e.uid = row.uid_next++;
    e.modseq = ++row.highest_modseq;
    RETURN_IF_ERROR(c_.Exec(absl::StrCat("INSERT INTO entries(", kEntryColumns,
                                         ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"),
                            PgParams()
                                .Text(e.user)
                                .Text(e.folder)
                                .Int(e.uid)
                                .Int(e.notification_id)
                                .Bytea(EncodeStringList(e.flags))
                                .Int(HasFlag(e.flags, kSeenFlag))
                                .Int(HasFlag(e.flags, kDeletedFlag))
                                .Int(TimeToStoredMicros(e.internal_date))
                                .Int(static_cast<int64_t>(e.modseq))
                                .Int(static_cast<int>(e.state))
                                .Text(e.reason))
                        .status());
    return absl::OkStatus();
  }

  // One removal from the folder (a change: its modseq goes up once) and its
  // UIDs, remembered with that modseq for ExpungedSince. Writes `row`.
  absl::Status RememberExpunged(std::string_view user, std::string_view folder, FolderRow& row,
                                const std::vector<uint32_t>& uids) {
    ++row.highest_modseq;
    for (uint32_t uid : uids) {
      RETURN_IF_ERROR(c_.Exec("INSERT INTO expunged(usr, folder, uid, modseq) VALUES($1, $2, $3, "
                              "$4) ON CONFLICT (usr, folder, uid) DO UPDATE SET modseq = "
                              "EXCLUDED.modseq",
                              PgParams()
                                  .Text(user)
                                  .Text(folder)
                                  .Int(uid)
                                  .Int(static_cast<int64_t>(row.highest_modseq)))
                          .status());
    }
    return WriteFolder(user, folder, row);
  }

  absl::Status DeleteEntry(std::string_view user, std::string_view folder, uint32_t uid) {
    return c_.Exec("DELETE FROM entries WHERE usr = $1 AND folder = $2 AND uid = $3",
                   PgParams().Text(user).Text(folder).Int(uid))
        .status();
  }

  absl::StatusOr<std::optional<MailboxEntry>> ReadEntry(std::string_view user,
                                                        std::string_view folder, uint32_t uid) {
    ASSIGN_OR_RETURN(PgResult r, c_.Exec(absl::StrCat("SELECT ", kEntryColumns,
                                                      " FROM entries WHERE usr = $1 AND folder = "
                                                      "$2 AND uid = $3"),
                                         PgParams().Text(user).Text(folder).Int(uid)));
    ASSIGN_OR_RETURN(std::vector<MailboxEntry> found, ReadEntries(r));
    if (found.empty()) return std::nullopt;
    return std::move(found.front());
  }

  absl::StatusOr<uint64_t> CachedBodySize(std::string_view sha) {
    ASSIGN_OR_RETURN(PgResult r, c_.Exec("SELECT size FROM cached_bodies WHERE sha256 = $1",
                                         PgParams().Bytea(sha)));
    if (r.rows() == 0) return absl::NotFoundError("body not cached");
    return static_cast<uint64_t>(r.Int(0, 0));
  }

  absl::StatusOr<std::string> ReadChunks(std::string_view sha, uint64_t size, uint64_t offset,
                                         size_t max_len) {
    return PgReadBodyChunks(c_,
                            "SELECT idx, data FROM cached_body_chunks WHERE sha256 = $1 AND idx "
                            "BETWEEN $2 AND $3 ORDER BY idx",
                            [&](PgParams& p) { p.Bytea(sha); }, size, offset, max_len);
  }

  PgConn& conn() { return c_; }

 private:
  PgConn& c_;
  const std::string& channel_;
};

class PgRecipientStore : public RecipientStore {
 public:
  explicit PgRecipientStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

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
    std::vector<InsertResult> results;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      results.clear();
      results.reserve(batch.size());
      // The notifications first (a duplicate places nothing); then each
      // folder the new ones place into is locked and read once, in one order
      // (user, folder) whatever the batch's order, so that two replicas'
      // batches never wait for each other in a cycle; the entries take UIDs
      // in the batch's order; each folder is written back once at the end.
      // So a group commit of many notifications to a few users costs about
      // two statements per notification, not five.
      for (const NotificationInsert& item : batch) {
        const StoredNotification& n = item.notification;
        InsertResult& r = results.emplace_back();
        ASSIGN_OR_RETURN(
            PgResult ins,
            c.Exec("INSERT INTO notifications(signing_domain, message_id, envelope_sender, "
                   "signed_bytes, body_sha256, body_size, fetch_token, summary, created_us, "
                   "expires_us, received_us, revoked) VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                   "$10, $11, $12) ON CONFLICT (signing_domain, message_id) DO NOTHING "
                   "RETURNING id",
                   PgParams()
                       .Text(n.signing_domain)
                       .Text(n.message_id)
                       .Text(n.envelope_sender)
                       .Bytea(n.signed_bytes)
                       .Bytea(n.body_sha256)
                       .Int(static_cast<int64_t>(n.body_size))
                       .Bytea(n.fetch_token)
                       .Bytea(n.summary)
                       .Int(TimeToStoredMicros(n.created))
                       .Int(TimeToStoredMicros(n.expires))
                       .Int(TimeToStoredMicros(n.received))
                       .Int(n.revoked ? 1 : 0)));
        if (ins.rows() == 0) {
          // Stored before (by this or another replica, committed: the
          // conflicting insert waited for it).
          ASSIGN_OR_RETURN(PgResult found,
                           c.Exec("SELECT id FROM notifications WHERE signing_domain = $1 AND "
                                  "message_id = $2",
                                  PgParams().Text(n.signing_domain).Text(n.message_id)));
          if (found.rows() == 0) {
            return absl::UnavailableError("postgresql: duplicate notification vanished; retry");
          }
          r.duplicate = true;
          r.notification_id = found.Int(0, 0);
          continue;
        }
        r.notification_id = ins.Int(0, 0);
      }
      std::map<std::pair<std::string, std::string>, FolderRow> rows;
      for (size_t i = 0; i < batch.size(); ++i) {
        if (results[i].duplicate) continue;
        for (const EntryPlacement& p : batch[i].placements) {
          rows.emplace(std::make_pair(p.user, NormalizeFolderName(p.folder)), FolderRow{});
        }
      }
      for (auto& [key, row] : rows) {
        ASSIGN_OR_RETURN(row, tx.EnsureFolder(key.first, key.second));
      }
      for (size_t i = 0; i < batch.size(); ++i) {
        InsertResult& r = results[i];
        if (r.duplicate) continue;
        const StoredNotification& n = batch[i].notification;
        for (const EntryPlacement& p : batch[i].placements) {
          MailboxEntry e;
          e.user = p.user;
          e.folder = NormalizeFolderName(p.folder);
          e.notification_id = r.notification_id;
          e.internal_date = TruncateToMicros(n.received);
          e.state = p.state;
          e.reason = p.reason;
          e.flags = p.flags;
          NormalizeFlags(e.flags);
          RETURN_IF_ERROR(tx.InsertEntry(e, rows.at(std::make_pair(e.user, e.folder))));
          r.entries.push_back(std::move(e));
        }
      }
      std::set<std::string_view> changed;
      for (const auto& [key, row] : rows) {
        RETURN_IF_ERROR(tx.WriteFolder(key.first, key.second, row));
        if (changed.insert(key.first).second) RETURN_IF_ERROR(tx.Changed(key.first));
      }
      return absl::OkStatus();
    }));
    return results;
  }

  absl::StatusOr<StoredNotification> GetNotification(int64_t id) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec(absl::StrCat("SELECT ", kNotificationColumns,
                                                        " FROM notifications WHERE id = $1"),
                                           PgParams().Int(id)));
    std::vector<StoredNotification> found = ReadNotifications(r);
    if (found.empty()) return absl::NotFoundError(absl::StrCat("no notification ", id));
    return std::move(found.front());
  }

  absl::StatusOr<StoredNotification> FindNotification(std::string_view signing_domain,
                                                      std::string_view message_id) override {
    ASSIGN_OR_RETURN(PgResult r,
                     db_->Exec(absl::StrCat("SELECT ", kNotificationColumns,
                                            " FROM notifications WHERE signing_domain = $1 AND "
                                            "message_id = $2"),
                               PgParams().Text(signing_domain).Text(message_id)));
    std::vector<StoredNotification> found = ReadNotifications(r);
    if (found.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no notification ", AV(message_id), " from ", AV(signing_domain)));
    }
    return std::move(found.front());
  }

  absl::StatusOr<std::vector<StoredNotification>> NotificationsByBodyHash(
      std::string_view body_sha256) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec(absl::StrCat("SELECT ", kNotificationColumns,
                                                        " FROM notifications WHERE body_sha256 = "
                                                        "$1 ORDER BY id"),
                                           PgParams().Bytea(body_sha256)));
    return ReadNotifications(r);
  }

  absl::Status MarkNotificationRevoked(int64_t id) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("UPDATE notifications SET revoked = 1 WHERE id = $1",
                                           PgParams().Int(id)));
    if (r.affected() == 0) return absl::NotFoundError(absl::StrCat("no notification ", id));
    return absl::OkStatus();
  }

  // --- Folders -------------------------------------------------------------

  absl::StatusOr<Folder> EnsureFolder(std::string_view user, std::string_view name) override {
    if (user.empty() || name.empty()) {
      return absl::InvalidArgumentError("empty user or folder name");
    }
    std::string folder = NormalizeFolderName(name);
    Folder f;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      ASSIGN_OR_RETURN(FolderRow row, tx.EnsureFolder(user, folder));
      ASSIGN_OR_RETURN(f, tx.WithCounts(user, folder, row));
      return absl::OkStatus();
    }));
    return f;
  }

  absl::StatusOr<Folder> GetFolder(std::string_view user, std::string_view name) override {
    std::string folder = NormalizeFolderName(name);
    Folder f;
    // One snapshot for the row and its counts.
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      ASSIGN_OR_RETURN(FolderRow row, tx.RequireFolder(user, folder, false));
      ASSIGN_OR_RETURN(f, tx.WithCounts(user, folder, row));
      return absl::OkStatus();
    }));
    return f;
  }

  absl::StatusOr<std::vector<Folder>> ListFolders(std::string_view user) override {
    std::vector<Folder> out;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      out.clear();
      ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT name, uid_validity, uid_next, highest_modseq "
                                          "FROM folders WHERE usr = $1 ORDER BY name COLLATE "
                                          "\"C\"",
                                          PgParams().Text(user)));
      for (int i = 0; i < r.rows(); ++i) {
        FolderRow row{static_cast<uint32_t>(r.Int(i, 1)), static_cast<uint32_t>(r.Int(i, 2)),
                      static_cast<uint64_t>(r.Int(i, 3))};
        ASSIGN_OR_RETURN(Folder f, tx.WithCounts(user, r.Text(i, 0), row));
        out.push_back(std::move(f));
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::Status DeleteFolder(std::string_view user, std::string_view name) override {
    std::string folder = NormalizeFolderName(name);
    if (folder == kInbox) return absl::FailedPreconditionError("INBOX cannot be deleted");
    return db_->Txn([&](PgConn& c) -> absl::Status {
      // Its entries' rows, for the release pass (they may have no entry left).
      RETURN_IF_ERROR(c.Exec("INSERT INTO released(notification_id, due_us) SELECT DISTINCT "
                             "notification_id, 0 FROM entries WHERE usr = $1 AND folder = $2 "
                             "ON CONFLICT (notification_id) DO UPDATE SET due_us = 0",
                             PgParams().Text(user).Text(folder))
                          .status());
      // Entries go with it (ON DELETE CASCADE); uid_validity is never reused
      // because the sequence only grows.
      ASSIGN_OR_RETURN(PgResult r, c.Exec("DELETE FROM folders WHERE usr = $1 AND name = $2",
                                          PgParams().Text(user).Text(folder)));
      if (r.affected() == 0) return NoFolder(user, folder);
      return Tx(c, db_->channel()).Changed(user);
    });
  }

  // --- Entries -------------------------------------------------------------

  absl::StatusOr<std::vector<MailboxEntry>> ListEntries(std::string_view user,
                                                        std::string_view folder_name,
                                                        uint32_t min_uid, size_t limit) override {
    std::string folder = NormalizeFolderName(folder_name);
    std::vector<MailboxEntry> out;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      RETURN_IF_ERROR(tx.RequireFolder(user, folder, false).status());
      PgParams p;
      p.Text(user).Text(folder).Int(min_uid);
      if (limit == 0) {
        p.Null();
      } else {
        p.Int(static_cast<int64_t>(limit));
      }
      ASSIGN_OR_RETURN(PgResult r,
                       c.Exec(absl::StrCat("SELECT ", kEntryColumns,
                                           " FROM entries WHERE usr = $1 AND folder = $2 AND "
                                           "uid >= $3 ORDER BY uid LIMIT $4"),
                              p));
      ASSIGN_OR_RETURN(out, ReadEntries(r));
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<MailboxEntry> GetEntry(std::string_view user, std::string_view folder_name,
                                        uint32_t uid) override {
    std::string folder = NormalizeFolderName(folder_name);
    ASSIGN_OR_RETURN(PgLease c, db_->Acquire());
    Tx tx(*c, db_->channel());
    RETURN_IF_ERROR(tx.RequireFolder(user, folder, false).status());
    ASSIGN_OR_RETURN(std::optional<MailboxEntry> e, tx.ReadEntry(user, folder, uid));
    if (!e.has_value()) return NoEntry(user, folder, uid);
    return std::move(*e);
  }

  absl::StatusOr<std::vector<MailboxEntry>> EntriesForNotification(
      int64_t notification_id) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec(absl::StrCat("SELECT ", kEntryColumns,
                                                        " FROM entries WHERE notification_id = $1 "
                                                        "ORDER BY usr COLLATE \"C\", folder "
                                                        "COLLATE \"C\", uid"),
                                           PgParams().Int(notification_id)));
    return ReadEntries(r);
  }

  absl::StatusOr<SetFlagsResult> SetFlagsUnchangedSince(
      std::string_view user, std::string_view folder_name, const std::vector<uint32_t>& uids,
      FlagOp op, std::vector<std::string> flags,
      std::optional<uint64_t> unchanged_since) override {
    NormalizeFlags(flags);
    std::string folder = NormalizeFolderName(folder_name);
    SetFlagsResult out;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      out = SetFlagsResult();
      ASSIGN_OR_RETURN(FolderRow row, tx.RequireFolder(user, folder, true));
      const uint64_t modseq_before = row.highest_modseq;
      for (uint32_t uid : SortedUnique(uids)) {
        ASSIGN_OR_RETURN(std::optional<MailboxEntry> e, tx.ReadEntry(user, folder, uid));
        if (!e.has_value()) continue;
        if (unchanged_since.has_value() && e->modseq > *unchanged_since) {
          out.modified.push_back(uid);
          continue;
        }
        std::vector<std::string> next = ApplyFlags(e->flags, op, flags);
        if (next != e->flags) {
          e->flags = std::move(next);
          e->modseq = ++row.highest_modseq;
          RETURN_IF_ERROR(c.Exec("UPDATE entries SET flags = $1, seen = $2, deleted = $3, "
                                 "modseq = $4 WHERE usr = $5 AND folder = $6 AND uid = $7",
                                 PgParams()
                                     .Bytea(EncodeStringList(e->flags))
                                     .Int(HasFlag(e->flags, kSeenFlag))
                                     .Int(HasFlag(e->flags, kDeletedFlag))
                                     .Int(static_cast<int64_t>(e->modseq))
                                     .Text(user)
                                     .Text(folder)
                                     .Int(uid))
                              .status());
        }
        out.entries.push_back(std::move(*e));
      }
      if (row.highest_modseq != modseq_before) {
        RETURN_IF_ERROR(tx.WriteFolder(user, folder, row));
        RETURN_IF_ERROR(tx.Changed(user));
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<CopyResult> CopyEntries(std::string_view user, std::string_view from_name,
                                         const std::vector<uint32_t>& uids,
                                         std::string_view to_name, bool move) override {
    std::string from = NormalizeFolderName(from_name);
    std::string to = NormalizeFolderName(to_name);
    CopyResult result;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      result = CopyResult();
      // Lock in name order so that two opposite copies cannot deadlock.
      const bool from_first = from < to;
      std::optional<FolderRow> src_row, dst_row;
      for (int i = 0; i < 2; ++i) {
        const bool src = (i == 0) == from_first;
        ASSIGN_OR_RETURN(FolderRow row, tx.RequireFolder(user, src ? from : to, true));
        (src ? src_row : dst_row) = row;
      }
      result.uid_validity = dst_row->uid_validity;
      for (uint32_t uid : SortedUnique(uids)) {
        ASSIGN_OR_RETURN(std::optional<MailboxEntry> e, tx.ReadEntry(user, from, uid));
        if (!e.has_value()) continue;
        if (move) RETURN_IF_ERROR(tx.DeleteEntry(user, from, uid));
        e->folder = to;
        RETURN_IF_ERROR(tx.AppendEntry(*e));
        result.src.push_back(uid);
        result.dst.push_back(e->uid);
      }
      if (move && !result.src.empty()) {
        // Re-read: AppendEntry wrote only the destination's row.
        ASSIGN_OR_RETURN(FolderRow row, tx.RequireFolder(user, from, true));
        RETURN_IF_ERROR(tx.RememberExpunged(user, from, row, result.src));
      }
      return absl::OkStatus();
    }));
    return result;
  }

  absl::StatusOr<MailboxEntry> MoveEntry(std::string_view user, std::string_view folder_name,
                                         uint32_t uid, std::string_view to_name, EntryState state,
                                         std::string_view reason) override {
    std::string folder = NormalizeFolderName(folder_name);
    std::string to = NormalizeFolderName(to_name);
    if (to.empty()) return absl::InvalidArgumentError("empty destination folder");
    MailboxEntry out;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      ASSIGN_OR_RETURN(FolderRow src_row, tx.RequireFolder(user, folder, true));
      ASSIGN_OR_RETURN(std::optional<MailboxEntry> e, tx.ReadEntry(user, folder, uid));
      if (!e.has_value()) return NoEntry(user, folder, uid);
      RETURN_IF_ERROR(tx.DeleteEntry(user, folder, uid));
      RETURN_IF_ERROR(tx.RememberExpunged(user, folder, src_row, {uid}));
      e->folder = to;
      e->state = state;
      e->reason = std::string(reason);
      RETURN_IF_ERROR(tx.AppendEntry(*e));
      out = std::move(*e);
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<std::vector<uint32_t>> Expunge(
      std::string_view user, std::string_view folder_name,
      const std::optional<std::vector<uint32_t>>& uids) override {
    std::string folder = NormalizeFolderName(folder_name);
    std::optional<std::vector<uint32_t>> only;
    if (uids.has_value()) only = SortedUnique(*uids);
    std::vector<uint32_t> expunged;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      expunged.clear();
      ASSIGN_OR_RETURN(FolderRow row, tx.RequireFolder(user, folder, true));
      ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT uid, notification_id FROM entries WHERE usr = "
                                          "$1 AND folder = $2 AND deleted = 1 ORDER BY uid",
                                          PgParams().Text(user).Text(folder)));
      std::set<int64_t> rows;  // their notifications, for the release pass
      for (int i = 0; i < r.rows(); ++i) {
        uint32_t uid = static_cast<uint32_t>(r.Int(i, 0));
        if (!only.has_value() || std::binary_search(only->begin(), only->end(), uid)) {
          expunged.push_back(uid);
          rows.insert(r.Int(i, 1));
        }
      }
      for (uint32_t uid : expunged) RETURN_IF_ERROR(tx.DeleteEntry(user, folder, uid));
      for (int64_t id : rows) {
        RETURN_IF_ERROR(c.Exec("INSERT INTO released(notification_id, due_us) VALUES($1, 0) "
                               "ON CONFLICT (notification_id) DO UPDATE SET due_us = 0",
                               PgParams().Int(id))
                            .status());
      }
      if (!expunged.empty()) {
        RETURN_IF_ERROR(tx.RememberExpunged(user, folder, row, expunged));
        RETURN_IF_ERROR(tx.Changed(user));
      }
      return absl::OkStatus();
    }));
    return expunged;
  }

  absl::StatusOr<std::vector<uint32_t>> ExpungedSince(std::string_view user,
                                                      std::string_view folder_name,
                                                      uint64_t modseq) override {
    std::string folder = NormalizeFolderName(folder_name);
    std::vector<uint32_t> out;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      out.clear();
      RETURN_IF_ERROR(tx.RequireFolder(user, folder, false).status());
      ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT uid FROM expunged WHERE usr = $1 AND folder = "
                                          "$2 AND modseq > $3 ORDER BY uid",
                                          PgParams().Text(user).Text(folder).Int(
                                              static_cast<int64_t>(modseq))));
      for (int i = 0; i < r.rows(); ++i) out.push_back(static_cast<uint32_t>(r.Int(i, 0)));
      return absl::OkStatus();
    }));
    return out;
  }

  absl::Status SetEntryState(std::string_view user, std::string_view folder_name, uint32_t uid,
                             EntryState state, std::string_view reason) override {
    std::string folder = NormalizeFolderName(folder_name);
    return db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      ASSIGN_OR_RETURN(FolderRow row, tx.RequireFolder(user, folder, true));
      ++row.highest_modseq;
      ASSIGN_OR_RETURN(PgResult r, c.Exec("UPDATE entries SET state = $1, reason = $2, modseq = "
                                          "$3 WHERE usr = $4 AND folder = $5 AND uid = $6",
                                          PgParams()
                                              .Int(static_cast<int>(state))
                                              .Text(reason)
                                              .Int(static_cast<int64_t>(row.highest_modseq))
                                              .Text(user)
                                              .Text(folder)
                                              .Int(uid)));
      if (r.affected() == 0) return NoEntry(user, folder, uid);
      RETURN_IF_ERROR(tx.WriteFolder(user, folder, row));
      return tx.Changed(user);
    });
  }

  // --- Body cache ----------------------------------------------------------

  absl::Status PutBody(std::string_view body_sha256, std::string_view body) override {
    const std::string record = MimeRecordOf(body);  // parsed before the transaction
    return db_->Txn([&](PgConn& c) -> absl::Status {
      ASSIGN_OR_RETURN(PgResult r, c.Exec("INSERT INTO cached_bodies(sha256, size) VALUES($1, "
                                          "$2) ON CONFLICT DO NOTHING",
                                          PgParams()
                                              .Bytea(body_sha256)
                                              .Int(static_cast<int64_t>(body.size()))));
      // Already cached: the first body stays (its row and chunks were
      // committed together).
      if (r.affected() == 0) return absl::OkStatus();
      RETURN_IF_ERROR(PgInsertBodyChunks(
          c, "INSERT INTO cached_body_chunks(sha256, idx, data) VALUES($1, $2, $3)",
          [&](PgParams& p) { p.Bytea(body_sha256); }, body));
      return c.Exec("INSERT INTO cached_body_structures(sha256, record) VALUES($1, $2) "
                    "ON CONFLICT (sha256) DO UPDATE SET record = EXCLUDED.record",
                    PgParams().Bytea(body_sha256).Bytea(record))
          .status();
    });
  }

  absl::StatusOr<std::string> GetBodyStructure(std::string_view key) override {
    ASSIGN_OR_RETURN(PgResult r,
                     db_->Exec("SELECT record FROM cached_body_structures WHERE sha256 = $1",
                               PgParams().Bytea(key)));
    if (r.rows() == 0) return absl::NotFoundError("no structure record");
    return r.Bytea(0, 0);
  }

  absl::Status PutBodyStructure(std::string_view key, std::string_view record) override {
    // The foreign key refuses a record of a body that is not cached.
    ASSIGN_OR_RETURN(PgResult r,
                     db_->Exec("INSERT INTO cached_body_structures(sha256, record) "
                               "SELECT sha256, $2 FROM cached_bodies WHERE sha256 = $1 "
                               "ON CONFLICT (sha256) DO UPDATE SET record = EXCLUDED.record",
                               PgParams().Bytea(key).Bytea(record)));
    if (r.affected() == 0) return absl::NotFoundError("body not cached");
    return absl::OkStatus();
  }

  absl::StatusOr<bool> HasBody(std::string_view body_sha256) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("SELECT 1 FROM cached_bodies WHERE sha256 = $1",
                                           PgParams().Bytea(body_sha256)));
    return r.rows() > 0;
  }

  absl::StatusOr<uint64_t> CachedBodySize(std::string_view body_sha256) override {
    ASSIGN_OR_RETURN(PgLease c, db_->Acquire());
    return Tx(*c, db_->channel()).CachedBodySize(body_sha256);
  }

  absl::StatusOr<std::string> ReadCachedBody(std::string_view body_sha256, uint64_t offset,
                                             size_t max_len) override {
    std::string out;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      ASSIGN_OR_RETURN(uint64_t size, tx.CachedBodySize(body_sha256));
      if (offset > size) {
        return absl::OutOfRangeError(
            absl::StrCat("offset ", offset, " beyond cached body size ", size));
      }
      ASSIGN_OR_RETURN(out, tx.ReadChunks(body_sha256, size, offset, max_len));
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<std::string> GetBody(std::string_view body_sha256) override {
    std::string out;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      Tx tx(c, db_->channel());
      ASSIGN_OR_RETURN(uint64_t size, tx.CachedBodySize(body_sha256));
      ASSIGN_OR_RETURN(out, tx.ReadChunks(body_sha256, size, 0, size));
      return absl::OkStatus();
    }));
    return out;
  }

  absl::Status DeleteBody(std::string_view body_sha256) override {
    // Chunks and the structure record go with it (ON DELETE CASCADE).
    return db_->Exec("DELETE FROM cached_bodies WHERE sha256 = $1", PgParams().Bytea(body_sha256))
        .status();
  }

  // --- Space of expunged mail ----------------------------------------------
  // Replicas may run passes at once: each takes its queued rows with SKIP
  // LOCKED. A body is deleted first and the references checked after, by a
  // statement that starts once the delete holds the body's row: a writer
  // that committed a reference before that is seen (the delete is then
  // rolled back to its savepoint), and one that comes after waits for this
  // transaction (PutBody's insert, ConfirmBody's FOR SHARE) and finds the
  // body gone.

  absl::StatusOr<ReleaseStats> ReleaseUnreferenced(absl::Time now, size_t max) override {
    ReleaseStats stats;
    if (max == 0) return stats;
    const int64_t now_us = TimeToStoredMicros(now);
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      stats = ReleaseStats();
      ASSIGN_OR_RETURN(PgResult q, c.Exec("SELECT notification_id FROM released WHERE due_us <= "
                                          "$1 ORDER BY due_us LIMIT $2 FOR UPDATE SKIP LOCKED",
                                          PgParams().Int(now_us).Int(static_cast<int64_t>(max) + 1)));
      std::vector<int64_t> ids;
      for (int i = 0; i < q.rows(); ++i) ids.push_back(q.Int(i, 0));
      if (ids.size() > max) {
        stats.more = true;
        ids.resize(max);
      }
      for (int64_t id : ids) {
        ++stats.examined;
        ASSIGN_OR_RETURN(
            PgResult r,
            c.Exec("SELECT signing_domain, envelope_sender, body_sha256, "
                   "(length(signed_bytes) > 0)::int, expires_us, EXISTS (SELECT 1 FROM entries e "
                   "WHERE e.notification_id = n.id)::int FROM notifications n WHERE id = $1",
                   PgParams().Int(id)));
        if (r.rows() == 0) {
          RETURN_IF_ERROR(Unqueue(c, id));
          continue;
        }
        StoredNotification n;
        n.id = id;
        n.signing_domain = std::string(r.Text(0, 0));
        n.envelope_sender = std::string(r.Text(0, 1));
        n.body_sha256 = r.Bytea(0, 2);
        if (r.Int(0, 3) != 0) n.signed_bytes = "signed";  // only IsLocalBody looks
        n.expires = StoredMicrosToTime(r.Int(0, 4));
        ReleaseFacts f;
        f.local = IsLocalBody(n);
        f.expires = n.expires;
        f.has_entries = r.Int(0, 5) != 0;
        const std::string key = BodyCacheKey(n);
        uint64_t size = 0;
        if (!f.has_entries) {
          RETURN_IF_ERROR(c.Run("SAVEPOINT release_body"));
          ASSIGN_OR_RETURN(PgResult del,
                           c.Exec("DELETE FROM cached_bodies WHERE sha256 = $1 RETURNING size",
                                  PgParams().Bytea(key)));
          f.body_cached = del.rows() > 0;
          if (f.body_cached) {
            size = static_cast<uint64_t>(del.Int(0, 0));
            ASSIGN_OR_RETURN(f.key_referenced, KeyReferenced(c, n, key));
          }
          const bool keep = !DecideRelease(f, now).drop_body;
          RETURN_IF_ERROR(c.Run(keep ? "ROLLBACK TO SAVEPOINT release_body"
                                     : "RELEASE SAVEPOINT release_body"));
        }
        const ReleaseDecision d = DecideRelease(f, now);
        if (d.drop_body) {
          ++stats.bodies_dropped;
          stats.body_bytes_dropped += size;
        }
        if (d.drop_row) {
          for (const char* sql : {"DELETE FROM user_reports WHERE notification_id = $1",
                                  "DELETE FROM read_counted WHERE notification_id = $1",
                                  "DELETE FROM notifications WHERE id = $1"}) {
            RETURN_IF_ERROR(c.Exec(sql, PgParams().Int(id)).status());
          }
          RETURN_IF_ERROR(Unqueue(c, id));
          ++stats.rows_dropped;
        } else if (d.revisit.has_value()) {
          RETURN_IF_ERROR(c.Exec("UPDATE released SET due_us = $2 WHERE notification_id = $1",
                                 PgParams().Int(id).Int(TimeToStoredMicros(*d.revisit)))
                              .status());
        } else {
          RETURN_IF_ERROR(Unqueue(c, id));
        }
      }
      return absl::OkStatus();
    }));
    return stats;
  }

  absl::Status RequeueUnreferenced(const std::vector<int64_t>& notification_ids) override {
    for (int64_t id : notification_ids) {
      // One statement: queued only if the row is there and no entry refers
      // to it (the usual answer, "referenced", writes nothing).
      RETURN_IF_ERROR(db_->Exec("INSERT INTO released(notification_id, due_us) SELECT id, 0 "
                                "FROM notifications n WHERE id = $1 AND NOT EXISTS (SELECT 1 "
                                "FROM entries e WHERE e.notification_id = n.id) "
                                "ON CONFLICT (notification_id) DO UPDATE SET due_us = 0",
                                PgParams().Int(id))
                          .status());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> ConfirmBody(std::string_view key) override {
    // FOR SHARE waits for a pass that has deleted the row and not yet
    // committed, then finds it gone.
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("SELECT 1 FROM cached_bodies WHERE sha256 = $1 FOR "
                                           "SHARE",
                                           PgParams().Bytea(key)));
    return r.rows() > 0;
  }

  // --- Spam reports --------------------------------------------------------

  absl::StatusOr<bool> IsReadCounted(std::string_view user, int64_t notification_id) override {
    ASSIGN_OR_RETURN(PgResult r,
                     db_->Exec("SELECT 1 FROM read_counted WHERE usr = $1 AND notification_id = $2",
                               PgParams().Text(user).Int(notification_id)));
    return r.rows() > 0;
  }

  absl::StatusOr<std::vector<bool>> MarkReadsCounted(const std::vector<ReadMark>& marks) override {
    std::vector<bool> out;
    if (marks.empty()) return out;
    // The primary key makes two replicas' marks one.
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      out.clear();
      for (const ReadMark& m : marks) {
        ASSIGN_OR_RETURN(PgResult r,
                         c.Exec("INSERT INTO read_counted(usr, notification_id) SELECT $1, id "
                                "FROM notifications WHERE id = $2 ON CONFLICT DO NOTHING "
                                "RETURNING 1",
                                PgParams().Text(m.user).Int(m.notification_id)));
        out.push_back(r.rows() > 0);
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<bool> RecordReport(std::string_view user, int64_t notification_id, int verdict,
                                    absl::Time time) override {
    return RecordReportTxn(user, notification_id, verdict, time, nullptr);
  }

  absl::StatusOr<std::vector<UserReport>> ReportsForBodyHash(
      std::string_view body_sha256) override {
    ASSIGN_OR_RETURN(PgResult r,
                     db_->Exec("SELECT r.usr, r.notification_id, r.verdict, r.time_us FROM "
                               "user_reports r JOIN notifications n ON n.id = r.notification_id "
                               "WHERE n.body_sha256 = $1 ORDER BY r.notification_id, r.usr "
                               "COLLATE \"C\"",
                               PgParams().Bytea(body_sha256)));
    return ReadUserReports(r);
  }

  absl::StatusOr<std::vector<UserReport>> ReportsForSigningDomain(
      std::string_view signing_domain) override {
    ASSIGN_OR_RETURN(PgResult r,
                     db_->Exec("SELECT r.usr, r.notification_id, r.verdict, r.time_us FROM "
                               "user_reports r JOIN notifications n ON n.id = r.notification_id "
                               "WHERE n.signing_domain = $1 ORDER BY r.notification_id, r.usr "
                               "COLLATE \"C\"",
                               PgParams().Text(signing_domain)));
    return ReadUserReports(r);
  }

  absl::StatusOr<bool> RecordPeerReport(const PeerReport& pr) override {
    return RecordPeerReportTxn(pr, nullptr);
  }

  absl::StatusOr<std::vector<PeerReport>> PeerReportsForBodyHash(
      std::string_view body_sha256) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("SELECT peer_domain, report_id, body_sha256, verdict, "
                                           "count, time_us FROM peer_reports WHERE body_sha256 = "
                                           "$1 ORDER BY peer_domain COLLATE \"C\", report_id "
                                           "COLLATE \"C\"",
                                           PgParams().Bytea(body_sha256)));
    std::vector<PeerReport> out;
    for (int i = 0; i < r.rows(); ++i) {
      PeerReport& p = out.emplace_back();
      p.peer_domain = std::string(r.Text(i, 0));
      p.report_id = std::string(r.Text(i, 1));
      p.body_sha256 = r.Bytea(i, 2);
      p.verdict = static_cast<int>(r.Int(i, 3));
      p.count = static_cast<uint32_t>(r.Int(i, 4));
      p.time = StoredMicrosToTime(r.Int(i, 5));
    }
    return out;
  }

  // --- Spam-policy state ---------------------------------------------------
  // One row (schema version 3), locked with SELECT ... FOR UPDATE for the
  // rest of the transaction: replicas on one database take turns, and each
  // starts from what the last one committed.

  absl::StatusOr<std::string> GetPolicyState() override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("SELECT state FROM policy_state WHERE id = 1"));
    return r.rows() > 0 ? r.Bytea(0, 0) : std::string();
  }

  absl::Status UpdatePolicyState(PolicyStateUpdate update) override {
    return db_->Txn([&](PgConn& c) { return ApplyPolicyUpdate(c, &update); });
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
  static absl::Status Unqueue(PgConn& c, int64_t id) {
    return c.Exec("DELETE FROM released WHERE notification_id = $1", PgParams().Int(id)).status();
  }
  // Whether an entry refers to a row other than `n` whose BodyCacheKey is
  // `key` (rows of the same hash, through notifications_by_body).
  static absl::StatusOr<bool> KeyReferenced(PgConn& c, const StoredNotification& n,
                                            const std::string& key) {
    ASSIGN_OR_RETURN(PgResult r,
                     c.Exec("SELECT signing_domain, envelope_sender, (length(signed_bytes) > "
                            "0)::int FROM notifications n WHERE body_sha256 = $1 AND id <> $2 "
                            "AND EXISTS (SELECT 1 FROM entries e WHERE e.notification_id = n.id)",
                            PgParams().Bytea(n.body_sha256).Int(n.id)));
    for (int i = 0; i < r.rows(); ++i) {
      StoredNotification m;
      m.body_sha256 = n.body_sha256;
      m.signing_domain = std::string(r.Text(i, 0));
      m.envelope_sender = std::string(r.Text(i, 1));
      if (r.Int(i, 2) != 0) m.signed_bytes = "signed";
      if (BodyCacheKey(m) == key) return true;
    }
    return false;
  }

  // Inside a transaction: locks the state's row and stores (*update)(state).
  static absl::Status ApplyPolicyUpdate(PgConn& c, const PolicyStateUpdate* update) {
    if (update == nullptr) return absl::OkStatus();
    ASSIGN_OR_RETURN(PgResult r,
                     c.Exec("SELECT state FROM policy_state WHERE id = 1 FOR UPDATE"));
    if (r.rows() == 0) return absl::DataLossError("postgresql: the policy_state row is missing");
    ASSIGN_OR_RETURN(std::string next, (*update)(r.Bytea(0, 0)));
    return c.Exec("UPDATE policy_state SET state = $1 WHERE id = 1", PgParams().Bytea(next))
        .status();
  }

  absl::StatusOr<bool> RecordReportTxn(std::string_view user, int64_t notification_id,
                                       int verdict, absl::Time time,
                                       const PolicyStateUpdate* update) {
    bool changed = false;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      ASSIGN_OR_RETURN(PgResult n, c.Exec("SELECT 1 FROM notifications WHERE id = $1",
                                          PgParams().Int(notification_id)));
      if (n.rows() == 0) {
        return absl::NotFoundError(absl::StrCat("no notification ", notification_id));
      }
      // One statement: insert, or replace a different verdict; a same
      // verdict changes nothing (no row returned).
      ASSIGN_OR_RETURN(
          PgResult r,
          c.Exec("INSERT INTO user_reports(usr, notification_id, verdict, time_us) VALUES($1, "
                 "$2, $3, $4) ON CONFLICT (usr, notification_id) DO UPDATE SET verdict = "
                 "EXCLUDED.verdict, time_us = EXCLUDED.time_us WHERE user_reports.verdict <> "
                 "EXCLUDED.verdict RETURNING 1",
                 PgParams().Text(user).Int(notification_id).Int(verdict).Int(
                     TimeToStoredMicros(time))));
      changed = r.rows() > 0;
      if (!changed) return absl::OkStatus();
      return ApplyPolicyUpdate(c, update);
    }));
    return changed;
  }

  absl::StatusOr<bool> RecordPeerReportTxn(const PeerReport& pr, const PolicyStateUpdate* update) {
    bool fresh = false;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      ASSIGN_OR_RETURN(PgResult r, c.Exec("INSERT INTO peer_reports(peer_domain, report_id, "
                                          "body_sha256, verdict, count, time_us) VALUES($1, $2, "
                                          "$3, $4, $5, $6) ON CONFLICT DO NOTHING",
                                          PgParams()
                                              .Text(pr.peer_domain)
                                              .Text(pr.report_id)
                                              .Bytea(pr.body_sha256)
                                              .Int(pr.verdict)
                                              .Int(pr.count)
                                              .Int(TimeToStoredMicros(pr.time))));
      fresh = r.affected() > 0;
      if (!fresh) return absl::OkStatus();
      return ApplyPolicyUpdate(c, update);
    }));
    return fresh;
  }

  std::shared_ptr<PgDb> db_;
};

}  // namespace

std::unique_ptr<RecipientStore> NewPgRecipientStore(std::shared_ptr<PgDb> db) {
  return std::make_unique<PgRecipientStore>(std::move(db));
}

}  // namespace pullmail
