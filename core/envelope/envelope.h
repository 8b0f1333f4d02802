// The signed envelope: signing and verifying the three signed objects of
// pullmail.v1 (SignedNotification, SignedSpamReport, SignedRevocation).
//
// Each travels as payload bytes plus an Ed25519 signature over
// (context string || payload). The payload is opaque bytes: a receiver
// verifies exactly the bytes it got and parses them only after the signature
// verifies; nobody ever re-serializes a payload to check it. The order of the
// checks, the rejection names and their status codes are normative and are
// documented in docs/PROTOCOL.md ("Verification").
//
// Everything here is pure: no I/O, no clock (the caller passes `now`), no
// randomness. All functions are thread-safe given a thread-safe Directory.
#ifndef PULLMAIL_CORE_ENVELOPE_ENVELOPE_H_
#define PULLMAIL_CORE_ENVELOPE_ENVELOPE_H_

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/crypto/ed25519.h"
#include "core/crypto/signature_scheme.h"
#include "core/directory/directory.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {

namespace envelope_internal {
// A string literal's bytes including its terminating NUL.
template <size_t N>
constexpr std::string_view WithNul(const char (&s)[N]) {
  return std::string_view(s, N);
}
}  // namespace envelope_internal

// The context strings, each ending in one NUL byte (part of the signed input).
inline constexpr std::string_view kNotificationContext =
    envelope_internal::WithNul("pullmail.v1.notification");  // 25 bytes
inline constexpr std::string_view kSpamReportContext =
    envelope_internal::WithNul("pullmail.v1.spam-report");   // 24 bytes
inline constexpr std::string_view kRevocationContext =
    envelope_internal::WithNul("pullmail.v1.revocation");    // 23 bytes
// A batch of notifications signs its tree head (BatchTreeHead) under this.
inline constexpr std::string_view kNotificationBatchContext =
    envelope_internal::WithNul("pullmail.v1.notification-batch");  // 31 bytes

// Why a signed object was refused. Names and codes: RejectionName,
// RejectionCode, and the table in docs/PROTOCOL.md.
enum class Rejection {
  kNone,
  kUnknownDomain,
  kUnknownKey,
  kBadSignature,
  kSenderOutsideDomain,
  kExpired,
  kFromFuture,
  kPayloadTooLarge,
  kMalformed,
  kWrongRecipientDomain,
  // The directory could not answer (e.g. a DNS timeout): not a verdict on
  // the object, so it maps to kUnavailable and the sender retries.
  kDirectoryUnavailable,
  // A batch-signed notification whose BatchProof cannot be a proof for its
  // place (size, index, path length or a path entry of the wrong size).
  kBadProof,
};

// The machine-readable name sent in NotifyResult.reason etc., e.g.
// "bad_signature"; "none" for kNone.
std::string_view RejectionName(Rejection r);

// The status code a rejection is reported with (kOk for kNone):
//   unknown_domain, unknown_key, bad_signature,
//   bad_proof                                   -> kUnauthenticated
//   sender_outside_domain                       -> kPermissionDenied
//   expired, from_future                        -> kFailedPrecondition
//   payload_too_large, malformed,
//   wrong_recipient_domain                      -> kInvalidArgument
//   directory_unavailable                       -> kUnavailable
// Only kUnavailable is worth retrying unchanged.
absl::StatusCode RejectionCode(Rejection r);

// ---------------------------------------------------------------------------
// Notification.

// The directory's verdict on a domain for the bridged-sender rule
// (docs/PROTOCOL.md 6.1 step 6): true when it lists `domain` as a pullmail
// domain (legacy = false); false when the domain is unknown to it or marked
// legacy; kUnavailable when it cannot answer. The SMTP-in gateway asks the
// same question at MAIL FROM, so a sender refused there would be refused here.
absl::StatusOr<bool> IsPullmailDomain(const Directory& directory, std::string_view domain);

// Serializes `n` deterministically and signs it as `signing_domain` with the
// key `key_id`. Refuses (kInvalidArgument, message starting with the
// rejection name a receiver would give) a notification that any receiver
// would reject whatever the time: bad fields (see docs/PROTOCOL.md), a
// payload over limits::kMaxSignedPayload, an envelope sender outside
// `signing_domain` (for origin ORIGIN_BRIDGED_SMTP: at a pullmail domain by
// `directory`), an empty or over-long signing domain or key id. A bridged
// notification whose sender is outside `signing_domain` needs `directory`
// (borrowed; may be null otherwise): without one, or when it cannot answer,
// the result is kUnavailable ("directory_unavailable: ..."). Does not look
// at the clock. `key` is only borrowed. Every Sign* and Verify* function
// signs or checks through `scheme` (core/crypto/signature_scheme.h; null =
// real Ed25519).
absl::StatusOr<v1::SignedNotification> SignNotification(const v1::Notification& n,
                                                        std::string_view signing_domain,
                                                        std::string_view key_id,
                                                        const SigningKey& key,
                                                        const Directory* directory = nullptr,
                                                        const SignatureScheme* scheme = nullptr);

// SignNotification without the signature: the same checks and the same
// payload, signing domain and key id, `signature` left empty. A sender node
// prepares each notification so at submission and signs it only when it
// sends it (SignForDelivery, core/logic/delivery_batch.h): singly when it
// goes alone, under one batch signature otherwise. Never sent unsigned.
absl::StatusOr<v1::SignedNotification> PrepareNotification(const v1::Notification& n,
                                                           std::string_view signing_domain,
                                                           std::string_view key_id,
                                                           const Directory* directory = nullptr);

// Signs a prepared (or already signed) notification alone, as
// SignNotification would have: the single signature over its payload with
// `key_id`/`key`, replacing any signature, key id and batch proof it had.
// kInvalidArgument for an empty signing domain or payload, or a bad key id.
absl::StatusOr<v1::SignedNotification> SignPrepared(v1::SignedNotification prepared,
                                                    std::string_view key_id,
                                                    const SigningKey& key,
                                                    const SignatureScheme* scheme = nullptr);

// Tree heads of notification batches whose signature has verified, so that
// the other notifications of a batch cost hashing only (docs/PROTOCOL.md
// 4.1). An entry is the exact (public key, tree head, signature) triple that
// verified, so a hit proves what a fresh check would. Bounded: past
// `capacity` entries the oldest is forgotten (and checked again if it comes
// back). Thread-safe.
class VerifiedBatchRoots {
 public:
  explicit VerifiedBatchRoots(size_t capacity = 1024) : capacity_(capacity) {}
  bool Contains(std::string_view entry) const;
  void Add(std::string entry);
  // How many Contains() calls found their entry (signature checks saved).
  uint64_t hits() const;

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_set<std::string> set_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
  mutable uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
};

struct VerifyOptions {
  absl::Time now;                         // the receiver's clock
  std::string expected_recipient_domain;  // empty = don't check
  // Borrowed, may be null (then every batch-signed notification has its
  // tree head's signature checked).
  VerifiedBatchRoots* verified_roots = nullptr;
  const SignatureScheme* scheme = nullptr;  // null = real Ed25519; not owned
};

// The signed input of a batch (after kNotificationBatchContext): the tree
// size as 4 bytes big-endian, then the 32-byte Merkle root.
std::string BatchTreeHead(uint32_t tree_size, std::string_view root);

// Signs `notifications` (1..limits::kMaxBatchLeaves, all for one recipient
// domain) as one batch: one Ed25519 signature over the tree head of a Merkle
// tree whose leaves are their payloads, in order; each result carries its
// BatchProof. Refuses what SignNotification refuses (naming the index), and
// notifications for more than one recipient domain.
absl::StatusOr<std::vector<v1::SignedNotification>> SignNotificationBatch(
    const std::vector<v1::Notification>& notifications, std::string_view signing_domain,
    std::string_view key_id, const SigningKey& key, const Directory* directory = nullptr,
    const SignatureScheme* scheme = nullptr);

// Signs notifications prepared by PrepareNotification (or signed one by one
// earlier: their payloads are kept, their signatures and key ids replaced) as one batch
// under `key_id`/`key`; the sender's delivery pass uses it on its queue. All
// must carry the same signing domain and be for one recipient domain (the
// caller groups them; not re-checked here). kInvalidArgument for an empty
// batch, more than limits::kMaxBatchLeaves or mixed signing domains.
absl::StatusOr<std::vector<v1::SignedNotification>> BatchSign(
    std::vector<v1::SignedNotification> signed_singly, std::string_view key_id,
    const SigningKey& key, const SignatureScheme* scheme = nullptr);

// Verifies `signed_n` against the keys in `directory` and returns the parsed
// Notification. On failure sets *reason (when `reason` is not null) and
// returns a status with RejectionCode(*reason) whose message starts with
// RejectionName(*reason), e.g. "bad_signature: ...". On success sets *reason
// to kNone. Check order (first failure wins): payload size, signing domain
// known, key id known, signature, parse + field limits, envelope sender's
// domain == signing domain (a bridged notification, ORIGIN_BRIDGED_SMTP, may
// instead carry an empty sender or one at a domain that IsPullmailDomain()
// says is not pullmail's; directory_unavailable when it cannot answer),
// recipient domain == expected (if set), created <= now +
// limits::kMaxClockSkewMs, expires > now.
absl::StatusOr<v1::Notification> VerifyNotification(const v1::SignedNotification& signed_n,
                                                     const Directory& directory,
                                                     const VerifyOptions& options,
                                                     Rejection* reason);

// ---------------------------------------------------------------------------
// Spam report.

// As SignNotification. The report's reporter_domain must equal
// `signing_domain` (case-insensitive).
absl::StatusOr<v1::SignedSpamReport> SignSpamReport(const v1::SpamReport& report,
                                                    std::string_view signing_domain,
                                                    std::string_view key_id,
                                                    const SigningKey& key,
                                                    const SignatureScheme* scheme = nullptr);

// As VerifyNotification: size, domain, key, signature, parse + field limits,
// reporter_domain == signing domain (else sender_outside_domain),
// reported_unix_ms <= now + limits::kMaxClockSkewMs (else from_future).
// Replays are the caller's to detect (report_id is unique per reporter).
absl::StatusOr<v1::SpamReport> VerifySpamReport(const v1::SignedSpamReport& signed_report,
                                                const Directory& directory, absl::Time now,
                                                Rejection* reason,
                                                const SignatureScheme* scheme = nullptr);

// ---------------------------------------------------------------------------
// Revocation.

// As SignNotification. The revocation's signing_domain field must equal
// `signing_domain` (case-insensitive).
absl::StatusOr<v1::SignedRevocation> SignRevocation(const v1::Revocation& revocation,
                                                    std::string_view signing_domain,
                                                    std::string_view key_id,
                                                    const SigningKey& key,
                                                    const SignatureScheme* scheme = nullptr);

// As VerifyNotification: size, domain, key, signature, parse + field limits,
// the revocation's signing_domain field == signing domain (else
// sender_outside_domain), revoked_unix_ms <= now + limits::kMaxClockSkewMs
// (else from_future). The caller must still check that the revoked message
// was signed by this same domain before hiding anything.
absl::StatusOr<v1::Revocation> VerifyRevocation(const v1::SignedRevocation& signed_revocation,
                                                const Directory& directory, absl::Time now,
                                                Rejection* reason,
                                                const SignatureScheme* scheme = nullptr);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_ENVELOPE_ENVELOPE_H_
