// The Watch stream's rules: see watch_rules.h.
#include "core/logic/watch_rules.h"

#include <algorithm>

#include "core/logic/mailbox_rules.h"

namespace pullmail {

uint32_t VisibleMessages(const FolderChanges& now) {
  uint32_t messages = 0;
  for (const StateCount& s : now.by_state) {
    if (VisibleToUser(s.state)) messages += s.entries;
  }
  return messages;
}

WatchCursor StartWatch(const FolderChanges& now) {
  WatchCursor c;
  c.uid_validity = now.folder.uid_validity;
  c.last_uid = now.folder.uid_next > 0 ? now.folder.uid_next - 1 : 0;
  c.modseq = now.folder.highest_modseq;
  c.messages = VisibleMessages(now);
  return c;
}

std::vector<v1::WatchEvent> WatchEvents(const FolderChanges& changes, const std::string& folder,
                                        WatchCursor* cursor) {
  const uint32_t messages = VisibleMessages(changes);
  auto event = [&](const char* kind, uint32_t uid) {
    v1::WatchEvent ev;
    ev.set_folder(folder);
    ev.set_uid(uid);
    ev.set_kind(kind);
    ev.set_messages(messages);
    return ev;
  };
  std::vector<v1::WatchEvent> out;
  if (changes.folder.uid_validity != cursor->uid_validity) {
    out.push_back(event("expunge", 0));
    *cursor = StartWatch(changes);
    return out;
  }
  bool expunge = !changes.expunged.empty();
  bool flags = false;
  std::vector<uint32_t> exists;
  for (const MailboxEntry& e : changes.changed) {
    const bool visible = VisibleToUser(e.state);
    if (e.uid <= cursor->last_uid) {
      (visible ? flags : expunge) = true;
    } else if (visible) {
      exists.push_back(e.uid);
    }
  }
  std::sort(exists.begin(), exists.end());
  if (expunge) out.push_back(event("expunge", 0));
  if (flags) out.push_back(event("flags", 0));
  for (uint32_t uid : exists) out.push_back(event("exists", uid));
  cursor->last_uid = std::max({cursor->last_uid, exists.empty() ? 0 : exists.back(),
                               changes.folder.uid_next > 0 ? changes.folder.uid_next - 1 : 0});
  cursor->modseq = std::max(cursor->modseq, changes.folder.highest_modseq);
  cursor->messages = messages;
  return out;
}

absl::Duration WatchReopenDelay(int failures) {
  if (failures <= 0) return absl::ZeroDuration();
  absl::Duration d = kWatchReopenFirst;
  for (int i = 1; i < failures && d < kWatchReopenMax; ++i) d *= 2;
  return std::min(d, kWatchReopenMax);
}

}  // namespace pullmail
