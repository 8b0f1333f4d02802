// What one world (pull or push) counts during a run. docs/SIMULATION.md,
// "Figures", says how each number is counted; the names here are the column
// and summary names.
#ifndef PULLMAIL_SIM_METRICS_H_
#define PULLMAIL_SIM_METRICS_H_

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pullmail::sim {

// Bytes on the wire, by kind.
enum class ByteKind {
  kNotify,         // pull: SignedNotification streams (NotifyStream requests)
  kNotifyAck,      // pull: NotifyResult replies
  kFetchRequest,   // pull: FetchRequest calls
  kBody,           // pull: body chunks fetched because a user opened a message
  kPin,            // pull: body chunks prefetched before expiry (pinning)
  kPushBody,       // push: message bodies in SMTP DATA
  kPushEnvelope,   // push: the SMTP dialogue around them (STARTTLS included)
  kPushBounce,     // push: bounces an accept-then-bounce MTA sends for unknown
                   // recipients (to a forged, innocent sender for spam: backscatter)
  kTls,            // both: TLS beyond the plaintext protocol. Pull: a new gRPC
                   // connection's handshake and HTTP/2 setup, and the record
                   // overhead of every call; push: the STARTTLS handshake and the
                   // record overhead of the encrypted session (sim/wire.h)
  kCount
};
std::string_view ByteKindName(ByteKind k);  // "notify", "notify_ack", ...

// Where a copy (one message for one recipient) ends.
// kRejected: push only, refused before DATA (the sending host is on the
// blocklist, or a bot that does not retry met greylisting).
// kRevoked: recalled by its sender before its user read it (hidden, or never sent).
enum class Outcome { kDelivered, kSuppressed, kExpired, kFailed, kRejected, kRevoked, kCount };
std::string_view OutcomeName(Outcome o);

// Body size classes of the read latency figures (decimal units, as the
// scenario's sizes): [0, 10 kB), [10 kB, 100 kB), [100 kB, 1 MB), >= 1 MB.
inline constexpr int kSizeClasses = 4;
int SizeClass(uint64_t body_size);
std::string_view SizeClassName(int c);   // for keys: "under_10kB", "10kB_100kB", ...
std::string_view SizeClassLabel(int c);  // for people: "< 10 kB", "10-100 kB", ...

// One read: a reader opened a copy and got its body (or gave up). Both
// worlds record one per read; docs/SIMULATION.md "Read latency" defines them.
struct ReadSample {
  // From the moment the reader would have opened the copy had it not been
  // held back, to the body in front of them: hold-back (a held copy's wait
  // until release) + the fetch, retries included (pull); 0 in push and for
  // a pull read served from the node's cache without hold-back (the body is
  // local). Infinity for a read abandoned without the body.
  float read;
  // From the message's creation to the body in front of the reader, less
  // the reader's own delay (read_delay): the transport's whole share of the
  // wait (queueing, greylisting and retries, hold-back, fetch).
  float delivery;
  uint8_t size_class;
  uint8_t spam;
};

// A quantity that changes over time, with its time integral.
class Level {
 public:
  void Add(double delta, double now) {
    Advance(now);
    value_ += delta;
    if (value_ > peak_) peak_ = value_;
  }
  void Advance(double now) {
    if (now > last_) {
      integral_ += value_ * (now - last_);
      last_ = now;
    }
  }
  double value() const { return value_; }
  double peak() const { return peak_; }
  // Integral up to the last Advance/Add, in value-seconds.
  double integral() const { return integral_; }

 private:
  double value_ = 0, peak_ = 0, integral_ = 0, last_ = 0;
};

struct WorldMetrics {
  explicit WorldMetrics(uint32_t users = 0)
      : spam_shown_per_user(users, 0), spam_bodies_per_user(users, 0) {}

  std::array<uint64_t, static_cast<size_t>(ByteKind::kCount)> bytes{};
  uint64_t total_bytes() const {
    uint64_t t = 0;
    for (uint64_t b : bytes) t += b;
    return t;
  }
  void AddBytes(ByteKind k, uint64_t n) { bytes[static_cast<size_t>(k)] += n; }
  uint64_t Bytes(ByteKind k) const { return bytes[static_cast<size_t>(k)]; }

  Level sender_storage;     // bodies held by sender nodes / sending MTAs (bots included)
  Level recipient_storage;  // bodies held by recipient nodes / receiving MTAs
  Level spammer_storage;    // the part of sender_storage held by bots

  // Outcomes of copies, [outcome][spam ? 1 : 0].
  std::array<std::array<uint64_t, 2>, static_cast<size_t>(Outcome::kCount)> outcomes{};
  void AddOutcome(Outcome o, bool spam) { ++outcomes[static_cast<size_t>(o)][spam ? 1 : 0]; }
  uint64_t Outcomes(Outcome o, int spam) const { return outcomes[static_cast<size_t>(o)][spam]; }
  uint64_t OutcomeTotal() const {
    uint64_t t = 0;
    for (const auto& o : outcomes) t += o[0] + o[1];
    return t;
  }

  uint64_t messages_created = 0;
  uint64_t notifications_sent = 0;       // attempts that reached a recipient node
  uint64_t notify_attempts_failed = 0;   // attempts that found the node down
  uint64_t notifications_accepted = 0;   // core said store
  uint64_t notifications_duplicate = 0;  // core said duplicate (lost reply, retried)
  uint64_t notifications_rejected = 0;   // core said reject
  uint64_t bounces = 0;                  // deliveries the outbox gave up

  std::array<uint64_t, 2> copies_shown{};    // became visible in an inbox (ever)
  std::array<uint64_t, 2> copies_held{};     // held back on arrival
  std::array<uint64_t, 2> copies_read{};     // opened by their user (body shown)
  std::array<uint64_t, 2> bodies_fetched{};  // reads that needed a fetch (pull) or pushes
  uint64_t cache_hits = 0;                   // reads served from the node's cache
  uint64_t held_at_expiry = 0;               // counted as suppressed
  uint64_t reports_spam = 0, reports_not_spam = 0;
  uint64_t suppress_events = 0;              // bodies that crossed the threshold
  uint64_t fetch_calls = 0;
  uint64_t fetch_failures_offline = 0;       // sender node down
  uint64_t fetch_failures_expired = 0;       // body gone (core: "expired")
  uint64_t fetch_failures_other = 0;
  uint64_t reads_abandoned = 0;              // reader gave up after max_retries
  uint64_t fetch_refused_listed = 0;         // fetches not made: the host is on the blocklist
  uint64_t pins = 0;                         // bodies prefetched before expiry
  uint64_t recalls = 0;                      // messages their sender recalled (pull)
  uint64_t filtered_push = 0;                // push: spam junked by the content filter
  uint64_t filtered_push_legit = 0;          // push: legitimate copies junked (false positives)
  uint64_t dnsbl_sessions_refused = 0;       // sessions refused: sending host on the blocklist
  uint64_t greylist_deferrals = 0;           // push: sessions answered 450 by greylisting
  uint64_t greylist_dropped = 0;             // push: deferred sessions a bot never retried
  uint64_t backscatter_bounces = 0;          // push: bounces for unknown recipients, to a
                                             // forged sender (spam)
  uint64_t legit_bounces_unknown = 0;        // push: same, to a real sender (legit mail)
  uint64_t tls_handshakes = 0;               // pull: new gRPC connections (TLS handshake
                                             // and HTTP/2 setup); push: STARTTLS sessions
  uint64_t transfers = 0;                    // SimGrid flows started
  uint64_t timed_transfers = 0;              // small transfers computed in closed form
  double cpu_seconds_crypto = 0;             // modelled Ed25519 CPU time

  // Spam copies opened (body shown), per campaign: the spammer's revenue
  // (scenario [economics]) is proportional to it.
  std::vector<uint64_t> spam_read_per_campaign;
  void AddCampaignRead(int campaign) {
    if (spam_read_per_campaign.size() <= static_cast<size_t>(campaign)) {
      spam_read_per_campaign.resize(campaign + 1, 0);
    }
    ++spam_read_per_campaign[campaign];
  }

  // Every read, in the order they completed (see ReadSample).
  std::vector<ReadSample> reads;
  void AddRead(bool spam, uint64_t body_size, double read, double delivery) {
    reads.push_back(ReadSample{static_cast<float>(read), static_cast<float>(delivery),
                               static_cast<uint8_t>(SizeClass(body_size)),
                               static_cast<uint8_t>(spam ? 1 : 0)});
  }

  // Per user: spam notifications shown; spam bodies fetched (pull: opened
  // and fetched or served from cache; push: pushed into the mailbox).
  std::vector<uint32_t> spam_shown_per_user;
  std::vector<uint32_t> spam_bodies_per_user;

  uint64_t fetch_failures() const {
    return fetch_failures_offline + fetch_failures_expired + fetch_failures_other;
  }
};

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_METRICS_H_
