// RecipientNode and the spam policy: where new copies go, reports from
// readers and from trusted peers, suppression of unread copies, held-copy
// review, prefetch before expiry, and reports sent out (to trusted peers and,
// as abuse reports, to the sender's node). Every decision is core's
// SpamPolicy; this file applies them to the mailboxes.
#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/logic/mailbox_rules.h"
#include "core/mail/flags.h"
#include "core/crypto/encoding.h"
#include "core/crypto/token.h"
#include "core/envelope/envelope.h"
#include "core/util/logging.h"
#include "core/util/random.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "recipient-node/crash_point.h"
#include "recipient-node/policy_state.h"
#include "recipient-node/recipient_node.h"
#include "rpc/metrics.h"
#include "rpc/tls.h"

namespace pullmail {

EntryPlacement RecipientNode::PlaceFor(const StoredNotification& n, const std::string& user,
                                       absl::Time now) {
  Decision d;
  {
    std::lock_guard<std::mutex> lock(policy_mu_);
    d = policy_->OnNotification(n.signing_domain, n.body_sha256, user, now);
    // The policy tracked the body for a held domain's copies (spam_policy.h:
    // held, or shown to an early reader): that goes to the store's state.
    if (d.visibility == Visibility::kHeld || d.rule == policy_rule::kEarlyReader) {
      policy_pending_.push_back({PolicyEvent::Kind::kNotification, n.signing_domain,
                                 n.body_sha256, user, now});
    }
  }
  Placement where = PlacementFor(d);
  EntryPlacement p;
  p.user = user;
  p.state = where.state;
  p.folder = std::move(where.folder);
  p.reason = std::move(where.reason);
  return p;
}

absl::StatusOr<uint32_t> RecipientNode::SuppressUnreadCopies(const std::string& body_sha256,
                                                             const std::string& explanation) {
  ASSIGN_OR_RETURN(std::vector<StoredNotification> ns, store_->NotificationsByBodyHash(body_sha256));
  uint32_t moved = 0;
  for (const StoredNotification& n : ns) {
    const bool local = IsLocalMessage(n);
    if (local) continue;  // a user's own copy has no others to move
    ASSIGN_OR_RETURN(std::vector<MailboxEntry> entries, store_->EntriesForNotification(n.id));
    for (const MailboxEntry& e : entries) {
      if (!SuppressionMoves(CopyOf(e, local))) continue;
      RETURN_IF_ERROR(store_->MoveEntry(e.user, e.folder, e.uid, std::string(kJunkFolder),
                                        EntryState::kSuppressed, explanation).status());
      changes_.Notify(e.user, e.folder);
      changes_.Notify(e.user, kJunkFolder);
      ++moved;
    }
  }
  Metrics::Global().Add("pullmail_copies_suppressed_total", moved);
  return moved;
}

absl::StatusOr<v1::ReportResponse> RecipientNode::Report(const std::string& user,
                                                         const v1::ReportRequest& req) {
  if (req.verdict() != v1::VERDICT_SPAM && req.verdict() != v1::VERDICT_NOT_SPAM) {
    return absl::InvalidArgumentError("verdict must be SPAM or NOT_SPAM");
  }
  const bool spam = req.verdict() == v1::VERDICT_SPAM;
  std::string folder = req.folder().empty() ? std::string(kInbox) : req.folder();
  ASSIGN_OR_RETURN(MailboxEntry e, store_->GetEntry(user, folder, req.uid()));
  // Held and revoked copies are invisible to their user (mailbox.cc), so a
  // report on one finds nothing, as a read does. Otherwise the move below
  // would take a revoked copy to Junk as "suppressed" and list it again.
  if (!VisibleToUser(e.state)) {
    return absl::NotFoundError(absl::StrCat("no message with UID ", req.uid()));
  }
  ASSIGN_OR_RETURN(StoredNotification n, store_->GetNotification(e.notification_id));
  const bool local = IsLocalMessage(n);
  if (local) {
    // The user stored it here (APPEND): no sender to blame, nothing for the
    // policy to count. The copy still goes where the verdict says.
    if (auto to = OwnCopyAfterVerdict(folder, spam, local)) {
      RETURN_IF_ERROR(store_->MoveEntry(user, folder, e.uid, to->folder, to->state, to->reason)
                          .status());
      changes_.Notify(user, folder);
      changes_.Notify(user, to->folder);
    }
    v1::ReportResponse resp;
    resp.set_explanation("a message you stored yourself: moved, nothing reported");
    return resp;
  }
  absl::Time now = clock().Now();
  // The report's record and the counts it adds commit in one transaction:
  // core's policy runs inside it on the state as committed (by this process
  // or another replica), and a report already recorded runs nothing.
  ReportOutcome out;
  ASSIGN_OR_RETURN(
      bool fresh,
      CountReport(
          [&](RecipientStore::PolicyStateUpdate update) {
            return store_->RecordReportWithPolicy(user, e.notification_id,
                                                  static_cast<int>(req.verdict()), now, update);
          },
          [&](SpamPolicy& p) {
            out = p.OnLocalReport(n.signing_domain, n.body_sha256,
                                  spam ? Verdict::kSpam : Verdict::kNotSpam, now);
            return absl::OkStatus();
          },
          "report_committed"));
  v1::ReportResponse resp;
  // The reporter's own copy goes where the verdict says.
  if (auto to = OwnCopyAfterVerdict(folder, spam, local)) {
    RETURN_IF_ERROR(store_->MoveEntry(user, folder, e.uid, to->folder, to->state, to->reason)
                        .status());
    changes_.Notify(user, folder);
    changes_.Notify(user, to->folder);
  }
  if (!fresh) {
    resp.set_explanation("you had already reported this message; counted once");
    return resp;
  }
  Metrics::Global().Add(absl::StrCat("pullmail_reports_total{verdict=\"",
                                     spam ? "spam" : "not_spam", "\"}"));
  if (out.newly_suppressed) {
    ASSIGN_OR_RETURN(uint32_t moved,
                     SuppressUnreadCopies(n.body_sha256, absl::StrCat(out.rule, ": ",
                                                                     out.explanation)));
    resp.set_suppressed(moved);
    PM_LOG(INFO) << "body " << HexEncode(n.body_sha256).substr(0, 16) << " of " << n.message_id
                 << " suppressed: " << out.explanation << "; " << moved
                 << " unread copies moved to Junk, their body never fetched";
  }
  resp.set_explanation(out.explanation.empty() ? "report recorded" : out.explanation);

  v1::SpamReport r;
  r.set_version(1);
  r.set_report_id(NewMessageId(SecureRandom(), config_.domain));
  r.set_reporter_domain(config_.domain);
  r.set_message_id(n.message_id);
  r.set_message_signing_domain(n.signing_domain);
  r.set_body_sha256(n.body_sha256);
  r.set_verdict(req.verdict());
  r.set_reported_unix_ms(ToUnixMs(now));
  r.set_reports(1);
  QueueReportOut(r, n.signing_domain);
  return resp;
}

absl::StatusOr<v1::ReportResult> RecipientNode::AcceptPeerReport(
    const v1::SignedSpamReport& signed_report) {
  Rejection why = Rejection::kNone;
  absl::Time now = clock().Now();
  auto report = VerifySpamReport(signed_report, *directory_, now, &why, scheme_);
  if (!report.ok()) {
    Metrics::Global().Add(absl::StrCat("pullmail_peer_reports_rejected_total{reason=\"",
                                       AV(RejectionName(why)), "\"}"));
    return report.status();
  }
  const std::string& peer = signed_report.signing_domain();
  {
    std::lock_guard<std::mutex> lock(policy_mu_);
    if (!policy_->config().peer_weights.count(peer)) {
      Metrics::Global().Add("pullmail_peer_reports_rejected_total{reason=\"untrusted_peer\"}");
      return absl::PermissionDeniedError(absl::StrCat("untrusted_peer: ", peer,
                                                      " is not a trusted peer of this node"));
    }
  }
  PeerReport pr;
  pr.peer_domain = peer;
  pr.report_id = report->report_id();
  pr.body_sha256 = report->body_sha256();
  pr.verdict = report->verdict();
  pr.count = std::max<uint32_t>(1, report->reports());
  pr.time = FromUnixMs(report->reported_unix_ms());
  // Whether this node holds that body from that domain: a peer's word about
  // mail never seen here judges the body, never the domain (core's policy).
  bool held_here = false;
  ASSIGN_OR_RETURN(std::vector<StoredNotification> held,
                   store_->NotificationsByBodyHash(report->body_sha256()));
  for (const StoredNotification& n : held) {
    if (!IsLocalMessage(n) && n.signing_domain == report->message_signing_domain()) {
      held_here = true;
      break;
    }
  }
  // The replay record and the counts commit together (see Report); a
  // report core's policy refuses is not recorded.
  absl::StatusOr<ReportOutcome> out;
  ASSIGN_OR_RETURN(
      bool fresh,
      CountReport(
          [&](RecipientStore::PolicyStateUpdate update) {
            return store_->RecordPeerReportWithPolicy(pr, update);
          },
          [&](SpamPolicy& p) {
            out = p.OnPeerReport(peer, report->message_signing_domain(), report->body_sha256(),
                                 report->verdict() == v1::VERDICT_SPAM ? Verdict::kSpam
                                                                       : Verdict::kNotSpam,
                                 pr.count, held_here, now);
            return out.status();
          },
          "peer_report_committed"));
  if (!fresh) {
    Metrics::Global().Add("pullmail_peer_reports_rejected_total{reason=\"replay\"}");
    return absl::AlreadyExistsError("replay: this report id was counted before");
  }
  Metrics::Global().Add("pullmail_peer_reports_accepted_total");
  if (out->newly_suppressed) {
    ASSIGN_OR_RETURN(uint32_t moved,
                     SuppressUnreadCopies(report->body_sha256(),
                                          absl::StrCat(out->rule, ": ", out->explanation)));
    PM_LOG(INFO) << "peer " << peer << "'s report suppressed " << moved << " unread copies";
  }
  v1::ReportResult result;
  result.set_code(0);
  result.set_reason(out->explanation);
  return result;
}

void RecipientNode::QueueReportOut(const v1::SpamReport& report,
                                   const std::string& signing_domain) {
  auto signed_report = SignSpamReport(report, config_.domain, config_.key_id, *key_, scheme_);
  if (!signed_report.ok()) {
    PM_LOG(ERROR) << "cannot sign report: " << signed_report.status();
    return;
  }
  std::lock_guard<std::mutex> lock(out_mu_);
  reports_out_.emplace_back(std::move(*signed_report), signing_domain);
  maint_cv_.notify_all();
}

void RecipientNode::SendQueuedReports() {
  std::vector<std::pair<v1::SignedSpamReport, std::string>> batch;
  {
    std::lock_guard<std::mutex> lock(out_mu_);
    batch.swap(reports_out_);
  }
  if (batch.empty()) return;
  std::map<std::string, double> trusted;
  {
    std::lock_guard<std::mutex> lock(policy_mu_);
    trusted = policy_->config().peer_weights;
  }
  auto deadline = [] {
    return std::chrono::system_clock::now() + std::chrono::seconds(5);
  };
  for (const auto& [report, signing_domain] : batch) {
    ReportFanOut fan = FanOutReport(trusted, config_.domain, signing_domain);
    // To each trusted peer: best effort (a peer that is down misses it).
    for (const std::string& peer : fan.peers) {
      auto entry = directory_->Lookup(peer);
      if (!entry.ok() || entry->recipient_endpoint.empty()) continue;
      auto ch = fetcher_->channels().Get(entry->recipient_endpoint, peer);
      if (!ch.ok()) continue;
      grpc::ClientContext ctx;
      ctx.set_deadline(deadline());
      v1::ReportResult r;
      grpc::Status s = v1::RecipientService::NewStub(*ch)->ShareReport(&ctx, report, &r);
      Metrics::Global().Add(absl::StrCat("pullmail_peer_reports_sent_total{result=\"",
                                         s.ok() ? "ok" : "error", "\"}"));
      if (!s.ok()) PM_LOG(INFO) << "report to peer " << peer << ": " << s.error_message();
    }
    // To the sender's node, as an abuse report against the submitter.
    if (fan.abuse_domain.empty()) continue;
    auto entry = directory_->Lookup(fan.abuse_domain);
    if (!entry.ok() || entry->sender_endpoint.empty()) continue;
    auto ch = fetcher_->channels().Get(entry->sender_endpoint, fan.abuse_domain);
    if (!ch.ok()) continue;
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    v1::AbuseResult r;
    grpc::Status s = v1::SenderService::NewStub(*ch)->ReportAbuse(&ctx, report, &r);
    Metrics::Global().Add(absl::StrCat("pullmail_abuse_reports_sent_total{result=\"",
                                       s.ok() ? "ok" : "error", "\"}"));
  }
}

void RecipientNode::ReviewHeldAndPrefetch() {
  auto users = users_->ListUsers();
  if (!users.ok()) return;
  absl::Time now = clock().Now();
  std::vector<StoredNotification> to_pin;
  for (const User& u : *users) {
    auto listed = store_->ListEntries(u.address, kInbox, 1, 0);
    if (!listed.ok()) continue;
    // The unread held and shown copies, and their notifications read in one
    // go (one read transaction, not one per copy: with 100,000 unread
    // copies the per-copy reads were most of this node's lock calls).
    std::vector<MailboxEntry> entries;
    std::vector<int64_t> ids;
    for (MailboxEntry& e : *listed) {
      if (e.state != EntryState::kHeld && e.state != EntryState::kShown) continue;
      if (HasFlag(e.flags, kSeenFlag)) continue;
      ids.push_back(e.notification_id);
      entries.push_back(std::move(e));
    }
    auto notifications = store_->GetNotifications(ids);
    if (!notifications.ok()) continue;
    for (size_t i = 0; i < entries.size(); ++i) {
      const MailboxEntry& e = entries[i];
      std::optional<StoredNotification>& n = (*notifications)[i];
      // Local messages (APPEND) are never held and have no sender to fetch from.
      if (!n || n->revoked || IsLocalMessage(*n)) continue;
      if (e.state == EntryState::kHeld) {
        Decision d;
        {
          std::lock_guard<std::mutex> lock(policy_mu_);
          d = policy_->ReviewHeld(n->signing_domain, n->body_sha256, e.internal_date, now);
        }
        if (d.visibility == Visibility::kHeld) continue;
        // Released copies get a fresh UID so clients see them as new mail.
        Placement to = PlacementFor(d);
        if (store_->MoveEntry(u.address, kInbox, e.uid, to.folder, to.state, to.reason).ok()) {
          changes_.Notify(u.address, kInbox);
          changes_.Notify(u.address, to.folder);
          PM_LOG(INFO) << "held copy of " << n->message_id << " for " << u.address << ": "
                       << VisibilityName(d.visibility) << " (" << d.explanation << ")";
        }
        continue;
      }
      const CopyFacts copy = CopyOf(e, /*local=*/false);
      // A shown copy of a body already suppressed: the moves of that
      // suppression did not reach it (a kill between the report's commit and
      // the moves, or a placement by a count one pass old on a replica).
      bool body_suppressed;
      double net_spam;
      {
        std::lock_guard<std::mutex> lock(policy_mu_);
        body_suppressed = policy_->IsSuppressed(n->body_sha256);
        net_spam = policy_->NetSpam(n->body_sha256);
      }
      if (SuppressionRepairMoves(copy, body_suppressed)) {
        if (store_->MoveEntry(u.address, kInbox, e.uid, std::string(kJunkFolder),
                              EntryState::kSuppressed,
                              absl::StrCat(AV(policy_rule::kBodyHashThreshold), ": suppressed: ",
                                           net_spam, " net spam reports on this body"))
                .ok()) {
          changes_.Notify(u.address, kInbox);
          changes_.Notify(u.address, kJunkFolder);
          Metrics::Global().Add("pullmail_copies_suppressed_total");
          PM_LOG(INFO) << "unread copy of suppressed " << n->message_id << " for " << u.address
                       << " moved to Junk on review";
        }
        continue;
      }
      // Pin a shown, unread body before the sender drops it.
      if (ShouldPrefetch(copy, n->revoked, n->expires, now, config_.prefetch_before_expiry,
                         /*body_cached=*/false)) {
        auto cached = store_->HasBody(BodyCacheKey(*n));
        if (cached.ok() && !*cached) to_pin.push_back(*std::move(n));
      }
    }
  }
  // Fetched on the prefetcher's workers, within core's bounds: a slow
  // sender node never holds this thread.
  if (!to_pin.empty() && prefetcher_) prefetcher_->Offer(to_pin);
}

absl::StatusOr<SpamPolicy> RecipientNode::PolicyFrom(std::string_view state) const {
  SpamPolicy p(policy_config_);
  ASSIGN_OR_RETURN(PolicySnapshot snap, ParsePolicySnapshot(state, "stored policy state"));
  RETURN_IF_ERROR(p.Restore(snap));
  return p;
}

absl::StatusOr<std::string> RecipientNode::ApplyToState(
    std::string_view old, std::optional<SpamPolicy>* next,
    absl::FunctionRef<absl::Status(SpamPolicy&)> apply) const {
  ASSIGN_OR_RETURN(SpamPolicy p, PolicyFrom(old));
  RETURN_IF_ERROR(apply(p));
  std::string text = PolicySnapshotText(p.Snapshot());
  next->emplace(std::move(p));
  return text;
}

absl::StatusOr<bool> RecipientNode::CountReport(
    absl::FunctionRef<absl::StatusOr<bool>(RecipientStore::PolicyStateUpdate)> record,
    absl::FunctionRef<absl::Status(SpamPolicy&)> apply, std::string_view crash_point) {
  std::lock_guard<std::mutex> write(policy_write_mu_);
  std::optional<SpamPolicy> committed;
  ASSIGN_OR_RETURN(bool fresh, record([&](std::string_view old) {
                     return ApplyToState(old, &committed, apply);
                   }));
  if (!fresh) return false;
  CrashPoint(crash_point);
  AdoptPolicy(*std::move(committed));
  return true;
}

void RecipientNode::Replay(SpamPolicy& policy, const PolicyEvent& e) {
  switch (e.kind) {
    case PolicyEvent::Kind::kNotification:
      (void)policy.OnNotification(e.signing_domain, e.body_sha256, e.user, e.time);
      break;
    case PolicyEvent::Kind::kRead:
      policy.OnRead(e.signing_domain, e.body_sha256, e.time);
      break;
  }
}

void RecipientNode::AdoptPolicy(SpamPolicy committed) {
  std::lock_guard<std::mutex> lock(policy_mu_);
  for (const PolicyEvent& e : policy_pending_) Replay(committed, e);
  *policy_ = std::move(committed);
}

absl::Status RecipientNode::NoteFirstRead(const std::string& user, const StoredNotification& n,
                                          std::optional<bool> counted) {
  // Marked in the store: counted by an earlier pass (or another replica).
  // The mark itself is written by the next SyncPolicy, with the pass's other
  // reads in one transaction: a read costs no write of its own.
  if (!counted.has_value()) {
    ASSIGN_OR_RETURN(counted, store_->IsReadCounted(user, n.id));
  }
  if (*counted) return absl::OkStatus();
  const absl::Time now = clock().Now();
  std::lock_guard<std::mutex> lock(policy_mu_);
  if (!reads_unmarked_.emplace(user, n.id).second) return absl::OkStatus();  // waiting already
  policy_->OnRead(n.signing_domain, n.body_sha256, now);
  PolicyEvent e{PolicyEvent::Kind::kRead, n.signing_domain, n.body_sha256, user, now};
  e.notification_id = n.id;
  e.unmarked = true;
  policy_pending_.push_back(std::move(e));
  return absl::OkStatus();
}

absl::Status RecipientNode::CommitReadMarks(std::vector<PolicyEvent>* events) {
  std::vector<RecipientStore::ReadMark> marks;
  for (const PolicyEvent& e : *events) {
    if (e.unmarked) marks.push_back({e.user, e.notification_id});
  }
  if (marks.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<bool> made, store_->MarkReadsCounted(marks));
  size_t k = 0;
  std::vector<PolicyEvent> kept;
  kept.reserve(events->size());
  for (PolicyEvent& e : *events) {
    if (e.unmarked) {
      e.unmarked = false;
      if (!made[k++]) continue;  // counted already: this read adds nothing
    }
    kept.push_back(std::move(e));
  }
  events->swap(kept);
  std::lock_guard<std::mutex> lock(policy_mu_);
  for (const RecipientStore::ReadMark& m : marks) {
    reads_unmarked_.erase(std::make_pair(m.user, m.notification_id));
  }
  return absl::OkStatus();
}

absl::Status RecipientNode::LoadPolicy() {
  policy_config_ = policy_->config();
  // Before the state moved into the store it was a file in data_dir: import
  // it once, unless the store has a state already (another replica, or an
  // earlier start, put it there).
  const std::string file = config_.data_dir + "/policy.state";
  absl::StatusOr<PolicySnapshot> old_file = LoadPolicySnapshot(file);
  if (old_file.ok()) {
    bool imported = false;
    RETURN_IF_ERROR(store_->UpdatePolicyState([&](std::string_view stored)
                                                  -> absl::StatusOr<std::string> {
      imported = stored.empty();
      if (!imported) return std::string(stored);
      SpamPolicy check(policy_config_);
      RETURN_IF_ERROR(check.Restore(*old_file));
      return PolicySnapshotText(*old_file);
    }));
    const std::string moved = file + ".migrated";
    if (std::rename(file.c_str(), moved.c_str()) != 0) {
      PM_LOG(WARNING) << "cannot rename " << file << " to " << moved;
    }
    PM_LOG(INFO) << file << (imported ? ": imported into the store"
                                      : ": not imported, the store already has a policy state")
                 << "; renamed " << moved;
  } else if (old_file.status().code() != absl::StatusCode::kNotFound) {
    return old_file.status();
  }
  ASSIGN_OR_RETURN(std::string state, store_->GetPolicyState());
  ASSIGN_OR_RETURN(SpamPolicy p, PolicyFrom(state));
  std::lock_guard<std::mutex> lock(policy_mu_);
  *policy_ = std::move(p);
  return absl::OkStatus();
}

absl::Status RecipientNode::SyncPolicy() {
  std::lock_guard<std::mutex> write(policy_write_mu_);
  std::vector<PolicyEvent> events;
  {
    std::lock_guard<std::mutex> lock(policy_mu_);
    events.swap(policy_pending_);
  }
  std::optional<SpamPolicy> committed;
  absl::Status s = CommitReadMarks(&events);
  // Housekeeping, once a day (docs/POLICY.md): core's Prune forgets bodies
  // and domains with no activity for body_state_ttl, so the stored state,
  // which every report rewrites, does not grow for ever.
  const absl::Time now = clock().Now();
  const bool prune = now - last_prune_ >= absl::Hours(24);
  size_t pruned = 0;
  if (!s.ok()) {
    // Marks not written: the events go back as they were (below).
  } else if (events.empty() && !prune) {
    // Nothing of ours to write: read what the other replicas committed.
    absl::StatusOr<std::string> state = store_->GetPolicyState();
    s = state.status();
    if (state.ok()) {
      absl::StatusOr<SpamPolicy> p = PolicyFrom(*state);
      s = p.status();
      if (p.ok()) committed.emplace(*std::move(p));
    }
  } else {
    s = store_->UpdatePolicyState([&](std::string_view old) {
      return ApplyToState(old, &committed, [&](SpamPolicy& p) {
        for (const PolicyEvent& e : events) Replay(p, e);
        if (prune) pruned = p.Prune(now);
        return absl::OkStatus();
      });
    });
    if (s.ok() && prune) {
      last_prune_ = now;
      Metrics::Global().Add("pullmail_policy_entries_pruned_total", pruned);
    }
  }
  if (!s.ok()) {
    // Kept for the next pass, before what came in meanwhile.
    std::lock_guard<std::mutex> lock(policy_mu_);
    events.insert(events.end(), std::make_move_iterator(policy_pending_.begin()),
                  std::make_move_iterator(policy_pending_.end()));
    policy_pending_ = std::move(events);
    return s;
  }
  AdoptPolicy(*std::move(committed));
  Metrics::Global().Add("pullmail_policy_syncs_total");
  return absl::OkStatus();
}

void RecipientNode::Maintain() { MaintainOnce(/*review=*/true); }

void RecipientNode::MaintainOnce(bool review) {
  SendQueuedReports();
  if (review) {
    const auto start = std::chrono::steady_clock::now();
    ReviewHeldAndPrefetch();
    next_review_ = start + (std::chrono::steady_clock::now() - start) * kReviewDutyFactor;
  }
  if (absl::Status s = SyncPolicy(); !s.ok()) PM_LOG(ERROR) << "policy state: " << s;
  ReleaseSpace();
}

void RecipientNode::StartMaintenance() {
  maint_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "pm-maintain");  // per-thread CPU in node_bench
    std::unique_lock<std::mutex> lock(maint_mu_);
    while (!maint_stop_) {
      lock.unlock();
      MaintainOnce(/*review=*/std::chrono::steady_clock::now() >= next_review_);
      lock.lock();
      maint_cv_.wait_for(lock, std::chrono::seconds(2), [this] { return maint_stop_; });
    }
  });
}

void RecipientNode::StopMaintenance() {
  {
    std::lock_guard<std::mutex> lock(maint_mu_);
    maint_stop_ = true;
  }
  maint_cv_.notify_all();
  if (maint_thread_.joinable()) maint_thread_.join();
  if (prefetcher_) prefetcher_->Stop();
}

}  // namespace pullmail
