// RecipientNode's mailbox operations: IMAP semantics over RecipientStore.
// Held and revoked entries are invisible to their user; suppressed entries
// live in the Junk folder with their reason.
//
// Local messages (Append, IMAP APPEND): the user's own copies (sent mail,
// drafts) are stored as a row like an accepted notification's, so that
// listing, reading, flags, copy and expunge treat them alike, but with
// message id "local." + 32 hex digits, signing domain = this node's domain,
// envelope sender = the user, no signed bytes (IsLocalMessage), no fetch
// token, and no expiry (absl::InfiniteFuture: the node's only expiry logic,
// prefetch before expiry, never selects them). Their body is in the body
// cache from the start, so a read never fetches. Expunged, their row and
// body go at the next maintenance pass (core/logic/body_retention.h).
#include <algorithm>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/mail/flags.h"
#include "core/crypto/encoding.h"
#include "core/crypto/sha256.h"
#include "core/crypto/token.h"
#include "core/logic/author.h"
#include "core/logic/body_retention.h"
#include "core/logic/mailbox_rules.h"
#include "core/util/toml.h"
#include "core/mail/header_summary.h"
#include "core/util/random.h"
#include "core/util/limits.h"
#include "core/util/logging.h"
#include "core/util/status_macros.h"
#include "core/util/strings.h"
#include "recipient-node/recipient_node.h"
#include "rpc/metrics.h"

namespace pullmail {
namespace {

constexpr std::string_view kJunk = kJunkFolder;
constexpr uint32_t kMaxList = 10'000;
constexpr size_t kMaxAppendFlags = 100;
constexpr std::string_view kLocalIdPrefix = "local.";
constexpr size_t kMaxVerdicts = 8192;  // author verdicts remembered (VerifyAuthorOf)

bool Visible(const MailboxEntry& e) { return VisibleToUser(e.state); }

bool HasFlag(const MailboxEntry& e, std::string_view f) { return pullmail::HasFlag(e.flags, f); }

absl::Status CheckFolderName(const std::string& name) {
  if (name.empty() || name.size() > 255) return absl::InvalidArgumentError("bad folder name length");
  for (char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '*' || c == '%') {
      return absl::InvalidArgumentError("folder names may not hold control characters, * or %");
    }
  }
  return absl::OkStatus();
}

// A flag or keyword a client may set: 1..64 bytes, no IMAP specials.
absl::Status CheckFlag(const std::string& f) {
  if (f.empty() || f.size() > 64 || f.find_first_of(" (){%*\"]") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("bad flag '", f, "'"));
  }
  for (char c : f) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("flags may not hold control characters");
    }
  }
  return absl::OkStatus();
}

// [recipient] author_alignment = "strict" (default) or "relaxed".
AlignmentMode AlignmentOf(const NodeConfig& config) {
  const toml::table* t = config.Section("recipient");
  if (t == nullptr) return AlignmentMode::kStrict;
  std::optional<std::string> mode = (*t)["author_alignment"].value<std::string>();
  return mode.has_value() && *mode == "relaxed" ? AlignmentMode::kRelaxed : AlignmentMode::kStrict;
}

}  // namespace

AuthorVerdict RecipientNode::VerifyAuthorOf(const StoredNotification& n) {
  // The record is the stored signed notification itself: the signer, key,
  // origin and summary it carries were verified when it was accepted, so
  // the verdict is the same at every listing and read (core decides it)
  // unless it asked the directory.
  if (n.id != 0) {
    std::lock_guard<std::mutex> lock(verdicts_mu_);
    auto it = verdicts_.find(n.id);
    if (it != verdicts_.end()) return it->second;
  }
  bool asked_directory = false;
  AuthorInput in;
  in.authserv_id = config_.domain;
  in.local = IsLocalMessage(n);
  in.signing_domain = n.signing_domain;
  in.envelope_sender = n.envelope_sender;
  v1::HeaderSummary summary;
  summary.ParseFromString(n.summary);
  in.summary_from = summary.from();
  in.mode = AlignmentOf(config_);
  if (!in.local) {
    v1::SignedNotification sn;
    v1::Notification payload;
    if (sn.ParseFromString(n.signed_bytes) && payload.ParseFromString(sn.payload())) {
      in.key_id = sn.key_id();
      in.origin = payload.origin();
    }
    if (in.origin == v1::ORIGIN_BRIDGED_SMTP) {
      std::string from_domain = FromDomainOf(in.summary_from);
      if (!from_domain.empty()) {
        asked_directory = true;
        absl::StatusOr<DomainEntry> listed = directory_->Lookup(from_domain);
        in.from_domain_is_pullmail = listed.ok() && !listed->legacy;
      }
    }
  }
  AuthorVerdict verdict = VerifyAuthor(in);
  if (n.id != 0 && !asked_directory) {
    std::lock_guard<std::mutex> lock(verdicts_mu_);
    if (verdicts_.size() >= kMaxVerdicts) verdicts_.clear();
    verdicts_.emplace(n.id, verdict);
  }
  return verdict;
}

v1::MessageInfo RecipientNode::ToInfo(const MailboxEntry& e, const StoredNotification& n,
                                      std::optional<bool> cached) {
  v1::MessageInfo info;
  info.set_uid(e.uid);
  info.set_message_id(n.message_id);
  info.set_envelope_sender(n.envelope_sender);
  info.set_signing_domain(n.signing_domain);
  info.mutable_summary()->ParseFromString(n.summary);
  AuthorVerdict author = VerifyAuthorOf(n);
  info.set_author_check(author.check);
  info.set_authentication_results(author.authentication_results);
  // The size of what Read serves: the Authentication-Results: field on top.
  info.set_body_size(n.body_size +
                     AuthenticationResultsField(author.authentication_results).size());
  info.set_sent_size(n.body_size);
  info.set_body_sha256(n.body_sha256);
  for (const std::string& f : e.flags) info.add_flags(f);
  info.set_received_unix_ms(ToUnixMs(e.internal_date));
  // 0: a local message (Append) never expires.
  info.set_expires_unix_ms(IsLocalMessage(n) ? 0 : ToUnixMs(n.expires));
  if (!cached.has_value()) {
    absl::StatusOr<bool> has = store_->HasBody(BodyCacheKey(n));
    cached = has.ok() && *has;
  }
  info.set_body_cached(*cached);
  info.set_state(std::string(EntryStateName(e.state)));
  info.set_reason(e.reason);
  info.set_modseq(e.modseq);
  return info;
}

absl::StatusOr<Folder> RecipientNode::GetOrMakeFolder(const std::string& user,
                                                      const std::string& folder) {
  // Looked up on a reader first: EnsureFolder is a write transaction, and
  // every listing and IMAP refresh of INBOX queued behind the writer (its
  // fsyncs, every other session's STORE and APPEND) for a folder that exists.
  absl::StatusOr<Folder> f = store_->GetFolder(user, folder);
  const std::string normalized = NormalizeFolderName(folder);
  if (!absl::IsNotFound(f.status()) || (normalized != kInbox && normalized != kJunk)) return f;
  return store_->EnsureFolder(user, folder);
}

absl::StatusOr<v1::ListFoldersResponse> RecipientNode::ListFolders(const std::string& user) {
  RETURN_IF_ERROR(store_->EnsureFolder(user, kInbox).status());
  ASSIGN_OR_RETURN(std::vector<Folder> folders, store_->ListFolders(user));
  v1::ListFoldersResponse resp;
  for (const Folder& f : folders) {
    v1::Folder* out = resp.add_folders();
    out->set_name(f.name);
    out->set_uid_validity(f.uid_validity);
    out->set_uid_next(f.uid_next);
    // Count what the user can see, not the hidden entries storage keeps.
    ASSIGN_OR_RETURN(std::vector<MailboxEntry> entries, store_->ListEntries(user, f.name, 1, 0));
    uint32_t messages = 0, unseen = 0;
    for (const MailboxEntry& e : entries) {
      if (!Visible(e)) continue;
      ++messages;
      if (!HasFlag(e, kSeenFlag)) ++unseen;
    }
    out->set_messages(messages);
    out->set_unseen(unseen);
    out->set_highest_modseq(f.highest_modseq);
  }
  return resp;
}

absl::StatusOr<v1::Folder> RecipientNode::CreateFolder(const std::string& user,
                                                       const std::string& name) {
  RETURN_IF_ERROR(CheckFolderName(name));
  ASSIGN_OR_RETURN(Folder f, store_->EnsureFolder(user, name));
  v1::Folder out;
  out.set_name(f.name);
  out.set_uid_validity(f.uid_validity);
  out.set_uid_next(f.uid_next);
  out.set_highest_modseq(f.highest_modseq);
  return out;
}

absl::StatusOr<v1::ListMessagesResponse> RecipientNode::ListMessages(
    const std::string& user, const v1::ListMessagesRequest& req) {
  std::string folder = req.folder().empty() ? std::string(kInbox) : req.folder();
  uint32_t limit = req.limit() == 0 || req.limit() > kMaxList ? kMaxList : req.limit();
  if (req.changed_since() > 0 && req.since_uid() == 0 &&
      req.vanished_since() == req.changed_since()) {
    return ListChanges(user, folder, req.changed_since(), limit);
  }
  ASSIGN_OR_RETURN(Folder f, GetOrMakeFolder(user, folder));
  ASSIGN_OR_RETURN(std::vector<MailboxEntry> entries,
                   store_->ListEntries(user, folder, req.since_uid() + 1, 0));
  v1::ListMessagesResponse resp;
  // RFC 7162 VANISHED (EARLIER): what left the folder, and what was hidden
  // (held, revoked: a change with its own modseq) since the client's modseq.
  std::vector<uint32_t> vanished;
  if (req.vanished_since() > 0) {
    ASSIGN_OR_RETURN(vanished, store_->ExpungedSince(user, folder, req.vanished_since()));
    std::vector<uint32_t> hidden;
    for (const MailboxEntry& e : entries) {
      if (!Visible(e) && e.modseq > req.vanished_since()) hidden.push_back(e.uid);
    }
    std::vector<uint32_t> merged;
    std::merge(vanished.begin(), vanished.end(), hidden.begin(), hidden.end(),
               std::back_inserter(merged));
    vanished = std::move(merged);
  }
  uint32_t messages = 0, unseen = 0;
  for (const MailboxEntry& e : entries) {
    if (!Visible(e)) continue;
    ++messages;
    if (!HasFlag(e, kSeenFlag)) ++unseen;
    if (static_cast<uint32_t>(resp.messages_size()) >= limit) continue;
    if (req.changed_since() > 0 && e.modseq <= req.changed_since()) continue;
    ASSIGN_OR_RETURN(StoredNotification n, store_->GetNotification(e.notification_id));
    *resp.add_messages() = ToInfo(e, n);
  }
  v1::Folder* out = resp.mutable_folder();
  out->set_name(f.name);
  out->set_uid_validity(f.uid_validity);
  out->set_uid_next(f.uid_next);
  out->set_messages(messages);
  out->set_unseen(unseen);
  // Read before the entries: a change between the two reads is reported
  // again later, never missed.
  out->set_highest_modseq(f.highest_modseq);
  for (uint32_t uid : vanished) resp.add_vanished(uid);
  resp.set_changed_only(req.changed_since() > 0);
  return resp;
}

absl::StatusOr<v1::ListMessagesResponse> RecipientNode::ListChanges(const std::string& user,
                                                                    const std::string& folder,
                                                                    uint64_t modseq,
                                                                    uint32_t limit) {
  // An IMAP refresh (the gateway's ListChanges): what ListMessages answers
  // for changed_since = vanished_since = modseq, from the store's changes
  // and counts instead of every entry of the folder.
  absl::StatusOr<FolderChanges> c = store_->ListFolderChanges(user, folder, modseq);
  if (absl::IsNotFound(c.status())) {
    RETURN_IF_ERROR(GetOrMakeFolder(user, folder).status());
    c = store_->ListFolderChanges(user, folder, modseq);
  }
  RETURN_IF_ERROR(c.status());
  v1::ListMessagesResponse resp;
  uint32_t messages = 0, unseen = 0;
  for (const StateCount& s : c->by_state) {
    if (!VisibleToUser(s.state)) continue;
    messages += s.entries;
    unseen += s.unseen;
  }
  // RFC 7162 VANISHED (EARLIER): what left the folder, and what was hidden
  // (held, revoked: a change with its own modseq) since the client's modseq.
  std::vector<uint32_t> hidden;
  for (const MailboxEntry& e : c->changed) {
    if (!Visible(e)) {
      hidden.push_back(e.uid);
      continue;
    }
    if (static_cast<uint32_t>(resp.messages_size()) >= limit) continue;
    ASSIGN_OR_RETURN(StoredNotification n, store_->GetNotification(e.notification_id));
    *resp.add_messages() = ToInfo(e, n);
  }
  std::vector<uint32_t> vanished;
  std::merge(c->expunged.begin(), c->expunged.end(), hidden.begin(), hidden.end(),
             std::back_inserter(vanished));
  v1::Folder* out = resp.mutable_folder();
  out->set_name(c->folder.name);
  out->set_uid_validity(c->folder.uid_validity);
  out->set_uid_next(c->folder.uid_next);
  out->set_messages(messages);
  out->set_unseen(unseen);
  out->set_highest_modseq(c->folder.highest_modseq);
  for (uint32_t uid : vanished) resp.add_vanished(uid);
  resp.set_changed_only(true);
  return resp;
}

absl::StatusOr<RecipientNode::ReadResult> RecipientNode::Read(
    const std::string& user, const v1::ReadRequest& req,
    const std::function<bool(uint64_t)>& before_fetch) {
  std::string folder = req.folder().empty() ? std::string(kInbox) : req.folder();
  ASSIGN_OR_RETURN(MailboxEntry e, store_->GetEntry(user, folder, req.uid()));
  if (!Visible(e)) return absl::NotFoundError(absl::StrCat("no message with UID ", req.uid()));
  ASSIGN_OR_RETURN(StoredNotification n, store_->GetNotification(e.notification_id));
  return ReadFound(user, folder, std::move(e), n, std::nullopt, req.peek(), before_fetch);
}

absl::StatusOr<std::vector<RecipientNode::PreparedRead>> RecipientNode::PrepareReads(
    const std::string& user, const std::string& folder, const std::vector<uint32_t>& uids) {
  ASSIGN_OR_RETURN(std::vector<std::optional<EntryForRead>> found,
                   store_->GetEntriesForRead(user, folder, uids));
  std::vector<PreparedRead> out(uids.size());
  std::vector<std::string> keys;
  std::vector<size_t> keyed;
  for (size_t i = 0; i < uids.size(); ++i) {
    if (!found[i].has_value() || !Visible(found[i]->entry)) {
      out[i].status = absl::NotFoundError(absl::StrCat("no message with UID ", uids[i]));
      continue;
    }
    out[i].entry = std::move(found[i]->entry);
    out[i].notification = std::move(found[i]->notification);
    out[i].read_counted = found[i]->read_counted;
    keys.push_back(BodyCacheKey(out[i].notification));
    keyed.push_back(i);
  }
  ASSIGN_OR_RETURN(std::vector<CachedBodyRead> cached,
                   store_->ReadCachedBodies(keys, kPreparedBodyBytes, kPreparedBytes));
  for (size_t k = 0; k < keyed.size(); ++k) {
    PreparedRead& p = out[keyed[k]];
    p.cached = cached[k].cached;
    // A body of another size than its notification's is read (and its
    // damage reported) the slow way.
    if (cached[k].bytes && cached[k].bytes->size() == p.notification.body_size) {
      p.body = std::move(cached[k].bytes);
    }
  }
  return out;
}

absl::StatusOr<RecipientNode::ReadResult> RecipientNode::ReadPrepared(const std::string& user,
                                                                      const std::string& folder,
                                                                      const PreparedRead& p,
                                                                      bool peek, bool brief) {
  RETURN_IF_ERROR(p.status);
  return ReadFound(user, folder, p.entry, p.notification, p.cached, peek, nullptr,
                   p.read_counted, brief);
}

absl::StatusOr<RecipientNode::ReadResult> RecipientNode::ReadFound(
    const std::string& user, const std::string& folder, MailboxEntry e,
    const StoredNotification& n, std::optional<bool> cached, bool peek,
    const std::function<bool(uint64_t)>& before_fetch, std::optional<bool> read_counted,
    bool brief) {
  Metrics::Global().Add("pullmail_reads_total");
  const bool local = IsLocalMessage(n);
  bool from_cache = true;
  if (!cached.has_value()) {
    // Most reads find the body cached: one look, and no fetcher lock.
    ASSIGN_OR_RETURN(bool has, store_->HasBody(BodyCacheKey(n)));
    cached = has;
  }
  if (local) {
    // Stored here by its owner: there is no sender node to ask.
    if (!*cached) return absl::DataLossError("the stored copy of this message is missing");
  } else if (*cached) {
    Metrics::Global().Add("pullmail_cache_hits_total");
  } else {
    if (before_fetch && !before_fetch(n.body_size)) {
      return absl::CancelledError("the read was given up before its fetch");
    }
    ASSIGN_OR_RETURN(from_cache, fetcher_->EnsureCached(n));
  }
  if (ReadMayCount(CopyOf(e, local))) {
    // A first read counts for the sender's reputation (core's policy), once
    // per user and message.
    RETURN_IF_ERROR(NoteFirstRead(user, n, read_counted));
  }
  if (!peek && !HasFlag(e, kSeenFlag)) {
    ASSIGN_OR_RETURN(std::vector<MailboxEntry> updated,
                     store_->SetFlags(user, folder, {e.uid}, FlagOp::kAdd,
                                      {std::string(kSeenFlag)}));
    if (!updated.empty()) e = updated.front();
    changes_.Notify(user, folder);
  }
  ReadResult r;
  r.body_key = BodyCacheKey(n);
  r.from_cache = from_cache;
  r.stored_size = n.body_size;
  if (brief) {
    // What a FETCH of the bytes needs; ToInfo's sizes.
    r.prefix = AuthenticationResultsField(VerifyAuthorOf(n).authentication_results);
    r.info.set_uid(e.uid);
    r.info.set_body_size(n.body_size + r.prefix.size());
    r.info.set_sent_size(n.body_size);
    for (const std::string& f : e.flags) r.info.add_flags(f);
    r.info.set_modseq(e.modseq);
    return r;
  }
  r.info = ToInfo(e, n, /*cached=*/true);
  r.prefix = AuthenticationResultsField(r.info.authentication_results());
  return r;
}

absl::StatusOr<v1::SetFlagsResponse> RecipientNode::SetFlags(const std::string& user,
                                                             const v1::SetFlagsRequest& req) {
  FlagOp op;
  switch (req.op()) {
    case v1::FLAG_OP_ADD: op = FlagOp::kAdd; break;
    case v1::FLAG_OP_REMOVE: op = FlagOp::kRemove; break;
    case v1::FLAG_OP_REPLACE: op = FlagOp::kReplace; break;
    default: return absl::InvalidArgumentError("op must be ADD, REMOVE or REPLACE");
  }
  std::vector<std::string> flags;
  for (const std::string& f : req.flags()) {
    RETURN_IF_ERROR(CheckFlag(f));
    flags.push_back(f);
  }
  std::vector<uint32_t> uids(req.uids().begin(), req.uids().end());
  std::optional<uint64_t> unchanged_since;
  if (req.has_unchanged_since()) unchanged_since = req.unchanged_since();
  ASSIGN_OR_RETURN(SetFlagsResult result,
                   store_->SetFlagsUnchangedSince(
                       user, req.folder().empty() ? std::string(kInbox) : req.folder(), uids, op,
                       flags, unchanged_since));
  const std::vector<MailboxEntry>& updated = result.entries;
  if (updated.empty() && result.modified.empty() && !uids.empty()) {
    // IMAP's UID STORE skips missing UIDs silently; a gateway does that on
    // its side. Asked directly, saying "none of those exist" is clearer.
    return absl::NotFoundError("no message with those UIDs");
  }
  v1::SetFlagsResponse resp;
  for (const MailboxEntry& e : updated) {
    if (!Visible(e)) continue;
    ASSIGN_OR_RETURN(StoredNotification n, store_->GetNotification(e.notification_id));
    *resp.add_messages() = ToInfo(e, n);
  }
  for (uint32_t uid : result.modified) resp.add_modified(uid);
  changes_.Notify(user, req.folder());
  return resp;
}

absl::StatusOr<v1::CopyResponse> RecipientNode::Copy(const std::string& user,
                                                     const v1::CopyRequest& req) {
  std::string from = req.folder().empty() ? std::string(kInbox) : req.folder();
  RETURN_IF_ERROR(CheckFolderName(req.to_folder()));
  if (NormalizeFolderName(req.to_folder()) == kInbox || req.to_folder() == kJunk) {
    RETURN_IF_ERROR(store_->EnsureFolder(user, req.to_folder()).status());
  }
  std::vector<uint32_t> uids(req.uids().begin(), req.uids().end());
  ASSIGN_OR_RETURN(CopyResult r, store_->CopyEntries(user, from, uids, req.to_folder(), req.move()));
  if (r.src.empty() && !uids.empty()) return absl::NotFoundError("no message with those UIDs");
  v1::CopyResponse resp;
  resp.set_to_uid_validity(r.uid_validity);
  for (uint32_t u : r.src) resp.add_source_uids(u);
  for (uint32_t u : r.dst) resp.add_dest_uids(u);
  if (req.move()) changes_.Notify(user, from);
  changes_.Notify(user, req.to_folder());
  return resp;
}

absl::StatusOr<v1::ExpungeResponse> RecipientNode::Expunge(const std::string& user,
                                                           const v1::ExpungeRequest& req) {
  std::optional<std::vector<uint32_t>> uids;
  if (req.uids_size() > 0) uids.emplace(req.uids().begin(), req.uids().end());
  ASSIGN_OR_RETURN(std::vector<uint32_t> gone,
                   store_->Expunge(user, req.folder().empty() ? std::string(kInbox) : req.folder(),
                                   uids));
  v1::ExpungeResponse resp;
  for (uint32_t u : gone) resp.add_expunged(u);
  changes_.Notify(user, req.folder());
  return resp;
}

void RecipientNode::ReleaseSpace() {
  RecipientStore::ReleaseStats total;
  const absl::Time now = clock().Now();
  while (total.examined < kReleasePerPass) {
    absl::StatusOr<RecipientStore::ReleaseStats> s =
        store_->ReleaseUnreferenced(now, std::min(kReleaseBatch, kReleasePerPass - total.examined));
    if (!s.ok()) {
      PM_LOG(ERROR) << "release of expunged mail: " << s.status();
      break;
    }
    total.examined += s->examined;
    total.rows_dropped += s->rows_dropped;
    total.bodies_dropped += s->bodies_dropped;
    total.body_bytes_dropped += s->body_bytes_dropped;
    if (!s->more || s->examined == 0) break;
  }
  if (total.examined == 0) return;
  Metrics& m = Metrics::Global();
  m.Add("pullmail_release_rows_examined_total", total.examined);
  m.Add("pullmail_release_rows_dropped_total", total.rows_dropped);
  m.Add("pullmail_release_bodies_dropped_total", total.bodies_dropped);
  m.Add("pullmail_release_body_bytes_dropped_total", total.body_bytes_dropped);
  if (total.bodies_dropped > 0 || total.rows_dropped > 0) {
    PM_LOG(INFO) << "released expunged mail: " << total.bodies_dropped << " bodies ("
                 << total.body_bytes_dropped << " bytes), " << total.rows_dropped << " rows, of "
                 << total.examined << " rows looked at";
  }
}

absl::StatusOr<v1::AppendResponse> RecipientNode::Append(const std::string& user,
                                                         const v1::AppendRequest& req) {
  std::string folder = NormalizeFolderName(req.folder().empty() ? kInbox : req.folder());
  RETURN_IF_ERROR(CheckFolderName(folder));
  const std::string& message = req.message();
  if (message.empty()) return absl::InvalidArgumentError("empty message");
  if (message.size() > limits::kMaxBodySize) {
    return absl::ResourceExhaustedError(
        absl::StrCat("message is ", message.size(), " bytes; limit ", limits::kMaxBodySize));
  }
  if (req.flags_size() > static_cast<int>(kMaxAppendFlags)) {
    return absl::InvalidArgumentError(absl::StrCat("more than ", kMaxAppendFlags, " flags"));
  }
  std::vector<std::string> flags;
  for (const std::string& f : req.flags()) {
    RETURN_IF_ERROR(CheckFlag(f));
    // RFC 3501 2.3.2: \Recent is the server's to set.
    if (absl::EqualsIgnoreCase(f, "\\Recent")) continue;
    flags.push_back(f);
  }
  {
    absl::StatusOr<Folder> f = GetOrMakeFolder(user, folder);
    if (absl::IsNotFound(f.status())) {
      return absl::NotFoundError(absl::StrCat("[TRYCREATE] no folder ", folder));
    }
    RETURN_IF_ERROR(f.status());
  }

  absl::Time now = clock().Now();
  StoredNotification n;
  n.signing_domain = config_.domain;
  n.message_id = absl::StrCat(AV(kLocalIdPrefix), HexEncode(NewToken(SecureRandom(), 16)));
  n.envelope_sender = user;
  n.body_sha256 = Sha256(message);
  n.body_size = message.size();
  // The same extraction the sender node does on Submit. A client may store
  // text that has no header block (a draft being written); IMAP accepts it,
  // and the listing then shows an empty envelope.
  absl::StatusOr<v1::HeaderSummary> summary = ExtractHeaderSummary(message);
  if (summary.ok()) {
    n.summary = summary->SerializeAsString();
  } else {
    PM_LOG(INFO) << "append for " << user << ": no header summary (" << summary.status() << ")";
  }
  n.created = now;
  n.expires = absl::InfiniteFuture();
  n.received = req.internal_date_unix_ms() > 0 ? FromUnixMs(req.internal_date_unix_ms()) : now;

  // Body first: a row whose body is missing would be unreadable, while a
  // body without a row (a crash in between) is only an unused cache entry.
  // Keyed by its owner (BodyCacheKey): nobody else reaches it by its hash.
  const std::string key = BodyCacheKey(n);
  RETURN_IF_ERROR(store_->PutBody(key, message));
  NotificationInsert ins;
  ins.notification = n;
  EntryPlacement p;
  p.user = user;
  p.folder = folder;
  p.flags = std::move(flags);
  ins.placements.push_back(std::move(p));
  ASSIGN_OR_RETURN(std::vector<InsertResult> results, store_->InsertNotifications({ins}));
  if (results.size() != 1 || results[0].duplicate || results[0].entries.size() != 1) {
    // 128 random bits collided, or the store broke its contract.
    return absl::InternalError("local message id already in use");
  }
  // The same bytes stored before and expunged meanwhile: a release pass
  // (core/logic/body_retention.h) between the PutBody above and the row may
  // have taken the body they shared. Now that the row refers to it, a pass
  // keeps it; put it back if it went.
  ASSIGN_OR_RETURN(bool kept, store_->ConfirmBody(key));
  if (!kept) RETURN_IF_ERROR(store_->PutBody(key, message));
  ASSIGN_OR_RETURN(Folder f, store_->GetFolder(user, folder));
  changes_.Notify(user, folder);
  Metrics::Global().Add("pullmail_appends_total");
  PM_LOG(INFO) << "append: " << user << " stored " << n.message_id << " (" << n.body_size
               << " bytes) in " << folder;
  v1::AppendResponse resp;
  resp.set_uid_validity(f.uid_validity);
  resp.set_uid(results[0].entries[0].uid);
  return resp;
}

absl::Status RecipientNode::DeleteFolder(const std::string& user, const std::string& name) {
  std::string folder = NormalizeFolderName(name);
  RETURN_IF_ERROR(CheckFolderName(folder));
  if (folder == kInbox || folder == kJunk) {
    return absl::FailedPreconditionError(absl::StrCat(folder, " cannot be deleted"));
  }
  // The store deletes the folder's entries with it and queues their rows:
  // the maintenance pass frees the bodies and rows no entry needs any more
  // (ReleaseSpace, core/logic/body_retention.h).
  RETURN_IF_ERROR(store_->DeleteFolder(user, folder));
  changes_.Notify(user, folder);
  PM_LOG(INFO) << user << " deleted folder " << folder;
  return absl::OkStatus();
}

}  // namespace pullmail
