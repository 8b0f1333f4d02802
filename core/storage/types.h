// Plain records that the storage interfaces (sender_store.h,
// recipient_store.h, user_store.h) read and write. No protobuf types appear
// here: fields that hold a protobuf message hold its serialized bytes.
//
// Times: every store keeps absl::Time at microsecond precision (finer parts
// are truncated toward the past); absl::InfiniteFuture/InfinitePast round-trip.
#ifndef PULLMAIL_CORE_STORAGE_TYPES_H_
#define PULLMAIL_CORE_STORAGE_TYPES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace pullmail {

// ---------------------------------------------------------------------------
// Sender side.
// ---------------------------------------------------------------------------

// Where one notification to one recipient domain stands.
enum class DeliveryState { kQueued, kDelivered, kFetched, kBounced, kRevoked };

// "queued", "delivered", "fetched", "bounced", "revoked" (the wire's
// DeliveryStatus.state strings).
std::string_view DeliveryStateName(DeliveryState state);

// One submitted message, kept by its sender node.
struct OutboundMessage {
  std::string message_id;   // globally unique
  std::string sender;       // local@domain (the submitting user)
  std::string body_sha256;  // 32 raw bytes
  uint64_t body_size = 0;
  std::string summary;      // serialized v1::HeaderSummary
  absl::Time created = absl::UnixEpoch();
  absl::Time expires = absl::UnixEpoch();
  bool revoked = false;
  bool body_deleted = false;  // body dropped (expiry/revoke); metadata kept
  // The client's SubmitRequest.idempotency_key, "" for none. Stored by
  // PutMessage (unique per sender); not read back by GetMessage.
  std::string idempotency_key;
};

// One notification to one recipient domain. Key: (message_id, domain).
struct Delivery {
  std::string message_id;
  std::string domain;  // recipient domain
  std::vector<std::string> recipients;
  std::string fetch_token;          // 32 raw bytes
  // Serialized v1::SignedNotification as prepared at submission
  // (PrepareNotification: payload, signing domain, key id; no signature;
  // queues written before that hold it signed singly). Each delivery
  // attempt signs it as it sends it (SignForDelivery).
  std::string signed_notification;
  DeliveryState state = DeliveryState::kQueued;
  uint32_t attempts = 0;
  absl::Time next_attempt = absl::UnixEpoch();
  std::string last_error;
  uint64_t bytes_served = 0;  // body bytes fetched by this domain
};

// ---------------------------------------------------------------------------
// Recipient side.
// ---------------------------------------------------------------------------

// One accepted notification. Dedup key: (signing_domain, message_id).
struct StoredNotification {
  int64_t id = 0;  // assigned by the store (ignored on insert)
  std::string signing_domain;
  std::string message_id;
  std::string envelope_sender;
  std::string signed_bytes;  // serialized v1::SignedNotification as received
  std::string body_sha256;   // 32 raw bytes
  uint64_t body_size = 0;
  std::string fetch_token;  // 32 raw bytes
  std::string summary;      // serialized v1::HeaderSummary
  absl::Time created = absl::UnixEpoch();
  absl::Time expires = absl::UnixEpoch();
  absl::Time received = absl::UnixEpoch();
  bool revoked = false;
};

// An IMAP-style folder (RFC 3501 2.3.1). `messages` and `unseen` count every
// entry in the folder whatever its EntryState (storage hides nothing).
struct Folder {
  std::string name;
  uint32_t uid_validity = 0;     // never reused within a store, even after delete
  uint32_t uid_next = 1;         // the UID the next entry will get
  uint32_t messages = 0;
  uint32_t unseen = 0;           // entries without "\\Seen"
  // RFC 7162 HIGHESTMODSEQ of this folder: 1 for a new folder (a
  // mod-sequence is at least 1), then the modseq of its latest change.
  uint64_t highest_modseq = 1;
};

// What the reader sees of an entry (policy's decision, per user).
enum class EntryState { kShown, kHeld, kSuppressed, kRevoked };

// "shown", "held", "suppressed", "revoked".
std::string_view EntryStateName(EntryState state);

// One message in one user's folder. Key: (user, folder, uid).
struct MailboxEntry {
  std::string user;
  std::string folder;
  uint32_t uid = 0;
  int64_t notification_id = 0;
  std::vector<std::string> flags;  // "\\Seen", "\\Deleted", ..., keywords; sorted, unique
  absl::Time internal_date = absl::UnixEpoch();
  uint64_t modseq = 0;  // set from the folder's counter at every change
  EntryState state = EntryState::kShown;
  std::string reason;  // why held/suppressed (policy's explanation)
};

// How SetFlags combines the given flags with an entry's flags.
enum class FlagOp { kAdd, kRemove, kReplace };

// A reader's spam/not-spam report (verdict holds v1::Verdict's number).
struct UserReport {
  std::string user;
  int64_t notification_id = 0;
  int verdict = 0;
  absl::Time time = absl::UnixEpoch();
};

// A report shared by a trusted peer recipient node (v1::SpamReport).
struct PeerReport {
  std::string peer_domain;
  std::string report_id;
  std::string body_sha256;
  int verdict = 0;
  uint32_t count = 1;  // local users the report stands for
  absl::Time time = absl::UnixEpoch();
};

// ---------------------------------------------------------------------------
// Users (both node kinds).
// ---------------------------------------------------------------------------

struct User {
  std::string address;        // local@domain, matched exactly
  std::string password_hash;  // opaque to storage (salted scrypt/PBKDF2 string)
  absl::Time created = absl::UnixEpoch();
};

// ---------------------------------------------------------------------------
// Helpers shared by the back ends.
// ---------------------------------------------------------------------------

inline constexpr std::string_view kInbox = "INBOX";
inline constexpr std::string_view kSeenFlag = "\\Seen";
inline constexpr std::string_view kDeletedFlag = "\\Deleted";

// "INBOX" in any letter case becomes "INBOX" (RFC 3501 5.1); other names are
// returned unchanged (they are case-sensitive).
std::string NormalizeFolderName(std::string_view name);

// Sorts and removes duplicates in place.
void NormalizeFlags(std::vector<std::string>& flags);

// The flags an entry has after SetFlags: `current` and `flags` sorted and
// unique (NormalizeFlags); kAdd is their union, kRemove the difference,
// kReplace `flags`. The one rule both back ends use.
std::vector<std::string> ApplyFlags(const std::vector<std::string>& current, FlagOp op,
                                    const std::vector<std::string>& flags);

// Truncates to whole microseconds (what every store keeps), keeping the
// infinities. Used by the memory store so that both back ends agree.
absl::Time TruncateToMicros(absl::Time t);

// Time <-> the int64 microseconds that the SQLite back end stores.
int64_t TimeToStoredMicros(absl::Time t);
absl::Time StoredMicrosToTime(int64_t us);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_STORAGE_TYPES_H_
