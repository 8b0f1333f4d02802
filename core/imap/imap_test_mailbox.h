// An in-memory ImapMailbox for the IMAP machine's tests: folders with
// UIDVALIDITY and UIDs, flags by core/storage's one rule (ApplyFlags), and
// message bytes. It stands in for the recipient node, which the gateway's
// end-to-end tests (tests/e2e/test_gateway_imap*.py) run for real.
// Test-only; not thread-safe.
#ifndef PULLMAIL_CORE_IMAP_IMAP_TEST_MAILBOX_H_
#define PULLMAIL_CORE_IMAP_IMAP_TEST_MAILBOX_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/imap/imap_mailbox.h"
#include "core/mail/flags.h"
#include "core/storage/types.h"
#include "core/util/status_macros.h"

namespace pullmail {

class TestMailbox : public ImapMailbox {
 public:
  struct Msg {
    v1::MessageInfo info;
    std::string bytes;
  };
  struct Box {
    uint32_t uid_validity = 0;
    uint32_t uid_next = 1;
    uint64_t highest_modseq = 1;  // RFC 7162, as the node's stores keep it
    std::map<uint32_t, Msg> msgs;
    std::map<uint32_t, uint64_t> removed;  // UID -> modseq of its removal
  };

  TestMailbox() {
    boxes_["INBOX"].uid_validity = 1;
  }

  // Test set-up: adds a message to `folder` (created if needed).
  uint32_t Add(const std::string& folder, std::string bytes, std::vector<std::string> flags = {},
               v1::HeaderSummary summary = {}) {
    Box& b = BoxFor(folder);
    uint32_t uid = b.uid_next++;
    Msg& m = b.msgs[uid];
    m.info.set_uid(uid);
    m.info.set_body_size(bytes.size());
    m.info.set_received_unix_ms(1700000000000);
    m.info.set_modseq(++b.highest_modseq);
    for (auto& f : flags) m.info.add_flags(f);
    *m.info.mutable_summary() = summary;
    m.bytes = std::move(bytes);
    changed_ = true;
    return uid;
  }
  // Test set-up: what another session does (a change with its own modseq).
  void SetFlagsElsewhere(const std::string& folder, uint32_t uid, std::vector<std::string> flags) {
    Box& b = boxes_.at(folder);
    v1::MessageInfo& info = b.msgs.at(uid).info;
    info.clear_flags();
    for (auto& f : flags) info.add_flags(f);
    info.set_modseq(++b.highest_modseq);
    changed_ = true;
  }
  void ExpungeElsewhere(const std::string& folder, uint32_t uid) {
    Box& b = boxes_.at(folder);
    b.msgs.erase(uid);
    b.removed[uid] = ++b.highest_modseq;
    changed_ = true;
  }
  Box& BoxFor(const std::string& folder) {
    Box& b = boxes_[folder];
    if (b.uid_validity == 0) b.uid_validity = next_validity_++;
    return b;
  }

  std::string password = "secret";
  absl::Status fail_reads;  // when set, every read fails so
  int reads = 0;            // message reads so far
  // StreamBodies hands bodies out in pieces of this many bytes (0: whole,
  // as the default does); with break_after >= 0, the read breaks
  // (kUnavailable) when that many pieces have been handed out.
  size_t piece_bytes = 0;
  int break_after = -1;
  int pieces = 0;  // handed out by StreamBodies
  // ReadStructures and ReadRanges answer from the stored message (as a node
  // that keeps structure records does) and count here, not in `reads`;
  // false: ImapMailbox's defaults (whole reads, as an older node).
  bool sectioned_reads = true;
  int structure_reads = 0;  // messages whose structure was read
  int range_reads = 0;      // messages whose ranges were read
  std::vector<std::vector<ByteRange>> ranges_asked;  // every ReadRanges' ranges, in order
  int fail_append_at = 0;   // when > 0, the n-th Append from now fails (kUnavailable)
  bool changed_ = false;
  bool whole_listings = false;  // ListChanges lists the whole folder (an older node)
  int full_listings = 0;        // ListMessages calls so far (ListChanges' not counted)
  int change_listings = 0;      // ListChanges calls answered with changes only
  std::map<std::string, Box> boxes_;

  absl::StatusOr<std::string> Login(std::string_view user, std::string_view pw) override {
    if (pw != password) return absl::UnauthenticatedError("bad password");
    return absl::StrCat(std::string(user), "@example.org");
  }
  absl::StatusOr<std::vector<v1::Folder>> ListFolders() override {
    std::vector<v1::Folder> out;
    for (const auto& [name, b] : boxes_) out.push_back(FolderOf(name, b));
    return out;
  }
  absl::StatusOr<ImapListing> ListMessages(const std::string& folder,
                                           uint64_t vanished_since) override {
    auto it = boxes_.find(folder);
    if (it == boxes_.end()) {
      if (folder != "Junk") return absl::NotFoundError("no such folder");
      it = boxes_.find(folder);
      BoxFor(folder);
      it = boxes_.find(folder);
    }
    ++full_listings;
    ImapListing l;
    l.folder = FolderOf(folder, it->second);
    for (const auto& [uid, m] : it->second.msgs) l.messages.push_back(m.info);
    if (vanished_since > 0) {
      for (const auto& [uid, at] : it->second.removed) {
        if (at > vanished_since) l.vanished.push_back(uid);
      }
    }
    return l;
  }
  // As the node does for ListMessagesRequest.changed_since; with
  // `whole_listings` set, as a node that predates it (the whole folder).
  absl::StatusOr<ImapListing> ListChanges(const std::string& folder, uint64_t modseq) override {
    if (whole_listings) return ImapMailbox::ListChanges(folder, modseq);
    ++change_listings;
    ASSIGN_OR_RETURN(ImapListing l, ListMessages(folder, modseq));
    --full_listings;
    std::vector<v1::MessageInfo> changed;
    for (v1::MessageInfo& m : l.messages) {
      if (m.modseq() > modseq) changed.push_back(std::move(m));
    }
    l.messages = std::move(changed);
    l.changed_only = true;
    return l;
  }
  void Watch(const std::string&) override { changed_ = true; }
  bool MayHaveChanged() override {
    bool c = changed_;
    changed_ = false;
    return c;
  }
  absl::StatusOr<v1::SetFlagsResponse> SetFlags(const v1::SetFlagsRequest& req) override {
    auto it = boxes_.find(req.folder());
    if (it == boxes_.end()) return absl::NotFoundError("no such folder");
    v1::SetFlagsResponse resp;
    std::vector<std::string> flags(req.flags().begin(), req.flags().end());
    NormalizeFlags(flags);
    FlagOp op = req.op() == v1::FLAG_OP_ADD      ? FlagOp::kAdd
                : req.op() == v1::FLAG_OP_REMOVE ? FlagOp::kRemove
                                                 : FlagOp::kReplace;
    for (uint32_t uid : req.uids()) {
      auto m = it->second.msgs.find(uid);
      if (m == it->second.msgs.end()) continue;
      if (req.has_unchanged_since() && m->second.info.modseq() > req.unchanged_since()) {
        resp.add_modified(uid);
        continue;
      }
      std::vector<std::string> cur(m->second.info.flags().begin(), m->second.info.flags().end());
      std::vector<std::string> next = ApplyFlags(cur, op, flags);
      if (next != cur) m->second.info.set_modseq(++it->second.highest_modseq);
      m->second.info.clear_flags();
      for (auto& f : next) m->second.info.add_flags(f);
      *resp.add_messages() = m->second.info;
    }
    return resp;
  }
  absl::StatusOr<v1::CopyResponse> Copy(const v1::CopyRequest& req) override {
    auto src = boxes_.find(req.folder());
    if (src == boxes_.end()) return absl::NotFoundError("no such folder");
    if (!boxes_.count(req.to_folder()) && req.to_folder() != "Junk") {
      return absl::NotFoundError("no such folder");
    }
    Box& dst = BoxFor(req.to_folder());
    v1::CopyResponse resp;
    resp.set_to_uid_validity(dst.uid_validity);
    for (uint32_t uid : req.uids()) {
      auto m = src->second.msgs.find(uid);
      if (m == src->second.msgs.end()) continue;
      Msg copy = m->second;
      if (req.move()) src->second.msgs.erase(m);
      uint32_t nu = dst.uid_next++;
      copy.info.set_uid(nu);
      copy.info.set_modseq(++dst.highest_modseq);
      dst.msgs[nu] = copy;
      resp.add_source_uids(uid);
      resp.add_dest_uids(nu);
    }
    if (req.move() && resp.source_uids_size() > 0) {
      Box& from = src->second;
      ++from.highest_modseq;
      for (uint32_t uid : resp.source_uids()) from.removed[uid] = from.highest_modseq;
    }
    return resp;
  }
  absl::StatusOr<v1::ExpungeResponse> Expunge(const v1::ExpungeRequest& req) override {
    auto it = boxes_.find(req.folder());
    if (it == boxes_.end()) return absl::NotFoundError("no such folder");
    v1::ExpungeResponse resp;
    for (auto m = it->second.msgs.begin(); m != it->second.msgs.end();) {
      bool listed = req.uids_size() == 0 ||
                    std::find(req.uids().begin(), req.uids().end(), m->first) != req.uids().end();
      if (listed && HasFlag(m->second.info.flags(), kFlagDeleted)) {
        resp.add_expunged(m->first);
        m = it->second.msgs.erase(m);
      } else {
        ++m;
      }
    }
    if (resp.expunged_size() > 0) {
      ++it->second.highest_modseq;
      for (uint32_t uid : resp.expunged()) it->second.removed[uid] = it->second.highest_modseq;
    }
    return resp;
  }
  absl::StatusOr<v1::AppendResponse> Append(const v1::AppendRequest& req) override {
    if (fail_append_at > 0 && --fail_append_at == 0) return absl::UnavailableError("node down");
    if (!boxes_.count(req.folder())) return absl::NotFoundError("no such folder");
    std::vector<std::string> flags(req.flags().begin(), req.flags().end());
    uint32_t uid = Add(req.folder(), req.message(), flags);
    if (req.internal_date_unix_ms() != 0) {
      boxes_[req.folder()].msgs[uid].info.set_received_unix_ms(req.internal_date_unix_ms());
    }
    v1::AppendResponse resp;
    resp.set_uid(uid);
    resp.set_uid_validity(boxes_[req.folder()].uid_validity);
    return resp;
  }
  absl::Status CreateFolder(const std::string& name) override {
    if (boxes_.count(name)) return absl::AlreadyExistsError("exists");
    BoxFor(name);
    return absl::OkStatus();
  }
  absl::Status DeleteFolder(const std::string& name) override {
    if (name == "Junk") return absl::FailedPreconditionError("Junk cannot be deleted");
    if (!boxes_.erase(name)) return absl::NotFoundError("no such folder");
    return absl::OkStatus();
  }
  void ReadStructures(const std::string& folder, const std::vector<ReadItem>& items, bool peek,
                      const std::function<bool(size_t, absl::StatusOr<ImapStructure>)>& each)
      override {
    if (!sectioned_reads) return ImapMailbox::ReadStructures(folder, items, peek, each);
    for (size_t i = 0; i < items.size(); ++i) {
      ++structure_reads;
      absl::StatusOr<ImapBody> b = ReadOne(folder, items[i].uid, peek);
      if (!b.ok()) {
        if (!each(i, b.status())) return;
        continue;
      }
      // Through the serialized record, as the node keeps and sends it.
      std::string record = MimeRecordOf(b->bytes);
      absl::StatusOr<MimeEntity> tree = MimeFromRecordBytes(record, b->bytes.size());
      if (!tree.ok()) {
        if (!each(i, tree.status())) return;
        continue;
      }
      if (!each(i, ImapStructure{b->info, *std::move(tree)})) return;
    }
  }
  void ReadRanges(const std::string& folder, const std::vector<ReadItem>& items,
                  const std::vector<std::vector<ByteRange>>& ranges, bool peek,
                  const std::function<bool(size_t, absl::StatusOr<ImapRanges>)>& each) override {
    if (!sectioned_reads) return ImapMailbox::ReadRanges(folder, items, ranges, peek, each);
    for (size_t i = 0; i < items.size(); ++i) {
      ++range_reads;
      ranges_asked.push_back(ranges[i]);
      absl::StatusOr<ImapBody> b = ReadOne(folder, items[i].uid, peek);
      if (!b.ok()) {
        if (!each(i, b.status())) return;
        continue;
      }
      ImapRanges r{b->info, {}};
      for (const ByteRange& range : ranges[i]) {
        const ByteRange c = ClampRange(range, b->bytes.size());
        r.bytes.push_back(b->bytes.substr(c.offset, c.length));
      }
      if (!each(i, std::move(r))) return;
    }
  }
  void ReadBodies(const std::string& folder, const std::vector<ReadItem>& items, bool peek,
                  const std::function<bool(size_t, absl::StatusOr<ImapBody>)>& each) override {
    for (size_t i = 0; i < items.size(); ++i) {
      ++reads;
      if (!each(i, ReadOne(folder, items[i].uid, peek))) return;
    }
  }
  // One message as a read gives it (\Seen set unless peek).
  absl::StatusOr<ImapBody> ReadOne(const std::string& folder, uint32_t uid, bool peek) {
    {
      absl::StatusOr<ImapBody> r;
      auto b = boxes_.find(folder);
      auto m = b == boxes_.end() ? decltype(b->second.msgs.end()){} : b->second.msgs.find(uid);
      if (!fail_reads.ok()) {
        r = fail_reads;
      } else if (b == boxes_.end() || m == b->second.msgs.end()) {
        r = absl::NotFoundError("no such message");
      } else {
        if (!peek && !HasFlag(m->second.info.flags(), kFlagSeen)) {
          m->second.info.add_flags(std::string(kFlagSeen));
          m->second.info.set_modseq(++b->second.highest_modseq);
        }
        r = ImapBody{m->second.info, m->second.bytes};
      }
      return r;
    }
  }
  void StreamBodies(const std::string& folder, const std::vector<ReadItem>& items, bool peek,
                    const std::function<bool(const BodyPiece&)>& each) override {
    if (piece_bytes == 0) return ImapMailbox::StreamBodies(folder, items, peek, each);
    ReadBodies(folder, items, peek, [&](size_t i, absl::StatusOr<ImapBody> b) {
      BodyPiece p;
      p.index = i;
      if (!b.ok()) {
        p.status = b.status();
        return each(p);
      }
      for (size_t at = 0; at == 0 || at < b->bytes.size(); at += piece_bytes) {
        if (break_after >= 0 && pieces >= break_after) {
          BodyPiece broken;
          broken.index = i;
          broken.status = absl::UnavailableError("the stream broke");
          each(broken);
          return false;
        }
        ++pieces;
        p.info = at == 0 ? &b->info : nullptr;
        p.data = std::string_view(b->bytes).substr(at, piece_bytes);
        p.last = at + piece_bytes >= b->bytes.size();
        if (!each(p)) return false;
      }
      return true;
    });
  }

 private:
  static v1::Folder FolderOf(const std::string& name, const Box& b) {
    v1::Folder f;
    f.set_name(name);
    f.set_uid_validity(b.uid_validity);
    f.set_uid_next(b.uid_next);
    f.set_messages(static_cast<uint32_t>(b.msgs.size()));
    uint32_t unseen = 0;
    for (const auto& [uid, m] : b.msgs) unseen += HasFlag(m.info.flags(), kFlagSeen) ? 0 : 1;
    f.set_unseen(unseen);
    f.set_highest_modseq(b.highest_modseq);
    return f;
  }
  uint32_t next_validity_ = 100;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_IMAP_IMAP_TEST_MAILBOX_H_
