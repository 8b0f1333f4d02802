// RecipientNode: accepting notifications and revocations (see
// recipient_node.h). Mailbox operations are in mailbox.cc.
#include "recipient-node/recipient_node.h"

#include <toml++/toml.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/mail/flags.h"
#include "core/envelope/envelope.h"
#include "core/logic/acceptor.h"
#include "core/logic/fetch_schedule.h"
#include "core/logic/mailbox_rules.h"
#include "core/util/random.h"
#include "core/policy/policy_config.h"
#include "core/storage/open_store.h"
#include "core/util/address.h"
#include "core/util/logging.h"
#include "core/util/status_macros.h"
#include "rpc/node_base.h"
#include "rpc/metrics.h"

namespace pullmail {

absl::StatusOr<std::unique_ptr<RecipientNode>> RecipientNode::Open(
    const NodeConfig& config, Clock* clock, const SignatureScheme* scheme) {
  Parts parts;
  parts.config = config;
  parts.clock = clock;
  parts.scheme = scheme;
  ASSIGN_OR_RETURN(parts.store, OpenRecipientStore(config.RecipientStoreLocation()));
  ASSIGN_OR_RETURN(parts.base, OpenNodeBase(config, clock));
  if (const toml::table* t = config.Section("recipient", "policy")) {
    ASSIGN_OR_RETURN(parts.policy, ParsePolicyConfig(*t));
  }
  return FromParts(std::move(parts));
}

absl::StatusOr<std::unique_ptr<RecipientNode>> RecipientNode::FromParts(Parts parts) {
  std::unique_ptr<RecipientNode> node(new RecipientNode(std::move(parts.config)));
  node->store_ = std::move(parts.store);
  node->users_ = std::move(parts.base.users);
  node->directory_ = std::move(parts.base.directory);
  node->key_ = std::move(parts.base.key);
  node->auth_ = std::move(parts.base.auth);
  node->clock_ = parts.clock;
  node->scheme_ = parts.scheme;
  ASSIGN_OR_RETURN(SpamPolicy policy, SpamPolicy::Create(std::move(parts.policy)));
  node->policy_ = std::make_unique<SpamPolicy>(std::move(policy));
  RETURN_IF_ERROR(node->LoadPolicy());
  FetchLimits fetch_limits;
  if (const toml::table* t = node->config_.Section("recipient", "fetch")) {
    ASSIGN_OR_RETURN(fetch_limits, ParseFetchLimits(*t));
  }
  node->fetcher_ = std::make_unique<BodyFetcher>(&node->config_, node->directory_.get(),
                                                 node->store_.get(), fetch_limits,
                                                 node->clock_);
  node->prefetcher_ =
      std::make_unique<Prefetcher>(node->fetcher_.get(), node->clock_, &SecureRandom());
  // One verifier per core: Ed25519 verification is what a notification
  // costs most, and gRPC's own threads mostly wait.
  node->intake_ = std::make_unique<Intake>(
      node.get(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return node;
}

RecipientNode::~RecipientNode() {
  if (fetcher_) fetcher_->Shutdown();
  StopMaintenance();
}

void RecipientNode::BeginShutdown() {
  shutting_down_.store(true);
  if (fetcher_) fetcher_->Shutdown();
}

bool RecipientNode::UserExists(std::string_view address) {
  absl::StatusOr<std::string> key = UserKey(address);
  return key.ok() && users_->GetUser(*key).ok();
}

std::vector<v1::NotifyResult> RecipientNode::AcceptBatch(
    std::vector<v1::SignedNotification> batch) {
  if (batch.empty()) return {};
  return intake_->Accept(std::move(batch));
}

AcceptContext RecipientNode::MakeAcceptContext() {
  return AcceptContext{.directory = directory_.get(),
                       .local_domain = config_.domain,
                       .now = clock().Now(),
                       .scheme = scheme_,
                       .user_exists = [this](std::string_view a) { return UserExists(a); },
                       .find_existing = [this](std::string_view d, std::string_view id)
                           -> std::optional<int64_t> {
                         auto n = store_->FindNotificationId(d, id);
                         if (!n.ok()) return std::nullopt;
                         return *n;
                       }};
}

std::vector<v1::NotifyResult> RecipientNode::CommitVerified(
    const std::vector<const v1::SignedNotification*>& batch,
    const std::vector<AcceptDecision*>& decisions) {
  Metrics& metrics = Metrics::Global();
  std::vector<NotificationInsert> inserts;
  std::vector<int> insert_index(batch.size(), -1);

  AcceptContext ctx = MakeAcceptContext();
  // Duplicates and users are looked up once per commit group, not once per
  // notification: the ids of every verified notification in one read of the
  // store, and each recipient address once. A lookup that fails leaves
  // duplicates to the store, which reports them on insert.
  {
    std::vector<RecipientStore::NotificationKey> keys;
    keys.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      if (decisions[i]->outcome == AcceptDecision::kReject) continue;
      keys.push_back({batch[i]->signing_domain(), decisions[i]->notification.message_id()});
    }
    absl::flat_hash_map<std::pair<std::string_view, std::string_view>, int64_t> existing;
    absl::StatusOr<std::vector<std::optional<int64_t>>> ids = store_->FindNotificationIds(keys);
    if (ids.ok()) {
      for (size_t k = 0; k < keys.size(); ++k) {
        if ((*ids)[k].has_value()) {
          existing.emplace(std::make_pair(keys[k].signing_domain, keys[k].message_id), *(*ids)[k]);
        }
      }
    } else {
      PM_LOG(WARNING) << "duplicate lookup failed, left to the insert: " << ids.status();
    }
    ctx.find_existing = [existing = std::move(existing)](
                            std::string_view d, std::string_view id) -> std::optional<int64_t> {
      auto it = existing.find(std::make_pair(d, id));
      if (it == existing.end()) return std::nullopt;
      return it->second;
    };
    ctx.user_exists = [this, known = absl::flat_hash_map<std::string, bool>()](
                          std::string_view address) mutable {
      auto it = known.find(absl::string_view(address.data(), address.size()));
      if (it == known.end()) it = known.emplace(std::string(address), UserExists(address)).first;
      return it->second;
    };
  }
  // The usual counters are added once per commit, not per notification.
  uint64_t bytes = 0, duplicates = 0, accepted = 0, batch_signed = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    bytes += batch[i]->ByteSizeLong();
    *decisions[i] = FinishAccept(std::move(*decisions[i]), *batch[i], ctx);
    AcceptDecision& d = *decisions[i];
    if (d.outcome != AcceptDecision::kStore) continue;
    NotificationInsert ins;
    for (const std::string& user : d.users) {
      ins.placements.push_back(PlaceFor(d.stored, user, ctx.now));
    }
    ins.notification = std::move(d.stored);  // not read again: replies use d.notification
    insert_index[i] = static_cast<int>(inserts.size());
    inserts.push_back(std::move(ins));
  }

  absl::StatusOr<std::vector<InsertResult>> stored;
  if (!inserts.empty()) stored = store_->InsertNotifications(inserts);
  // The rows go back to their decisions, which the caller frees (the
  // intake: on another thread than this one).
  for (size_t i = 0; i < batch.size(); ++i) {
    if (insert_index[i] >= 0) decisions[i]->stored = std::move(inserts[insert_index[i]].notification);
  }

  std::vector<v1::NotifyResult> results;
  results.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const AcceptDecision& d = *decisions[i];
    bool duplicate = d.outcome == AcceptDecision::kDuplicate;
    v1::NotifyResult r;
    if (insert_index[i] >= 0 && !stored.ok()) {
      // Nothing in this batch was committed: say so, and the sender retries.
      r.set_message_id(d.notification.message_id());
      r.set_code(static_cast<int>(absl::StatusCode::kUnavailable));
      r.set_reason("storage_unavailable");
      r.set_detail(std::string(stored.status().message()));
      metrics.Add("pullmail_notifications_rejected_total{reason=\"storage_unavailable\"}");
    } else {
      if (insert_index[i] >= 0) {
        const InsertResult& ir = (*stored)[insert_index[i]];
        duplicate = ir.duplicate;
        for (const MailboxEntry& e : ir.entries) changes_.Notify(e.user, e.folder);
      }
      r = MakeNotifyResult(d, duplicate);
      if (d.outcome == AcceptDecision::kReject) {
        metrics.Add(absl::StrCat("pullmail_notifications_rejected_total{reason=\"", r.reason(), "\"}"));
        PM_LOG(INFO) << "rejected notification " << r.message_id() << ": " << r.reason() << " ("
                     << r.detail() << ")";
      } else if (duplicate) {
        ++duplicates;
      } else {
        ++accepted;
        if (batch[i]->has_batch()) ++batch_signed;
        PM_LOG(INFO) << "accepted " << d.notification.message_id() << " from "
                     << d.notification.envelope_sender() << " for " << d.users.size()
                     << " user(s); body (" << d.notification.body_size()
                     << " bytes) stays at the sender until read";
      }
    }
    results.push_back(std::move(r));
  }
  metrics.Add("pullmail_notification_bytes_received_total", bytes);
  if (duplicates > 0) metrics.Add("pullmail_notifications_duplicate_total", duplicates);
  if (accepted > 0) metrics.Add("pullmail_notifications_accepted_total", accepted);
  if (batch_signed > 0) metrics.Add("pullmail_notifications_batch_signed_total", batch_signed);
  return results;
}

absl::StatusOr<uint32_t> RecipientNode::ApplyRevocation(const v1::SignedRevocation& signed_rev) {
  Rejection why = Rejection::kNone;
  ASSIGN_OR_RETURN(v1::Revocation rev,
                   VerifyRevocation(signed_rev, *directory_, clock().Now(), &why, scheme_));
  // Only the domain that signed a notification may revoke it: the lookup is
  // keyed by the verified signing domain.
  // A revocation of a message this node never stored (or of a user's own
  // APPEND copy, which was never sent) is valid and hides nothing: OK with
  // hidden 0 (docs/PROTOCOL.md 9.2), so that the sender's retry of it, or a
  // revocation that overtook its notification, is not an error.
  auto n = store_->FindNotification(signed_rev.signing_domain(), rev.message_id());
  if (absl::IsNotFound(n.status()) || (n.ok() && IsLocalMessage(*n))) {
    Metrics::Global().Add("pullmail_revocations_unknown_total");
    PM_LOG(INFO) << "revocation of unknown " << rev.message_id() << " from "
                 << signed_rev.signing_domain() << ": nothing to hide";
    return 0u;
  }
  if (!n.ok()) return n.status();
  RETURN_IF_ERROR(store_->MarkNotificationRevoked(n->id));
  ASSIGN_OR_RETURN(std::vector<MailboxEntry> entries, store_->EntriesForNotification(n->id));
  uint32_t hidden = 0;
  std::string reason = absl::StrCat("revoked by the sender: ", rev.reason());
  for (const MailboxEntry& e : entries) {
    // A reader who read it keeps it; a replay of the revocation hides nothing.
    if (!RevocationHides(CopyOf(e, /*local=*/false))) continue;
    RETURN_IF_ERROR(store_->SetEntryState(e.user, e.folder, e.uid, EntryState::kRevoked, reason));
    changes_.Notify(e.user, e.folder);
    ++hidden;
  }
  Metrics::Global().Add("pullmail_revocations_total");
  PM_LOG(INFO) << "revocation of " << rev.message_id() << " from " << signed_rev.signing_domain()
               << ": hid " << hidden << " unread copies";
  return hidden;
}

void RecipientNode::FetchAhead(std::vector<StoredNotification> wanted) {
  wanted.erase(std::remove_if(wanted.begin(), wanted.end(),
                              [](const StoredNotification& n) { return IsLocalMessage(n); }),
               wanted.end());
  if (!wanted.empty()) fetcher_->FetchAhead(wanted);
}

}  // namespace pullmail
