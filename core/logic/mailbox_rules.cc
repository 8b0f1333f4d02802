// The recipient's mailbox rules (see mailbox_rules.h).
#include "core/logic/mailbox_rules.h"

#include "absl/strings/str_cat.h"
#include "core/mail/flags.h"

namespace pullmail {

CopyFacts CopyOf(const MailboxEntry& e, bool local) {
  CopyFacts c;
  c.state = e.state;
  c.seen = HasFlag(e.flags, kSeenFlag);
  c.in_junk = e.folder == kJunkFolder;
  c.local = local;
  return c;
}

Placement PlacementFor(const Decision& d) {
  Placement p;
  switch (d.visibility) {
    case Visibility::kShown:
      p.folder = std::string(kInbox);
      p.state = EntryState::kShown;
      return p;
    case Visibility::kHeld:
      p.folder = std::string(kInbox);
      p.state = EntryState::kHeld;
      break;
    case Visibility::kSuppressed:
      p.folder = std::string(kJunkFolder);
      p.state = EntryState::kSuppressed;
      break;
  }
  p.reason = absl::StrCat(d.rule, ": ", d.explanation);
  return p;
}

bool SuppressionMoves(const CopyFacts& c) {
  return !c.local && !c.seen && !c.in_junk && c.state != EntryState::kRevoked;
}

bool SuppressionRepairMoves(const CopyFacts& c, bool body_suppressed) {
  return body_suppressed && c.state == EntryState::kShown && SuppressionMoves(c);
}

bool RevocationHides(const CopyFacts& c) {
  return !c.local && !c.seen && c.state != EntryState::kRevoked;
}

bool ReadMayCount(const CopyFacts& c) { return !c.local && !c.seen; }

bool VisibleToUser(EntryState s) {
  return s == EntryState::kShown || s == EntryState::kSuppressed;
}

std::optional<Placement> OwnCopyAfterVerdict(std::string_view folder, bool spam, bool local) {
  const bool in_junk = folder == kJunkFolder;
  if (spam && !in_junk) {
    return Placement{std::string(kJunkFolder), EntryState::kSuppressed,
                     local ? "you marked it as spam" : "you reported it as spam"};
  }
  if (!spam && in_junk) return Placement{std::string(kInbox), EntryState::kShown, ""};
  return std::nullopt;
}

bool ShouldPrefetch(const CopyFacts& c, bool notification_revoked, absl::Time expires,
                    absl::Time now, absl::Duration margin, bool body_cached) {
  if (c.local || notification_revoked || c.seen || c.state != EntryState::kShown) return false;
  return !body_cached && expires > now && expires - now <= margin;
}

ReportFanOut FanOutReport(const std::map<std::string, double>& trusted_peers,
                          std::string_view local_domain, std::string_view signing_domain) {
  ReportFanOut out;
  for (const auto& [peer, weight] : trusted_peers) {
    if (peer == local_domain) continue;  // this node counted it already
    out.peers.push_back(peer);
  }
  if (signing_domain != local_domain) out.abuse_domain = std::string(signing_domain);
  return out;
}

}  // namespace pullmail
