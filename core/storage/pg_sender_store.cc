// SenderStore over PostgreSQL (tables out_messages, out_body_chunks,
// deliveries, abuse_reports; schema in pg_db.cc). Several sender-node
// replicas share it: ClaimDueDeliveries hands each due delivery to one of
// them (FOR UPDATE SKIP LOCKED, then a lease in next_attempt_us).
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/storage/pg_db.h"
#include "core/storage/pg_store.h"
#include "core/storage/sqlite_db.h"  // EncodeStringList: the same list encoding
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

// PostgreSQL reads LIMIT NULL as "no limit".
void BindLimit(PgParams& p, size_t limit) {
  if (limit == 0) {
    p.Null();
  } else {
    p.Int(static_cast<int64_t>(limit));
  }
}

class PgSenderStore : public SenderStore {
 public:
  explicit PgSenderStore(std::shared_ptr<PgDb> db) : db_(std::move(db)) {}

  absl::Status PutMessage(const OutboundMessage& m, std::string_view body,
                          const std::vector<Delivery>& deliveries) override {
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
    absl::Status s = db_->Txn([&](PgConn& c) -> absl::Status {
      RETURN_IF_ERROR(c.Exec(absl::StrCat("INSERT INTO out_messages(", kMessageColumns,
                                          ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
                             PgParams()
                                 .Text(m.message_id)
                                 .Text(m.sender)
                                 .Bytea(m.body_sha256)
                                 .Int(static_cast<int64_t>(m.body_size))
                                 .Bytea(m.summary)
                                 .Int(TimeToStoredMicros(m.created))
                                 .Int(TimeToStoredMicros(m.expires))
                                 .Int(m.revoked ? 1 : 0)
                                 .Int(m.body_deleted ? 1 : 0))
                          .status());
      if (!m.idempotency_key.empty()) {
        // A used key fails the whole transaction (unique violation).
        RETURN_IF_ERROR(c.Exec("INSERT INTO submission_keys(sender, idempotency_key, message_id) "
                               "VALUES($1, $2, $3)",
                               PgParams().Text(m.sender).Text(m.idempotency_key).Text(m.message_id))
                            .status());
      }
      if (!m.body_deleted) {
        RETURN_IF_ERROR(PgInsertBodyChunks(
            c, "INSERT INTO out_body_chunks(message_id, idx, data) VALUES($1, $2, $3)",
            [&](PgParams& p) { p.Text(m.message_id); }, body));
      }
      for (const Delivery& d : deliveries) {
        RETURN_IF_ERROR(c.Exec(absl::StrCat("INSERT INTO deliveries(", kDeliveryColumns,
                                            ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
                               PgParams()
                                   .Text(d.message_id)
                                   .Text(d.domain)
                                   .Bytea(EncodeStringList(d.recipients))
                                   .Bytea(d.fetch_token)
                                   .Bytea(d.signed_notification)
                                   .Int(static_cast<int>(d.state))
                                   .Int(d.attempts)
                                   .Int(TimeToStoredMicros(d.next_attempt))
                                   .Text(d.last_error)
                                   .Int(static_cast<int64_t>(d.bytes_served)))
                            .status());
      }
      return absl::OkStatus();
    });
    if (absl::IsAlreadyExists(s)) {
      return absl::AlreadyExistsError(absl::StrCat("message ", m.message_id, " already stored"));
    }
    return s;
  }

  absl::StatusOr<OutboundMessage> GetMessage(std::string_view message_id) override {
    ASSIGN_OR_RETURN(PgLease c, db_->Acquire());
    return GetMessageOn(*c, message_id);
  }

  absl::StatusOr<std::string> FindByIdempotencyKey(std::string_view sender,
                                                   std::string_view key) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("SELECT message_id FROM submission_keys WHERE "
                                           "sender = $1 AND idempotency_key = $2",
                                           PgParams().Text(sender).Text(key)));
    if (r.rows() == 0) return absl::NotFoundError("no message with that idempotency key");
    return std::string(r.Text(0, 0));
  }

  absl::StatusOr<std::vector<OutboundMessage>> ListMessages(std::string_view sender,
                                                            size_t limit) override {
    PgParams p;
    p.Text(sender);
    BindLimit(p, limit);
    ASSIGN_OR_RETURN(PgResult r,
                     db_->Exec(absl::StrCat("SELECT ", kMessageColumns,
                                            " FROM out_messages WHERE sender = $1 ORDER BY "
                                            "created_us DESC, message_id COLLATE \"C\" DESC "
                                            "LIMIT $2"),
                               p));
    return ReadMessages(r);
  }

  absl::StatusOr<std::string> ReadBody(std::string_view message_id, uint64_t offset,
                                       size_t max_len) override {
    ASSIGN_OR_RETURN(PgLease c, db_->Acquire());
    ASSIGN_OR_RETURN(OutboundMessage m, GetMessageOn(*c, message_id));
    if (m.body_deleted) {
      return absl::FailedPreconditionError(absl::StrCat("body of ", m.message_id, " deleted"));
    }
    if (offset > m.body_size) {
      return absl::OutOfRangeError(
          absl::StrCat("offset ", offset, " beyond body size ", m.body_size));
    }
    auto slice = PgReadBodyChunks(
        *c,
        "SELECT idx, data FROM out_body_chunks WHERE message_id = $1 AND idx BETWEEN $2 AND $3 "
        "ORDER BY idx",
        [&](PgParams& p) { p.Text(message_id); }, m.body_size, offset, max_len);
    if (!slice.ok() && absl::IsDataLoss(slice.status())) {
      // DeleteBody ran between the two reads: say so rather than "corrupt".
      auto again = GetMessageOn(*c, message_id);
      if (again.ok() && again->body_deleted) {
        return absl::FailedPreconditionError(absl::StrCat("body of ", m.message_id, " deleted"));
      }
      return absl::DataLossError(
          absl::StrCat("body of ", m.message_id, ": ", slice.status().message()));
    }
    return slice;
  }

  absl::Status MarkRevoked(std::string_view message_id) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("UPDATE out_messages SET revoked = 1 "
                                           "WHERE message_id = $1",
                                           PgParams().Text(message_id)));
    if (r.affected() == 0) return NoMessage(message_id);
    return absl::OkStatus();
  }

  absl::Status DeleteBody(std::string_view message_id) override {
    return db_->Txn([&](PgConn& c) -> absl::Status {
      ASSIGN_OR_RETURN(PgResult r, c.Exec("UPDATE out_messages SET body_deleted = 1 "
                                          "WHERE message_id = $1",
                                          PgParams().Text(message_id)));
      if (r.affected() == 0) return NoMessage(message_id);
      return c.Exec("DELETE FROM out_body_chunks WHERE message_id = $1",
                    PgParams().Text(message_id))
          .status();
    });
  }

  absl::StatusOr<std::vector<OutboundMessage>> ExpiredMessages(absl::Time now,
                                                               size_t limit) override {
    PgParams p;
    p.Int(TimeToStoredMicros(now));
    BindLimit(p, limit);
    ASSIGN_OR_RETURN(PgResult r, db_->Exec(absl::StrCat("SELECT ", kMessageColumns,
                                                        " FROM out_messages WHERE body_deleted = "
                                                        "0 AND expires_us <= $1 ORDER BY "
                                                        "expires_us, message_id COLLATE \"C\" "
                                                        "LIMIT $2"),
                                           p));
    return ReadMessages(r);
  }

  absl::StatusOr<std::vector<Delivery>> DueDeliveries(absl::Time now, size_t limit) override {
    PgParams p;
    p.Int(TimeToStoredMicros(now));
    BindLimit(p, limit);
    ASSIGN_OR_RETURN(PgResult r,
                     db_->Exec(absl::StrCat("SELECT ", kDeliveryColumns,
                                            " FROM deliveries WHERE state = 0 AND "
                                            "next_attempt_us <= $1 ORDER BY next_attempt_us, "
                                            "message_id COLLATE \"C\", domain COLLATE \"C\" "
                                            "LIMIT $2"),
                               p));
    return ReadDeliveries(r);
  }

  absl::StatusOr<std::vector<Delivery>> ClaimDueDeliveries(absl::Time now, size_t limit,
                                                           absl::Duration lease) override {
    // Rows another replica is claiming right now are skipped, not waited
    // for; the claimed rows' next_attempt moves past the lease, so no other
    // replica sees them due until the claimer has recorded an attempt or has
    // died (then they come due again: at-least-once, and the recipient node
    // deduplicates by message id).
    PgParams p;
    p.Int(TimeToStoredMicros(now));
    BindLimit(p, limit);
    std::vector<Delivery> out;
    RETURN_IF_ERROR(db_->Txn([&](PgConn& c) -> absl::Status {
      ASSIGN_OR_RETURN(
          PgResult r,
          c.Exec(absl::StrCat("SELECT ", kDeliveryColumns,
                              " FROM deliveries WHERE state = 0 AND next_attempt_us <= $1 "
                              "ORDER BY next_attempt_us, message_id COLLATE \"C\", "
                              "domain COLLATE \"C\" LIMIT $2 FOR UPDATE SKIP LOCKED"),
                 p));
      ASSIGN_OR_RETURN(out, ReadDeliveries(r));
      for (const Delivery& d : out) {
        RETURN_IF_ERROR(c.Exec("UPDATE deliveries SET next_attempt_us = $3 WHERE message_id = "
                               "$1 AND domain = $2",
                               PgParams()
                                   .Text(d.message_id)
                                   .Text(d.domain)
                                   .Int(TimeToStoredMicros(now + lease)))
                            .status());
      }
      return absl::OkStatus();
    }));
    return out;
  }

  absl::StatusOr<std::optional<absl::Time>> NextDueTime() override {
    ASSIGN_OR_RETURN(PgResult r,
                     db_->Exec("SELECT MIN(next_attempt_us) FROM deliveries WHERE state = 0"));
    if (r.rows() == 0 || r.IsNull(0, 0)) return std::nullopt;
    return StoredMicrosToTime(r.Int(0, 0));
  }

  absl::StatusOr<Delivery> GetDelivery(std::string_view message_id,
                                       std::string_view domain) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec(absl::StrCat("SELECT ", kDeliveryColumns,
                                                        " FROM deliveries WHERE message_id = $1 "
                                                        "AND domain = $2"),
                                           PgParams().Text(message_id).Text(domain)));
    ASSIGN_OR_RETURN(std::vector<Delivery> found, ReadDeliveries(r));
    if (found.empty()) return NoDelivery(message_id, domain);
    return std::move(found.front());
  }

  absl::StatusOr<std::vector<Delivery>> ListDeliveries(std::string_view message_id) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec(absl::StrCat("SELECT ", kDeliveryColumns,
                                                        " FROM deliveries WHERE message_id = $1 "
                                                        "ORDER BY domain COLLATE \"C\""),
                                           PgParams().Text(message_id)));
    return ReadDeliveries(r);
  }

  absl::Status UpdateDelivery(const Delivery& d) override {
    ASSIGN_OR_RETURN(PgResult r,
                     db_->Exec("UPDATE deliveries SET state = $1, attempts = $2, "
                               "next_attempt_us = $3, last_error = $4 WHERE message_id = $5 "
                               "AND domain = $6",
                               PgParams()
                                   .Int(static_cast<int>(d.state))
                                   .Int(d.attempts)
                                   .Int(TimeToStoredMicros(d.next_attempt))
                                   .Text(d.last_error)
                                   .Text(d.message_id)
                                   .Text(d.domain)));
    if (r.affected() == 0) return NoDelivery(d.message_id, d.domain);
    return absl::OkStatus();
  }

  absl::Status AddBytesServed(std::string_view message_id, std::string_view domain,
                              uint64_t n) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("UPDATE deliveries SET bytes_served = bytes_served + "
                                           "$1 WHERE message_id = $2 AND domain = $3",
                                           PgParams()
                                               .Int(static_cast<int64_t>(n))
                                               .Text(message_id)
                                               .Text(domain)));
    if (r.affected() == 0) return NoDelivery(message_id, domain);
    return absl::OkStatus();
  }

  absl::StatusOr<bool> RecordAbuseReport(std::string_view sender, std::string_view reporter_domain,
                                         std::string_view report_id, int verdict,
                                         absl::Time time) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("INSERT INTO abuse_reports(reporter_domain, report_id, "
                                           "sender, verdict, time_us) VALUES($1, $2, $3, $4, $5) "
                                           "ON CONFLICT DO NOTHING",
                                           PgParams()
                                               .Text(reporter_domain)
                                               .Text(report_id)
                                               .Text(sender)
                                               .Int(verdict)
                                               .Int(TimeToStoredMicros(time))));
    return r.affected() > 0;
  }

  absl::StatusOr<uint64_t> AbuseCount(std::string_view sender) override {
    ASSIGN_OR_RETURN(PgResult r, db_->Exec("SELECT COUNT(*) FROM abuse_reports WHERE sender = $1 "
                                           "AND verdict = 1",
                                           PgParams().Text(sender)));
    return r.rows() > 0 ? static_cast<uint64_t>(r.Int(0, 0)) : 0;
  }

 private:
  static absl::Status NoMessage(std::string_view id) {
    return absl::NotFoundError(absl::StrCat("no message ", AV(id)));
  }
  static absl::Status NoDelivery(std::string_view id, std::string_view domain) {
    return absl::NotFoundError(absl::StrCat("no delivery of ", AV(id), " to ", AV(domain)));
  }

  static absl::StatusOr<OutboundMessage> GetMessageOn(PgConn& c, std::string_view message_id) {
    ASSIGN_OR_RETURN(PgResult r, c.Exec(absl::StrCat("SELECT ", kMessageColumns,
                                                     " FROM out_messages WHERE message_id = $1"),
                                        PgParams().Text(message_id)));
    ASSIGN_OR_RETURN(std::vector<OutboundMessage> found, ReadMessages(r));
    if (found.empty()) return NoMessage(message_id);
    return std::move(found.front());
  }

  static absl::StatusOr<std::vector<OutboundMessage>> ReadMessages(const PgResult& r) {
    std::vector<OutboundMessage> out;
    for (int i = 0; i < r.rows(); ++i) {
      OutboundMessage& m = out.emplace_back();
      m.message_id = std::string(r.Text(i, 0));
      m.sender = std::string(r.Text(i, 1));
      m.body_sha256 = r.Bytea(i, 2);
      m.body_size = static_cast<uint64_t>(r.Int(i, 3));
      m.summary = r.Bytea(i, 4);
      m.created = StoredMicrosToTime(r.Int(i, 5));
      m.expires = StoredMicrosToTime(r.Int(i, 6));
      m.revoked = r.Int(i, 7) != 0;
      m.body_deleted = r.Int(i, 8) != 0;
    }
    return out;
  }

  static absl::StatusOr<std::vector<Delivery>> ReadDeliveries(const PgResult& r) {
    std::vector<Delivery> out;
    for (int i = 0; i < r.rows(); ++i) {
      Delivery& d = out.emplace_back();
      d.message_id = std::string(r.Text(i, 0));
      d.domain = std::string(r.Text(i, 1));
      ASSIGN_OR_RETURN(d.recipients, DecodeStringList(r.Bytea(i, 2)));
      d.fetch_token = r.Bytea(i, 3);
      d.signed_notification = r.Bytea(i, 4);
      d.state = static_cast<DeliveryState>(r.Int(i, 5));
      d.attempts = static_cast<uint32_t>(r.Int(i, 6));
      d.next_attempt = StoredMicrosToTime(r.Int(i, 7));
      d.last_error = std::string(r.Text(i, 8));
      d.bytes_served = static_cast<uint64_t>(r.Int(i, 9));
    }
    return out;
  }

  std::shared_ptr<PgDb> db_;
};

}  // namespace

std::unique_ptr<SenderStore> NewPgSenderStore(std::shared_ptr<PgDb> db) {
  return std::make_unique<PgSenderStore>(std::move(db));
}

}  // namespace pullmail
