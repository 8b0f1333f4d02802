// The SQLite connection shared by the SQLite stores: open and configure,
// schema migrations, statement cache, error mapping, and the factories
// declared in sqlite_store.h.
#include "core/storage/sqlite_db.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/logic/body_cache_key.h"
#include "core/util/logging.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

absl::Status ChunkOldBodies(SqliteDb& db);
absl::Status RekeyCachedBodies(SqliteDb& db);

// One schema step: `sql` runs first, then `data_step` if set (for changes
// that SQL alone does badly, such as splitting large BLOBs), both inside the
// step's transaction.
struct Migration {
  const char* sql;
  absl::Status (*data_step)(SqliteDb& db) = nullptr;
};

// Migration N (1-based) brings the schema from version N-1 to N. Append only:
// never edit a migration that has shipped. Times are int64 microseconds since
// the Unix epoch (types.h), hashes and tokens raw BLOBs.
const Migration kMigrations[] = {
    // 1: the initial schema of all three stores.
    {R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES('next_uid_validity', 1);

CREATE TABLE users(
  address TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  created_us INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE out_messages(
  message_id TEXT PRIMARY KEY,
  sender TEXT NOT NULL,
  body_sha256 BLOB NOT NULL,
  body_size INTEGER NOT NULL,
  summary BLOB NOT NULL,
  created_us INTEGER NOT NULL,
  expires_us INTEGER NOT NULL,
  revoked INTEGER NOT NULL,
  body_deleted INTEGER NOT NULL
);
CREATE INDEX out_messages_by_sender ON out_messages(sender, created_us, message_id);
CREATE INDEX out_messages_by_expiry ON out_messages(expires_us) WHERE body_deleted = 0;

-- A rowid table, so that bodies can be read in slices (sqlite3_blob_open).
CREATE TABLE out_bodies(
  message_id TEXT NOT NULL UNIQUE REFERENCES out_messages(message_id) ON DELETE CASCADE,
  data BLOB NOT NULL
);

CREATE TABLE deliveries(
  message_id TEXT NOT NULL REFERENCES out_messages(message_id) ON DELETE CASCADE,
  domain TEXT NOT NULL,
  recipients BLOB NOT NULL,
  fetch_token BLOB NOT NULL,
  signed_notification BLOB NOT NULL,
  state INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_us INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  bytes_served INTEGER NOT NULL,
  PRIMARY KEY(message_id, domain)
) WITHOUT ROWID;
CREATE INDEX deliveries_due ON deliveries(next_attempt_us, message_id, domain)
  WHERE state = 0;

CREATE TABLE abuse_reports(
  reporter_domain TEXT NOT NULL,
  report_id TEXT NOT NULL,
  sender TEXT NOT NULL,
  verdict INTEGER NOT NULL,
  time_us INTEGER NOT NULL,
  PRIMARY KEY(reporter_domain, report_id)
) WITHOUT ROWID;
CREATE INDEX abuse_reports_by_sender ON abuse_reports(sender, verdict);

CREATE TABLE notifications(
  id INTEGER PRIMARY KEY,
  signing_domain TEXT NOT NULL,
  message_id TEXT NOT NULL,
  envelope_sender TEXT NOT NULL,
  signed_bytes BLOB NOT NULL,
  body_sha256 BLOB NOT NULL,
  body_size INTEGER NOT NULL,
  fetch_token BLOB NOT NULL,
  summary BLOB NOT NULL,
  created_us INTEGER NOT NULL,
  expires_us INTEGER NOT NULL,
  received_us INTEGER NOT NULL,
  revoked INTEGER NOT NULL,
  UNIQUE(signing_domain, message_id)
);
CREATE INDEX notifications_by_body ON notifications(body_sha256);

CREATE TABLE folders(
  user TEXT NOT NULL,
  name TEXT NOT NULL,
  uid_validity INTEGER NOT NULL,
  uid_next INTEGER NOT NULL,
  highest_modseq INTEGER NOT NULL,
  PRIMARY KEY(user, name)
) WITHOUT ROWID;

CREATE TABLE entries(
  user TEXT NOT NULL,
  folder TEXT NOT NULL,
  uid INTEGER NOT NULL,
  notification_id INTEGER NOT NULL REFERENCES notifications(id),
  flags BLOB NOT NULL,
  seen INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  internal_date_us INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  state INTEGER NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY(user, folder, uid),
  FOREIGN KEY(user, folder) REFERENCES folders(user, name) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX entries_by_notification ON entries(notification_id);

-- A rowid table, so that bodies can be read in slices (sqlite3_blob_open).
CREATE TABLE body_cache(
  sha256 BLOB NOT NULL UNIQUE,
  data BLOB NOT NULL
);

CREATE TABLE user_reports(
  user TEXT NOT NULL,
  notification_id INTEGER NOT NULL REFERENCES notifications(id),
  verdict INTEGER NOT NULL,
  time_us INTEGER NOT NULL,
  PRIMARY KEY(user, notification_id)
) WITHOUT ROWID;

CREATE TABLE peer_reports(
  peer_domain TEXT NOT NULL,
  report_id TEXT NOT NULL,
  body_sha256 BLOB NOT NULL,
  verdict INTEGER NOT NULL,
  count INTEGER NOT NULL,
  time_us INTEGER NOT NULL,
  PRIMARY KEY(peer_domain, report_id)
) WITHOUT ROWID;
)sql"},
    // 2: indexes for the policy's report aggregation (by body hash, by
    // signing domain), which version 1 answered with table scans.
    {R"sql(
CREATE INDEX user_reports_by_notification ON user_reports(notification_id);
CREATE INDEX peer_reports_by_body ON peer_reports(body_sha256);
CREATE INDEX notifications_by_signer ON notifications(signing_domain);
)sql"},
    // 3: bodies as chunk rows of kStoredBodyChunkSize bytes (see sqlite_db.h)
    // instead of one BLOB each, so that reading a slice at offset N no longer
    // walks N bytes of overflow pages; cached bodies' sizes in their own
    // table. ChunkOldBodies moves the bodies over and drops the old tables.
    // Chunk tables are rowid tables: rows of 256 KiB are far past the size
    // where WITHOUT ROWID pays.
    {R"sql(
CREATE TABLE out_body_chunks(
  message_id TEXT NOT NULL REFERENCES out_messages(message_id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(message_id, idx)
);

CREATE TABLE cached_bodies(
  sha256 BLOB PRIMARY KEY,
  size INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE cached_body_chunks(
  sha256 BLOB NOT NULL REFERENCES cached_bodies(sha256) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(sha256, idx)
);

INSERT INTO cached_bodies(sha256, size) SELECT sha256, length(data) FROM body_cache;
)sql",
     ChunkOldBodies},
    // 4: cached bodies keyed by core's BodyCacheKey (the body's SHA-256 plus
    // the domain that sent it, or the user who stored it) instead of the
    // SHA-256 alone, so that no domain gets another's body by naming its
    // hash. RekeyCachedBodies copies each body to the key of every scope that
    // refers to it and drops the old keys (and bodies nothing refers to).
    {"", RekeyCachedBodies},
    // 5: SubmitRequest.idempotency_key: at most one message per (sender,
    // key), written in the same transaction as the message.
    {R"sql(
CREATE TABLE submission_keys(
  sender TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  message_id TEXT NOT NULL REFERENCES out_messages(message_id) ON DELETE CASCADE,
  PRIMARY KEY(sender, idempotency_key)
) WITHOUT ROWID;
)sql"},
    // 6: RFC 7162 QRESYNC. The UIDs each removal took out of a folder, with
    // the modseq of that removal (VANISHED (EARLIER)); a mod-sequence is at
    // least 1, so a folder never changed says 1.
    {R"sql(
CREATE TABLE expunged(
  user TEXT NOT NULL,
  folder TEXT NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY(user, folder, uid),
  FOREIGN KEY(user, folder) REFERENCES folders(user, name) ON DELETE CASCADE
) WITHOUT ROWID;
UPDATE folders SET highest_modseq = 1 WHERE highest_modseq = 0;
)sql"},
    // 7: the spam policy's state (RecipientStore::UpdatePolicyState), one
    // row, committed in the same transaction as the report that changes it.
    {R"sql(
CREATE TABLE policy_state(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  state BLOB NOT NULL
);
INSERT INTO policy_state(id, state) VALUES(1, x'');
)sql"},
    // 8: VANISHED (EARLIER) and every IMAP refresh ask for the UIDs removed
    // above a modseq: by (user, folder) the whole history of removals was
    // scanned, and it grows with every expunge.
    {R"sql(
CREATE INDEX expunged_by_modseq ON expunged(user, folder, modseq);
)sql"},
    // 9: a read counts for the sender's reputation once per user and message
    // (RecipientStore::MarkReadsCounted).
    {R"sql(
CREATE TABLE read_counted(
  user TEXT NOT NULL,
  notification_id INTEGER NOT NULL REFERENCES notifications(id),
  PRIMARY KEY(user, notification_id)
) WITHOUT ROWID;
)sql"},
    // 10: the MIME structure record of each cached body (core's
    // MimeStructure, imap_mime.h), written with the body, so that IMAP
    // BODYSTRUCTURE and section fetches need not read the whole body. Bodies
    // cached before this have none: the node computes it on first need.
    {R"sql(
CREATE TABLE cached_body_structures(
  sha256 BLOB PRIMARY KEY REFERENCES cached_bodies(sha256) ON DELETE CASCADE,
  record BLOB NOT NULL
) WITHOUT ROWID;
)sql"},
    // 11: the space of expunged mail (core/logic/body_retention.h). The
    // rows whose entries Expunge or DeleteFolder removed, due for the
    // release pass (RecipientStore::ReleaseUnreferenced) at due_us; seeded
    // with every row no entry refers to, which earlier versions kept, with
    // their bodies, for ever.
    {R"sql(
CREATE TABLE released(
  notification_id INTEGER PRIMARY KEY,
  due_us INTEGER NOT NULL
);
CREATE INDEX released_by_due ON released(due_us);
INSERT INTO released(notification_id, due_us)
  SELECT id, 0 FROM notifications n
  WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.notification_id = n.id);
)sql"},
};
static_assert(std::size(kMigrations) == kSqliteSchemaVersion);

absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_PROTOCOL:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return absl::StatusCode::kAlreadyExists;
      }
      return absl::StatusCode::kFailedPrecondition;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::StatusCode::kPermissionDenied;
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
      return absl::StatusCode::kInvalidArgument;
    default:
      return absl::StatusCode::kInternal;
  }
}

// Copies every (key, data) row that `select_sql` yields into chunk rows
// with `insert_sql` (parameters as for SqliteDb::InsertBodyChunks).
absl::Status CopyBodiesIntoChunks(SqliteDb& db, const char* select_sql, bool key_is_text,
                                  std::string_view insert_sql) {
  // Prepared here rather than through the statement cache: the table it
  // reads is dropped right after.
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db.handle(), select_sql, -1, &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> select(raw, sqlite3_finalize);
  if (rc != SQLITE_OK) return db.Error(rc, select_sql);
  while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) {
    auto column = [&](int c) {
      const void* p = sqlite3_column_blob(select.get(), c);
      return std::string_view(static_cast<const char*>(p),
                              p != nullptr ? sqlite3_column_bytes(select.get(), c) : 0);
    };
    const std::string key(column(0));
    RETURN_IF_ERROR(db.InsertBodyChunks(
        insert_sql,
        [&](Statement& st) {
          if (key_is_text) {
            st.Text(1, key);
          } else {
            st.Blob(1, key);
          }
        },
        column(1)));
  }
  if (rc != SQLITE_DONE) return db.Error(rc, select_sql);
  return absl::OkStatus();
}

// Migration 3's data step. Each body is read whole once (bodies are at most
// limits::kMaxBodySize) and written as chunks in the migration's transaction,
// so a crash part-way leaves the database at version 2, bodies intact.
absl::Status ChunkOldBodies(SqliteDb& db) {
  RETURN_IF_ERROR(CopyBodiesIntoChunks(db, "SELECT message_id, data FROM out_bodies",
                                       /*key_is_text=*/true, kInsertOutBodyChunkSql));
  RETURN_IF_ERROR(CopyBodiesIntoChunks(db, "SELECT sha256, data FROM body_cache",
                                       /*key_is_text=*/false, kInsertCachedBodyChunkSql));
  return db.Exec("DROP TABLE out_bodies; DROP TABLE body_cache;");
}

// Migration 4's data step (see kMigrations). Version 3's keys are the bare
// 32-byte SHA-256; BodyCacheKey's are always longer.
absl::Status RekeyCachedBodies(SqliteDb& db) {
  std::vector<StoredNotification> scopes;
  {
    Statement st(&db,
                 "SELECT DISTINCT n.body_sha256, n.signing_domain, n.envelope_sender, "
                 "length(n.signed_bytes) > 0 FROM notifications n JOIN cached_bodies c "
                 "ON c.sha256 = n.body_sha256 WHERE length(c.sha256) = 32");
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      StoredNotification n;
      n.body_sha256 = st.ColBlob(0);
      n.signing_domain = st.ColText(1);
      n.envelope_sender = st.ColText(2);
      if (st.ColInt(3) != 0) n.signed_bytes = "signed";  // only IsLocalBody looks
      scopes.push_back(std::move(n));
    }
  }
  for (const StoredNotification& n : scopes) {
    const std::string key = BodyCacheKey(n);
    Statement size(&db,
                   "INSERT OR IGNORE INTO cached_bodies(sha256, size) "
                   "SELECT ?1, size FROM cached_bodies WHERE sha256 = ?2");
    size.Blob(1, key).Blob(2, n.body_sha256);
    RETURN_IF_ERROR(size.Run());
    if (sqlite3_changes(db.handle()) == 0) continue;  // the same scope twice
    Statement chunks(&db,
                     "INSERT INTO cached_body_chunks(sha256, idx, data) "
                     "SELECT ?1, idx, data FROM cached_body_chunks WHERE sha256 = ?2");
    chunks.Blob(1, key).Blob(2, n.body_sha256);
    RETURN_IF_ERROR(chunks.Run());
  }
  return db.Exec(
      "DELETE FROM cached_body_chunks WHERE length(sha256) = 32;"
      "DELETE FROM cached_bodies WHERE length(sha256) = 32;");
}

}  // namespace

absl::Status SqliteDb::Error(int rc, std::string_view what) {
  // The connection's message describes the last failure on it; when `rc`
  // came from elsewhere (sqlite3_open), errstr(rc) is the fallback.
  const char* msg = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return absl::Status(CodeFor(rc), absl::StrCat("sqlite ", AV(what), ": ", msg, " (code ", rc,
                                                ", ", path_, ")"));
}

absl::StatusOr<std::shared_ptr<SqliteDb>> SqliteDb::Open(const std::string& path,
                                                         const SqliteOptions& options,
                                                         int max_version) {
  // Once per process, before SQLite initialises: no global memory
  // statistics (nothing here reads them), whose mutex every SQLite
  // allocation took (~5% of the recipient's committer). Refused, harmlessly,
  // if SQLite was initialised already.
  [[maybe_unused]] static const int configured = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  sqlite3* raw = nullptr;
  // FULLMUTEX is unnecessary (we lock ourselves), NOMUTEX avoids double locking.
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return absl::Status(CodeFor(rc), absl::StrCat("sqlite open: ", msg, " (", path, ")"));
  }
  sqlite3_extended_result_codes(raw, 1);
  std::shared_ptr<SqliteDb> db(new SqliteDb(raw, path));
  absl::MutexLock lock(&db->mu_);
  RETURN_IF_ERROR(db->Configure(options));
  RETURN_IF_ERROR(db->Migrate(max_version));
  if (max_version >= kSqliteSchemaVersion) RETURN_IF_ERROR(db->SkipModseqs());
  for (int i = 0; i < options.readers; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> reader, OpenReader(path, options));
    db->readers_.push_back(std::move(reader));
  }
  return db;
}

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::OpenReader(const std::string& path,
                                                               const SqliteOptions& options) {
  sqlite3* raw = nullptr;
  // Read-write at the file level (a WAL reader writes its read marks in the
  // -shm file) but query_only: this connection never changes the database.
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return absl::Status(CodeFor(rc), absl::StrCat("sqlite open reader: ", msg, " (", path, ")"));
  }
  sqlite3_extended_result_codes(raw, 1);
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  absl::MutexLock lock(&db->mu_);
  sqlite3_busy_timeout(raw, static_cast<int>(absl::ToInt64Milliseconds(options.busy_timeout)));
  RETURN_IF_ERROR(db->Exec("PRAGMA query_only=1"));
  return db;
}

SqliteDb* SqliteDb::AcquireReader() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (readers_.empty()) {
    mu_.Lock();
    return this;
  }
  const size_t n = readers_.size();
  const size_t start = next_reader_.fetch_add(1, std::memory_order_relaxed) % n;
  for (size_t i = 0; i < n; ++i) {
    SqliteDb* r = readers_[(start + i) % n].get();
    if (r->mu_.TryLock()) return r;
  }
  SqliteDb* r = readers_[start].get();
  r->mu_.Lock();
  return r;
}

uint64_t SqliteDb::VmSteps() const {
  uint64_t steps = vm_steps_.load(std::memory_order_relaxed);
  for (const std::unique_ptr<SqliteDb>& r : readers_) steps += r->VmSteps();
  return steps;
}

SqliteDb::ReadLock::ReadLock(SqliteDb* db) : conn_(db->AcquireReader()) {}

absl::Status SqliteDb::ReadLock::Snapshot() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (snapshot_) return absl::OkStatus();
  Statement st(conn_, "BEGIN");
  RETURN_IF_ERROR(st.Run());
  snapshot_ = true;
  return absl::OkStatus();
}

SqliteDb::ReadLock::~ReadLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (snapshot_) {
    // A read transaction: nothing to lose, only the snapshot to let go.
    Statement st(conn_, "COMMIT");
    absl::Status s = st.Run();
    if (!s.ok()) PM_LOG(ERROR) << s;
  }
  conn_->mu_.Unlock();
}

absl::Status SqliteDb::SkipModseqs() {
  // Flag changes and expunges commit relaxed (Durability::kRelaxed): an OS
  // crash may lose the last of them, and with them the MODSEQs a client
  // was already told. Every folder's counter jumps by kModseqSkip on each
  // open, so that no MODSEQ a client saw is ever given to another change
  // (RFC 7162 wants them strictly increasing). Lost relaxed commits are
  // bounded by the WAL's autocheckpoint (1,000 pages, each fsynced at the
  // checkpoint): far fewer changes than the skip.
  Transaction txn(this);
  RETURN_IF_ERROR(txn.Begin());
  Statement st(this, "UPDATE folders SET highest_modseq = highest_modseq + ?");
  st.Int(1, static_cast<int64_t>(kModseqSkip));
  RETURN_IF_ERROR(st.Run());
  return txn.Commit();
}

SqliteDb::~SqliteDb() {
  // Readers first: the last connection to close checkpoints the WAL.
  readers_.clear();
  absl::MutexLock lock(&mu_);
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  cache_.clear();
  int rc = sqlite3_close_v2(db_);
  if (rc != SQLITE_OK) PM_LOG(ERROR) << "sqlite close " << path_ << ": " << sqlite3_errstr(rc);
}

absl::Status SqliteDb::Configure(const SqliteOptions& options) {
  sqlite3_busy_timeout(db_, static_cast<int>(absl::ToInt64Milliseconds(options.busy_timeout)));
  // journal_mode returns a row ("wal"); anything else means WAL is
  // unavailable (e.g. some network file systems), which we refuse.
  // Switching a new file to WAL takes an exclusive lock, and SQLite reports
  // SQLITE_BUSY at once (without the busy handler) when another connection
  // is opening the same new file; retry until busy_timeout has passed.
  const absl::Time deadline = absl::Now() + options.busy_timeout;
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::string> mode = JournalModeWal();
    if (mode.ok()) {
      if (*mode != "wal") {
        return absl::FailedPreconditionError(
            absl::StrCat("sqlite: cannot enable WAL on ", path_, " (journal_mode=", *mode, ")"));
      }
      break;
    }
    if (!absl::IsUnavailable(mode.status()) || absl::Now() >= deadline) return mode.status();
    absl::SleepFor(absl::Milliseconds(std::min(1 << std::min(attempt, 6), 50)));
  }
  full_sync_ = options.synchronous == SqliteOptions::Synchronous::kFull;
  RETURN_IF_ERROR(Exec(full_sync_ ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> SqliteDb::JournalModeWal() {
  Statement st(this, "PRAGMA journal_mode=WAL");
  ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColText(0) : std::string();
}

absl::Status SqliteDb::Migrate(int max_version) {
  const int target = std::min(max_version, kSqliteSchemaVersion);
  {
    // Fast path: an up-to-date database needs no write lock.
    ASSIGN_OR_RETURN(int version, SchemaVersion());
    if (version == target) return absl::OkStatus();
  }
  // Each step reads the version inside its own IMMEDIATE transaction and
  // commits with the new number, so several processes opening one new file
  // at once (a sender and a recipient node sharing users.db) apply each
  // migration exactly once, and a crash mid-way resumes from the last step.
  int first_version = -1;  // as this process found it (0: a new file)
  while (true) {
    Transaction txn(this);
    RETURN_IF_ERROR(txn.Begin());
    ASSIGN_OR_RETURN(int version, SchemaVersion());
    if (version > kSqliteSchemaVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("sqlite: ", path_, " has schema version ", version,
                       ", newer than this program's ", kSqliteSchemaVersion));
    }
    if (first_version < 0) first_version = version;
    if (version >= target) return txn.Commit();
    const Migration& step = kMigrations[version];
    RETURN_IF_ERROR(Exec(step.sql));
    if (step.data_step != nullptr) RETURN_IF_ERROR(step.data_step(*this));
    RETURN_IF_ERROR(Exec(absl::StrCat("PRAGMA user_version=", version + 1).c_str()));
    RETURN_IF_ERROR(txn.Commit());
    // A new file's schema is no news; upgrading an existing one is.
    if (first_version > 0) {
      PM_LOG(INFO) << "sqlite " << path_ << ": migrated schema to version " << version + 1;
    }
  }
}

absl::StatusOr<int> SqliteDb::SchemaVersion() {
  Statement st(this, "PRAGMA user_version");
  ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return absl::InternalError("sqlite: PRAGMA user_version returned no row");
  return static_cast<int>(st.ColInt(0));
}

sqlite3_stmt* SqliteDb::Cached(std::string_view sql, absl::Status* status) {
  auto it = cache_.find(AV(sql));
  if (it != cache_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    *status = Error(rc, absl::StrCat("prepare \"", AV(sql), "\""));
    sqlite3_finalize(stmt);
    return nullptr;
  }
  cache_.emplace(std::string(sql), stmt);
  return stmt;
}

absl::Status SqliteDb::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string what = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    std::string_view head(sql);
    head = head.substr(0, std::min<size_t>(head.size(), 60));
    return absl::Status(CodeFor(rc), absl::StrCat("sqlite exec \"", AV(head), "\": ", what,
                                                  " (code ", rc, ", ", path_, ")"));
  }
  return absl::OkStatus();
}

absl::Status SqliteDb::InsertBodyChunks(std::string_view insert_sql,
                                        absl::FunctionRef<void(Statement&)> bind_key,
                                        std::string_view body) {
  for (uint64_t idx = 0, pos = 0; pos < body.size(); ++idx, pos += kStoredBodyChunkSize) {
    Statement st(this, insert_sql);
    bind_key(st);
    st.Int(2, static_cast<int64_t>(idx)).BlobNoCopy(3, body.substr(pos, kStoredBodyChunkSize));
    RETURN_IF_ERROR(st.Run());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SqliteDb::ReadBodyChunks(std::string_view select_sql,
                                                     absl::FunctionRef<void(Statement&)> bind_key,
                                                     uint64_t body_size, uint64_t offset,
                                                     size_t max_len) {
  if (offset >= body_size || max_len == 0) return std::string();
  const uint64_t end = offset + std::min<uint64_t>(max_len, body_size - offset);
  const uint64_t first = offset / kStoredBodyChunkSize;
  const uint64_t last = (end - 1) / kStoredBodyChunkSize;
  std::string out;
  out.reserve(end - offset);
  Statement st(this, select_sql);
  bind_key(st);
  st.Int(2, static_cast<int64_t>(first)).Int(3, static_cast<int64_t>(last));
  uint64_t want = first;
  while (true) {
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    const int64_t idx = st.ColInt(0);
    const std::string_view data = st.ColBlobView(1);
    if (idx < 0 || static_cast<uint64_t>(idx) != want) break;  // reported below
    RETURN_IF_ERROR(AppendChunkSlice(body_size, offset, end, want, data, &out));
    ++want;
  }
  if (want != last + 1) {
    return absl::DataLossError(absl::StrCat("sqlite ", path_, ": body chunk ", want, " of a ",
                                            body_size, "-byte body is missing"));
  }
  return out;
}

absl::Status SqliteDb::AppendChunkSlice(uint64_t body_size, uint64_t offset, uint64_t end,
                                        uint64_t idx, std::string_view data, std::string* out) {
  const uint64_t start = idx * kStoredBodyChunkSize;
  const uint64_t expected =
      start < body_size ? std::min<uint64_t>(kStoredBodyChunkSize, body_size - start) : 0;
  if (data.size() != expected) {
    return absl::DataLossError(absl::StrCat("sqlite ", path_, ": body chunk ", idx, " has ",
                                            data.size(), " bytes, expected ", expected));
  }
  const uint64_t from = std::max(offset, start) - start;
  const uint64_t to = std::min(end, start + expected) - start;
  if (to > from) out->append(data.substr(from, to - from));
  return absl::OkStatus();
}

// --- Statement ---------------------------------------------------------------

Statement::Statement(SqliteDb* db, std::string_view sql) : db_(db) {
  stmt_ = db_->Cached(sql, &status_);
}

std::string_view Statement::sql() const {
  // The text SQLite keeps with every prepared statement: no copy per use.
  const char* text = stmt_ != nullptr ? sqlite3_sql(stmt_) : nullptr;
  return text != nullptr ? std::string_view(text) : std::string_view("(statement not prepared)");
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    db_->vm_steps_.fetch_add(sqlite3_stmt_status(stmt_, SQLITE_STMTSTATUS_VM_STEP, /*reset=*/1),
                             std::memory_order_relaxed);
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Statement& Statement::Int(int i, int64_t v) {
  if (stmt_ != nullptr && status_.ok()) {
    int rc = sqlite3_bind_int64(stmt_, i, v);
    if (rc != SQLITE_OK) status_ = db_->Error(rc, absl::StrCat("bind ", i, " of ", AV(sql())));
  }
  return *this;
}

Statement& Statement::Text(int i, std::string_view v) {
  if (stmt_ != nullptr && status_.ok()) {
    // A null data pointer would bind NULL; an empty string must stay ''.
    int rc = sqlite3_bind_text64(stmt_, i, v.data() != nullptr ? v.data() : "", v.size(),
                                 SQLITE_TRANSIENT, SQLITE_UTF8);
    if (rc != SQLITE_OK) status_ = db_->Error(rc, absl::StrCat("bind ", i, " of ", AV(sql())));
  }
  return *this;
}

Statement& Statement::TextNoCopy(int i, std::string_view v) {
  if (stmt_ != nullptr && status_.ok()) {
    int rc = sqlite3_bind_text64(stmt_, i, v.data() != nullptr ? v.data() : "", v.size(),
                                 SQLITE_STATIC, SQLITE_UTF8);
    if (rc != SQLITE_OK) status_ = db_->Error(rc, absl::StrCat("bind ", i, " of ", AV(sql())));
  }
  return *this;
}

Statement& Statement::Blob(int i, std::string_view v) {
  if (stmt_ != nullptr && status_.ok()) {
    int rc = sqlite3_bind_blob64(stmt_, i, v.data() != nullptr ? v.data() : "", v.size(),
                                 SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) status_ = db_->Error(rc, absl::StrCat("bind ", i, " of ", AV(sql())));
  }
  return *this;
}

Statement& Statement::BlobNoCopy(int i, std::string_view v) {
  if (stmt_ != nullptr && status_.ok()) {
    int rc = sqlite3_bind_blob64(stmt_, i, v.data() != nullptr ? v.data() : "", v.size(),
                                 SQLITE_STATIC);
    if (rc != SQLITE_OK) status_ = db_->Error(rc, absl::StrCat("bind ", i, " of ", AV(sql())));
  }
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  if (stmt_ == nullptr || !status_.ok()) return status_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  status_ = db_->Error(rc, sql());
  return status_;
}

absl::Status Statement::Run() {
  ASSIGN_OR_RETURN(bool row, Step());
  while (row) {
    ASSIGN_OR_RETURN(row, Step());
  }
  return absl::OkStatus();
}

bool Statement::ColIsNull(int c) { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }

int64_t Statement::ColInt(int c) { return sqlite3_column_int64(stmt_, c); }

std::string Statement::ColText(int c) {
  const unsigned char* p = sqlite3_column_text(stmt_, c);
  int n = sqlite3_column_bytes(stmt_, c);
  return p != nullptr ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
}

std::string Statement::ColBlob(int c) { return std::string(ColBlobView(c)); }

std::string_view Statement::ColBlobView(int c) {
  const void* p = sqlite3_column_blob(stmt_, c);
  int n = sqlite3_column_bytes(stmt_, c);
  return p != nullptr ? std::string_view(static_cast<const char*>(p), n) : std::string_view();
}

// --- Transaction -------------------------------------------------------------

absl::Status Transaction::Begin() {
  // synchronous is the connection's and SQLite refuses to change it inside a
  // transaction: a relaxed one lowers it before BEGIN and puts it back when
  // it ends (the caller holds mu(), so no other transaction sees it).
  relaxed_ = durability_ == Durability::kRelaxed && db_->full_sync();
  if (relaxed_) RETURN_IF_ERROR(db_->Exec("PRAGMA synchronous=NORMAL"));
  // IMMEDIATE takes the write lock now, so two connections never deadlock
  // upgrading read locks; a busy database waits busy_timeout, then kUnavailable.
  absl::Status s = db_->Exec("BEGIN IMMEDIATE");
  if (!s.ok()) {
    Restore().IgnoreError();  // logged there; the BEGIN failure is the one to report
    return s;
  }
  open_ = true;
  return absl::OkStatus();
}

absl::Status Transaction::Commit() {
  absl::Status s = db_->Exec("COMMIT");
  if (!s.ok()) return s;  // still open: the destructor rolls back and restores
  open_ = false;
  return Restore();
}

absl::Status Transaction::Restore() {
  if (!relaxed_) return absl::OkStatus();
  relaxed_ = false;
  absl::Status s = db_->Exec("PRAGMA synchronous=FULL");
  if (!s.ok()) PM_LOG(ERROR) << s;
  return s;
}

Transaction::~Transaction() {
  if (open_) {
    absl::Status s = db_->Exec("ROLLBACK");
    if (!s.ok()) PM_LOG(ERROR) << s;
  }
  Restore().IgnoreError();
}

// --- String lists ------------------------------------------------------------

std::string EncodeStringList(const std::vector<std::string>& list) {
  std::string out;
  for (const std::string& s : list) {
    uint64_t n = s.size();
    while (n >= 0x80) {
      out.push_back(static_cast<char>((n & 0x7f) | 0x80));
      n >>= 7;
    }
    out.push_back(static_cast<char>(n));
    out.append(s);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> DecodeStringList(std::string_view blob) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < blob.size()) {
    uint64_t n = 0;
    int shift = 0;
    while (true) {
      if (i >= blob.size() || shift > 56) {
        return absl::DataLossError("sqlite: malformed string list in database");
      }
      uint8_t b = static_cast<uint8_t>(blob[i++]);
      n |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
      shift += 7;
    }
    if (n > blob.size() - i) return absl::DataLossError("sqlite: truncated string list in database");
    out.emplace_back(blob.substr(i, n));
    i += n;
  }
  return out;
}

// --- Factories (sqlite_store.h) ------------------------------------------------

absl::StatusOr<std::shared_ptr<SqliteDb>> OpenSqliteDb(const std::string& path,
                                                       const SqliteOptions& options) {
  return SqliteDb::Open(path, options);
}

absl::StatusOr<std::unique_ptr<SenderStore>> OpenSqliteSenderStore(const std::string& path,
                                                                   const SqliteOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<SqliteDb> db, OpenSqliteDb(path, options));
  return NewSqliteSenderStore(std::move(db));
}

absl::StatusOr<std::unique_ptr<RecipientStore>> OpenSqliteRecipientStore(
    const std::string& path, const SqliteOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<SqliteDb> db, OpenSqliteDb(path, options));
  return NewSqliteRecipientStore(std::move(db));
}

absl::StatusOr<std::unique_ptr<UserStore>> OpenSqliteUserStore(const std::string& path,
                                                               const SqliteOptions& options) {
  ASSIGN_OR_RETURN(std::shared_ptr<SqliteDb> db, OpenSqliteDb(path, options));
  return NewSqliteUserStore(std::move(db));
}

}  // namespace pullmail
