// SenderStore: what a sender node keeps. Submitted messages with their
// bodies, one Delivery (queued notification) per recipient domain, and the
// abuse reports that recipient nodes send about its users.
// Back ends: sqlite_store.h (durable), memory_store.h (tests, simulator).
#ifndef PULLMAIL_CORE_STORAGE_SENDER_STORE_H_
#define PULLMAIL_CORE_STORAGE_SENDER_STORE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/storage/types.h"

namespace pullmail {

// Every method is thread-safe and, when it returns OK, its change is
// committed (durably, for the SQLite back end). Errors common to all
// methods: kUnavailable (database busy or I/O failed: retry later),
// kDataLoss (database corrupt), kInternal (anything else from the back end).
class SenderStore {
 public:
  virtual ~SenderStore() = default;

  // --- Messages and bodies -------------------------------------------------

  // Stores a message, its body and its deliveries in one transaction: all of
  // them or none. AlreadyExists if the message id is taken, or if
  // `message.idempotency_key` is set and the same sender already stored a
  // message under that key (FindByIdempotencyKey finds it); InvalidArgument
  // if body.size() != message.body_size or a delivery names another message
  // id or the same domain twice. `message.revoked/body_deleted` are stored
  // as given (normally false).
  virtual absl::Status PutMessage(const OutboundMessage& message, std::string_view body,
                                  const std::vector<Delivery>& deliveries) = 0;

  // One PutMessage call's arguments (borrowed).
  struct PutRequest {
    const OutboundMessage* message;
    std::string_view body;
    const std::vector<Delivery>* deliveries;
  };
  // PutMessage for each, with one result each, in order: each message is
  // stored whole or not at all and one's failure does not affect another's.
  // A back end may commit them together (SQLite does: one transaction, one
  // fsync, for concurrent submissions -- group commit).
  virtual std::vector<absl::Status> PutMessages(const std::vector<PutRequest>& batch) {
    std::vector<absl::Status> out;
    out.reserve(batch.size());
    for (const PutRequest& r : batch) out.push_back(PutMessage(*r.message, r.body, *r.deliveries));
    return out;
  }

  // NotFound if unknown.
  virtual absl::StatusOr<OutboundMessage> GetMessage(std::string_view message_id) = 0;

  // The id of the message `sender` stored with idempotency key `key`
  // (OutboundMessage::idempotency_key), or NotFound. Durable with the
  // message: as long as the message is kept, so is its key.
  virtual absl::StatusOr<std::string> FindByIdempotencyKey(std::string_view sender,
                                                           std::string_view key) = 0;

  // The sender's messages, newest `created` first (ties: message id
  // descending), at most `limit` of them (0 = no limit).
  virtual absl::StatusOr<std::vector<OutboundMessage>> ListMessages(std::string_view sender,
                                                                    size_t limit) = 0;

  // Up to `max_len` body bytes from `offset` (fewer at the end; empty at
  // offset == size). Reads only that slice, never the whole body.
  // NotFound if unknown; OutOfRange if offset > body size;
  // FailedPrecondition ("body deleted") once DeleteBody ran.
  virtual absl::StatusOr<std::string> ReadBody(std::string_view message_id, uint64_t offset,
                                               size_t max_len) = 0;

  // Sets `revoked`. Idempotent. Delivery states are the caller's to change
  // (UpdateDelivery). NotFound if unknown.
  virtual absl::Status MarkRevoked(std::string_view message_id) = 0;

  // Drops the body and sets `body_deleted`; metadata and deliveries stay.
  // Idempotent. NotFound if unknown.
  virtual absl::Status DeleteBody(std::string_view message_id) = 0;

  // Messages whose body is still kept and whose `expires` <= now, soonest
  // expiry first, at most `limit` (0 = no limit).
  virtual absl::StatusOr<std::vector<OutboundMessage>> ExpiredMessages(absl::Time now,
                                                                       size_t limit) = 0;

  // --- Deliveries ----------------------------------------------------------

  // Deliveries in state kQueued with next_attempt <= now, earliest
  // next_attempt first (ties: message id, domain), at most `limit` (0 = no
  // limit).
  virtual absl::StatusOr<std::vector<Delivery>> DueDeliveries(absl::Time now, size_t limit) = 0;

  // Like DueDeliveries, but for several sender-node processes sharing one
  // store: each returned delivery is claimed by the caller for `lease` (its
  // stored next_attempt becomes now + lease, so no other caller gets it
  // until then). The caller records its attempt with UpdateDelivery; if it
  // dies first the delivery comes due again after the lease (at least once;
  // the recipient node deduplicates). The default runs DueDeliveries then
  // UpdateDelivery, which suffices for a store that one process owns; the
  // PostgreSQL back end claims atomically (FOR UPDATE SKIP LOCKED). A zero
  // lease claims nothing: the deliveries stay due (NodeConfig's
  // DeliveryClaimLease gives one for a store that one process owns).
  virtual absl::StatusOr<std::vector<Delivery>> ClaimDueDeliveries(absl::Time now, size_t limit,
                                                                   absl::Duration lease);

  // The earliest next_attempt of any kQueued delivery, or nullopt if none is
  // queued (so a scheduler knows how long it may sleep).
  virtual absl::StatusOr<std::optional<absl::Time>> NextDueTime() = 0;

  // NotFound if there is no delivery for (message_id, domain).
  virtual absl::StatusOr<Delivery> GetDelivery(std::string_view message_id,
                                               std::string_view domain) = 0;

  // Every delivery of a message, by domain. Empty if the message is unknown.
  // (A fetch's token check: the caller compares tokens in constant time.)
  virtual absl::StatusOr<std::vector<Delivery>> ListDeliveries(std::string_view message_id) = 0;

  // Writes the mutable fields of an existing delivery: state, attempts,
  // next_attempt, last_error. (bytes_served changes only through
  // AddBytesServed, so concurrent fetches never lose counts; the other fields
  // are fixed at PutMessage.) NotFound if no such delivery.
  virtual absl::Status UpdateDelivery(const Delivery& delivery) = 0;

  // UpdateDelivery for each, in order; a back end may make them one
  // transaction (SQLite does: one commit for a whole delivery pass rather than
  // one per notification). On an error the ones before it may be written.
  // The delivery pass records its attempts here, and the commit need not
  // reach the disk before OK (SQLite: Durability::kRelaxed): what an OS crash
  // could lose is an attempt's outcome, and the pass then repeats it (a
  // recipient answers a repeated notification as a duplicate; a bounce is a
  // durable submission committed after this, whose fsync takes this with it).
  // A killed process loses nothing.
  virtual absl::Status UpdateDeliveries(const std::vector<Delivery>& deliveries) {
    for (const Delivery& d : deliveries) {
      if (absl::Status s = UpdateDelivery(d); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  // bytes_served += n. NotFound if no such delivery.
  virtual absl::Status AddBytesServed(std::string_view message_id, std::string_view domain,
                                      uint64_t n) = 0;

  // A served fetch's bookkeeping in one write: bytes_served += n and, when
  // `complete` (the body was sent to its end) and the delivery is
  // kDelivered, state = kFetched. Bookkeeping, not a promise to anyone: a
  // back end may commit it without waiting for the disk (SQLite does, so
  // that fetches do not queue behind an fsync each: a power cut may lose the
  // last few, never corrupt anything; a crashed process loses nothing).
  // NotFound if no such delivery.
  virtual absl::Status RecordServed(std::string_view message_id, std::string_view domain,
                                    uint64_t n, bool complete) {
    if (absl::Status s = AddBytesServed(message_id, domain, n); !s.ok()) return s;
    if (!complete) return absl::OkStatus();
    absl::StatusOr<Delivery> d = GetDelivery(message_id, domain);
    if (!d.ok()) return d.status();
    if (d->state != DeliveryState::kDelivered) return absl::OkStatus();
    d->state = DeliveryState::kFetched;
    return UpdateDelivery(*d);
  }

  // One served fetch: RecordServed's arguments.
  struct Served {
    std::string message_id;
    std::string domain;
    uint64_t bytes = 0;
    bool complete = false;
  };

  // RecordServed for each record, in order, as one write where the back end
  // can (SQLite: one relaxed transaction), so that a FetchBodies call of many
  // bodies pays one commit rather than one per body. A record whose delivery
  // is gone (expired or retracted while it was served) is skipped; another
  // error stops, and the records before it may be written. A caller that
  // holds records back to write them together (FetchBodies) loses those it
  // held if its process dies, and a recall between a body's serving and its
  // record says it was not fetched yet (PlanRevocation's already_fetched,
  // which is what the sender is told, nothing more): bookkeeping only.
  virtual absl::Status RecordServedMany(const std::vector<Served>& records) {
    for (const Served& r : records) {
      absl::Status s = RecordServed(r.message_id, r.domain, r.bytes, r.complete);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
    }
    return absl::OkStatus();
  }

  // --- Abuse reports about local senders -----------------------------------

  // Records one report (verdict holds v1::Verdict's number). Returns false,
  // changing nothing, if (reporter_domain, report_id) was recorded before
  // (a replay); true otherwise.
  virtual absl::StatusOr<bool> RecordAbuseReport(std::string_view sender,
                                                 std::string_view reporter_domain,
                                                 std::string_view report_id, int verdict,
                                                 absl::Time time) = 0;

  // How many recorded reports against `sender` have verdict 1 (VERDICT_SPAM).
  virtual absl::StatusOr<uint64_t> AbuseCount(std::string_view sender) = 0;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_STORAGE_SENDER_STORE_H_
