// The notification acceptor (see acceptor.h). The order is the protocol's:
// verify first (nothing from an unauthenticated peer is looked at), then
// duplicates (a retry after a lost reply must be acknowledged even if it
// would now be refused for another reason), then local users.
#include "core/logic/acceptor.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/util/clock.h"
#include "core/util/limits.h"
#include "core/util/strings.h"
#include "core/util/address.h"

namespace pullmail {
namespace {

constexpr size_t kMaxNamedInDetail = 5;

// A message id safe to echo back: 1..128 visible ASCII bytes.
bool EchoableId(std::string_view id) {
  if (id.empty() || id.size() > limits::kMaxMessageId) return false;
  for (char c : id) {
    if (c < 33 || c > 126) return false;
  }
  return true;
}

// Whether the payload was authenticated before this rejection was found, so
// it may be parsed for the message id.
bool SignatureVerified(Rejection r) {
  switch (r) {
    case Rejection::kMalformed:
    case Rejection::kSenderOutsideDomain:
    case Rejection::kWrongRecipientDomain:
    case Rejection::kFromFuture:
    case Rejection::kExpired:
      return true;
    default:
      return false;
  }
}

AcceptDecision Reject(Rejection r, std::string reason, absl::StatusCode code, std::string detail) {
  AcceptDecision d;
  d.outcome = AcceptDecision::kReject;
  d.rejection = r;
  d.reason = std::move(reason);
  d.code = code;
  d.detail = std::move(detail);
  return d;
}

StoredNotification ToStored(const v1::SignedNotification& signed_n, const v1::Notification& n,
                            std::string signing_domain, absl::Time now) {
  StoredNotification s;
  s.signing_domain = std::move(signing_domain);
  s.message_id = n.message_id();
  s.envelope_sender = n.envelope_sender();
  s.signed_bytes = signed_n.SerializeAsString();
  s.body_sha256 = n.body_sha256();
  s.body_size = n.body_size();
  s.fetch_token = n.fetch_token();
  if (n.has_summary()) s.summary = n.summary().SerializeAsString();
  s.created = FromUnixMs(n.created_unix_ms());
  s.expires = FromUnixMs(n.expires_unix_ms());
  s.received = now;
  s.revoked = false;
  return s;
}

}  // namespace

AcceptDecision AcceptNotification(const v1::SignedNotification& signed_n,
                                  const AcceptContext& ctx) {
  return FinishAccept(VerifyForAccept(signed_n, ctx), signed_n, ctx);
}

AcceptDecision VerifyForAccept(const v1::SignedNotification& signed_n, const AcceptContext& ctx) {
  VerifyOptions options;
  options.now = ctx.now;
  options.expected_recipient_domain = ctx.local_domain;
  options.verified_roots = ctx.verified_roots;
  options.scheme = ctx.scheme;
  Rejection rejection = Rejection::kNone;
  absl::StatusOr<v1::Notification> n =
      VerifyNotification(signed_n, *ctx.directory, options, &rejection);
  if (!n.ok()) {
    AcceptDecision d = Reject(rejection, std::string(RejectionName(rejection)),
                              RejectionCode(rejection), std::string(n.status().message()));
    if (SignatureVerified(rejection)) {
      v1::Notification parsed;
      if (parsed.ParseFromString(signed_n.payload()) && EchoableId(parsed.message_id())) {
        d.notification = std::move(parsed);
      }
    }
    return d;
  }
  AcceptDecision d;
  d.outcome = AcceptDecision::kStore;  // provisional: FinishAccept decides
  // The row is built here, on the verifying thread: serialising the signed
  // envelope and the summary is the costliest part of it, and FinishAccept
  // runs on the one thread that commits.
  d.stored = ToStored(signed_n, *n, signed_n.signing_domain(), ctx.now);
  d.notification = *std::move(n);
  return d;
}

AcceptDecision FinishAccept(AcceptDecision verified, const v1::SignedNotification& signed_n,
                            const AcceptContext& ctx) {
  if (verified.outcome == AcceptDecision::kReject) return verified;
  std::optional<v1::Notification> n(std::move(verified.notification));
  // Verified, so in canonical form already (NormalizeDomain).
  const std::string& signing_domain = signed_n.signing_domain();
  if (ctx.find_existing) {
    if (std::optional<int64_t> id = ctx.find_existing(signing_domain, n->message_id())) {
      AcceptDecision d;
      d.outcome = AcceptDecision::kDuplicate;
      d.notification = *std::move(n);
      d.existing_id = *id;
      d.detail = "already stored";
      return d;
    }
  }

  std::vector<std::string> users, dropped;
  std::set<std::string> seen;
  for (const std::string& r : n->recipients()) {
    // Users are keyed by UserKey (verified: every recipient is at the
    // recipient domain).
    absl::StatusOr<std::string> key = UserKey(r);
    std::string address = key.ok() ? *std::move(key) : absl::AsciiStrToLower(r);
    if (!seen.insert(address).second) continue;
    if (ctx.user_exists && ctx.user_exists(address)) {
      users.push_back(std::move(address));
    } else {
      dropped.push_back(std::move(address));
    }
  }
  if (users.empty()) {
    std::vector<std::string> named(dropped.begin(),
                                   dropped.begin() + std::min(dropped.size(), kMaxNamedInDetail));
    AcceptDecision d =
        Reject(Rejection::kNone, "no_such_user", absl::StatusCode::kNotFound,
               absl::StrCat("no such user at ", ctx.local_domain, ": ", absl::StrJoin(named, ", "),
                            dropped.size() > named.size() ? ", ..." : ""));
    d.notification = *std::move(n);
    return d;
  }

  AcceptDecision d;
  d.outcome = AcceptDecision::kStore;
  d.stored = std::move(verified.stored);
  d.stored.received = ctx.now;
  d.notification = *std::move(n);
  d.users = std::move(users);
  d.dropped = std::move(dropped);
  d.detail = absl::StrCat("accepted for ", d.users.size(), " of ",
                          d.users.size() + d.dropped.size(), " recipient(s)");
  return d;
}

v1::NotifyResult MakeNotifyResult(const AcceptDecision& d, bool duplicate_from_store) {
  v1::NotifyResult r;
  r.set_message_id(d.notification.message_id());
  switch (d.outcome) {
    case AcceptDecision::kStore:
    case AcceptDecision::kDuplicate: {
      bool duplicate = d.outcome == AcceptDecision::kDuplicate || duplicate_from_store;
      r.set_code(0);
      r.set_duplicate(duplicate);
      r.set_detail(duplicate ? "already stored" : d.detail);
      break;
    }
    case AcceptDecision::kReject:
      r.set_code(static_cast<int>(d.code));
      r.set_reason(d.reason);
      r.set_detail(d.detail);
      break;
  }
  return r;
}

}  // namespace pullmail
