// The signed envelope. One generic signer and one generic verifier serve all
// three object types, so the order of checks (size, domain, key, signature,
// and only then parse) is written once; each type adds only its field rules
// and its post-parse checks.
#include "core/util/address.h"
#include "core/envelope/envelope.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/merkle.h"
#include "core/util/clock.h"
#include "core/util/limits.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

// The largest Revocation.reason (bytes), as the proto file states.
constexpr size_t kMaxRevocationReason = 256;

// A refusal: records `r` in *out and returns a status with RejectionCode(r)
// whose message starts with RejectionName(r), so NotifyResult.reason, the
// status and the logs agree.
absl::Status Reject(Rejection r, std::string_view detail, Rejection* out) {
  *out = r;
  return absl::Status(RejectionCode(r), absl::StrCat(AV(RejectionName(r)), ": ", AV(detail)));
}

// A rejection and its detail, as field checks report them before the caller
// turns them into a Status.
struct Problem {
  Rejection reason;
  std::string detail;
};
using Check = std::optional<Problem>;

Check Malformed(std::string detail) { return Problem{Rejection::kMalformed, std::move(detail)}; }

// Visible ASCII ('!'..'~'): message ids, report ids.
bool IsVisibleAscii(std::string_view s) {
  for (char c : s) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

Check CheckId(std::string_view field, std::string_view id) {
  if (id.empty() || id.size() > limits::kMaxMessageId || !IsVisibleAscii(id)) {
    return Malformed(absl::StrCat(AV(field), " must be 1..", limits::kMaxMessageId,
                                  " bytes of visible ASCII"));
  }
  return std::nullopt;
}

Check CheckDomain(std::string_view field, std::string_view domain) {
  if (domain.empty() || domain.size() > limits::kMaxDomain || !IsVisibleAscii(domain) ||
      domain.find('@') != std::string_view::npos || !NormalizeDomain(domain).ok()) {
    return Malformed(absl::StrCat(AV(field), " is not a domain"));
  }
  return std::nullopt;
}

Check CheckSummary(const v1::HeaderSummary& s) {
  for (const std::string* field : {&s.from(), &s.subject(), &s.date(), &s.message_id(),
                                   &s.in_reply_to()}) {
    if (field->size() > limits::kMaxHeaderValue) {
      return Malformed(absl::StrCat("summary field over ", limits::kMaxHeaderValue, " bytes"));
    }
  }
  for (const auto* list : {&s.to(), &s.cc(), &s.sender(), &s.reply_to()}) {
    if (static_cast<size_t>(list->size()) > limits::kMaxSummaryList) {
      return Malformed(absl::StrCat("summary list over ", limits::kMaxSummaryList, " entries"));
    }
    for (const std::string& v : *list) {
      if (v.size() > limits::kMaxHeaderValue) {
        return Malformed(absl::StrCat("summary field over ", limits::kMaxHeaderValue, " bytes"));
      }
    }
  }
  return std::nullopt;
}

// --- Per-type rules: fields (malformed) and the checks that follow parsing.

Check CheckFields(const v1::Notification& n) {
  if (n.version() != limits::kProtocolVersion) {
    return Malformed(absl::StrCat("version ", n.version(), " is not ", limits::kProtocolVersion));
  }
  if (Check c = CheckId("message_id", n.message_id())) return c;
  // Section 3.1: a null reverse path (RFC 5321 4.5.5, "MAIL FROM:<>") is an
  // empty envelope_sender, and only a bridged notification may carry one.
  if (n.envelope_sender().empty()) {
    if (n.origin() != v1::ORIGIN_BRIDGED_SMTP) {
      return Malformed("envelope_sender may be empty only for origin ORIGIN_BRIDGED_SMTP");
    }
  } else if (!SplitAddress(n.envelope_sender()).ok()) {
    return Malformed("envelope_sender is not local@domain");
  }
  if (Check c = CheckDomain("recipient_domain", n.recipient_domain())) return c;
  if (n.recipients().empty() ||
      static_cast<size_t>(n.recipients().size()) > limits::kMaxRecipientsPerNotification) {
    return Malformed(absl::StrCat("recipients must number 1..",
                                  limits::kMaxRecipientsPerNotification));
  }
  for (const std::string& r : n.recipients()) {
    std::optional<std::string_view> domain = AddressDomain(r);
    if (!domain || !SameDomain(*domain, n.recipient_domain())) {
      return Malformed("a recipient is not local@recipient_domain");
    }
  }
  if (n.sender_endpoint().size() > limits::kMaxAddress) {
    return Malformed(absl::StrCat("sender_endpoint over ", limits::kMaxAddress, " bytes"));
  }
  if (n.body_size() > limits::kMaxBodySize) {
    return Malformed(absl::StrCat("body_size over ", limits::kMaxBodySize));
  }
  if (n.body_sha256().size() != limits::kSha256Size) {
    return Malformed(absl::StrCat("body_sha256 must be ", limits::kSha256Size, " bytes"));
  }
  if (n.fetch_token().size() != limits::kFetchTokenSize) {
    return Malformed(absl::StrCat("fetch_token must be ", limits::kFetchTokenSize, " bytes"));
  }
  if (n.expires_unix_ms() <= n.created_unix_ms()) {
    return Malformed("expires_unix_ms must be after created_unix_ms");
  }
  // Written as a subtraction that cannot overflow: created < expires here.
  if (static_cast<uint64_t>(n.expires_unix_ms()) - static_cast<uint64_t>(n.created_unix_ms()) >
      static_cast<uint64_t>(limits::kMaxRetentionMs)) {
    return Malformed(absl::StrCat("retention over ", limits::kMaxRetentionMs, " ms"));
  }
  return CheckSummary(n.summary());
}

// Section 6.1 step 6 for a notification. A native notification's sender is
// at the signing domain. A bridged one (ORIGIN_BRIDGED_SMTP: a gateway took
// it in over SMTP) may also carry a null sender, or a sender at a domain the
// directory does not list as a pullmail domain (unknown, or legacy = true):
// a bridge can never speak for a pullmail domain's users. `directory` may be
// null (a signer without one): then a bridged sender outside the signing
// domain cannot be judged and the answer is directory_unavailable.
Check CheckSigner(const v1::Notification& n, std::string_view signing_domain,
                  const Directory* directory) {
  const bool bridged = n.origin() == v1::ORIGIN_BRIDGED_SMTP;
  if (bridged && n.envelope_sender().empty()) return std::nullopt;
  // Domains compare normalised (core/util/address.h): "b.example." and
  // "B.EXAMPLE" are b.example, for this check and the directory's.
  absl::StatusOr<std::pair<std::string, std::string>> split = SplitAddress(n.envelope_sender());
  std::optional<std::string> domain;
  if (split.ok()) domain = split->second;
  if (domain && SameDomain(*domain, signing_domain)) return std::nullopt;
  auto outside = [&] {
    return Problem{Rejection::kSenderOutsideDomain,
                   absl::StrCat("envelope sender ", n.envelope_sender(), " is not at ",
                                AV(signing_domain),
                                bridged ? " and its domain is a pullmail domain" : "")};
  };
  if (!bridged || !domain) return outside();
  if (directory == nullptr) {
    return Problem{Rejection::kDirectoryUnavailable,
                   "a bridged sender outside the signing domain needs the directory"};
  }
  absl::StatusOr<bool> pullmail = IsPullmailDomain(*directory, *domain);
  if (!pullmail.ok()) {
    return Problem{Rejection::kDirectoryUnavailable,
                   absl::StrCat("looking up ", AV(*domain), ": ", pullmail.status().ToString())};
  }
  if (*pullmail) return outside();
  return std::nullopt;
}

Check CheckFields(const v1::SpamReport& r) {
  if (r.version() != limits::kProtocolVersion) {
    return Malformed(absl::StrCat("version ", r.version(), " is not ", limits::kProtocolVersion));
  }
  if (Check c = CheckId("report_id", r.report_id())) return c;
  if (Check c = CheckDomain("reporter_domain", r.reporter_domain())) return c;
  if (Check c = CheckId("message_id", r.message_id())) return c;
  if (Check c = CheckDomain("message_signing_domain", r.message_signing_domain())) return c;
  if (r.body_sha256().size() != limits::kSha256Size) {
    return Malformed(absl::StrCat("body_sha256 must be ", limits::kSha256Size, " bytes"));
  }
  if (r.verdict() != v1::VERDICT_SPAM && r.verdict() != v1::VERDICT_NOT_SPAM) {
    return Malformed("verdict must be SPAM or NOT_SPAM");
  }
  if (r.reports() < 1) return Malformed("reports must be >= 1");
  return std::nullopt;
}

Check CheckSigner(const v1::SpamReport& r, std::string_view signing_domain, const Directory*) {
  if (!SameDomain(r.reporter_domain(), signing_domain)) {
    return Problem{Rejection::kSenderOutsideDomain,
                   absl::StrCat("reporter_domain ", r.reporter_domain(), " is not the signer ",
                                AV(signing_domain))};
  }
  return std::nullopt;
}

Check CheckFields(const v1::Revocation& r) {
  if (r.version() != limits::kProtocolVersion) {
    return Malformed(absl::StrCat("version ", r.version(), " is not ", limits::kProtocolVersion));
  }
  if (Check c = CheckId("message_id", r.message_id())) return c;
  if (Check c = CheckDomain("signing_domain", r.signing_domain())) return c;
  if (r.reason().size() > kMaxRevocationReason) {
    return Malformed(absl::StrCat("reason over ", kMaxRevocationReason, " bytes"));
  }
  return std::nullopt;
}

Check CheckSigner(const v1::Revocation& r, std::string_view signing_domain, const Directory*) {
  if (!SameDomain(r.signing_domain(), signing_domain)) {
    return Problem{Rejection::kSenderOutsideDomain,
                   absl::StrCat("revocation for ", r.signing_domain(), " signed by ",
                                AV(signing_domain))};
  }
  return std::nullopt;
}

Check NotFromFuture(int64_t unix_ms, absl::Time now) {
  if (unix_ms > ToUnixMs(now) + limits::kMaxClockSkewMs) {
    return Problem{Rejection::kFromFuture,
                   absl::StrCat("time ", unix_ms, " is more than ", limits::kMaxClockSkewMs,
                                " ms ahead of ", ToUnixMs(now))};
  }
  return std::nullopt;
}

// --- The generic signer and verifier.

template <typename Signed>
void SetParts(Signed& out, std::string payload, std::string_view signing_domain,
              std::string_view key_id, std::string signature) {
  out.set_payload(std::move(payload));
  out.set_signing_domain(std::string(signing_domain));
  out.set_key_id(std::string(key_id));
  out.set_signature(std::move(signature));
}

// Every field in field-number order, maps (none today) sorted: the same
// message always yields the same bytes with this library version.
std::string SerializeDeterministic(const google::protobuf::MessageLite& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

// The signing domain as a signer writes it: its canonical form
// (NormalizeDomain), the only one a receiver accepts.
absl::StatusOr<std::string> CanonicalSigningDomain(std::string_view signing_domain) {
  if (signing_domain.empty() || signing_domain.size() > limits::kMaxDomain) {
    return absl::InvalidArgumentError("signing domain must be 1..253 bytes");
  }
  return NormalizeDomain(signing_domain);
}

// What a signer checks before signing anything (every receiver would refuse
// the rest), and the payload bytes it then signs. `signing_domain` is
// canonical (CanonicalSigningDomain).
template <typename Payload>
absl::StatusOr<std::string> CheckedPayload(const Payload& object, std::string_view signing_domain,
                                           std::string_view key_id, const Directory* directory) {
  if (signing_domain.empty() || signing_domain.size() > limits::kMaxDomain) {
    return absl::InvalidArgumentError("signing domain must be 1..253 bytes");
  }
  if (key_id.empty() || key_id.size() > limits::kMaxKeyId) {
    return absl::InvalidArgumentError(
        absl::StrCat("key id must be 1..", limits::kMaxKeyId, " bytes"));
  }
  // Refuse what every receiver would refuse, with the name it would give.
  Check problem = CheckFields(object);
  if (!problem) problem = CheckSigner(object, signing_domain, directory);
  if (problem) {
    // Retryable only when the directory could not answer.
    return absl::Status(problem->reason == Rejection::kDirectoryUnavailable
                            ? absl::StatusCode::kUnavailable
                            : absl::StatusCode::kInvalidArgument,
                        absl::StrCat(AV(RejectionName(problem->reason)), ": ", problem->detail));
  }
  std::string payload = SerializeDeterministic(object);
  if (payload.size() > limits::kMaxSignedPayload) {
    return absl::InvalidArgumentError(
        absl::StrCat(AV(RejectionName(Rejection::kPayloadTooLarge)), ": ", payload.size(),
                     " bytes, limit ", limits::kMaxSignedPayload));
  }
  return payload;
}

template <typename Signed, typename Payload>
absl::StatusOr<Signed> SignObject(const Payload& object, std::string_view context,
                                  std::string_view signing_domain_as_given,
                                  std::string_view key_id, const SigningKey& key,
                                  const Directory* directory,
                                  const SignatureScheme& scheme) {
  absl::StatusOr<std::string> canonical = CanonicalSigningDomain(signing_domain_as_given);
  if (!canonical.ok()) return canonical.status();
  const std::string_view signing_domain = *canonical;
  absl::StatusOr<std::string> payload = CheckedPayload(object, signing_domain, key_id, directory);
  if (!payload.ok()) return payload.status();
  std::string signature = scheme.Sign(key, context, *payload);
  Signed out;
  SetParts(out, *std::move(payload), signing_domain, key_id, std::move(signature));
  return out;
}

// Step 4, the signature over (context || payload), for every signed type.
template <typename Signed>
absl::Status CheckSignature(const Signed& in, std::string_view context,
                            const std::string& public_key, const SignatureScheme& scheme,
                            VerifiedBatchRoots*, Rejection* reason) {
  if (!scheme.Verify(public_key, context, in.payload(), in.signature())) {
    return Reject(Rejection::kBadSignature,
                  absl::StrCat("signature does not verify with ", in.signing_domain(), " key ",
                               in.key_id()),
                  reason);
  }
  return absl::OkStatus();
}

// Step 4 for a notification, which may be batch-signed (section 4.1): the
// proof leads from this payload's leaf to a root, and the signature covers
// that root's tree head under the batch context. A proof that does not fit
// its own tree is bad_proof; a well-formed proof that leads elsewhere fails
// the signature, bad_signature. Either way only this notification is
// refused: its batch-mates carry their own proofs.
absl::Status CheckSignature(const v1::SignedNotification& in, std::string_view context,
                            const std::string& public_key, const SignatureScheme& scheme,
                            VerifiedBatchRoots* verified_roots, Rejection* reason) {
  if (!in.has_batch()) {
    return CheckSignature<v1::SignedNotification>(in, context, public_key, scheme, nullptr,
                                                  reason);
  }
  const v1::BatchProof& proof = in.batch();
  if (proof.tree_size() < 1 || proof.tree_size() > limits::kMaxBatchLeaves ||
      proof.leaf_index() >= proof.tree_size() ||
      static_cast<size_t>(proof.path_size()) > limits::kMaxBatchPath) {
    return Reject(Rejection::kBadProof,
                  absl::StrCat("leaf ", proof.leaf_index(), " of a tree of ", proof.tree_size(),
                               " with ", proof.path_size(), " path hashes"),
                  reason);
  }
  std::vector<std::string_view> path(proof.path().begin(), proof.path().end());
  std::optional<std::string> root = MerkleRootFromInclusionProof(
      proof.leaf_index(), proof.tree_size(), MerkleLeafHash(in.payload()), path);
  if (!root) {
    return Reject(Rejection::kBadProof,
                  absl::StrCat("the path does not fit leaf ", proof.leaf_index(), " of a tree of ",
                               proof.tree_size()),
                  reason);
  }
  std::string head = BatchTreeHead(proof.tree_size(), *root);
  std::string entry;
  if (verified_roots != nullptr) {
    entry = absl::StrCat(public_key, head, in.signature());
    if (verified_roots->Contains(entry)) return absl::OkStatus();
  }
  if (!scheme.Verify(public_key, kNotificationBatchContext, head, in.signature())) {
    return Reject(Rejection::kBadSignature,
                  absl::StrCat("batch signature does not verify with ", in.signing_domain(),
                               " key ", in.key_id(), " (or the proof is wrong)"),
                  reason);
  }
  if (verified_roots != nullptr) verified_roots->Add(std::move(entry));
  return absl::OkStatus();
}

// Steps 1-5 of verification, shared by all types: size, domain, key,
// signature, parse + fields, signer. The per-type caller adds the rest.
template <typename Payload, typename Signed>
absl::StatusOr<Payload> VerifyObject(const Signed& in, std::string_view context,
                                     const Directory& directory, const SignatureScheme& scheme,
                                     Rejection* reason,
                                     VerifiedBatchRoots* verified_roots = nullptr) {
  const std::string& payload = in.payload();
  if (payload.size() > limits::kMaxSignedPayload) {
    return Reject(Rejection::kPayloadTooLarge,
                  absl::StrCat(payload.size(), " bytes, limit ", limits::kMaxSignedPayload), reason);
  }
  const std::string& domain = in.signing_domain();
  if (domain.empty() || domain.size() > limits::kMaxDomain) {
    return Reject(Rejection::kUnknownDomain, "signing domain is empty or too long", reason);
  }
  // The signing domain is written in its one canonical form (NormalizeDomain:
  // lower case, no trailing dot, A-labels), so that everything keyed by it
  // downstream (duplicates, revocations, reputation) sees one spelling.
  absl::StatusOr<std::string> canonical = NormalizeDomain(domain);
  if (!canonical.ok() || *canonical != domain) {
    return Reject(Rejection::kUnknownDomain,
                  absl::StrCat("signing domain '", absl::CHexEscape(domain),
                               "' is not in canonical form (lower case, no trailing dot)"),
                  reason);
  }
  absl::StatusOr<DomainEntry> entry = directory.Lookup(domain);
  if (!entry.ok()) {
    if (absl::IsNotFound(entry.status())) {
      // Peer-supplied bytes go into logs escaped.
      return Reject(Rejection::kUnknownDomain,
                    absl::StrCat("'", absl::CHexEscape(domain), "' is not in the directory"),
                    reason);
    }
    return Reject(Rejection::kDirectoryUnavailable,
                  absl::StrCat("looking up ", domain, ": ", entry.status().ToString()), reason);
  }
  auto key = entry->keys.find(in.key_id());
  if (key == entry->keys.end()) {
    return Reject(Rejection::kUnknownKey,
                  absl::StrCat("no key '", absl::CHexEscape(in.key_id().substr(0, limits::kMaxKeyId)),
                               "' for ", domain),
                  reason);
  }
  if (in.signature().size() != limits::kSignatureSize) {
    return Reject(Rejection::kBadSignature,
                  absl::StrCat("signature is ", in.signature().size(), " bytes, not ",
                               limits::kSignatureSize), reason);
  }
  if (absl::Status s = CheckSignature(in, context, key->second, scheme, verified_roots, reason); !s.ok()) {
    return s;
  }
  // Only now is the payload known to come from `domain`: parse it.
  Payload object;
  if (!object.ParseFromString(payload)) {
    return Reject(Rejection::kMalformed, "payload does not parse", reason);
  }
  Check problem = CheckFields(object);
  if (!problem) problem = CheckSigner(object, domain, &directory);
  if (problem) return Reject(problem->reason, problem->detail, reason);
  return object;
}

// Runs a verifier and reports its rejection (kNone on success) to a caller
// that may not want it.
template <typename T, typename Fn>
absl::StatusOr<T> WithReason(Fn verify, Rejection* reason) {
  Rejection r = Rejection::kNone;
  absl::StatusOr<T> result = verify(&r);
  if (reason != nullptr) *reason = result.ok() ? Rejection::kNone : r;
  return result;
}

absl::StatusOr<v1::Notification> VerifyNotificationImpl(const v1::SignedNotification& in,
                                                        const Directory& directory,
                                                        const VerifyOptions& options,
                                                        Rejection* reason) {
  absl::StatusOr<v1::Notification> n =
      VerifyObject<v1::Notification>(in, kNotificationContext, directory,
                                     SchemeOr(options.scheme), reason, options.verified_roots);
  if (!n.ok()) return n;
  if (!options.expected_recipient_domain.empty() &&
      !SameDomain(n->recipient_domain(), options.expected_recipient_domain)) {
    return Reject(Rejection::kWrongRecipientDomain,
                  absl::StrCat("for ", n->recipient_domain(), ", this node serves ",
                               options.expected_recipient_domain), reason);
  }
  if (Check c = NotFromFuture(n->created_unix_ms(), options.now)) {
    return Reject(c->reason, c->detail, reason);
  }
  if (n->expires_unix_ms() <= ToUnixMs(options.now)) {
    return Reject(Rejection::kExpired, absl::StrCat("expired at ", n->expires_unix_ms(),
                                                    ", now ", ToUnixMs(options.now)), reason);
  }
  return n;
}

absl::StatusOr<v1::SpamReport> VerifySpamReportImpl(const v1::SignedSpamReport& in,
                                                    const Directory& directory, absl::Time now,
                                                    const SignatureScheme& scheme,
                                                    Rejection* reason) {
  absl::StatusOr<v1::SpamReport> r = VerifyObject<v1::SpamReport>(in, kSpamReportContext, directory, scheme, reason);
  if (!r.ok()) return r;
  if (Check c = NotFromFuture(r->reported_unix_ms(), now)) return Reject(c->reason, c->detail, reason);
  return r;
}

absl::StatusOr<v1::Revocation> VerifyRevocationImpl(const v1::SignedRevocation& in,
                                                    const Directory& directory, absl::Time now,
                                                    const SignatureScheme& scheme,
                                                    Rejection* reason) {
  absl::StatusOr<v1::Revocation> r = VerifyObject<v1::Revocation>(in, kRevocationContext, directory, scheme, reason);
  if (!r.ok()) return r;
  if (Check c = NotFromFuture(r->revoked_unix_ms(), now)) return Reject(c->reason, c->detail, reason);
  return r;
}

}  // namespace

absl::StatusOr<bool> IsPullmailDomain(const Directory& directory, std::string_view domain) {
  absl::StatusOr<std::string> normal = NormalizeDomain(domain);
  if (!normal.ok()) return normal.status();
  absl::StatusOr<DomainEntry> entry = directory.Lookup(*normal);
  if (entry.ok()) return !entry->legacy;
  if (absl::IsNotFound(entry.status())) return false;
  return absl::UnavailableError(
      absl::StrCat("the directory cannot answer for ", AV(domain), ": ", entry.status().message()));
}

std::string_view RejectionName(Rejection r) {
  switch (r) {
    case Rejection::kNone: return "none";
    case Rejection::kUnknownDomain: return "unknown_domain";
    case Rejection::kUnknownKey: return "unknown_key";
    case Rejection::kBadSignature: return "bad_signature";
    case Rejection::kSenderOutsideDomain: return "sender_outside_domain";
    case Rejection::kExpired: return "expired";
    case Rejection::kFromFuture: return "from_future";
    case Rejection::kPayloadTooLarge: return "payload_too_large";
    case Rejection::kMalformed: return "malformed";
    case Rejection::kWrongRecipientDomain: return "wrong_recipient_domain";
    case Rejection::kDirectoryUnavailable: return "directory_unavailable";
    case Rejection::kBadProof: return "bad_proof";
  }
  return "unknown";
}

absl::StatusCode RejectionCode(Rejection r) {
  switch (r) {
    case Rejection::kNone: return absl::StatusCode::kOk;
    case Rejection::kUnknownDomain:
    case Rejection::kUnknownKey:
    case Rejection::kBadSignature:
    case Rejection::kBadProof: return absl::StatusCode::kUnauthenticated;
    case Rejection::kSenderOutsideDomain: return absl::StatusCode::kPermissionDenied;
    case Rejection::kExpired:
    case Rejection::kFromFuture: return absl::StatusCode::kFailedPrecondition;
    case Rejection::kPayloadTooLarge:
    case Rejection::kMalformed:
    case Rejection::kWrongRecipientDomain: return absl::StatusCode::kInvalidArgument;
    case Rejection::kDirectoryUnavailable: return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kInternal;
}

absl::StatusOr<v1::SignedNotification> SignNotification(const v1::Notification& n,
                                                        std::string_view signing_domain,
                                                        std::string_view key_id,
                                                        const SigningKey& key,
                                                        const Directory* directory,
                                                        const SignatureScheme* scheme) {
  return SignObject<v1::SignedNotification>(n, kNotificationContext, signing_domain, key_id, key,
                                            directory, SchemeOr(scheme));
}

absl::StatusOr<v1::SignedNotification> PrepareNotification(const v1::Notification& n,
                                                           std::string_view signing_domain_as_given,
                                                           std::string_view key_id,
                                                           const Directory* directory) {
  absl::StatusOr<std::string> canonical = CanonicalSigningDomain(signing_domain_as_given);
  if (!canonical.ok()) return canonical.status();
  absl::StatusOr<std::string> payload = CheckedPayload(n, *canonical, key_id, directory);
  if (!payload.ok()) return payload.status();
  v1::SignedNotification out;
  SetParts(out, *std::move(payload), *canonical, key_id, "");
  return out;
}

absl::StatusOr<v1::SignedNotification> SignPrepared(v1::SignedNotification prepared,
                                                    std::string_view key_id,
                                                    const SigningKey& key,
                                                    const SignatureScheme* scheme) {
  if (prepared.signing_domain().empty() || prepared.payload().empty()) {
    return absl::InvalidArgumentError("a prepared notification has a signing domain and payload");
  }
  if (key_id.empty() || key_id.size() > limits::kMaxKeyId) {
    return absl::InvalidArgumentError(
        absl::StrCat("key id must be 1..", limits::kMaxKeyId, " bytes"));
  }
  prepared.clear_batch();
  prepared.set_key_id(std::string(key_id));
  prepared.set_signature(SchemeOr(scheme).Sign(key, kNotificationContext, prepared.payload()));
  return prepared;
}

bool VerifiedBatchRoots::Contains(std::string_view entry) const {
  absl::MutexLock lock(&mu_);
  if (!set_.contains(AV(entry))) return false;
  ++hits_;
  return true;
}

void VerifiedBatchRoots::Add(std::string entry) {
  absl::MutexLock lock(&mu_);
  if (capacity_ == 0 || set_.contains(entry)) return;
  if (order_.size() >= capacity_) {
    set_.erase(order_.front());
    order_.pop_front();
  }
  set_.insert(entry);
  order_.push_back(std::move(entry));
}

uint64_t VerifiedBatchRoots::hits() const {
  absl::MutexLock lock(&mu_);
  return hits_;
}

std::string BatchTreeHead(uint32_t tree_size, std::string_view root) {
  std::string head;
  head.reserve(4 + root.size());
  for (int shift = 24; shift >= 0; shift -= 8) {
    head.push_back(static_cast<char>((tree_size >> shift) & 0xff));
  }
  head.append(root);
  return head;
}

absl::StatusOr<std::vector<v1::SignedNotification>> BatchSign(
    std::vector<v1::SignedNotification> batch, std::string_view key_id, const SigningKey& key,
    const SignatureScheme* scheme) {
  if (batch.empty() || batch.size() > limits::kMaxBatchLeaves) {
    return absl::InvalidArgumentError(
        absl::StrCat("a batch holds 1..", limits::kMaxBatchLeaves, " notifications, not ",
                     batch.size()));
  }
  if (key_id.empty() || key_id.size() > limits::kMaxKeyId) {
    return absl::InvalidArgumentError(
        absl::StrCat("key id must be 1..", limits::kMaxKeyId, " bytes"));
  }
  std::vector<std::string> leaves;
  leaves.reserve(batch.size());
  for (const v1::SignedNotification& n : batch) {
    if (!SameDomain(n.signing_domain(), batch.front().signing_domain())) {
      return absl::InvalidArgumentError("a batch is signed by one domain");
    }
    leaves.push_back(MerkleLeafHash(n.payload()));
  }
  MerkleTree tree(std::move(leaves));
  const uint32_t size = static_cast<uint32_t>(batch.size());
  std::string signature =
      SchemeOr(scheme).Sign(key, kNotificationBatchContext, BatchTreeHead(size, tree.root()));
  for (uint32_t i = 0; i < size; ++i) {
    v1::SignedNotification& n = batch[i];
    n.set_key_id(std::string(key_id));
    n.set_signature(signature);
    v1::BatchProof* proof = n.mutable_batch();
    proof->Clear();
    proof->set_tree_size(size);
    proof->set_leaf_index(i);
    for (std::string& h : tree.InclusionProof(i)) proof->add_path(std::move(h));
  }
  return batch;
}

absl::StatusOr<std::vector<v1::SignedNotification>> SignNotificationBatch(
    const std::vector<v1::Notification>& notifications, std::string_view signing_domain_as_given,
    std::string_view key_id, const SigningKey& key, const Directory* directory,
    const SignatureScheme* scheme) {
  absl::StatusOr<std::string> canonical = CanonicalSigningDomain(signing_domain_as_given);
  if (!canonical.ok()) return canonical.status();
  const std::string_view signing_domain = *canonical;
  if (notifications.empty() || notifications.size() > limits::kMaxBatchLeaves) {
    return absl::InvalidArgumentError(
        absl::StrCat("a batch holds 1..", limits::kMaxBatchLeaves, " notifications, not ",
                     notifications.size()));
  }
  std::vector<v1::SignedNotification> singles;
  singles.reserve(notifications.size());
  for (size_t i = 0; i < notifications.size(); ++i) {
    const v1::Notification& n = notifications[i];
    if (!SameDomain(n.recipient_domain(), notifications.front().recipient_domain())) {
      return absl::InvalidArgumentError(
          absl::StrCat("notification ", i, ": a batch is for one recipient domain"));
    }
    absl::StatusOr<std::string> payload = CheckedPayload(n, signing_domain, key_id, directory);
    if (!payload.ok()) {
      return absl::Status(payload.status().code(),
                          absl::StrCat("notification ", i, ": ", payload.status().message()));
    }
    v1::SignedNotification single;
    SetParts(single, *std::move(payload), signing_domain, key_id, "");
    singles.push_back(std::move(single));
  }
  return BatchSign(std::move(singles), key_id, key, scheme);
}

absl::StatusOr<v1::Notification> VerifyNotification(const v1::SignedNotification& signed_n,
                                                     const Directory& directory,
                                                     const VerifyOptions& options,
                                                     Rejection* reason) {
  return WithReason<v1::Notification>(
      [&](Rejection* r) { return VerifyNotificationImpl(signed_n, directory, options, r); },
      reason);
}

absl::StatusOr<v1::SignedSpamReport> SignSpamReport(const v1::SpamReport& report,
                                                    std::string_view signing_domain,
                                                    std::string_view key_id,
                                                    const SigningKey& key,
                                                    const SignatureScheme* scheme) {
  return SignObject<v1::SignedSpamReport>(report, kSpamReportContext, signing_domain, key_id, key,
                                          nullptr, SchemeOr(scheme));
}

absl::StatusOr<v1::SpamReport> VerifySpamReport(const v1::SignedSpamReport& signed_report,
                                                const Directory& directory, absl::Time now,
                                                Rejection* reason, const SignatureScheme* scheme) {
  return WithReason<v1::SpamReport>(
      [&](Rejection* r) {
        return VerifySpamReportImpl(signed_report, directory, now, SchemeOr(scheme), r);
      },
      reason);
}

absl::StatusOr<v1::SignedRevocation> SignRevocation(const v1::Revocation& revocation,
                                                    std::string_view signing_domain,
                                                    std::string_view key_id,
                                                    const SigningKey& key,
                                                    const SignatureScheme* scheme) {
  return SignObject<v1::SignedRevocation>(revocation, kRevocationContext, signing_domain, key_id,
                                          key, nullptr, SchemeOr(scheme));
}

absl::StatusOr<v1::Revocation> VerifyRevocation(const v1::SignedRevocation& signed_revocation,
                                                const Directory& directory, absl::Time now,
                                                Rejection* reason, const SignatureScheme* scheme) {
  return WithReason<v1::Revocation>(
      [&](Rejection* r) {
        return VerifyRevocationImpl(signed_revocation, directory, now, SchemeOr(scheme), r);
      },
      reason);
}

}  // namespace pullmail
