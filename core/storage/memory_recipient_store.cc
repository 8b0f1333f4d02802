// RecipientStore in memory (memory_store.h).
//
// Layout, chosen for the simulator's millions of entries: notifications sit
// in a vector indexed by id - 1; each keeps back-references to its entries
// (pointers to the user and folder names, which are keys of node-based maps
// and so stable until erased) and its user reports. A folder is an ordered
// map uid -> compact EntryRec; user and folder names are not repeated per
// entry.
#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/imap/imap_mime.h"
#include "core/logic/body_cache_key.h"
#include "core/logic/body_retention.h"
#include "core/mail/flags.h"
#include "core/storage/memory_store.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

std::vector<uint32_t> SortedUnique(std::vector<uint32_t> uids) {
  std::sort(uids.begin(), uids.end());
  uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
  return uids;
}

class MemoryRecipientStore : public RecipientStore {
 public:
  // --- Notifications -------------------------------------------------------

  absl::StatusOr<std::vector<InsertResult>> InsertNotifications(
      const std::vector<NotificationInsert>& batch) override {
    for (const NotificationInsert& item : batch) {
      std::set<std::pair<std::string_view, std::string>> seen;
      for (const EntryPlacement& p : item.placements) {
        if (p.user.empty() || p.folder.empty()) {
          return absl::InvalidArgumentError("placement with empty user or folder");
        }
        if (!seen.emplace(p.user, NormalizeFolderName(p.folder)).second) {
          return absl::InvalidArgumentError(
              absl::StrCat("two placements in ", p.user, "/", p.folder, " for one notification"));
        }
      }
    }
    absl::MutexLock lock(&mu_);
    std::vector<InsertResult> results;
    results.reserve(batch.size());
    for (const NotificationInsert& item : batch) {
      const StoredNotification& n = item.notification;
      InsertResult& r = results.emplace_back();
      auto found = by_key_.find(KeyView{n.signing_domain, n.message_id});
      if (found != by_key_.end()) {
        r.duplicate = true;
        r.notification_id = *found;
        continue;
      }
      NotifRec& rec = notifications_.emplace_back();
      rec.n = n;
      rec.n.id = static_cast<int64_t>(notifications_.size());
      rec.n.created = TruncateToMicros(n.created);
      rec.n.expires = TruncateToMicros(n.expires);
      rec.n.received = TruncateToMicros(n.received);
      r.notification_id = rec.n.id;
      by_key_.insert(rec.n.id);
      by_body_[BodyKey(n.body_sha256)].push_back(rec.n.id);
      by_signer_[n.signing_domain].push_back(rec.n.id);
      for (const EntryPlacement& p : item.placements) {
        EntryRec e;
        e.notification_id = rec.n.id;
        e.internal_date_us = TimeToStoredMicros(rec.n.received);
        e.state = p.state;
        e.reason = p.reason;
        e.flags = p.flags;
        NormalizeFlags(e.flags);
        auto [user_key, folder_key, folder] = EnsureFolderLocked(p.user, NormalizeFolderName(p.folder));
        uint32_t uid = AppendLocked(user_key, folder_key, *folder, std::move(e));
        r.entries.push_back(ToEntry(*user_key, *folder_key, uid, folder->entries.at(uid)));
      }
    }
    return results;
  }

  absl::StatusOr<StoredNotification> GetNotification(int64_t id) override {
    absl::MutexLock lock(&mu_);
    const NotifRec* rec = FindNotifLocked(id);
    if (rec == nullptr) return absl::NotFoundError(absl::StrCat("no notification ", id));
    return rec->n;
  }

  absl::StatusOr<StoredNotification> FindNotification(std::string_view signing_domain,
                                                      std::string_view message_id) override {
    absl::MutexLock lock(&mu_);
    auto it = by_key_.find(KeyView{signing_domain, message_id});
    if (it == by_key_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no notification ", AV(message_id), " from ", AV(signing_domain)));
    }
    return notifications_[*it - 1].n;
  }

  absl::StatusOr<std::vector<StoredNotification>> NotificationsByBodyHash(
      std::string_view body_sha256) override {
    absl::MutexLock lock(&mu_);
    std::vector<StoredNotification> out;
    for (int64_t id : IdsByBodyLocked(body_sha256)) out.push_back(notifications_[id - 1].n);
    return out;
  }

  absl::Status MarkNotificationRevoked(int64_t id) override {
    absl::MutexLock lock(&mu_);
    NotifRec* rec = FindNotifLocked(id);
    if (rec == nullptr) return absl::NotFoundError(absl::StrCat("no notification ", id));
    rec->n.revoked = true;
    return absl::OkStatus();
  }

  // --- Folders -------------------------------------------------------------

  absl::StatusOr<Folder> EnsureFolder(std::string_view user, std::string_view name) override {
    if (user.empty() || name.empty()) {
      return absl::InvalidArgumentError("empty user or folder name");
    }
    absl::MutexLock lock(&mu_);
    auto [user_key, folder_key, folder] = EnsureFolderLocked(user, NormalizeFolderName(name));
    return ToFolder(*folder_key, *folder);
  }

  absl::StatusOr<Folder> GetFolder(std::string_view user, std::string_view name) override {
    std::string folder_name = NormalizeFolderName(name);
    absl::MutexLock lock(&mu_);
    FolderRec* folder = FindFolderLocked(user, folder_name);
    if (folder == nullptr) return NoFolder(user, folder_name);
    return ToFolder(folder_name, *folder);
  }

  absl::StatusOr<std::vector<Folder>> ListFolders(std::string_view user) override {
    absl::MutexLock lock(&mu_);
    std::vector<Folder> out;
    auto it = users_.find(std::string(user));
    if (it == users_.end()) return out;
    for (const auto& [name, folder] : it->second) out.push_back(ToFolder(name, folder));
    return out;
  }

  absl::Status DeleteFolder(std::string_view user, std::string_view name) override {
    std::string folder_name = NormalizeFolderName(name);
    if (folder_name == kInbox) return absl::FailedPreconditionError("INBOX cannot be deleted");
    absl::MutexLock lock(&mu_);
    auto u = users_.find(std::string(user));
    if (u == users_.end()) return NoFolder(user, folder_name);
    auto f = u->second.find(folder_name);
    if (f == u->second.end()) return NoFolder(user, folder_name);
    for (const auto& [uid, e] : f->second.entries) {
      Unref(e.notification_id, &f->first, uid);
      released_[e.notification_id] = 0;
    }
    u->second.erase(f);
    return absl::OkStatus();
  }

  // --- Entries -------------------------------------------------------------

  absl::StatusOr<std::vector<MailboxEntry>> ListEntries(std::string_view user,
                                                        std::string_view folder_name,
                                                        uint32_t min_uid, size_t limit) override {
    std::string name = NormalizeFolderName(folder_name);
    absl::MutexLock lock(&mu_);
    auto [user_key, folder_key, folder] = FindFolderKeysLocked(user, name);
    if (folder == nullptr) return NoFolder(user, name);
    std::vector<MailboxEntry> out;
    for (auto it = folder->entries.lower_bound(min_uid);
         it != folder->entries.end() && (limit == 0 || out.size() < limit); ++it) {
      out.push_back(ToEntry(*user_key, *folder_key, it->first, it->second));
    }
    return out;
  }

  absl::StatusOr<MailboxEntry> GetEntry(std::string_view user, std::string_view folder_name,
                                        uint32_t uid) override {
    std::string name = NormalizeFolderName(folder_name);
    absl::MutexLock lock(&mu_);
    auto [user_key, folder_key, folder] = FindFolderKeysLocked(user, name);
    if (folder == nullptr) return NoFolder(user, name);
    auto it = folder->entries.find(uid);
    if (it == folder->entries.end()) return NoEntry(user, name, uid);
    return ToEntry(*user_key, *folder_key, uid, it->second);
  }

  absl::StatusOr<std::vector<MailboxEntry>> EntriesForNotification(
      int64_t notification_id) override {
    absl::MutexLock lock(&mu_);
    std::vector<MailboxEntry> out;
    const NotifRec* rec = FindNotifLocked(notification_id);
    if (rec == nullptr) return out;
    for (const EntryRef& ref : rec->refs) {
      const EntryRec& e = users_.find(*ref.user)->second.find(*ref.folder)->second.entries.at(ref.uid);
      out.push_back(ToEntry(*ref.user, *ref.folder, ref.uid, e));
    }
    std::sort(out.begin(), out.end(), [](const MailboxEntry& a, const MailboxEntry& b) {
      return std::tie(a.user, a.folder, a.uid) < std::tie(b.user, b.folder, b.uid);
    });
    return out;
  }

  absl::StatusOr<SetFlagsResult> SetFlagsUnchangedSince(
      std::string_view user, std::string_view folder_name, const std::vector<uint32_t>& uids,
      FlagOp op, std::vector<std::string> flags,
      std::optional<uint64_t> unchanged_since) override {
    NormalizeFlags(flags);
    std::string name = NormalizeFolderName(folder_name);
    absl::MutexLock lock(&mu_);
    auto [user_key, folder_key, folder] = FindFolderKeysLocked(user, name);
    if (folder == nullptr) return NoFolder(user, name);
    SetFlagsResult out;
    for (uint32_t uid : SortedUnique(uids)) {
      auto it = folder->entries.find(uid);
      if (it == folder->entries.end()) continue;
      EntryRec& e = it->second;
      if (unchanged_since.has_value() && e.modseq > *unchanged_since) {
        out.modified.push_back(uid);
        continue;
      }
      std::vector<std::string> next = ApplyFlags(e.flags, op, flags);
      if (next != e.flags) {
        bool was_seen = HasFlag(e.flags, kSeenFlag);
        e.flags = std::move(next);
        e.flags.shrink_to_fit();
        bool seen = HasFlag(e.flags, kSeenFlag);
        if (was_seen && !seen) ++folder->unseen;
        if (!was_seen && seen) --folder->unseen;
        e.modseq = ++folder->highest_modseq;
      }
      out.entries.push_back(ToEntry(*user_key, *folder_key, uid, e));
    }
    return out;
  }

  absl::StatusOr<CopyResult> CopyEntries(std::string_view user, std::string_view from_name,
                                         const std::vector<uint32_t>& uids,
                                         std::string_view to_name, bool move) override {
    std::string from = NormalizeFolderName(from_name);
    std::string to = NormalizeFolderName(to_name);
    absl::MutexLock lock(&mu_);
    auto [user_key, src_key, src] = FindFolderKeysLocked(user, from);
    if (src == nullptr) return NoFolder(user, from);
    auto [user_key2, dst_key, dst] = FindFolderKeysLocked(user, to);
    if (dst == nullptr) return NoFolder(user, to);
    CopyResult result;
    result.uid_validity = dst->uid_validity;
    for (uint32_t uid : SortedUnique(uids)) {
      auto it = src->entries.find(uid);
      if (it == src->entries.end()) continue;
      EntryRec copy = it->second;
      if (move) RemoveLocked(*src, src_key, it);
      result.src.push_back(uid);
      result.dst.push_back(AppendLocked(user_key, dst_key, *dst, std::move(copy)));
    }
    if (move && !result.src.empty()) RememberExpungedLocked(*src, result.src);
    return result;
  }

  absl::StatusOr<MailboxEntry> MoveEntry(std::string_view user, std::string_view folder_name,
                                         uint32_t uid, std::string_view to_name, EntryState state,
                                         std::string_view reason) override {
    std::string from = NormalizeFolderName(folder_name);
    std::string to = NormalizeFolderName(to_name);
    if (to.empty()) return absl::InvalidArgumentError("empty destination folder");
    absl::MutexLock lock(&mu_);
    auto [user_key, src_key, src] = FindFolderKeysLocked(user, from);
    if (src == nullptr) return NoFolder(user, from);
    auto it = src->entries.find(uid);
    if (it == src->entries.end()) return NoEntry(user, from, uid);
    EntryRec e = std::move(it->second);
    RemoveLocked(*src, src_key, it);
    RememberExpungedLocked(*src, {uid});
    e.state = state;
    e.reason = std::string(reason);
    auto [user_key2, dst_key, dst] = EnsureFolderLocked(user, to);
    uint32_t new_uid = AppendLocked(user_key2, dst_key, *dst, std::move(e));
    return ToEntry(*user_key2, *dst_key, new_uid, dst->entries.at(new_uid));
  }

  absl::StatusOr<std::vector<uint32_t>> Expunge(
      std::string_view user, std::string_view folder_name,
      const std::optional<std::vector<uint32_t>>& uids) override {
    std::string name = NormalizeFolderName(folder_name);
    std::optional<std::vector<uint32_t>> only;
    if (uids.has_value()) only = SortedUnique(*uids);
    absl::MutexLock lock(&mu_);
    auto [user_key, folder_key, folder] = FindFolderKeysLocked(user, name);
    if (folder == nullptr) return NoFolder(user, name);
    std::vector<uint32_t> expunged;
    for (auto it = folder->entries.begin(); it != folder->entries.end();) {
      uint32_t uid = it->first;
      if (HasFlag(it->second.flags, kDeletedFlag) &&
          (!only.has_value() || std::binary_search(only->begin(), only->end(), uid))) {
        expunged.push_back(uid);
        released_[it->second.notification_id] = 0;
        it = RemoveLocked(*folder, folder_key, it);
      } else {
        ++it;
      }
    }
    if (!expunged.empty()) RememberExpungedLocked(*folder, expunged);
    return expunged;
  }

  absl::StatusOr<std::vector<uint32_t>> ExpungedSince(std::string_view user,
                                                      std::string_view folder_name,
                                                      uint64_t modseq) override {
    std::string name = NormalizeFolderName(folder_name);
    absl::MutexLock lock(&mu_);
    FolderRec* folder = FindFolderLocked(user, name);
    if (folder == nullptr) return NoFolder(user, name);
    std::vector<uint32_t> out;
    for (const auto& [uid, removed_at] : folder->expunged) {
      if (removed_at > modseq) out.push_back(uid);
    }
    return out;
  }

  absl::Status SetEntryState(std::string_view user, std::string_view folder_name, uint32_t uid,
                             EntryState state, std::string_view reason) override {
    std::string name = NormalizeFolderName(folder_name);
    absl::MutexLock lock(&mu_);
    FolderRec* folder = FindFolderLocked(user, name);
    if (folder == nullptr) return NoFolder(user, name);
    auto it = folder->entries.find(uid);
    if (it == folder->entries.end()) return NoEntry(user, name, uid);
    it->second.state = state;
    it->second.reason = std::string(reason);
    it->second.modseq = ++folder->highest_modseq;
    return absl::OkStatus();
  }

  // --- Body cache ----------------------------------------------------------

  absl::Status PutBody(std::string_view body_sha256, std::string_view body) override {
    std::string record = MimeRecordOf(body);  // outside the lock: it parses the body
    absl::MutexLock lock(&mu_);
    if (bodies_.try_emplace(std::string(body_sha256), body).second) {
      structures_[std::string(body_sha256)] = std::move(record);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> GetBodyStructure(std::string_view key) override {
    absl::MutexLock lock(&mu_);
    auto it = structures_.find(AV(key));
    if (it == structures_.end()) return absl::NotFoundError("no structure record");
    return it->second;
  }

  absl::Status PutBodyStructure(std::string_view key, std::string_view record) override {
    absl::MutexLock lock(&mu_);
    if (!bodies_.contains(AV(key))) return absl::NotFoundError("body not cached");
    structures_[std::string(key)] = std::string(record);
    return absl::OkStatus();
  }

  absl::StatusOr<bool> HasBody(std::string_view body_sha256) override {
    absl::MutexLock lock(&mu_);
    return bodies_.contains(AV(body_sha256));
  }

  absl::StatusOr<uint64_t> CachedBodySize(std::string_view body_sha256) override {
    absl::MutexLock lock(&mu_);
    auto it = bodies_.find(AV(body_sha256));
    if (it == bodies_.end()) return absl::NotFoundError("body not cached");
    return it->second.size();
  }

  absl::StatusOr<std::string> ReadCachedBody(std::string_view body_sha256, uint64_t offset,
                                             size_t max_len) override {
    absl::MutexLock lock(&mu_);
    auto it = bodies_.find(AV(body_sha256));
    if (it == bodies_.end()) return absl::NotFoundError("body not cached");
    if (offset > it->second.size()) {
      return absl::OutOfRangeError(
          absl::StrCat("offset ", offset, " beyond cached body size ", it->second.size()));
    }
    return it->second.substr(offset, max_len);
  }

  absl::StatusOr<std::string> GetBody(std::string_view body_sha256) override {
    absl::MutexLock lock(&mu_);
    auto it = bodies_.find(AV(body_sha256));
    if (it == bodies_.end()) return absl::NotFoundError("body not cached");
    return it->second;
  }

  absl::Status DeleteBody(std::string_view body_sha256) override {
    absl::MutexLock lock(&mu_);
    bodies_.erase(AV(body_sha256));
    structures_.erase(AV(body_sha256));
    return absl::OkStatus();
  }

  // --- Space of expunged mail ----------------------------------------------

  absl::StatusOr<ReleaseStats> ReleaseUnreferenced(absl::Time now, size_t max) override {
    ReleaseStats stats;
    if (max == 0) return stats;
    const int64_t now_us = TimeToStoredMicros(now);
    absl::MutexLock lock(&mu_);
    std::vector<std::pair<int64_t, int64_t>> due;  // (due_us, id)
    for (const auto& [id, at] : released_) {
      if (at <= now_us) due.emplace_back(at, id);
    }
    std::sort(due.begin(), due.end());
    if (due.size() > max) {
      stats.more = true;
      due.resize(max);
    }
    for (const auto& [at, id] : due) {
      ++stats.examined;
      NotifRec* rec = FindNotifLocked(id);
      if (rec == nullptr) {
        released_.erase(id);
        continue;
      }
      ReleaseFacts f;
      f.local = IsLocalBody(rec->n);
      f.expires = rec->n.expires;
      f.has_entries = !rec->refs.empty();
      const std::string key = BodyCacheKey(rec->n);
      auto body = bodies_.find(key);
      f.body_cached = !f.has_entries && body != bodies_.end();
      if (f.body_cached) {
        for (int64_t other : IdsByBodyLocked(rec->n.body_sha256)) {
          const NotifRec& o = notifications_[other - 1];
          if (other != id && !o.refs.empty() && BodyCacheKey(o.n) == key) {
            f.key_referenced = true;
            break;
          }
        }
      }
      const ReleaseDecision d = DecideRelease(f, now);
      if (d.drop_body) {
        ++stats.bodies_dropped;
        stats.body_bytes_dropped += body->second.size();
        bodies_.erase(body);
        structures_.erase(key);
      }
      if (d.drop_row) {
        DropRowLocked(id);
        released_.erase(id);
        ++stats.rows_dropped;
      } else if (d.revisit.has_value()) {
        released_[id] = TimeToStoredMicros(*d.revisit);
      } else {
        released_.erase(id);
      }
    }
    return stats;
  }

  absl::Status RequeueUnreferenced(const std::vector<int64_t>& notification_ids) override {
    absl::MutexLock lock(&mu_);
    for (int64_t id : notification_ids) {
      const NotifRec* rec = FindNotifLocked(id);
      if (rec != nullptr && rec->refs.empty()) released_[id] = 0;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<bool> ConfirmBody(std::string_view key) override {
    absl::MutexLock lock(&mu_);  // as every other call: after any pass
    return bodies_.contains(AV(key));
  }

  // --- Spam reports --------------------------------------------------------

  absl::StatusOr<bool> IsReadCounted(std::string_view user, int64_t notification_id) override {
    absl::MutexLock lock(&mu_);
    return read_counted_.contains(std::make_pair(std::string(user), notification_id));
  }

  absl::StatusOr<std::vector<bool>> MarkReadsCounted(const std::vector<ReadMark>& marks) override {
    absl::MutexLock lock(&mu_);
    std::vector<bool> out;
    out.reserve(marks.size());
    for (const ReadMark& m : marks) {
      out.push_back(FindNotifLocked(m.notification_id) != nullptr &&
                    read_counted_.emplace(m.user, m.notification_id).second);
    }
    return out;
  }

  absl::StatusOr<bool> RecordReport(std::string_view user, int64_t notification_id, int verdict,
                                    absl::Time time) override {
    absl::MutexLock lock(&mu_);
    return RecordReportLocked(user, notification_id, verdict, time, nullptr);
  }

  absl::StatusOr<std::vector<UserReport>> ReportsForBodyHash(
      std::string_view body_sha256) override {
    absl::MutexLock lock(&mu_);
    return ReportsFor(IdsByBodyLocked(body_sha256));
  }

  absl::StatusOr<std::vector<UserReport>> ReportsForSigningDomain(
      std::string_view signing_domain) override {
    absl::MutexLock lock(&mu_);
    auto it = by_signer_.find(AV(signing_domain));
    return it == by_signer_.end() ? std::vector<UserReport>() : ReportsFor(it->second);
  }

  absl::StatusOr<bool> RecordPeerReport(const PeerReport& report) override {
    absl::MutexLock lock(&mu_);
    return RecordPeerReportLocked(report, nullptr);
  }

  absl::StatusOr<std::vector<PeerReport>> PeerReportsForBodyHash(
      std::string_view body_sha256) override {
    absl::MutexLock lock(&mu_);
    auto it = peer_by_body_.find(AV(body_sha256));
    return it == peer_by_body_.end() ? std::vector<PeerReport>() : it->second;
  }

  // --- Spam-policy state ---------------------------------------------------
  // `update` runs under mu_: the store is locked for it, as a transaction.

  absl::StatusOr<std::string> GetPolicyState() override {
    absl::MutexLock lock(&mu_);
    return policy_state_;
  }

  absl::Status UpdatePolicyState(PolicyStateUpdate update) override {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(std::string next, update(policy_state_));
    policy_state_ = std::move(next);
    return absl::OkStatus();
  }

  absl::StatusOr<bool> RecordReportWithPolicy(std::string_view user, int64_t notification_id,
                                              int verdict, absl::Time time,
                                              PolicyStateUpdate update) override {
    absl::MutexLock lock(&mu_);
    return RecordReportLocked(user, notification_id, verdict, time, &update);
  }

  absl::StatusOr<bool> RecordPeerReportWithPolicy(const PeerReport& report,
                                                  PolicyStateUpdate update) override {
    absl::MutexLock lock(&mu_);
    return RecordPeerReportLocked(report, &update);
  }

 private:
  // The report is checked first; `update` (if given) runs only for a report
  // that changes something, and nothing changes unless it succeeds.
  absl::StatusOr<bool> RecordReportLocked(std::string_view user, int64_t notification_id,
                                          int verdict, absl::Time time,
                                          const PolicyStateUpdate* update)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    NotifRec* rec = FindNotifLocked(notification_id);
    if (rec == nullptr) {
      return absl::NotFoundError(absl::StrCat("no notification ", notification_id));
    }
    auto& reports = rec->reports;
    auto it = std::lower_bound(
        reports.begin(), reports.end(), user,
        [](const Report& r, std::string_view u) { return r.user < u; });
    const bool exists = it != reports.end() && it->user == user;
    if (exists && it->verdict == verdict) return false;
    RETURN_IF_ERROR(ApplyPolicyUpdateLocked(update));
    if (exists) {
      it->verdict = verdict;
      it->time_us = TimeToStoredMicros(time);
    } else {
      reports.insert(it, Report{std::string(user), verdict, TimeToStoredMicros(time)});
    }
    return true;
  }

  absl::StatusOr<bool> RecordPeerReportLocked(const PeerReport& report,
                                              const PolicyStateUpdate* update)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (peer_seen_.contains(std::make_pair(report.peer_domain, report.report_id))) return false;
    RETURN_IF_ERROR(ApplyPolicyUpdateLocked(update));
    peer_seen_.emplace(report.peer_domain, report.report_id);
    PeerReport copy = report;
    copy.time = TruncateToMicros(report.time);
    auto& list = peer_by_body_[report.body_sha256];
    auto pos = std::upper_bound(list.begin(), list.end(), copy,
                                [](const PeerReport& a, const PeerReport& b) {
                                  return std::tie(a.peer_domain, a.report_id) <
                                         std::tie(b.peer_domain, b.report_id);
                                });
    list.insert(pos, std::move(copy));
    return true;
  }

  absl::Status ApplyPolicyUpdateLocked(const PolicyStateUpdate* update)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (update == nullptr) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::string next, (*update)(policy_state_));
    policy_state_ = std::move(next);
    return absl::OkStatus();
  }

  struct EntryRec {
    int64_t notification_id = 0;
    int64_t internal_date_us = 0;
    uint64_t modseq = 0;
    std::vector<std::string> flags;  // sorted, unique
    std::string reason;
    EntryState state = EntryState::kShown;
  };
  struct FolderRec {
    uint32_t uid_validity = 0;
    uint32_t uid_next = 1;
    uint32_t unseen = 0;
    uint64_t highest_modseq = 1;
    std::map<uint32_t, EntryRec> entries;
    std::map<uint32_t, uint64_t> expunged;  // UID -> modseq of its removal
  };
  using UserFolders = std::map<std::string, FolderRec, std::less<>>;
  // Points at the map keys that name an entry's user and folder.
  struct EntryRef {
    const std::string* user;
    const std::string* folder;
    uint32_t uid;
  };
  struct Report {
    std::string user;
    int verdict;
    int64_t time_us;
  };
  struct NotifRec {
    StoredNotification n;
    std::vector<EntryRef> refs;
    std::vector<Report> reports;  // sorted by user
    bool gone = false;            // dropped by ReleaseUnreferenced
  };
  // (signing_domain, message_id), for heterogeneous lookup in by_key_.
  struct KeyView {
    std::string_view domain;
    std::string_view message_id;
  };
  static KeyView ViewOf(const std::deque<NotifRec>& notes, int64_t id) {
    const StoredNotification& n = notes[id - 1].n;
    return KeyView{n.signing_domain, n.message_id};
  }
  struct IdKeyHash {
    using is_transparent = void;
    const std::deque<NotifRec>* notes;
    size_t operator()(const KeyView& k) const {
      return absl::Hash<std::pair<absl::string_view, absl::string_view>>()(
          {AV(k.domain), AV(k.message_id)});
    }
    size_t operator()(int64_t id) const { return (*this)(ViewOf(*notes, id)); }
  };
  struct IdKeyEq {
    using is_transparent = void;
    const std::deque<NotifRec>* notes;
    KeyView View(const KeyView& k) const { return k; }
    KeyView View(int64_t id) const { return ViewOf(*notes, id); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      KeyView x = View(a), y = View(b);
      return x.domain == y.domain && x.message_id == y.message_id;
    }
  };
  struct FolderKeys {
    const std::string* user;
    const std::string* folder;
    FolderRec* rec;
  };

  static absl::Status NoFolder(std::string_view user, std::string_view folder) {
    return absl::NotFoundError(absl::StrCat("no folder ", AV(folder), " for ", AV(user)));
  }
  static absl::Status NoEntry(std::string_view user, std::string_view folder, uint32_t uid) {
    return absl::NotFoundError(absl::StrCat("no UID ", uid, " in ", AV(folder), " of ", AV(user)));
  }

  static Folder ToFolder(const std::string& name, const FolderRec& f) {
    Folder out;
    out.name = name;
    out.uid_validity = f.uid_validity;
    out.uid_next = f.uid_next;
    out.messages = static_cast<uint32_t>(f.entries.size());
    out.unseen = f.unseen;
    out.highest_modseq = f.highest_modseq;
    return out;
  }

  static MailboxEntry ToEntry(const std::string& user, const std::string& folder, uint32_t uid,
                              const EntryRec& e) {
    MailboxEntry out;
    out.user = user;
    out.folder = folder;
    out.uid = uid;
    out.notification_id = e.notification_id;
    out.flags = e.flags;
    out.internal_date = StoredMicrosToTime(e.internal_date_us);
    out.modseq = e.modseq;
    out.state = e.state;
    out.reason = e.reason;
    return out;
  }

  NotifRec* FindNotifLocked(int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (id < 1 || id > static_cast<int64_t>(notifications_.size())) return nullptr;
    NotifRec* rec = &notifications_[id - 1];
    return rec->gone ? nullptr : rec;
  }

  // Forgets a row with no entries (ReleaseUnreferenced): out of every
  // index, its reports and read marks dropped, its bytes freed. Its slot
  // stays (ids are slots), so no id is ever given out twice.
  void DropRowLocked(int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    NotifRec& rec = notifications_[id - 1];
    by_key_.erase(id);  // hashed through the row's key: before it is cleared
    auto erase_id = [id](auto& ids) { ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end()); };
    if (auto it = by_body_.find(BodyKey(rec.n.body_sha256)); it != by_body_.end()) {
      erase_id(it->second);
      if (it->second.empty()) by_body_.erase(it);
    }
    if (auto it = by_signer_.find(rec.n.signing_domain); it != by_signer_.end()) {
      erase_id(it->second);
      if (it->second.empty()) by_signer_.erase(it);
    }
    absl::erase_if(read_counted_, [id](const auto& mark) { return mark.second == id; });
    rec = NotifRec();
    rec.n.id = id;
    rec.gone = true;
  }

  FolderKeys FindFolderKeysLocked(std::string_view user, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto u = users_.find(std::string(user));
    if (u == users_.end()) return {nullptr, nullptr, nullptr};
    auto f = u->second.find(name);
    if (f == u->second.end()) return {nullptr, nullptr, nullptr};
    return {&u->first, &f->first, &f->second};
  }

  FolderRec* FindFolderLocked(std::string_view user, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return FindFolderKeysLocked(user, name).rec;
  }

  FolderKeys EnsureFolderLocked(std::string_view user, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto u = users_.try_emplace(std::string(user)).first;
    auto [f, inserted] = u->second.try_emplace(name);
    if (inserted) f->second.uid_validity = next_uid_validity_++;
    return {&u->first, &f->first, &f->second};
  }

  // Gives `e` the folder's next UID and modseq; returns the UID.
  uint32_t AppendLocked(const std::string* user_key, const std::string* folder_key,
                        FolderRec& folder, EntryRec e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    uint32_t uid = folder.uid_next++;
    e.modseq = ++folder.highest_modseq;
    if (!HasFlag(e.flags, kSeenFlag)) ++folder.unseen;
    notifications_[e.notification_id - 1].refs.push_back(EntryRef{user_key, folder_key, uid});
    folder.entries.emplace(uid, std::move(e));
    return uid;
  }

  // One removal from `folder` (a change: the folder's modseq goes up once)
  // and its UIDs, remembered with that modseq for ExpungedSince.
  static void RememberExpungedLocked(FolderRec& folder, const std::vector<uint32_t>& uids) {
    uint64_t modseq = ++folder.highest_modseq;
    for (uint32_t uid : uids) folder.expunged[uid] = modseq;
  }

  // Erases one entry (not the folder's modseq: callers bump it once).
  std::map<uint32_t, EntryRec>::iterator RemoveLocked(FolderRec& folder,
                                                      const std::string* folder_key,
                                                      std::map<uint32_t, EntryRec>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!HasFlag(it->second.flags, kSeenFlag)) --folder.unseen;
    Unref(it->second.notification_id, folder_key, it->first);
    return folder.entries.erase(it);
  }

  // Drops the back-reference of entry (folder_key, uid); folder keys are
  // per user, so the folder pointer alone identifies the user too.
  void Unref(int64_t notification_id, const std::string* folder_key, uint32_t uid)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto& refs = notifications_[notification_id - 1].refs;
    for (size_t i = 0; i < refs.size(); ++i) {
      if (refs[i].folder == folder_key && refs[i].uid == uid) {
        refs[i] = refs.back();
        refs.pop_back();
        return;
      }
    }
  }

  static uint64_t BodyKey(std::string_view body_sha256) {
    return absl::Hash<absl::string_view>()(AV(body_sha256));
  }

  // Ids of the notifications with that body hash, ascending.
  std::vector<int64_t> IdsByBodyLocked(std::string_view body_sha256)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<int64_t> out;
    auto it = by_body_.find(BodyKey(body_sha256));
    if (it == by_body_.end()) return out;
    for (int64_t id : it->second) {
      if (notifications_[id - 1].n.body_sha256 == body_sha256) out.push_back(id);  // not a collision
    }
    return out;
  }

  template <typename Ids>
  std::vector<UserReport> ReportsFor(const Ids& ids)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<UserReport> out;
    for (int64_t id : ids) {  // ascending, as inserted
      for (const Report& r : notifications_[id - 1].reports) {
        out.push_back(UserReport{r.user, id, r.verdict, StoredMicrosToTime(r.time_us)});
      }
    }
    return out;
  }

  absl::Mutex mu_;
  // id = index + 1; a deque grows without copying what it holds.
  std::deque<NotifRec> notifications_ ABSL_GUARDED_BY(mu_);
  // Dedup index: ids, hashed and compared through the (signing_domain,
  // message_id) of the notification they name, so no key is stored twice.
  absl::flat_hash_set<int64_t, IdKeyHash, IdKeyEq> by_key_ ABSL_GUARDED_BY(mu_){
      0, IdKeyHash{&notifications_}, IdKeyEq{&notifications_}};
  // Hash of body_sha256 -> ids (ascending); lookups re-check the full hash.
  absl::flat_hash_map<uint64_t, absl::InlinedVector<int64_t, 1>> by_body_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<int64_t>> by_signer_ ABSL_GUARDED_BY(mu_);
  // Node-based, so the key strings that EntryRef points at stay put.
  std::unordered_map<std::string, UserFolders> users_ ABSL_GUARDED_BY(mu_);
  uint32_t next_uid_validity_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<std::string, std::string> bodies_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> structures_ ABSL_GUARDED_BY(mu_);  // MIME records
  absl::flat_hash_set<std::pair<std::string, std::string>> peer_seen_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<PeerReport>> peer_by_body_ ABSL_GUARDED_BY(mu_);
  std::string policy_state_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::pair<std::string, int64_t>> read_counted_ ABSL_GUARDED_BY(mu_);
  // Rows whose entries were removed: id -> when the release pass is due.
  std::map<int64_t, int64_t> released_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<RecipientStore> NewMemoryRecipientStore() {
  return std::make_unique<MemoryRecipientStore>();
}

}  // namespace pullmail
