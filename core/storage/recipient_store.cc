// RecipientStore's non-virtual convenience methods, shared by every back end.
#include "core/storage/recipient_store.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/mail/flags.h"
#include "core/util/status_macros.h"

namespace pullmail {

absl::StatusOr<int64_t> RecipientStore::FindNotificationId(std::string_view signing_domain,
                                                           std::string_view message_id) {
  ASSIGN_OR_RETURN(StoredNotification n, FindNotification(signing_domain, message_id));
  return n.id;
}

absl::StatusOr<std::vector<std::optional<StoredNotification>>> RecipientStore::GetNotifications(
    const std::vector<int64_t>& ids) {
  std::vector<std::optional<StoredNotification>> out;
  out.reserve(ids.size());
  for (int64_t id : ids) {
    absl::StatusOr<StoredNotification> n = GetNotification(id);
    if (n.ok()) {
      out.push_back(*std::move(n));
    } else if (absl::IsNotFound(n.status())) {
      out.push_back(std::nullopt);
    } else {
      return n.status();
    }
  }
  return out;
}

absl::StatusOr<std::vector<std::optional<int64_t>>> RecipientStore::FindNotificationIds(
    const std::vector<NotificationKey>& keys) {
  std::vector<std::optional<int64_t>> out;
  out.reserve(keys.size());
  for (const NotificationKey& k : keys) {
    absl::StatusOr<int64_t> id = FindNotificationId(k.signing_domain, k.message_id);
    if (id.ok()) {
      out.push_back(*id);
    } else if (absl::IsNotFound(id.status())) {
      out.push_back(std::nullopt);
    } else {
      return id.status();
    }
  }
  return out;
}

absl::StatusOr<InsertResult> RecipientStore::InsertNotification(
    const StoredNotification& notification, const std::vector<std::string>& local_users,
    EntryState initial_state, std::string_view reason) {
  std::vector<NotificationInsert> batch(1);
  batch[0].notification = notification;
  batch[0].placements.reserve(local_users.size());
  for (const std::string& user : local_users) {
    EntryPlacement& p = batch[0].placements.emplace_back();
    p.user = user;
    p.state = initial_state;
    p.reason = std::string(reason);
  }
  ASSIGN_OR_RETURN(std::vector<InsertResult> results, InsertNotifications(batch));
  return std::move(results.front());
}

absl::StatusOr<std::vector<MailboxEntry>> RecipientStore::SetFlags(
    std::string_view user, std::string_view folder, const std::vector<uint32_t>& uids, FlagOp op,
    std::vector<std::string> flags) {
  ASSIGN_OR_RETURN(SetFlagsResult r,
                   SetFlagsUnchangedSince(user, folder, uids, op, std::move(flags), std::nullopt));
  return std::move(r.entries);
}

absl::StatusOr<std::vector<std::optional<EntryForRead>>> RecipientStore::GetEntriesForRead(
    std::string_view user, std::string_view folder, const std::vector<uint32_t>& uids) {
  RETURN_IF_ERROR(GetFolder(user, folder).status());
  std::vector<std::optional<EntryForRead>> out;
  out.reserve(uids.size());
  for (uint32_t uid : uids) {
    absl::StatusOr<MailboxEntry> e = GetEntry(user, folder, uid);
    if (absl::IsNotFound(e.status())) {
      out.emplace_back();
      continue;
    }
    RETURN_IF_ERROR(e.status());
    ASSIGN_OR_RETURN(StoredNotification n, GetNotification(e->notification_id));
    out.emplace_back(EntryForRead{*std::move(e), std::move(n)});
  }
  return out;
}

absl::StatusOr<FolderChanges> RecipientStore::ListFolderChanges(std::string_view user,
                                                                std::string_view folder,
                                                                uint64_t modseq) {
  FolderChanges out;
  ASSIGN_OR_RETURN(out.folder, GetFolder(user, folder));
  ASSIGN_OR_RETURN(std::vector<MailboxEntry> entries, ListEntries(user, folder, 1, 0));
  for (MailboxEntry& e : entries) {
    auto it = std::find_if(out.by_state.begin(), out.by_state.end(),
                           [&](const StateCount& c) { return c.state == e.state; });
    if (it == out.by_state.end()) {
      out.by_state.push_back(StateCount{e.state, 0, 0});
      it = out.by_state.end() - 1;
    }
    ++it->entries;
    if (!HasFlag(e.flags, kFlagSeen)) ++it->unseen;
    if (e.modseq > modseq) out.changed.push_back(std::move(e));
  }
  ASSIGN_OR_RETURN(out.expunged, ExpungedSince(user, folder, modseq));
  return out;
}

namespace {

// StartBody's default: the pieces in memory, PutBody at Finish.
class HeldBodyWriter : public RecipientStore::BodyWriter {
 public:
  HeldBodyWriter(RecipientStore* store, std::string key, uint64_t size)
      : store_(store), key_(std::move(key)), size_(size) {}

  absl::Status Append(std::string_view data) override {
    if (body_.size() + data.size() > size_) {
      return absl::InvalidArgumentError(
          absl::StrCat("body writer: more than the ", size_, " bytes announced"));
    }
    body_.append(data);
    return absl::OkStatus();
  }

  absl::Status Finish() override {
    if (body_.size() != size_) {
      return absl::InvalidArgumentError(
          absl::StrCat("body writer: ", body_.size(), " of ", size_, " bytes"));
    }
    return store_->PutBody(key_, body_);
  }

 private:
  RecipientStore* store_;
  const std::string key_;
  const uint64_t size_;
  std::string body_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RecipientStore::BodyWriter>> RecipientStore::StartBody(
    std::string_view key, uint64_t size) {
  return std::make_unique<HeldBodyWriter>(this, std::string(key), size);
}

absl::StatusOr<std::vector<bool>> RecipientStore::HasBodies(const std::vector<std::string>& keys) {
  std::vector<bool> out;
  out.reserve(keys.size());
  for (const std::string& key : keys) {
    ASSIGN_OR_RETURN(bool has, HasBody(key));
    out.push_back(has);
  }
  return out;
}

absl::StatusOr<std::vector<CachedBodyRead>> RecipientStore::ReadCachedBodies(
    const std::vector<std::string>& keys, size_t, size_t) {
  ASSIGN_OR_RETURN(std::vector<bool> has, HasBodies(keys));
  std::vector<CachedBodyRead> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) out[i].cached = has[i];
  return out;
}

}  // namespace pullmail
