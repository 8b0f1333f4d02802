// PgDb, PgConn, PgParams, PgResult, the schema, and PgChangeListener (see
// pg_db.h and pg_store.h).
#include "core/storage/pg_db.h"

#include <poll.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "core/storage/sqlite_db.h"  // kStoredBodyChunkSize
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

// The whole schema, created in one transaction under an advisory lock so
// that replicas starting together do not race. Times are int8 microseconds
// since the Unix epoch (types.h), hashes and tokens bytea; string lists
// (flags, recipients) use the SQLite back end's encoding (EncodeStringList).
// "usr" because "user" is a reserved word in PostgreSQL.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE pm_meta(
  key text PRIMARY KEY,
  value bigint NOT NULL
);
CREATE SEQUENCE pm_uid_validity START 1;

CREATE TABLE users(
  address text PRIMARY KEY,
  password_hash text NOT NULL,
  created_us bigint NOT NULL
);

CREATE TABLE out_messages(
  message_id text PRIMARY KEY,
  sender text NOT NULL,
  body_sha256 bytea NOT NULL,
  body_size bigint NOT NULL,
  summary bytea NOT NULL,
  created_us bigint NOT NULL,
  expires_us bigint NOT NULL,
  revoked smallint NOT NULL DEFAULT 0,
  body_deleted smallint NOT NULL DEFAULT 0
);
CREATE INDEX out_messages_by_sender ON out_messages(sender, created_us, message_id);
CREATE INDEX out_messages_by_expiry ON out_messages(expires_us) WHERE body_deleted = 0;
CREATE TABLE out_body_chunks(
  message_id text NOT NULL REFERENCES out_messages(message_id) ON DELETE CASCADE,
  idx integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY(message_id, idx)
);
CREATE TABLE deliveries(
  message_id text NOT NULL REFERENCES out_messages(message_id) ON DELETE CASCADE,
  domain text NOT NULL,
  recipients bytea NOT NULL,
  fetch_token bytea NOT NULL,
  signed_notification bytea NOT NULL,
  state smallint NOT NULL,
  attempts bigint NOT NULL,
  next_attempt_us bigint NOT NULL,
  last_error text NOT NULL,
  bytes_served bigint NOT NULL,
  PRIMARY KEY(message_id, domain)
);
CREATE INDEX deliveries_due ON deliveries(next_attempt_us, message_id, domain) WHERE state = 0;
CREATE TABLE abuse_reports(
  reporter_domain text NOT NULL,
  report_id text NOT NULL,
  sender text NOT NULL,
  verdict integer NOT NULL,
  time_us bigint NOT NULL,
  PRIMARY KEY(reporter_domain, report_id)
);
CREATE INDEX abuse_reports_by_sender ON abuse_reports(sender, verdict);

CREATE TABLE notifications(
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  signing_domain text NOT NULL,
  message_id text NOT NULL,
  envelope_sender text NOT NULL,
  signed_bytes bytea NOT NULL,
  body_sha256 bytea NOT NULL,
  body_size bigint NOT NULL,
  fetch_token bytea NOT NULL,
  summary bytea NOT NULL,
  created_us bigint NOT NULL,
  expires_us bigint NOT NULL,
  received_us bigint NOT NULL,
  revoked smallint NOT NULL DEFAULT 0,
  UNIQUE(signing_domain, message_id)
);
CREATE INDEX notifications_by_body ON notifications(body_sha256);
CREATE INDEX notifications_by_signer ON notifications(signing_domain);
CREATE TABLE folders(
  usr text NOT NULL,
  name text NOT NULL,
  uid_validity bigint NOT NULL,
  uid_next bigint NOT NULL,
  highest_modseq bigint NOT NULL,
  PRIMARY KEY(usr, name)
);
CREATE TABLE entries(
  usr text NOT NULL,
  folder text NOT NULL,
  uid bigint NOT NULL,
  notification_id bigint NOT NULL REFERENCES notifications(id),
  flags bytea NOT NULL,
  seen smallint NOT NULL,
  deleted smallint NOT NULL,
  internal_date_us bigint NOT NULL,
  modseq bigint NOT NULL,
  state smallint NOT NULL,
  reason text NOT NULL,
  PRIMARY KEY(usr, folder, uid),
  FOREIGN KEY(usr, folder) REFERENCES folders(usr, name) ON DELETE CASCADE
);
CREATE INDEX entries_by_notification ON entries(notification_id);
CREATE TABLE cached_bodies(
  sha256 bytea PRIMARY KEY,
  size bigint NOT NULL
);
CREATE TABLE cached_body_chunks(
  sha256 bytea NOT NULL REFERENCES cached_bodies(sha256) ON DELETE CASCADE,
  idx integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY(sha256, idx)
);
CREATE TABLE user_reports(
  usr text NOT NULL,
  notification_id bigint NOT NULL REFERENCES notifications(id),
  verdict integer NOT NULL,
  time_us bigint NOT NULL,
  PRIMARY KEY(usr, notification_id)
);
CREATE INDEX user_reports_by_notification ON user_reports(notification_id);
CREATE TABLE peer_reports(
  peer_domain text NOT NULL,
  report_id text NOT NULL,
  body_sha256 bytea NOT NULL,
  verdict integer NOT NULL,
  count bigint NOT NULL,
  time_us bigint NOT NULL,
  PRIMARY KEY(peer_domain, report_id)
);
CREATE INDEX peer_reports_by_body ON peer_reports(body_sha256);
)sql";

// Version 2: SubmitRequest.idempotency_key (as SQLite's migration 5).
constexpr char kSchemaV2[] = R"sql(
CREATE TABLE submission_keys(
  sender text NOT NULL,
  idempotency_key text NOT NULL,
  message_id text NOT NULL REFERENCES out_messages(message_id) ON DELETE CASCADE,
  PRIMARY KEY(sender, idempotency_key)
);
)sql";

// Version 3: RFC 7162 QRESYNC (as SQLite's migration 6): the UIDs each
// removal took out of a folder with that removal's modseq; a folder never
// changed says 1 (a mod-sequence is at least 1).
constexpr char kSchemaV3[] = R"sql(
CREATE TABLE expunged(
  usr text NOT NULL,
  folder text NOT NULL,
  uid bigint NOT NULL,
  modseq bigint NOT NULL,
  PRIMARY KEY(usr, folder, uid),
  FOREIGN KEY(usr, folder) REFERENCES folders(usr, name) ON DELETE CASCADE
);
UPDATE folders SET highest_modseq = 1 WHERE highest_modseq = 0;
)sql";

// Version 4: the spam policy's state (RecipientStore::UpdatePolicyState),
// one row that every writer locks (SELECT ... FOR UPDATE), created here so
// that the lock always has a row to take.
constexpr char kSchemaV4[] = R"sql(
CREATE TABLE policy_state(
  id smallint PRIMARY KEY CHECK (id = 1),
  state bytea NOT NULL
);
INSERT INTO policy_state(id, state) VALUES(1, ''::bytea);
)sql";

// Version 5: a read counts for the sender's reputation once per user and
// message (RecipientStore::MarkReadsCounted).
constexpr char kSchemaV5[] = R"sql(
CREATE TABLE read_counted(
  usr text NOT NULL,
  notification_id bigint NOT NULL REFERENCES notifications(id),
  PRIMARY KEY(usr, notification_id)
);
)sql";

// Version 6: the MIME structure record of each cached body (as SQLite's
// migration 10); bodies cached before it get theirs on first need.
constexpr char kSchemaV6[] = R"sql(
CREATE TABLE cached_body_structures(
  sha256 bytea PRIMARY KEY REFERENCES cached_bodies(sha256) ON DELETE CASCADE,
  record bytea NOT NULL
);
)sql";

// Version 7: the space of expunged mail (as SQLite's migration 11): rows
// whose entries were removed, due for the release pass; seeded with every
// row no entry refers to.
constexpr char kSchemaV7[] = R"sql(
CREATE TABLE released(
  notification_id bigint PRIMARY KEY,
  due_us bigint NOT NULL
);
CREATE INDEX released_by_due ON released(due_us);
INSERT INTO released(notification_id, due_us)
  SELECT id, 0 FROM notifications n
  WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.notification_id = n.id);
)sql";

// Advisory lock key for schema changes ("pullmail" in ASCII, truncated).
constexpr int64_t kSchemaLockKey = 0x70756c6c6d61696cLL;

bool Retryable(std::string_view state) {
  return state == "40001" || state == "40P01";
}

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool IsPostgresUrl(std::string_view spec) {
  return absl::StartsWith(AV(spec), "postgresql://") || absl::StartsWith(AV(spec), "postgres://");
}

absl::Status PgStatus(std::string_view state, std::string_view message) {
  std::string msg(message);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (state == "23505") return absl::AlreadyExistsError(msg);
  if (Retryable(state) || absl::StartsWith(AV(state), "08") || state == "57P01" ||
      state == "57P02" || state == "57P03" || state == "55P03") {
    return absl::UnavailableError(msg);
  }
  if (absl::StartsWith(AV(state), "53")) return absl::ResourceExhaustedError(msg);
  if (state == "XX001" || state == "XX002") return absl::DataLossError(msg);
  return absl::InternalError(msg);
}

// --- PgParams ----------------------------------------------------------------

PgParams& PgParams::Text(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  formats_.push_back(0);
  Fix();
  return *this;
}

PgParams& PgParams::Int(int64_t v) { return Text(absl::StrCat(v)); }

PgParams& PgParams::Bytea(std::string_view v) {
  values_.emplace_back(v);
  null_.push_back(false);
  formats_.push_back(1);
  Fix();
  return *this;
}

PgParams& PgParams::Null() {
  values_.emplace_back();
  null_.push_back(true);
  formats_.push_back(0);
  Fix();
  return *this;
}

// Pointers into values_ move when it grows: rebuild them after each append.
void PgParams::Fix() {
  ptrs_.clear();
  lengths_.clear();
  for (size_t i = 0; i < values_.size(); ++i) {
    ptrs_.push_back(null_[i] ? nullptr : values_[i].data());
    lengths_.push_back(static_cast<int>(values_[i].size()));
  }
}

// --- PgResult ----------------------------------------------------------------

PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    if (r_ != nullptr) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}

PgResult::~PgResult() {
  if (r_ != nullptr) PQclear(r_);
}

int PgResult::rows() const { return PQntuples(r_); }

int64_t PgResult::affected() const {
  int64_t n = 0;
  (void)absl::SimpleAtoi(PQcmdTuples(r_), &n);
  return n;
}

bool PgResult::IsNull(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }

std::string_view PgResult::Text(int row, int col) const {
  return std::string_view(PQgetvalue(r_, row, col),
                          static_cast<size_t>(PQgetlength(r_, row, col)));
}

int64_t PgResult::Int(int row, int col) const {
  int64_t v = 0;
  (void)absl::SimpleAtoi(AV(Text(row, col)), &v);
  return v;
}

std::string PgResult::Bytea(int row, int col) const {
  std::string_view t = Text(row, col);
  // bytea_output = hex (the default, and set on every connection): "\x" + hex.
  if (t.size() < 2 || t[0] != '\\' || t[1] != 'x') return std::string();
  t.remove_prefix(2);
  std::string out(t.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>(HexVal(t[2 * i]) << 4 | HexVal(t[2 * i + 1]));
  }
  return out;
}

// --- PgConn ------------------------------------------------------------------

PgConn::~PgConn() { PQfinish(c_); }

absl::Status PgConn::Fail(const PGresult* r, std::string_view sql) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state != nullptr ? state : (healthy() ? "XX000" : "08006");
  std::string msg = r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(c_);
  std::string head(sql.substr(0, 60));
  return PgStatus(last_sqlstate_, absl::StrCat("postgresql: ", msg, " (in: ", head, ")"));
}

absl::StatusOr<PgResult> PgConn::Exec(std::string_view sql, const PgParams& params) {
  auto it = prepared_.find(std::string(sql));
  if (it == prepared_.end()) {
    std::string name = absl::StrCat("pm", prepared_.size());
    PgResult prep(PQprepare(c_, name.c_str(), std::string(sql).c_str(), 0, nullptr));
    if (PQresultStatus(prep.raw()) != PGRES_COMMAND_OK) {
      return Fail(prep.raw(), sql);
    }
    it = prepared_.emplace(std::string(sql), std::move(name)).first;
  }
  PGresult* r = PQexecPrepared(c_, it->second.c_str(), params.size(), params.values(),
                               params.lengths(), params.formats(), 0);
  PgResult result(r);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Fail(r, sql);
  last_sqlstate_.clear();
  return result;
}

absl::Status PgConn::Run(std::string_view sql) {
  PgResult result(PQexec(c_, std::string(sql).c_str()));
  ExecStatusType st = PQresultStatus(result.raw());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Fail(result.raw(), sql);
  last_sqlstate_.clear();
  return absl::OkStatus();
}

// --- Body chunks -------------------------------------------------------------

absl::Status PgInsertBodyChunks(PgConn& c, std::string_view insert_sql,
                                absl::FunctionRef<void(PgParams&)> bind_key,
                                std::string_view body) {
  for (size_t idx = 0; idx * kStoredBodyChunkSize < body.size(); ++idx) {
    PgParams p;
    bind_key(p);
    p.Int(static_cast<int64_t>(idx)).Bytea(body.substr(idx * kStoredBodyChunkSize,
                                                       kStoredBodyChunkSize));
    RETURN_IF_ERROR(c.Exec(insert_sql, p).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PgReadBodyChunks(PgConn& c, std::string_view select_sql,
                                             absl::FunctionRef<void(PgParams&)> bind_key,
                                             uint64_t body_size, uint64_t offset,
                                             size_t max_len) {
  if (offset >= body_size || max_len == 0) return std::string();
  const uint64_t end = std::min<uint64_t>(body_size, offset + max_len);
  const uint64_t first = offset / kStoredBodyChunkSize;
  const uint64_t last = (end - 1) / kStoredBodyChunkSize;
  PgParams p;
  bind_key(p);
  p.Int(static_cast<int64_t>(first)).Int(static_cast<int64_t>(last));
  ASSIGN_OR_RETURN(PgResult r, c.Exec(select_sql, p));
  if (static_cast<uint64_t>(r.rows()) != last - first + 1) {
    return absl::DataLossError(absl::StrCat("postgresql: body chunks ", first, "..", last,
                                            " incomplete (", r.rows(), " found)"));
  }
  std::string out;
  out.reserve(end - offset);
  for (int i = 0; i < r.rows(); ++i) {
    const uint64_t idx = static_cast<uint64_t>(r.Int(i, 0));
    std::string data = r.Bytea(i, 1);
    const uint64_t chunk_start = idx * kStoredBodyChunkSize;
    const uint64_t want = std::min<uint64_t>(kStoredBodyChunkSize, body_size - chunk_start);
    if (idx != first + i || data.size() != want) {
      return absl::DataLossError(absl::StrCat("postgresql: body chunk ", idx, " damaged"));
    }
    const uint64_t from = std::max(offset, chunk_start);
    const uint64_t to = std::min(end, chunk_start + data.size());
    out.append(data, from - chunk_start, to - from);
  }
  return out;
}

// --- PgDb --------------------------------------------------------------------

absl::StatusOr<PGconn*> PgConnect(const std::string& url) {
  PGconn* c = PQconnectdb(url.c_str());
  if (c == nullptr) return absl::ResourceExhaustedError("postgresql: out of memory");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return absl::UnavailableError(absl::StrCat("postgresql: cannot connect: ", msg));
  }
  // Text results are parsed by PgResult; keep notices off stderr.
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  PGresult* r = PQexec(c, "SET bytea_output = 'hex'; SET client_min_messages = warning");
  PQclear(r);
  return c;
}

absl::StatusOr<std::shared_ptr<PgDb>> PgDb::Open(const std::string& url,
                                                 const PgOptions& options) {
  std::shared_ptr<PgDb> db(new PgDb(url, options));
  RETURN_IF_ERROR(db->Migrate());
  return db;
}

absl::StatusOr<PgLease> PgDb::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.pool_size;
    };
    mu_.Await(absl::Condition(&ready));
    if (!idle_.empty()) {
      std::unique_ptr<PgConn> c = std::move(idle_.back());
      idle_.pop_back();
      if (c->healthy()) return PgLease(this, std::move(c));
      --open_;  // dropped below; open a new one
    }
    ++open_;
  }
  absl::StatusOr<PGconn*> c = PgConnect(url_);
  if (!c.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
    return c.status();
  }
  return PgLease(this, std::make_unique<PgConn>(*c));
}

void PgDb::Release(std::unique_ptr<PgConn> c) {
  absl::MutexLock lock(&mu_);
  if (c->healthy() && PQtransactionStatus(c->handle()) == PQTRANS_IDLE) {
    idle_.push_back(std::move(c));
  } else {
    --open_;  // a broken connection is closed, not pooled
  }
}

PgLease::~PgLease() {
  if (c_ != nullptr) db_->Release(std::move(c_));
}

absl::StatusOr<PgResult> PgDb::Exec(std::string_view sql, const PgParams& params) {
  ASSIGN_OR_RETURN(PgLease c, Acquire());
  return c->Exec(sql, params);
}

absl::Status PgDb::Txn(absl::FunctionRef<absl::Status(PgConn&)> fn) {
  constexpr int kAttempts = 8;
  absl::Status last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    ASSIGN_OR_RETURN(PgLease c, Acquire());
    RETURN_IF_ERROR(c->Run("BEGIN"));
    absl::Status s = fn(*c);
    if (s.ok()) s = c->Run("COMMIT");
    if (s.ok()) return s;
    std::string state = c->last_sqlstate();
    if (c->healthy()) (void)c->Run("ROLLBACK");
    if (!Retryable(state)) return s;
    last = s;
  }
  return absl::UnavailableError(
      absl::StrCat("postgresql: transaction kept conflicting: ", last.message()));
}

absl::StatusOr<std::string> PgChangeChannel(PgConn& c) {
  ASSIGN_OR_RETURN(PgResult r, c.Exec("SELECT current_schema()"));
  if (r.rows() == 0 || r.IsNull(0, 0)) {
    return absl::FailedPreconditionError("postgresql: no current schema (check search_path)");
  }
  // At most 63 bytes (NAMEDATALEN): longer names are cut the same way by
  // every process, so they still agree.
  return std::string(absl::StrCat(AV(kPgMailboxChannel), "_", AV(r.Text(0, 0))).substr(0, 63));
}

absl::Status PgDb::Migrate() {
  {
    ASSIGN_OR_RETURN(PgLease c, Acquire());
    ASSIGN_OR_RETURN(channel_, PgChangeChannel(*c));
  }
  return Txn([](PgConn& c) -> absl::Status {
    RETURN_IF_ERROR(c.Exec("SELECT pg_advisory_xact_lock($1)", PgParams().Int(kSchemaLockKey))
                        .status());
    ASSIGN_OR_RETURN(PgResult has,
                     c.Exec("SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = 'pm_meta' "
                            "AND schemaname = current_schema()"));
    if (has.rows() == 0) {
      RETURN_IF_ERROR(c.Run(kSchemaV1));
      RETURN_IF_ERROR(c.Run(kSchemaV2));
      RETURN_IF_ERROR(c.Run(kSchemaV3));
      RETURN_IF_ERROR(c.Run(kSchemaV4));
      RETURN_IF_ERROR(c.Run(kSchemaV5));
      RETURN_IF_ERROR(c.Run(kSchemaV6));
      RETURN_IF_ERROR(c.Run(kSchemaV7));
      RETURN_IF_ERROR(c.Exec("INSERT INTO pm_meta(key, value) VALUES('schema_version', $1)",
                             PgParams().Int(kPgSchemaVersion))
                          .status());
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(PgResult v,
                     c.Exec("SELECT value FROM pm_meta WHERE key = 'schema_version'"));
    int64_t version = v.rows() > 0 ? v.Int(0, 0) : 0;
    if (version > kPgSchemaVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("postgresql: schema version ", version, " is newer than this program's ",
                       kPgSchemaVersion));
    }
    if (version < 2) {
      RETURN_IF_ERROR(c.Run(kSchemaV2));
      RETURN_IF_ERROR(c.Exec("UPDATE pm_meta SET value = 2 WHERE key = 'schema_version'")
                          .status());
    }
    if (version < 3) {
      RETURN_IF_ERROR(c.Run(kSchemaV3));
      RETURN_IF_ERROR(c.Exec("UPDATE pm_meta SET value = 3 WHERE key = 'schema_version'")
                          .status());
    }
    if (version < 4) {
      RETURN_IF_ERROR(c.Run(kSchemaV4));
      RETURN_IF_ERROR(c.Exec("UPDATE pm_meta SET value = 4 WHERE key = 'schema_version'")
                          .status());
    }
    if (version < 5) {
      RETURN_IF_ERROR(c.Run(kSchemaV5));
      RETURN_IF_ERROR(c.Exec("UPDATE pm_meta SET value = 5 WHERE key = 'schema_version'")
                          .status());
    }
    if (version < 6) {
      RETURN_IF_ERROR(c.Run(kSchemaV6));
      RETURN_IF_ERROR(c.Exec("UPDATE pm_meta SET value = 6 WHERE key = 'schema_version'")
                          .status());
    }
    if (version < 7) {
      RETURN_IF_ERROR(c.Run(kSchemaV7));
      RETURN_IF_ERROR(c.Exec("UPDATE pm_meta SET value = 7 WHERE key = 'schema_version'")
                          .status());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::shared_ptr<PgDb>> OpenPgDb(const std::string& url, const PgOptions& options) {
  return PgDb::Open(url, options);
}

// --- PgChangeListener --------------------------------------------------------

namespace {

class PgChangeListenerImpl : public PgChangeListener {
 public:
  explicit PgChangeListenerImpl(std::string url) : url_(std::move(url)) {}
  absl::Status Connect() {
    conn_.reset();
    c_ = nullptr;
    ASSIGN_OR_RETURN(PGconn * raw, PgConnect(url_));
    conn_ = std::make_unique<PgConn>(raw);
    c_ = raw;
    ASSIGN_OR_RETURN(std::string channel, PgChangeChannel(*conn_));
    char* quoted = PQescapeIdentifier(c_, channel.data(), channel.size());
    if (quoted == nullptr) return absl::InternalError("postgresql: cannot quote channel name");
    std::string listen = absl::StrCat("LISTEN ", quoted);
    PQfreemem(quoted);
    return conn_->Run(listen);
  }

  absl::StatusOr<std::vector<std::string>> Wait(absl::Duration timeout) override {
    if (c_ == nullptr || PQstatus(c_) != CONNECTION_OK) RETURN_IF_ERROR(Connect());
    std::vector<std::string> out;
    Drain(out);
    if (!out.empty()) return out;
    pollfd pfd{PQsocket(c_), POLLIN, 0};
    int ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));
    int n = poll(&pfd, 1, ms < 0 ? 0 : ms);
    if (n > 0) {
      if (PQconsumeInput(c_) == 0) {
        conn_.reset();
        c_ = nullptr;
        return absl::UnavailableError("postgresql: listener connection lost");
      }
      Drain(out);
    }
    return out;
  }

 private:
  void Drain(std::vector<std::string>& out) {
    while (PGnotify* n = PQnotifies(c_)) {
      out.emplace_back(n->extra != nullptr ? n->extra : "");
      PQfreemem(n);
    }
  }

  const std::string url_;
  std::unique_ptr<PgConn> conn_;  // owns c_
  PGconn* c_ = nullptr;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PgChangeListener>> PgChangeListener::Open(const std::string& url) {
  auto l = std::make_unique<PgChangeListenerImpl>(url);
  RETURN_IF_ERROR(l->Connect());
  return l;
}

}  // namespace pullmail
