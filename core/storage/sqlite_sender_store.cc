// SenderStore over SQLite (tables out_messages, out_body_chunks, deliveries,
// abuse_reports; schema in sqlite_db.cc). A body is kept as chunk rows
// (sqlite_db.h, kStoredBodyChunkSize); its size is out_messages.body_size.
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/storage/sqlite_db.h"
#include "core/storage/sqlite_store.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

constexpr char kMessageColumns[] =
    "message_id, sender, body_sha256, body_size, summary, created_us, expires_us, revoked, "
    "body_deleted";
constexpr char kDeliveryColumns[] =
    "message_id, domain, recipients, fetch_token, signed_notification, state, attempts, "
    "next_attempt_us, last_error, bytes_served";

// SQLite reads LIMIT -1 as "no limit".
int64_t SqlLimit(size_t limit) { return limit == 0 ? -1 : static_cast<int64_t>(limit); }

class SqliteSenderStore : public SenderStore {
 public:
  explicit SqliteSenderStore(std::shared_ptr<SqliteDb> db) : db_(std::move(db)) {}

  absl::Status PutMessage(const OutboundMessage& m, std::string_view body,
                          const std::vector<Delivery>& deliveries) override {
    RETURN_IF_ERROR(CheckPut(m, body, deliveries));
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    RETURN_IF_ERROR(txn.Begin());
    RETURN_IF_ERROR(PutMessageLocked(m, body, deliveries));
    return txn.Commit();
  }

  // One transaction for the lot; each message inside its own savepoint, so
  // that one refused (a duplicate id) is rolled back alone.
  std::vector<absl::Status> PutMessages(const std::vector<PutRequest>& batch) override {
    std::vector<absl::Status> out(batch.size());
    std::vector<bool> valid(batch.size(), false);
    for (size_t i = 0; i < batch.size(); ++i) {
      out[i] = CheckPut(*batch[i].message, batch[i].body, *batch[i].deliveries);
      valid[i] = out[i].ok();
    }
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    if (absl::Status s = txn.Begin(); !s.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) {
        if (valid[i]) out[i] = s;
      }
      return out;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!valid[i]) continue;
      absl::Status s = db_->Exec("SAVEPOINT put_message");
      if (s.ok()) s = PutMessageLocked(*batch[i].message, batch[i].body, *batch[i].deliveries);
      if (s.ok()) {
        s = db_->Exec("RELEASE put_message");
      } else {
        (void)db_->Exec("ROLLBACK TO put_message");
        (void)db_->Exec("RELEASE put_message");
        valid[i] = false;
      }
      out[i] = s;
    }
    if (absl::Status s = txn.Commit(); !s.ok()) {
      for (size_t i = 0; i < batch.size(); ++i) {
        if (valid[i]) out[i] = s;
      }
    }
    return out;
  }

  static absl::Status CheckPut(const OutboundMessage& m, std::string_view body,
                               const std::vector<Delivery>& deliveries) {
    if (m.message_id.empty()) return absl::InvalidArgumentError("empty message id");
    if (body.size() != m.body_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("body is ", body.size(), " bytes, message says ", m.body_size));
    }
    std::set<std::string_view> domains;
    for (const Delivery& d : deliveries) {
      if (d.message_id != m.message_id) {
        return absl::InvalidArgumentError(
            absl::StrCat("delivery for ", d.message_id, " given with message ", m.message_id));
      }
      if (!domains.insert(d.domain).second) {
        return absl::InvalidArgumentError(absl::StrCat("two deliveries to domain ", d.domain));
      }
    }
    return absl::OkStatus();
  }

  // The inserts of PutMessage, inside the caller's transaction.
  absl::Status PutMessageLocked(const OutboundMessage& m, std::string_view body,
                                const std::vector<Delivery>& deliveries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_->mu()) {
    {
      Statement st(db_.get(), absl::StrCat("INSERT INTO out_messages(", kMessageColumns,
                                           ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      st.Text(1, m.message_id)
          .Text(2, m.sender)
          .Blob(3, m.body_sha256)
          .Int(4, static_cast<int64_t>(m.body_size))
          .Blob(5, m.summary)
          .Int(6, TimeToStoredMicros(m.created))
          .Int(7, TimeToStoredMicros(m.expires))
          .Int(8, m.revoked ? 1 : 0)
          .Int(9, m.body_deleted ? 1 : 0);
      absl::Status s = st.Run();
      if (absl::IsAlreadyExists(s)) {
        return absl::AlreadyExistsError(absl::StrCat("message ", m.message_id, " already stored"));
      }
      RETURN_IF_ERROR(s);
    }
    // After the message row (the key refers to it); a used key rolls the
    // whole transaction back.
    if (!m.idempotency_key.empty()) {
      Statement st(db_.get(),
                   "INSERT INTO submission_keys(sender, idempotency_key, message_id) "
                   "VALUES(?, ?, ?)");
      st.Text(1, m.sender).Text(2, m.idempotency_key).Text(3, m.message_id);
      absl::Status s = st.Run();
      if (absl::IsAlreadyExists(s)) {
        return absl::AlreadyExistsError(
            absl::StrCat("idempotency key of ", m.sender, " already used"));
      }
      RETURN_IF_ERROR(s);
    }
    if (!m.body_deleted) {
      RETURN_IF_ERROR(db_->InsertBodyChunks(
          kInsertOutBodyChunkSql, [&](Statement& st) { st.Text(1, m.message_id); }, body));
    }
    for (const Delivery& d : deliveries) {
      Statement st(db_.get(), absl::StrCat("INSERT INTO deliveries(", kDeliveryColumns,
                                           ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      st.Text(1, d.message_id)
          .Text(2, d.domain)
          .Blob(3, EncodeStringList(d.recipients))
          .Blob(4, d.fetch_token)
          .Blob(5, d.signed_notification)
          .Int(6, static_cast<int>(d.state))
          .Int(7, d.attempts)
          .Int(8, TimeToStoredMicros(d.next_attempt))
          .Text(9, d.last_error)
          .Int(10, static_cast<int64_t>(d.bytes_served));
      RETURN_IF_ERROR(st.Run());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<OutboundMessage> GetMessage(std::string_view message_id) override {
    absl::MutexLock lock(&db_->mu());
    return GetMessageLocked(message_id);
  }

  absl::StatusOr<std::string> FindByIdempotencyKey(std::string_view sender,
                                                   std::string_view key) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(),
                 "SELECT message_id FROM submission_keys WHERE sender = ? AND idempotency_key = ?");
    st.Text(1, sender).Text(2, key);
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return absl::NotFoundError("no message with that idempotency key");
    return st.ColText(0);
  }

  absl::StatusOr<std::vector<OutboundMessage>> ListMessages(std::string_view sender,
                                                            size_t limit) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), absl::StrCat("SELECT ", kMessageColumns,
                                         " FROM out_messages WHERE sender = ?"
                                         " ORDER BY created_us DESC, message_id DESC LIMIT ?"));
    st.Text(1, sender).Int(2, SqlLimit(limit));
    return ReadMessages(st);
  }

  absl::StatusOr<std::string> ReadBody(std::string_view message_id, uint64_t offset,
                                       size_t max_len) override {
    absl::MutexLock lock(&db_->mu());
    ASSIGN_OR_RETURN(OutboundMessage m, GetMessageLocked(message_id));
    if (m.body_deleted) {
      return absl::FailedPreconditionError(absl::StrCat("body of ", m.message_id, " deleted"));
    }
    if (offset > m.body_size) {
      return absl::OutOfRangeError(
          absl::StrCat("offset ", offset, " beyond body size ", m.body_size));
    }
    auto slice = db_->ReadBodyChunks(
        "SELECT idx, data FROM out_body_chunks WHERE message_id = ? AND idx BETWEEN ? AND ? "
        "ORDER BY idx",
        [&](Statement& st) { st.Text(1, message_id); }, m.body_size, offset, max_len);
    if (!slice.ok() && absl::IsDataLoss(slice.status())) {
      return absl::DataLossError(
          absl::StrCat("body of ", m.message_id, ": ", slice.status().message()));
    }
    return slice;
  }

  absl::Status MarkRevoked(std::string_view message_id) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), "UPDATE out_messages SET revoked = 1 WHERE message_id = ?");
    st.Text(1, message_id);
    RETURN_IF_ERROR(st.Run());
    if (sqlite3_changes(db_->handle()) == 0) return NoMessage(message_id);
    return absl::OkStatus();
  }

  absl::Status DeleteBody(std::string_view message_id) override {
    absl::MutexLock lock(&db_->mu());
    Transaction txn(db_.get());
    RETURN_IF_ERROR(txn.Begin());
    {
      Statement st(db_.get(), "UPDATE out_messages SET body_deleted = 1 WHERE message_id = ?");
      st.Text(1, message_id);
      RETURN_IF_ERROR(st.Run());
      if (sqlite3_changes(db_->handle()) == 0) return NoMessage(message_id);
    }
    {
      Statement st(db_.get(), "DELETE FROM out_body_chunks WHERE message_id = ?");
      st.Text(1, message_id);
      RETURN_IF_ERROR(st.Run());
    }
    return txn.Commit();
  }

  absl::StatusOr<std::vector<OutboundMessage>> ExpiredMessages(absl::Time now,
                                                               size_t limit) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), absl::StrCat("SELECT ", kMessageColumns,
                                         " FROM out_messages WHERE body_deleted = 0 AND "
                                         "expires_us <= ? ORDER BY expires_us, message_id LIMIT ?"));
    st.Int(1, TimeToStoredMicros(now)).Int(2, SqlLimit(limit));
    return ReadMessages(st);
  }

  absl::StatusOr<std::vector<Delivery>> DueDeliveries(absl::Time now, size_t limit) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(),
                 absl::StrCat("SELECT ", kDeliveryColumns,
                              " FROM deliveries WHERE state = 0 AND next_attempt_us <= ?"
                              " ORDER BY next_attempt_us, message_id, domain LIMIT ?"));
    st.Int(1, TimeToStoredMicros(now)).Int(2, SqlLimit(limit));
    return ReadDeliveries(st);
  }

  absl::StatusOr<std::optional<absl::Time>> NextDueTime() override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), "SELECT MIN(next_attempt_us) FROM deliveries WHERE state = 0");
    ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || st.ColIsNull(0)) return std::nullopt;
    return StoredMicrosToTime(st.ColInt(0));
  }

  absl::StatusOr<Delivery> GetDelivery(std::string_view message_id,
                                       std::string_view domain) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), absl::StrCat("SELECT ", kDeliveryColumns,
                                         " FROM deliveries WHERE message_id = ? AND domain = ?"));
    st.Text(1, message_id).Text(2, domain);
    ASSIGN_OR_RETURN(std::vector<Delivery> found, ReadDeliveries(st));
    if (found.empty()) return NoDelivery(message_id, domain);
    return std::move(found.front());
  }

  absl::StatusOr<std::vector<Delivery>> ListDeliveries(std::string_view message_id) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), absl::StrCat("SELECT ", kDeliveryColumns,
                                         " FROM deliveries WHERE message_id = ? ORDER BY domain"));
    st.Text(1, message_id);
    return ReadDeliveries(st);
  }

  absl::Status UpdateDelivery(const Delivery& d) override {
    absl::MutexLock lock(&db_->mu());
    return UpdateDeliveryLocked(d);
  }

  // One transaction, so one commit (and fsync) for the lot.
  absl::Status UpdateDeliveries(const std::vector<Delivery>& deliveries) override {
    absl::MutexLock lock(&db_->mu());
    // Relaxed (sender_store.h says why a lost one is harmless).
    Transaction tx(db_.get(), Durability::kRelaxed);
    RETURN_IF_ERROR(tx.Begin());
    for (const Delivery& d : deliveries) RETURN_IF_ERROR(UpdateDeliveryLocked(d));
    return tx.Commit();
  }

  absl::Status UpdateDeliveryLocked(const Delivery& d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_->mu()) {
    Statement st(db_.get(),
                 "UPDATE deliveries SET state = ?, attempts = ?, next_attempt_us = ?, "
                 "last_error = ? WHERE message_id = ? AND domain = ?");
    st.Int(1, static_cast<int>(d.state))
        .Int(2, d.attempts)
        .Int(3, TimeToStoredMicros(d.next_attempt))
        .Text(4, d.last_error)
        .Text(5, d.message_id)
        .Text(6, d.domain);
    RETURN_IF_ERROR(st.Run());
    if (sqlite3_changes(db_->handle()) == 0) return NoDelivery(d.message_id, d.domain);
    return absl::OkStatus();
  }

  absl::Status AddBytesServed(std::string_view message_id, std::string_view domain,
                              uint64_t n) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(),
                 "UPDATE deliveries SET bytes_served = bytes_served + ? "
                 "WHERE message_id = ? AND domain = ?");
    st.Int(1, static_cast<int64_t>(n)).Text(2, message_id).Text(3, domain);
    RETURN_IF_ERROR(st.Run());
    if (sqlite3_changes(db_->handle()) == 0) return NoDelivery(message_id, domain);
    return absl::OkStatus();
  }

  // One UPDATE in a relaxed transaction (synchronous=NORMAL: in WAL mode
  // no fsync; the next FULL commit or checkpoint makes it durable).
  absl::Status RecordServed(std::string_view message_id, std::string_view domain, uint64_t n,
                            bool complete) override {
    absl::MutexLock lock(&db_->mu());
    Transaction tx(db_.get(), Durability::kRelaxed);
    RETURN_IF_ERROR(tx.Begin());
    RETURN_IF_ERROR(RecordServedLocked(message_id, domain, n, complete));
    return tx.Commit();
  }

  // The lot in one relaxed transaction.
  absl::Status RecordServedMany(const std::vector<Served>& records) override {
    if (records.empty()) return absl::OkStatus();
    absl::MutexLock lock(&db_->mu());
    Transaction tx(db_.get(), Durability::kRelaxed);
    RETURN_IF_ERROR(tx.Begin());
    for (const Served& r : records) {
      absl::Status s = RecordServedLocked(r.message_id, r.domain, r.bytes, r.complete);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    return tx.Commit();
  }

  absl::Status RecordServedLocked(std::string_view message_id, std::string_view domain,
                                  uint64_t n, bool complete)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_->mu()) {
    Statement st(db_.get(),
                 "UPDATE deliveries SET bytes_served = bytes_served + ?, "
                 "state = CASE WHEN ? AND state = ? THEN ? ELSE state END "
                 "WHERE message_id = ? AND domain = ?");
    st.Int(1, static_cast<int64_t>(n))
        .Int(2, complete ? 1 : 0)
        .Int(3, static_cast<int>(DeliveryState::kDelivered))
        .Int(4, static_cast<int>(DeliveryState::kFetched))
        .Text(5, message_id)
        .Text(6, domain);
    RETURN_IF_ERROR(st.Run());
    if (sqlite3_changes(db_->handle()) == 0) return NoDelivery(message_id, domain);
    return absl::OkStatus();
  }

  absl::StatusOr<bool> RecordAbuseReport(std::string_view sender, std::string_view reporter_domain,
                                         std::string_view report_id, int verdict,
                                         absl::Time time) override {
    absl::MutexLock lock(&db_->mu());
    // OR IGNORE: a replayed (reporter_domain, report_id) changes nothing.
    Statement st(db_.get(),
                 "INSERT OR IGNORE INTO abuse_reports(reporter_domain, report_id, sender, "
                 "verdict, time_us) VALUES(?, ?, ?, ?, ?)");
    st.Text(1, reporter_domain)
        .Text(2, report_id)
        .Text(3, sender)
        .Int(4, verdict)
        .Int(5, TimeToStoredMicros(time));
    RETURN_IF_ERROR(st.Run());
    return sqlite3_changes(db_->handle()) > 0;
  }

  absl::StatusOr<uint64_t> AbuseCount(std::string_view sender) override {
    absl::MutexLock lock(&db_->mu());
    Statement st(db_.get(), "SELECT COUNT(*) FROM abuse_reports WHERE sender = ? AND verdict = 1");
    st.Text(1, sender);
    ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? static_cast<uint64_t>(st.ColInt(0)) : 0;
  }

 private:
  static absl::Status NoMessage(std::string_view id) {
    return absl::NotFoundError(absl::StrCat("no message ", AV(id)));
  }
  static absl::Status NoDelivery(std::string_view id, std::string_view domain) {
    return absl::NotFoundError(absl::StrCat("no delivery of ", AV(id), " to ", AV(domain)));
  }

  absl::StatusOr<OutboundMessage> GetMessageLocked(std::string_view message_id) {
    Statement st(db_.get(), absl::StrCat("SELECT ", kMessageColumns,
                                         " FROM out_messages WHERE message_id = ?"));
    st.Text(1, message_id);
    ASSIGN_OR_RETURN(std::vector<OutboundMessage> found, ReadMessages(st));
    if (found.empty()) return NoMessage(message_id);
    return std::move(found.front());
  }

  static absl::StatusOr<std::vector<OutboundMessage>> ReadMessages(Statement& st) {
    std::vector<OutboundMessage> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      OutboundMessage& m = out.emplace_back();
      m.message_id = st.ColText(0);
      m.sender = st.ColText(1);
      m.body_sha256 = st.ColBlob(2);
      m.body_size = static_cast<uint64_t>(st.ColInt(3));
      m.summary = st.ColBlob(4);
      m.created = StoredMicrosToTime(st.ColInt(5));
      m.expires = StoredMicrosToTime(st.ColInt(6));
      m.revoked = st.ColInt(7) != 0;
      m.body_deleted = st.ColInt(8) != 0;
    }
    return out;
  }

  static absl::StatusOr<std::vector<Delivery>> ReadDeliveries(Statement& st) {
    std::vector<Delivery> out;
    while (true) {
      ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      Delivery& d = out.emplace_back();
      d.message_id = st.ColText(0);
      d.domain = st.ColText(1);
      ASSIGN_OR_RETURN(d.recipients, DecodeStringList(st.ColBlob(2)));
      d.fetch_token = st.ColBlob(3);
      d.signed_notification = st.ColBlob(4);
      d.state = static_cast<DeliveryState>(st.ColInt(5));
      d.attempts = static_cast<uint32_t>(st.ColInt(6));
      d.next_attempt = StoredMicrosToTime(st.ColInt(7));
      d.last_error = st.ColText(8);
      d.bytes_served = static_cast<uint64_t>(st.ColInt(9));
    }
    return out;
  }

  std::shared_ptr<SqliteDb> db_;
};

}  // namespace

std::unique_ptr<SenderStore> NewSqliteSenderStore(std::shared_ptr<SqliteDb> db) {
  return std::make_unique<SqliteSenderStore>(std::move(db));
}

}  // namespace pullmail
