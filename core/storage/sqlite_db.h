// Internal to the SQLite back end (sqlite_*_store.cc): one connection with
// its mutex, the schema migrations, a prepared-statement cache, RAII
// statement and transaction helpers, and the sqlite-code -> absl::Status
// mapping. Programs use sqlite_store.h instead.
//
// Threading: SqliteDb is shared by the stores over it; every use of the
// connection (statements, transactions) happens with mu() held. Statement
// and Transaction objects must not outlive that critical section. Reads that
// need no transaction of the writer may instead run on one of the database's
// reader connections (ReadLock): WAL lets them read the last committed state
// while the writer holds its mutex, a transaction or an fsync.
#ifndef PULLMAIL_CORE_STORAGE_SQLITE_DB_H_
#define PULLMAIL_CORE_STORAGE_SQLITE_DB_H_

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/storage/sqlite_store.h"

namespace pullmail {

// The schema version this program writes (PRAGMA user_version after open).
inline constexpr int kSqliteSchemaVersion = 11;

// Bodies (the sender's out_body_chunks, the recipient's cached_body_chunks)
// are stored as rows of this many bytes, chunk `idx` holding body bytes
// [idx * size, (idx + 1) * size); the last chunk is shorter and a 0-byte
// body has no chunk. A read of a slice touches only the chunks it overlaps,
// so its cost does not grow with its offset (one big BLOB made SQLite walk
// its overflow-page chain from the start on every read). Stored data depends
// on this number: changing it needs a migration that re-chunks.
inline constexpr size_t kStoredBodyChunkSize = 256 * 1024;

// The chunk inserts, shared by the stores and migration 3 (one cached
// statement each). Parameters: owner key, idx, data.
inline constexpr char kInsertOutBodyChunkSql[] =
    "INSERT INTO out_body_chunks(message_id, idx, data) VALUES(?, ?, ?)";
inline constexpr char kInsertCachedBodyChunkSql[] =
    "INSERT INTO cached_body_chunks(sha256, idx, data) VALUES(?, ?, ?)";

// How far every folder's highest_modseq jumps when the database is opened:
// above any MODSEQ that relaxed commits lost to an OS crash can have shown
// (SqliteDb::SkipModseqs).
inline constexpr uint64_t kModseqSkip = uint64_t{1} << 20;

class Statement;

class SqliteDb {
 public:
  // A connection of the reader pool (SqliteOptions::readers; the writer
  // itself if there is none), locked for this object's lifetime: statements
  // on db() see every transaction committed before they start, never one in
  // progress, and do not wait for the writer. For reads only (the connection
  // is query_only). Blocks while every reader is busy.
  class ReadLock {
   public:
    explicit ReadLock(SqliteDb* db);
    ~ReadLock();
    ReadLock(const ReadLock&) = delete;
    ReadLock& operator=(const ReadLock&) = delete;
    SqliteDb* db() const { return conn_; }
    // Makes every later statement until this lock ends read one snapshot
    // (BEGIN ... COMMIT on the reader): for reads of several statements
    // that must agree with each other.
    absl::Status Snapshot();

   private:
    SqliteDb* conn_;
    bool snapshot_ = false;
  };

  // See OpenSqliteDb (sqlite_store.h). `max_version` stops migrations early:
  // tests use it to build a database as an older program left it.
  static absl::StatusOr<std::shared_ptr<SqliteDb>> Open(const std::string& path,
                                                        const SqliteOptions& options,
                                                        int max_version = kSqliteSchemaVersion);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Held around every use of the connection.
  absl::Mutex& mu() ABSL_LOCK_RETURNED(mu_) { return mu_; }
  sqlite3* handle() { return db_; }
  const std::string& path() const { return path_; }

  // The cached prepared statement for `sql` (prepared on first use), reset
  // and unbound. nullptr with *status set on a prepare error. Requires mu().
  sqlite3_stmt* Cached(std::string_view sql, absl::Status* status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Runs statements without results (no caching). Requires mu().
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // PRAGMA user_version. Requires mu().
  absl::StatusOr<int> SchemaVersion() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Whether the connection commits with synchronous=FULL (SqliteOptions).
  bool full_sync() const { return full_sync_; }

  // Writes `body` as chunk rows (kStoredBodyChunkSize) with `insert_sql`,
  // whose parameters are ?1 the owner key (bound by `bind_key`), ?2 the chunk
  // index, ?3 the chunk bytes. No row for an empty body. The caller holds the
  // transaction that makes the body atomic with its metadata; `body` must
  // stay valid until this returns (bound without a copy). Requires mu().
  absl::Status InsertBodyChunks(std::string_view insert_sql,
                                absl::FunctionRef<void(Statement&)> bind_key,
                                std::string_view body) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Reads body bytes [offset, min(offset + max_len, body_size)) from chunk
  // rows with `select_sql`, whose parameters are ?1 the owner key (bound by
  // `bind_key`), ?2 and ?3 the first and last chunk index wanted, and whose
  // columns are (idx, data) in idx order. Touches only those chunks. Empty at
  // offset >= body_size (the caller checks offset > size first). kDataLoss
  // if a needed chunk is missing or not of its expected size. Requires mu().
  absl::StatusOr<std::string> ReadBodyChunks(std::string_view select_sql,
                                             absl::FunctionRef<void(Statement&)> bind_key,
                                             uint64_t body_size, uint64_t offset,
                                             size_t max_len) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // ReadBodyChunks' step, for callers that select the chunks themselves:
  // appends the part of chunk `idx` (its bytes `data`) of a `body_size`-byte
  // body that falls in [offset, end). kDataLoss if the chunk is not of its
  // expected size.
  absl::Status AppendChunkSlice(uint64_t body_size, uint64_t offset, uint64_t end, uint64_t idx,
                                std::string_view data, std::string* out);

  // The status for sqlite result code `rc` (with the connection's message),
  // prefixed by what was being done.
  absl::Status Error(int rc, std::string_view what);

  // Virtual-machine steps that Statements have run so far on this
  // connection and its readers (SQLITE_STMTSTATUS_VM_STEP, added as each
  // Statement ends): a measure of the rows a query visited that does not
  // depend on the machine's speed. Tests use it to show that a query's cost
  // does not grow with history it should not read.
  uint64_t VmSteps() const;

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  // A reader connection on the (already migrated) file at `path`.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> OpenReader(const std::string& path,
                                                              const SqliteOptions& options);
  // Locks and returns an idle reader (or waits for one); ReadLock's.
  SqliteDb* AcquireReader();
  absl::Status Configure(const SqliteOptions& options) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs "PRAGMA journal_mode=WAL" once and returns the mode SQLite reports.
  absl::StatusOr<std::string> JournalModeWal() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Migrate(int max_version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Raises every folder's highest_modseq by kModseqSkip (see the .cc).
  absl::Status SkipModseqs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  sqlite3* db_;
  const std::string path_;
  bool full_sync_ = true;  // set once by Configure
  absl::flat_hash_map<std::string, sqlite3_stmt*> cache_ ABSL_GUARDED_BY(mu_);
  // The reader pool, set once by Open; each reader has its own mutex.
  std::vector<std::unique_ptr<SqliteDb>> readers_;
  std::atomic<size_t> next_reader_{0};
  std::atomic<uint64_t> vm_steps_{0};  // Statement's destructor adds to it

  friend class Statement;
};

// A cached statement in use: bind, step, read columns; reset on destruction.
// Bind errors are remembered and returned by the next Step/Run.
class Statement {
 public:
  Statement(SqliteDb* db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based. Text and Blob copy their argument;
  // TextNoCopy and BlobNoCopy require `v` to outlive the statement (large
  // bodies, and the hot inserts of notifications and their entries).
  Statement& Int(int i, int64_t v);
  Statement& Text(int i, std::string_view v);
  Statement& TextNoCopy(int i, std::string_view v);
  Statement& Blob(int i, std::string_view v);
  Statement& BlobNoCopy(int i, std::string_view v);

  // true: a row is ready; false: done.
  absl::StatusOr<bool> Step();
  // Steps to completion, expecting no rows.
  absl::Status Run();

  // Columns are 0-based.
  int64_t ColInt(int c);
  std::string ColText(int c);
  std::string ColBlob(int c);
  // The column's bytes without a copy; valid until the next Step or the
  // statement's destruction.
  std::string_view ColBlobView(int c);
  bool ColIsNull(int c);

 private:
  // The statement's text, for error messages.
  std::string_view sql() const;
  SqliteDb* db_;
  sqlite3_stmt* stmt_;
  absl::Status status_;
};

// How a transaction's COMMIT reaches the disk (sqlite_store.h "Durability").
//   kDurable: the connection's setting (synchronous=FULL by default: the WAL
//             is fsynced before COMMIT returns).
//   kRelaxed: synchronous=NORMAL for this COMMIT only: no fsync. Still
//             atomic, and a killed process loses nothing (the WAL is in the
//             OS's page cache); only an OS crash or power loss before the next
//             durable commit or checkpoint (each fsyncs the whole WAL, so
//             every earlier frame with it) can lose it.
enum class Durability { kDurable, kRelaxed };

// BEGIN IMMEDIATE ... COMMIT; rolls back on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(SqliteDb* db, Durability durability = Durability::kDurable)
      : db_(db), durability_(durability) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  absl::Status Begin();
  absl::Status Commit();

 private:
  // Puts synchronous back after a relaxed transaction.
  absl::Status Restore();

  SqliteDb* db_;
  const Durability durability_;
  bool open_ = false;
  bool relaxed_ = false;  // synchronous lowered by Begin, not yet restored
};

// A list of byte strings as one BLOB (each: varint length, bytes).
std::string EncodeStringList(const std::vector<std::string>& list);
absl::StatusOr<std::vector<std::string>> DecodeStringList(std::string_view blob);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_STORAGE_SQLITE_DB_H_
