// The SQLite back end of the storage interfaces: the durable one that nodes
// and the gateway use. One schema holds the tables of all three stores, so a
// node may keep them in one file (share one SqliteDb) or in several.
//
// Durability: WAL journal, synchronous=FULL by default. Every method that
// returns OK is committed, atomically, and no killed process loses it (the
// WAL lives in the OS's page cache). What an OS crash or power loss may
// lose is decided per write class (Durability in sqlite_db.h):
//   fsynced before OK (synchronous=FULL): notifications and the entries they
//     create (the Notify path, and IMAP APPEND's row), reports and the spam
//     policy's state, revocations and entry states set by policy
//     (SetEntryState, MoveEntry), folders (EnsureFolder, DeleteFolder: they
//     hand out UIDVALIDITY), copies and moves (they hand out UIDs), and
//     everything of the sender and user stores except as noted there (the
//     delivery pass's records, UpdateDeliveries, and RecordServed are relaxed);
//   relaxed (synchronous=NORMAL for that commit: no fsync): flag changes
//     (IMAP STORE, \Seen on a read), expunges, and the body cache
//     (PutBody/DeleteBody: the sender node keeps the body until it expires,
//     so a lost cache entry is fetched again), and read marks
//     (MarkReadsCounted: a lost mark counts one read again). Dovecot does not fsync flag
//     or expunge changes either (fsync_mode=optimized). The next durable
//     commit or WAL checkpoint fsyncs every earlier commit with it, so an
//     APPEND's body (PutBody, relaxed) is durable when its row is. So that a
//     MODSEQ lost this way is never handed out again, every folder's
//     highest_modseq jumps by kModseqSkip (2^20) at each open.
// synchronous=NORMAL for everything (an option, for benchmarks and the
// simulator) also survives a killed process, but an OS crash may lose the
// last transactions of any kind. busy_timeout 5 s, foreign_keys on, numbered
// migrations applied in order on open (PRAGMA user_version), prepared
// statements cached.
//
// Why FULL (bench/storage_bench.cc, 4 KiB notifications, 2 shared cores
// under load, raw SQLite alongside at 7.5k NORMAL / 200 FULL commits/s):
// one notification per transaction runs ~250/s with FULL vs ~1.7k/s with
// NORMAL, but 100 per transaction (RecipientStore::InsertNotifications) runs
// ~4.8-6.4k/s with either: the fsync is paid once per batch. So nodes keep
// FULL and batch on their streaming paths (group commit) instead of trading
// durability for speed.
//
// `path` must name a file (WAL does not work for ":memory:"; use
// memory_store.h for an in-memory store).
//
// Error mapping: SQLITE_BUSY/LOCKED -> kUnavailable, unique/primary-key
// constraint -> kAlreadyExists, SQLITE_CORRUPT/NOTADB -> kDataLoss,
// SQLITE_FULL -> kResourceExhausted, SQLITE_CANTOPEN/IOERR -> kUnavailable,
// anything else -> kInternal; every message names the failing operation.
#ifndef PULLMAIL_CORE_STORAGE_SQLITE_STORE_H_
#define PULLMAIL_CORE_STORAGE_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/storage/recipient_store.h"
#include "core/storage/sender_store.h"
#include "core/storage/user_store.h"

namespace pullmail {

struct SqliteOptions {
  enum class Synchronous { kNormal, kFull };
  Synchronous synchronous = Synchronous::kFull;
  absl::Duration busy_timeout = absl::Seconds(5);
  // Read-only connections beside the writer for reads outside its
  // transactions (the recipient store's mailbox reads: listings, a FETCH's
  // entries and bodies), so that they neither queue behind the writer's
  // mutex and fsyncs nor behind each other. 0: every read uses the writer.
  int readers = 4;
};

// One open database connection with its own mutex (defined in sqlite_db.h).
class SqliteDb;

// Opens (creating if missing) the database at `path` and brings its schema
// to the latest version. The returned handle may be shared by several stores
// and threads; it closes when the last owner lets go. kUnavailable if the
// file cannot be opened; kDataLoss if it is not a database; kFailedPrecondition
// if its schema is newer than this program knows.
absl::StatusOr<std::shared_ptr<SqliteDb>> OpenSqliteDb(const std::string& path,
                                                       const SqliteOptions& options = {});

// Stores over an open database. Never null.
std::unique_ptr<SenderStore> NewSqliteSenderStore(std::shared_ptr<SqliteDb> db);
std::unique_ptr<RecipientStore> NewSqliteRecipientStore(std::shared_ptr<SqliteDb> db);
std::unique_ptr<UserStore> NewSqliteUserStore(std::shared_ptr<SqliteDb> db);

// Shorthands: open `path` and return one store over it.
absl::StatusOr<std::unique_ptr<SenderStore>> OpenSqliteSenderStore(
    const std::string& path, const SqliteOptions& options = {});
absl::StatusOr<std::unique_ptr<RecipientStore>> OpenSqliteRecipientStore(
    const std::string& path, const SqliteOptions& options = {});
absl::StatusOr<std::unique_ptr<UserStore>> OpenSqliteUserStore(
    const std::string& path, const SqliteOptions& options = {});

}  // namespace pullmail

#endif  // PULLMAIL_CORE_STORAGE_SQLITE_STORE_H_
