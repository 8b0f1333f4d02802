// Submission: validate, summarise, and build one signed notification per
// recipient domain (see submission.h).
#include "core/logic/submission.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/sha256.h"
#include "core/crypto/token.h"
#include "core/envelope/envelope.h"
#include "core/logic/author.h"
#include "core/mail/header_summary.h"
#include "core/util/address.h"
#include "core/util/clock.h"
#include "core/util/limits.h"
#include "core/util/logging.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {

absl::StatusOr<Submission> PrepareSubmission(const SubmissionInput& input,
                                             const SubmissionContext& ctx) {
  PM_CHECK(ctx.random != nullptr);
  const bool bridged = input.origin == v1::ORIGIN_BRIDGED_SMTP;
  std::string sender;  // canonical: local part as given, domain lower-cased
  if (bridged) {
    // Only the gateway bridges, and it is nobody's user.
    if (!input.authenticated_user.empty()) {
      return absl::PermissionDeniedError("bridged mail is not submitted by a user");
    }
    // The sender's domain is judged when the notification is prepared
    // (PrepareNotification with ctx.directory, SignNotification's checks):
    // one rule, in core/envelope.
    if (!input.from.empty()) {
      ASSIGN_OR_RETURN(auto from, SplitAddress(input.from));
      sender = absl::StrCat(from.first, "@", from.second);
    }
    RETURN_IF_ERROR(CheckBridgeRecipients(input.to, ctx));
  } else {
    ASSIGN_OR_RETURN(auto from, SplitAddress(input.from));
    if (!SameDomain(from.second, ctx.local_domain)) {
      return absl::PermissionDeniedError(
          absl::StrCat("sender ", input.from, " is outside this node's domain ", ctx.local_domain));
    }
    sender = absl::StrCat(from.first, "@", from.second);
  }
  if (!input.authenticated_user.empty()) {
    // The same user however either is spelt (UserKey: case, a trailing
    // dot); the message's sender is then the user's one spelling, the key
    // that Revoke and ListSent look the user's mail up by.
    absl::StatusOr<std::string> user = UserKey(input.authenticated_user);
    absl::StatusOr<std::string> from = UserKey(input.from);
    if (!user.ok() || !from.ok() || *user != *from) {
      return absl::PermissionDeniedError(absl::StrCat("user ", input.authenticated_user,
                                                      " may not send as ", input.from));
    }
    sender = *std::move(user);
  }
  if (input.to.empty()) return absl::InvalidArgumentError("no recipients");
  if (input.to.size() > limits::kMaxRecipientsPerNotification) {
    return absl::InvalidArgumentError(
        absl::StrCat("too many recipients (max ", limits::kMaxRecipientsPerNotification, ")"));
  }
  if (input.idempotency_key.size() > kMaxIdempotencyKey ||
      !std::all_of(input.idempotency_key.begin(), input.idempotency_key.end(),
                   [](char c) { return c >= 0x21 && c <= 0x7e; })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "idempotency key must be 1..", kMaxIdempotencyKey, " bytes of visible ASCII"));
  }
  if (input.message.empty()) return absl::InvalidArgumentError("empty message");
  if (input.message.size() > limits::kMaxBodySize) {
    return absl::ResourceExhaustedError(
        absl::StrCat("message is ", input.message.size(), " bytes; limit ", limits::kMaxBodySize));
  }

  // Recipients grouped by domain, each address once, in a stable order.
  std::map<std::string, std::set<std::string>> by_domain;
  for (const std::string& rcpt : input.to) {
    ASSIGN_OR_RETURN(auto parts, SplitAddress(rcpt));
    by_domain[parts.second].insert(absl::StrCat(parts.first, "@", parts.second));
  }

  Submission out;
  ASSIGN_OR_RETURN(out.summary, ExtractHeaderSummary(input.message));
  if (!bridged && !input.authenticated_user.empty()) {
    // A user's own mail: the header From: is theirs alone (core/logic/author.h).
    ASSIGN_OR_RETURN(AuthorFields author, ExtractAuthorFields(input.message));
    RETURN_IF_ERROR(CheckAuthor(author, input.authenticated_user));
  }

  OutboundMessage& m = out.message;
  m.message_id = NewMessageId(*ctx.random, ctx.local_domain, ctx.now);
  m.sender = sender;
  m.body_sha256 = Sha256(input.message);
  m.body_size = input.message.size();
  m.summary = out.summary.SerializeAsString();
  m.created = ctx.now;
  m.expires = ctx.now + ctx.retention;
  m.idempotency_key = input.idempotency_key;

  for (const auto& [domain, rcpts] : by_domain) {
    Delivery d;
    d.message_id = m.message_id;
    d.domain = domain;
    d.recipients.assign(rcpts.begin(), rcpts.end());
    d.fetch_token = NewToken(*ctx.random);
    d.next_attempt = ctx.now;

    v1::Notification n =
        MakeNotification(m, d, out.summary, ctx.sender_endpoint, input.origin);
    // Checked as SignNotification would, not signed: the delivery pass signs
    // it once when it sends it, alone or in a batch (SignForDelivery).
    ASSIGN_OR_RETURN(v1::SignedNotification prepared,
                     PrepareNotification(n, ctx.local_domain, ctx.key_id, ctx.directory));
    d.signed_notification = prepared.SerializeAsString();
    out.deliveries.push_back(std::move(d));
  }
  return out;
}

absl::Status CheckSubmissionRetry(const OutboundMessage& prepared, const OutboundMessage& stored) {
  if (prepared.sender != stored.sender || prepared.body_sha256 != stored.body_sha256) {
    return absl::InvalidArgumentError(
        absl::StrCat("idempotency_key_reused: the key was used for message ", stored.message_id,
                     ", whose body differs; use a new key for a new message"));
  }
  return absl::OkStatus();
}

v1::SubmitResponse SubmitResponseFor(const OutboundMessage& message,
                                     const std::vector<Delivery>& deliveries) {
  v1::SubmitResponse resp;
  resp.set_message_id(message.message_id);
  resp.set_body_size(message.body_size);
  resp.set_body_sha256(message.body_sha256);
  for (const Delivery& d : deliveries) {
    v1::DomainQueued* q = resp.add_queued();
    q->set_domain(d.domain);
    q->set_recipients(static_cast<uint32_t>(d.recipients.size()));
  }
  return resp;
}

v1::Notification MakeNotification(const OutboundMessage& m, const Delivery& d,
                                  const v1::HeaderSummary& summary,
                                  std::string_view sender_endpoint, v1::Origin origin) {
  v1::Notification n;
  n.set_version(limits::kProtocolVersion);
  n.set_message_id(m.message_id);
  n.set_envelope_sender(m.sender);
  for (const std::string& r : d.recipients) n.add_recipients(r);
  n.set_recipient_domain(d.domain);
  n.set_sender_endpoint(std::string(sender_endpoint));
  n.set_created_unix_ms(ToUnixMs(m.created));
  n.set_expires_unix_ms(ToUnixMs(m.expires));
  n.set_body_size(m.body_size);
  n.set_body_sha256(m.body_sha256);
  *n.mutable_summary() = summary;
  n.set_fetch_token(d.fetch_token);
  n.set_origin(origin);
  return n;
}

absl::Status CheckBridgeRecipients(const std::vector<std::string>& to,
                                   const SubmissionContext& ctx) {
  if (to.empty()) return absl::InvalidArgumentError("no recipients");
  if (to.size() > limits::kMaxRecipientsPerNotification) {
    return absl::InvalidArgumentError(
        absl::StrCat("too many recipients (max ", limits::kMaxRecipientsPerNotification, ")"));
  }
  for (const std::string& rcpt : to) {
    ASSIGN_OR_RETURN(auto parts, SplitAddress(rcpt));
    if (!SameDomain(parts.second, ctx.local_domain)) {
      return absl::InvalidArgumentError(absl::StrCat("relaying denied: bridged mail is only for ",
                                                     ctx.local_domain, ", not ", rcpt));
    }
  }
  if (!ctx.user_exists) return absl::OkStatus();
  for (const std::string& rcpt : to) {
    ASSIGN_OR_RETURN(auto parts, SplitAddress(rcpt));
    std::string address = absl::StrCat(parts.first, "@", parts.second);
    absl::Status exists = ctx.user_exists(address);
    if (absl::IsNotFound(exists)) {
      return absl::NotFoundError(absl::StrCat("no such user: ", address));
    }
    RETURN_IF_ERROR(exists);
  }
  return absl::OkStatus();
}

}  // namespace pullmail
