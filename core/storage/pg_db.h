// Internal to the PostgreSQL back end (pg_*_store.cc): a pool of libpq
// connections, parameter and result helpers, transactions with retry, the
// schema, and the SQLSTATE -> absl::Status mapping. Programs use pg_store.h.
//
// Threading: PgDb is thread-safe; a PgConn belongs to one thread between
// Acquire and its release (the PgLease destructor).
#ifndef PULLMAIL_CORE_STORAGE_PG_DB_H_
#define PULLMAIL_CORE_STORAGE_PG_DB_H_

#include <libpq-fe.h>

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
#include "core/storage/pg_store.h"

namespace pullmail {

// The schema version this program writes (pm_meta 'schema_version').
inline constexpr int kPgSchemaVersion = 7;

// Query parameters. Text values are sent as text (PostgreSQL casts them to
// the column's type); Bytea values are sent in binary, unescaped.
class PgParams {
 public:
  PgParams& Text(std::string_view v);
  PgParams& Int(int64_t v);
  PgParams& Bytea(std::string_view v);
  PgParams& Null();

  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return ptrs_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void Fix();
  std::vector<std::string> values_;
  std::vector<bool> null_;
  std::vector<const char*> ptrs_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// A query result (text format); owns the PGresult.
class PgResult {
 public:
  explicit PgResult(PGresult* r) : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&& o) noexcept;
  ~PgResult();
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  PGresult* raw() const { return r_; }
  int rows() const;
  // Rows changed by INSERT/UPDATE/DELETE.
  int64_t affected() const;
  bool IsNull(int row, int col) const;
  std::string_view Text(int row, int col) const;
  int64_t Int(int row, int col) const;  // 0 if NULL or not a number
  std::string Bytea(int row, int col) const;  // decodes the hex output

 private:
  PGresult* r_;
};

// One connection. Prepared statements are cached per connection.
class PgConn {
 public:
  explicit PgConn(PGconn* c) : c_(c) {}
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs one statement (prepared on first use). `what` names it in errors.
  absl::StatusOr<PgResult> Exec(std::string_view sql, const PgParams& params = PgParams());
  // Runs a command string without parameters (may hold several statements).
  absl::Status Run(std::string_view sql);

  PGconn* handle() { return c_; }
  bool healthy() const { return PQstatus(c_) == CONNECTION_OK; }
  // SQLSTATE of the last failed statement ("" if none).
  const std::string& last_sqlstate() const { return last_sqlstate_; }

 private:
  absl::Status Fail(const PGresult* r, std::string_view sql);
  PGconn* c_;
  absl::flat_hash_map<std::string, std::string> prepared_;  // sql -> statement name
  std::string last_sqlstate_;
};

class PgDb;

// A connection borrowed from the pool; returned on destruction.
class PgLease {
 public:
  PgLease(PgDb* db, std::unique_ptr<PgConn> c) : db_(db), c_(std::move(c)) {}
  PgLease(PgLease&&) = default;
  ~PgLease();
  PgConn& operator*() { return *c_; }
  PgConn* operator->() { return c_.get(); }

 private:
  PgDb* db_;
  std::unique_ptr<PgConn> c_;
};

class PgDb {
 public:
  static absl::StatusOr<std::shared_ptr<PgDb>> Open(const std::string& url,
                                                    const PgOptions& options);
  PgDb(const PgDb&) = delete;
  PgDb& operator=(const PgDb&) = delete;

  const std::string& url() const { return url_; }
  // The NOTIFY channel of this database's schema (pg_store.h, "Changes").
  const std::string& channel() const { return channel_; }

  // A connection from the pool (a new one while fewer than pool_size are
  // open; otherwise waits for one). kUnavailable if connecting fails.
  absl::StatusOr<PgLease> Acquire();

  // One statement in autocommit mode on a pooled connection.
  absl::StatusOr<PgResult> Exec(std::string_view sql, const PgParams& params = PgParams());

  // Runs `fn` inside BEGIN ... COMMIT on one connection. If `fn` fails, or
  // the commit does, the transaction is rolled back and the error returned;
  // a deadlock or serialization failure is retried (fn runs again from the
  // start, so it must assign its outputs, not append to them).
  absl::Status Txn(absl::FunctionRef<absl::Status(PgConn&)> fn);

 private:
  friend class PgLease;
  PgDb(std::string url, const PgOptions& options) : url_(std::move(url)), options_(options) {}
  void Release(std::unique_ptr<PgConn> c);
  absl::Status Migrate();

  const std::string url_;
  const PgOptions options_;
  std::string channel_;  // set by Migrate
  absl::Mutex mu_;
  std::vector<std::unique_ptr<PgConn>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

// Bodies are chunk rows of kStoredBodyChunkSize bytes (as in the SQLite
// back end, sqlite_db.h): a slice read touches only the chunks it overlaps.
// `insert_sql` takes $1 the owner key (bound by `bind_key`), $2 the chunk
// index, $3 the bytes. Call inside the transaction that stores the metadata.
absl::Status PgInsertBodyChunks(PgConn& c, std::string_view insert_sql,
                                absl::FunctionRef<void(PgParams&)> bind_key,
                                std::string_view body);

// Body bytes [offset, min(offset + max_len, body_size)); `select_sql` takes
// $1 the owner key, $2 and $3 the first and last chunk index, and returns
// (idx, data) in idx order. kDataLoss if a chunk is missing or short.
absl::StatusOr<std::string> PgReadBodyChunks(PgConn& c, std::string_view select_sql,
                                             absl::FunctionRef<void(PgParams&)> bind_key,
                                             uint64_t body_size, uint64_t offset,
                                             size_t max_len);

// The change channel for the current schema of connection `c`.
absl::StatusOr<std::string> PgChangeChannel(PgConn& c);

// Opens one connection to `url` (kUnavailable with libpq's message on
// failure). Used by the pool and by PgChangeListener.
absl::StatusOr<PGconn*> PgConnect(const std::string& url);

// The status for SQLSTATE `state` with `message`.
absl::Status PgStatus(std::string_view state, std::string_view message);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_STORAGE_PG_DB_H_
