// SenderStore in memory (memory_store.h). Ordered indexes keep the
// scheduler's queries (DueDeliveries, NextDueTime, ExpiredMessages) cheap at
// the simulator's scale.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/storage/memory_store.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

class MemorySenderStore : public SenderStore {
 public:
  absl::Status PutMessage(const OutboundMessage& message, std::string_view body,
                          const std::vector<Delivery>& deliveries) override {
    if (message.message_id.empty()) return absl::InvalidArgumentError("empty message id");
    if (body.size() != message.body_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("body is ", body.size(), " bytes, message says ", message.body_size));
    }
    Rec rec;
    rec.message = message;
    rec.message.created = TruncateToMicros(message.created);
    rec.message.expires = TruncateToMicros(message.expires);
    if (!message.body_deleted) rec.body = std::string(body);
    for (const Delivery& d : deliveries) {
      if (d.message_id != message.message_id) {
        return absl::InvalidArgumentError(absl::StrCat("delivery for ", d.message_id,
                                                       " given with message ", message.message_id));
      }
      Delivery copy = d;
      copy.next_attempt = TruncateToMicros(d.next_attempt);
      if (!rec.deliveries.emplace(d.domain, std::move(copy)).second) {
        return absl::InvalidArgumentError(absl::StrCat("two deliveries to domain ", d.domain));
      }
    }
    absl::MutexLock lock(&mu_);
    std::pair<std::string, std::string> key(message.sender, message.idempotency_key);
    if (!message.idempotency_key.empty() && by_key_.count(key) > 0) {
      return absl::AlreadyExistsError(absl::StrCat("idempotency key of ", message.sender,
                                                   " already used"));
    }
    auto [it, inserted] = messages_.try_emplace(message.message_id);
    if (!inserted) {
      return absl::AlreadyExistsError(
          absl::StrCat("message ", message.message_id, " already stored"));
    }
    if (!message.idempotency_key.empty()) by_key_[key] = message.message_id;
    it->second = std::move(rec);
    const OutboundMessage& m = it->second.message;
    by_sender_[m.sender].emplace(Micros(m.created), m.message_id);
    if (!m.body_deleted) by_expiry_.emplace(Micros(m.expires), m.message_id);
    for (const auto& [domain, d] : it->second.deliveries) IndexDue(d);
    return absl::OkStatus();
  }

  absl::StatusOr<OutboundMessage> GetMessage(std::string_view message_id) override {
    absl::MutexLock lock(&mu_);
    auto it = messages_.find(message_id);
    if (it == messages_.end()) return NoMessage(message_id);
    return it->second.message;
  }

  absl::StatusOr<std::string> FindByIdempotencyKey(std::string_view sender,
                                                   std::string_view key) override {
    absl::MutexLock lock(&mu_);
    auto it = by_key_.find(std::make_pair(std::string(sender), std::string(key)));
    if (key.empty() || it == by_key_.end()) {
      return absl::NotFoundError("no message with that idempotency key");
    }
    return it->second;
  }

  absl::StatusOr<std::vector<OutboundMessage>> ListMessages(std::string_view sender,
                                                            size_t limit) override {
    absl::MutexLock lock(&mu_);
    std::vector<OutboundMessage> out;
    auto it = by_sender_.find(sender);
    if (it == by_sender_.end()) return out;
    // Ascending (created, id): walk backwards for newest first.
    for (auto m = it->second.rbegin(); m != it->second.rend() && (limit == 0 || out.size() < limit);
         ++m) {
      out.push_back(messages_.find(m->second)->second.message);
    }
    return out;
  }

  absl::StatusOr<std::string> ReadBody(std::string_view message_id, uint64_t offset,
                                       size_t max_len) override {
    absl::MutexLock lock(&mu_);
    auto it = messages_.find(message_id);
    if (it == messages_.end()) return NoMessage(message_id);
    const Rec& r = it->second;
    if (r.message.body_deleted) {
      return absl::FailedPreconditionError(absl::StrCat("body of ", AV(message_id), " deleted"));
    }
    if (offset > r.body.size()) {
      return absl::OutOfRangeError(
          absl::StrCat("offset ", offset, " beyond body size ", r.body.size()));
    }
    return r.body.substr(offset, max_len);
  }

  absl::Status MarkRevoked(std::string_view message_id) override {
    absl::MutexLock lock(&mu_);
    auto it = messages_.find(message_id);
    if (it == messages_.end()) return NoMessage(message_id);
    it->second.message.revoked = true;
    return absl::OkStatus();
  }

  absl::Status DeleteBody(std::string_view message_id) override {
    absl::MutexLock lock(&mu_);
    auto it = messages_.find(message_id);
    if (it == messages_.end()) return NoMessage(message_id);
    OutboundMessage& m = it->second.message;
    if (!m.body_deleted) {
      m.body_deleted = true;
      by_expiry_.erase({Micros(m.expires), m.message_id});
      std::string().swap(it->second.body);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<OutboundMessage>> ExpiredMessages(absl::Time now,
                                                               size_t limit) override {
    absl::MutexLock lock(&mu_);
    std::vector<OutboundMessage> out;
    int64_t now_us = Micros(now);
    for (auto it = by_expiry_.begin();
         it != by_expiry_.end() && it->first <= now_us && (limit == 0 || out.size() < limit);
         ++it) {
      out.push_back(messages_.find(it->second)->second.message);
    }
    return out;
  }

  absl::StatusOr<std::vector<Delivery>> DueDeliveries(absl::Time now, size_t limit) override {
    absl::MutexLock lock(&mu_);
    std::vector<Delivery> out;
    int64_t now_us = Micros(now);
    for (auto it = due_.begin(); it != due_.end() && std::get<0>(*it) <= now_us &&
                                 (limit == 0 || out.size() < limit);
         ++it) {
      out.push_back(*FindDelivery(std::get<1>(*it), std::get<2>(*it)));
    }
    return out;
  }

  absl::StatusOr<std::optional<absl::Time>> NextDueTime() override {
    absl::MutexLock lock(&mu_);
    if (due_.empty()) return std::nullopt;
    return StoredMicrosToTime(std::get<0>(*due_.begin()));
  }

  absl::StatusOr<Delivery> GetDelivery(std::string_view message_id,
                                       std::string_view domain) override {
    absl::MutexLock lock(&mu_);
    Delivery* d = FindDelivery(message_id, domain);
    if (d == nullptr) return NoDelivery(message_id, domain);
    return *d;
  }

  absl::StatusOr<std::vector<Delivery>> ListDeliveries(std::string_view message_id) override {
    absl::MutexLock lock(&mu_);
    std::vector<Delivery> out;
    auto it = messages_.find(message_id);
    if (it == messages_.end()) return out;
    for (const auto& [domain, d] : it->second.deliveries) out.push_back(d);
    return out;
  }

  absl::Status UpdateDelivery(const Delivery& delivery) override {
    absl::MutexLock lock(&mu_);
    Delivery* d = FindDelivery(delivery.message_id, delivery.domain);
    if (d == nullptr) return NoDelivery(delivery.message_id, delivery.domain);
    UnindexDue(*d);
    d->state = delivery.state;
    d->attempts = delivery.attempts;
    d->next_attempt = TruncateToMicros(delivery.next_attempt);
    d->last_error = delivery.last_error;
    IndexDue(*d);
    return absl::OkStatus();
  }

  absl::Status AddBytesServed(std::string_view message_id, std::string_view domain,
                              uint64_t n) override {
    absl::MutexLock lock(&mu_);
    Delivery* d = FindDelivery(message_id, domain);
    if (d == nullptr) return NoDelivery(message_id, domain);
    d->bytes_served += n;
    return absl::OkStatus();
  }

  absl::StatusOr<bool> RecordAbuseReport(std::string_view sender, std::string_view reporter_domain,
                                         std::string_view report_id, int verdict,
                                         absl::Time time) override {
    absl::MutexLock lock(&mu_);
    if (!abuse_seen_.emplace(std::string(reporter_domain), std::string(report_id)).second) {
      return false;
    }
    if (verdict == 1) ++abuse_count_[std::string(sender)];
    return true;
  }

  absl::StatusOr<uint64_t> AbuseCount(std::string_view sender) override {
    absl::MutexLock lock(&mu_);
    auto it = abuse_count_.find(AV(sender));
    return it == abuse_count_.end() ? 0 : it->second;
  }

 private:
  struct Rec {
    OutboundMessage message;
    std::string body;
    std::map<std::string, Delivery, std::less<>> deliveries;  // by domain
  };

  static int64_t Micros(absl::Time t) { return TimeToStoredMicros(t); }
  static absl::Status NoMessage(std::string_view id) {
    return absl::NotFoundError(absl::StrCat("no message ", AV(id)));
  }
  static absl::Status NoDelivery(std::string_view id, std::string_view domain) {
    return absl::NotFoundError(absl::StrCat("no delivery of ", AV(id), " to ", AV(domain)));
  }

  Delivery* FindDelivery(std::string_view message_id, std::string_view domain)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = messages_.find(message_id);
    if (it == messages_.end()) return nullptr;
    auto d = it->second.deliveries.find(domain);
    return d == it->second.deliveries.end() ? nullptr : &d->second;
  }
  void IndexDue(const Delivery& d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (d.state == DeliveryState::kQueued) {
      due_.emplace(Micros(d.next_attempt), d.message_id, d.domain);
    }
  }
  void UnindexDue(const Delivery& d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (d.state == DeliveryState::kQueued) {
      due_.erase(std::make_tuple(Micros(d.next_attempt), d.message_id, d.domain));
    }
  }

  absl::Mutex mu_;
  std::map<std::string, Rec, std::less<>> messages_ ABSL_GUARDED_BY(mu_);
  // (sender, idempotency key) -> message id.
  std::map<std::pair<std::string, std::string>, std::string> by_key_ ABSL_GUARDED_BY(mu_);
  // sender -> (created us, id), for ListMessages.
  std::map<std::string, std::set<std::pair<int64_t, std::string>>, std::less<>> by_sender_
      ABSL_GUARDED_BY(mu_);
  // (expires us, id) of messages whose body is kept.
  std::set<std::pair<int64_t, std::string>> by_expiry_ ABSL_GUARDED_BY(mu_);
  // (next_attempt us, id, domain) of queued deliveries.
  std::set<std::tuple<int64_t, std::string, std::string>> due_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::pair<std::string, std::string>> abuse_seen_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> abuse_count_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<SenderStore> NewMemorySenderStore() {
  return std::make_unique<MemorySenderStore>();
}

}  // namespace pullmail
