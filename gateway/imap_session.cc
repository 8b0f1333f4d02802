// The gateway's IMAP4rev1 session: one client connection, its user's
// mailboxes at the recipient node. Every protocol decision is core/imap's
// ImapMachine (imap_machine.h: the command table, the selected mailbox's
// state, the FETCH mapping, the response codes); this file holds the I/O it
// needs:
//   the socket     -> bytes read are fed to the machine; its responses are
//                     written as it flushes them (one write per burst);
//                     STARTTLS's handshake; IDLE's wait on the socket and
//                     the watch stream in turns;
//   ImapMailbox    -> MailboxService over gRPC: Login (a bearer token),
//                     ListFolders, ListMessages (paged), SetFlags, Copy,
//                     Expunge, Append, CreateFolder, DeleteFolder; one
//                     ReadSet stream for the bodies of a FETCH or SEARCH
//                     (the node reads ahead; one message held here at a
//                     time); a Watch stream on its own thread tells whether
//                     the selected folder changed.
//
// SECURITY
//   The client is untrusted; the machine bounds lines, literals and
//   commands (imap_machine.h SECURITY). Reads here are of at most 64 KiB at
//   a time. The gateway keeps no passwords: the recipient node checks them
//   and returns a bearer token that lives in this session's memory only and
//   is never logged. A session reaches only its own user's mailboxes (the
//   token says whose). A body the node cannot get is a Status here and NO
//   [UNAVAILABLE] to the client, never a partial body.
#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/imap/imap_machine.h"
#include "core/imap/imap_mailbox.h"
#include "core/logic/watch_rules.h"
#include "core/util/limits.h"
#include "core/util/logging.h"
#include "gateway/body_prefetch.h"
#include "gateway/sessions.h"
#include "rpc/grpc_status.h"

namespace pullmail::gateway {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(60);
// A read may first pull a body of up to 64 MiB from the sender's node.
constexpr absl::Duration kReadTimeout = absl::Minutes(10);
// Body reads of one FETCH run up to this many at a time, holding at most
// this many bytes of bodies ahead of the one being written (body_prefetch.h).
constexpr size_t kPrefetchWindow = 8;
constexpr uint64_t kPrefetchBytes = uint64_t{32} << 20;
constexpr uint32_t kListPage = 10000;  // the node's cap per ListMessages
constexpr size_t kMaxReadSet = 10000;  // the node's cap per ReadSet
constexpr size_t kMaxBody = limits::kMaxBodySize;
// IDLE checks the client's socket and the watch stream in turns.
constexpr absl::Duration kIdleTurn = absl::Milliseconds(100);
// Without a working watch stream, the folder is re-listed at most this often.
constexpr absl::Duration kPoll = absl::Seconds(2);
constexpr size_t kReadChunk = 64 * 1024;

// A Watch stream on the selected folder, read on its own thread; the session
// thread asks whether anything changed. Whenever the stream ends (its
// deadline, kWatchStreamLife; a node restart; a failover) it is opened again,
// at once if it had opened, else after core's back-off (WatchReopenDelay);
// while it is not open the session polls. One thread per Watcher, joined on
// destruction: stopping cancels the call in flight and wakes a back-off.
class Watcher {
 public:
  Watcher(NodeClient* nodes, const std::string& token, const std::string& folder)
      : thread_([this, nodes, token, folder] { Run(nodes, token, folder); }) {}
  ~Watcher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      if (ctx_ != nullptr) ctx_->TryCancel();
    }
    cv_.notify_all();
    thread_.join();
  }
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Changes seen so far (a counter: each event, and each time the stream
  // opens, since something may have changed while it was not open), and
  // whether the stream is not open now (then the session must poll).
  uint64_t changes() {
    std::lock_guard<std::mutex> lock(mu_);
    return changes_;
  }
  bool broken() {
    std::lock_guard<std::mutex> lock(mu_);
    return !open_;
  }

 private:
  void Run(NodeClient* nodes, const std::string& token, const std::string& folder) {
    int failures = 0;  // attempts in a row that did not open
    const grpc::string_ref open_key(kWatchOpenMetadata.data(), kWatchOpenMetadata.size());
    while (true) {
      grpc::ClientContext* ctx;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
        ctx_ = NodeClient::Context(token, kWatchStreamLife);
        ctx = ctx_.get();
      }
      v1::WatchRequest req;
      req.set_folder(folder);
      std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader = nodes->mailbox().Watch(ctx, req);
      reader->WaitForInitialMetadata();
      bool opened = ctx->GetServerInitialMetadata().count(open_key) > 0;
      auto mark_open = [&] {
        std::lock_guard<std::mutex> lock(mu_);
        open_ = true;
        ++changes_;
      };
      if (opened) mark_open();
      v1::WatchEvent ev;
      while (reader->Read(&ev)) {
        if (!opened) {  // a node that sends no open metadata
          opened = true;
          mark_open();
        }
        std::lock_guard<std::mutex> lock(mu_);
        ++changes_;
      }
      grpc::Status s = reader->Finish();
      reader.reset();
      bool stop;
      {
        std::lock_guard<std::mutex> lock(mu_);
        open_ = false;
        ctx_.reset();
        stop = stop_;
      }
      if (stop) return;
      if (!s.ok() && s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        PM_LOG(INFO) << "imap: watch of " << folder << " ended: " << FromGrpc(s)
                     << "; opening it again";
      }
      failures = opened ? 0 : failures + 1;
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, absl::ToChronoMilliseconds(WatchReopenDelay(failures)),
                   [this] { return stop_; });
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<grpc::ClientContext> ctx_;  // the call in flight; guarded by mu_
  uint64_t changes_ = 0;                      // guarded by mu_
  bool open_ = false;                         // guarded by mu_
  bool stop_ = false;                         // guarded by mu_
  std::thread thread_;                        // last: starts after the rest
};

// MailboxService as the machine's ImapMailbox.
class GrpcMailbox : public ImapMailbox {
 public:
  GrpcMailbox(NodeClient* nodes, std::string peer) : nodes_(nodes), peer_(std::move(peer)) {}

  absl::StatusOr<std::string> Login(std::string_view user, std::string_view password) override {
    absl::StatusOr<std::string> token = nodes_->LoginMailbox(user, password, peer_);
    if (!token.ok()) {
      PM_LOG(INFO) << "imap " << peer_ << ": login of " << user
                   << " failed: " << token.status().code();
      return token.status();
    }
    token_ = *std::move(token);
    std::string address = nodes_->Address(user);
    PM_LOG(INFO) << "imap " << peer_ << ": " << address << " logged in";
    return address;
  }

  absl::StatusOr<std::vector<v1::Folder>> ListFolders() override {
    auto ctx = NodeClient::Context(token_, kCallTimeout);
    v1::ListFoldersResponse resp;
    grpc::Status s = nodes_->mailbox().ListFolders(ctx.get(), v1::ListFoldersRequest(), &resp);
    if (!s.ok()) return FromGrpc(s);
    return std::vector<v1::Folder>(resp.folders().begin(), resp.folders().end());
  }

  absl::StatusOr<ImapListing> ListMessages(const std::string& folder,
                                           uint64_t vanished_since) override {
    ImapListing out;
    uint32_t since = 0;
    while (true) {
      auto ctx = NodeClient::Context(token_, kCallTimeout);
      v1::ListMessagesRequest req;
      req.set_folder(folder);
      req.set_since_uid(since);
      req.set_limit(kListPage);
      // The first page's vanished UIDs cover the folder.
      if (since == 0) req.set_vanished_since(vanished_since);
      v1::ListMessagesResponse resp;
      grpc::Status s = nodes_->mailbox().ListMessages(ctx.get(), req, &resp);
      if (!s.ok()) return FromGrpc(s);
      uint64_t first_modseq = out.folder.highest_modseq();
      bool first = since == 0;
      out.folder = resp.folder();
      if (first) {
        out.vanished.assign(resp.vanished().begin(), resp.vanished().end());
      } else {
        // The first page's HIGHESTMODSEQ was read before every page's
        // messages: a change in between is reported again, never missed.
        out.folder.set_highest_modseq(first_modseq);
      }
      for (v1::MessageInfo& m : *resp.mutable_messages()) {
        if (m.uid() <= since) continue;  // the order is the node's promise
        since = m.uid();
        out.messages.push_back(std::move(m));
      }
      if (static_cast<uint32_t>(resp.messages_size()) < kListPage) break;
    }
    if (watcher_ && folder == watched_) last_list_ = absl::Now();
    return out;
  }

  // One page of changes; a node that predates changed_since (or more
  // changes than a page) gets the whole folder listed instead.
  absl::StatusOr<ImapListing> ListChanges(const std::string& folder, uint64_t modseq) override {
    auto ctx = NodeClient::Context(token_, kCallTimeout);
    v1::ListMessagesRequest req;
    req.set_folder(folder);
    req.set_limit(kListPage);
    req.set_changed_since(modseq);
    req.set_vanished_since(modseq);
    v1::ListMessagesResponse resp;
    grpc::Status s = nodes_->mailbox().ListMessages(ctx.get(), req, &resp);
    if (!s.ok()) return FromGrpc(s);
    if (!resp.changed_only() || static_cast<uint32_t>(resp.messages_size()) >= kListPage) {
      return ListMessages(folder, 0);
    }
    ImapListing out;
    out.folder = std::move(*resp.mutable_folder());
    out.changed_only = true;
    out.vanished.assign(resp.vanished().begin(), resp.vanished().end());
    uint32_t last = 0;
    for (v1::MessageInfo& m : *resp.mutable_messages()) {
      if (m.uid() <= last) return ListMessages(folder, 0);  // the order is the node's promise
      last = m.uid();
      out.messages.push_back(std::move(m));
    }
    if (watcher_ && folder == watched_) last_list_ = absl::Now();
    return out;
  }

  void Watch(const std::string& folder) override {
    watcher_.reset();
    watched_ = folder;
    first_ = true;
    if (!folder.empty()) watcher_ = std::make_unique<Watcher>(nodes_, token_, folder);
  }

  bool MayHaveChanged() override {
    if (!watcher_) return true;
    uint64_t changes = watcher_->changes();
    if (first_) {
      // What arrived between the SELECT's listing and the stream's start.
      first_ = false;
      seen_changes_ = changes;
      return true;
    }
    if (watcher_->broken()) return absl::Now() - last_list_ >= kPoll;
    if (changes == seen_changes_) return false;
    seen_changes_ = changes;
    return true;
  }

  absl::StatusOr<v1::SetFlagsResponse> SetFlags(const v1::SetFlagsRequest& req) override {
    return Call(&v1::MailboxService::Stub::SetFlags, req, v1::SetFlagsResponse());
  }
  absl::StatusOr<v1::CopyResponse> Copy(const v1::CopyRequest& req) override {
    return Call(&v1::MailboxService::Stub::Copy, req, v1::CopyResponse());
  }
  absl::StatusOr<v1::ExpungeResponse> Expunge(const v1::ExpungeRequest& req) override {
    return Call(&v1::MailboxService::Stub::Expunge, req, v1::ExpungeResponse());
  }
  absl::StatusOr<v1::AppendResponse> Append(const v1::AppendRequest& req) override {
    // Up to 64 MiB travel to the node in one call.
    auto r = Call(&v1::MailboxService::Stub::Append, req, v1::AppendResponse(), kReadTimeout);
    if (!r.ok()) PM_LOG(INFO) << "imap " << peer_ << ": APPEND failed: " << r.status();
    return r;
  }
  absl::Status CreateFolder(const std::string& name) override {
    v1::CreateFolderRequest req;
    req.set_name(name);
    return Call(&v1::MailboxService::Stub::CreateFolder, req, v1::CreateFolderResponse()).status();
  }
  absl::Status DeleteFolder(const std::string& name) override {
    v1::DeleteFolderRequest req;
    req.set_name(name);
    return Call(&v1::MailboxService::Stub::DeleteFolder, req, v1::DeleteFolderResponse()).status();
  }

  // One ReadSet stream per FETCH set (at most kMaxReadSet UIDs a call): the
  // node reads ahead and streams each message's chunks in order, and each
  // piece goes on to the machine as it arrives (StreamBodies; ReadBodies
  // gathers one message at a time): gRPC's flow control holds the node back
  // while the client is slow. A node without ReadSet gets one Read per
  // message, several at once (BodyPrefetch).
  void StreamBodies(const std::string& folder, const std::vector<ReadItem>& items, bool peek,
                    const std::function<bool(const BodyPiece&)>& each) override {
    for (size_t done = 0; done < items.size();) {
      const size_t n = std::min(items.size() - done, kMaxReadSet);
      switch (ReadSet(folder, items, done, n, peek, ReadSetShape(), each)) {
        case SetOutcome::kAll: done += n; break;
        case SetOutcome::kStopped: return;
        case SetOutcome::kUnimplemented:
          ReadEach(folder, std::vector<ReadItem>(items.begin() + done, items.end()), peek,
                   [&](size_t i, absl::StatusOr<ImapBody> b) {
                     BodyPiece p;
                     p.index = done + i;
                     if (!b.ok()) {
                       p.status = b.status();
                     } else {
                       p.info = &b->info;
                       p.data = b->bytes;
                       p.last = true;
                     }
                     return each(p);
                   });
          return;
      }
    }
  }

  // BODYSTRUCTURE and the sections' ranges (ImapMachine's sectioned FETCH):
  // one ReadSet asking for structures, no body moves. A message whose
  // structure the node did not send (a node that predates it sends the
  // whole body) or whose record does not check out (an untrusted peer's) is
  // parsed from its whole body.
  void ReadStructures(const std::string& folder, const std::vector<ReadItem>& items, bool peek,
                      const std::function<bool(size_t, absl::StatusOr<ImapStructure>)>& each)
      override {
    ImapStructure cur;
    std::string body;  // a whole body, from a node that sent one
    bool whole = false, bad = false;
    auto on_piece = [&](const BodyPiece& p) {
      if (!p.status.ok()) return each(p.index, p.status);
      if (p.info != nullptr) {
        cur = ImapStructure();
        cur.info = *p.info;
        body.clear();
        whole = !p.sectioned;
        bad = false;
        if (!whole) {
          absl::StatusOr<MimeEntity> tree =
              p.structure != nullptr ? MimeFromRecord(*p.structure, cur.info.body_size())
                                     : absl::DataLossError("no structure");
          if (tree.ok()) {
            cur.tree = *std::move(tree);
          } else {
            PM_LOG(WARNING) << "imap " << peer_ << ": the node's structure of UID "
                            << items[p.index].uid << " in " << folder << ": " << tree.status();
            bad = true;
          }
        }
      }
      if (whole) body.append(p.data.data(), p.data.size());
      if (!p.last) return true;
      if (bad) {
        // Read it whole and parse it here, once.
        bool go = true;
        ImapMailbox::ReadStructures(folder, {items[p.index]}, true,
                                    [&](size_t, absl::StatusOr<ImapStructure> s) {
                                      go = each(p.index, std::move(s));
                                      return go;
                                    });
        return go;
      }
      if (whole) {
        absl::StatusOr<MimeEntity> tree =
            MimeFromRecord(MimeToRecord(ParseMime(body), body.size()), body.size());
        if (!tree.ok()) return each(p.index, tree.status());
        cur.tree = *std::move(tree);
        body.clear();
      }
      return each(p.index, std::move(cur));
    };
    ReadSetShape shape;
    shape.structure = true;
    if (!SetReads(folder, items, peek, shape, on_piece)) {
      ImapMailbox::ReadStructures(folder, items, peek, each);  // a node without ReadSet
    }
  }

  // The sections' bytes: one ReadSet asking for each message's ranges; a
  // node that predates ranges sends whole bodies, cut here.
  void ReadRanges(const std::string& folder, const std::vector<ReadItem>& items,
                  const std::vector<std::vector<ByteRange>>& ranges, bool peek,
                  const std::function<bool(size_t, absl::StatusOr<ImapRanges>)>& each) override {
    ImapRanges cur;
    std::string data;
    bool whole = false;
    auto on_piece = [&](const BodyPiece& p) {
      if (!p.status.ok()) return each(p.index, p.status);
      if (p.info != nullptr) {
        cur = ImapRanges();
        cur.info = *p.info;
        data.clear();
        whole = !p.sectioned;
      }
      data.append(p.data.data(), p.data.size());
      if (!p.last) return true;
      uint64_t at = 0;
      for (const ByteRange& r : ranges[p.index]) {
        const ByteRange c = ClampRange(r, cur.info.body_size());
        if (whole) {
          cur.bytes.push_back(data.substr(c.offset, c.length));
        } else {
          cur.bytes.push_back(data.substr(at, c.length));
          at += c.length;
        }
      }
      data.clear();
      return each(p.index, std::move(cur));
    };
    ReadSetShape shape;
    shape.ranges = &ranges;
    if (!SetReads(folder, items, peek, shape, on_piece)) {
      ImapMailbox::ReadRanges(folder, items, ranges, peek, each);  // a node without ReadSet
    }
  }

  void ReadBodies(const std::string& folder, const std::vector<ReadItem>& items, bool peek,
                  const std::function<bool(size_t, absl::StatusOr<ImapBody>)>& each) override {
    ImapBody body;
    StreamBodies(folder, items, peek, [&](const BodyPiece& p) {
      if (!p.status.ok()) {
        body = ImapBody();
        return each(p.index, p.status);
      }
      if (p.info != nullptr) {
        body.info = *p.info;
        body.bytes.clear();
        body.bytes.reserve(std::min<uint64_t>(body.info.body_size(), kMaxBody));
      }
      body.bytes.append(p.data.data(), p.data.size());
      if (!p.last) return true;
      absl::StatusOr<ImapBody> out = std::move(body);
      body = ImapBody();
      return each(p.index, std::move(out));
    });
  }

 private:
  enum class SetOutcome { kAll, kStopped, kUnimplemented };

  // What a ReadSet asks for instead of whole bodies (proto ReadSetRequest).
  struct ReadSetShape {
    bool structure = false;
    const std::vector<std::vector<ByteRange>>* ranges = nullptr;  // by item
  };

  // ReadSet calls of at most kMaxReadSet messages for all of `items`;
  // false: the node has no ReadSet (nothing was read).
  bool SetReads(const std::string& folder, const std::vector<ReadItem>& items, bool peek,
                const ReadSetShape& shape, const std::function<bool(const BodyPiece&)>& each) {
    for (size_t done = 0; done < items.size();) {
      const size_t n = std::min(items.size() - done, kMaxReadSet);
      switch (ReadSet(folder, items, done, n, peek, shape, each)) {
        case SetOutcome::kAll: done += n; break;
        case SetOutcome::kStopped: return true;
        case SetOutcome::kUnimplemented:
          if (done > 0) {
            // A node that answered the first call answers the others.
            return true;
          }
          return false;
      }
    }
    return true;
  }

  // items[first, first + n) in one ReadSet call; `each` gets every one of
  // them in order (StreamBodies' pieces, index into items) unless it stops
  // the reads (kStopped; also after a failed stream, whose status the next
  // message gets: the one it broke inside, if any, first).
  SetOutcome ReadSet(const std::string& folder, const std::vector<ReadItem>& items, size_t first,
                     size_t n, bool peek, const ReadSetShape& shape,
                     const std::function<bool(const BodyPiece&)>& each) {
    // The node bounds each first-read fetch; this bounds the whole set.
    auto ctx = NodeClient::Context(token_, kReadTimeout + absl::Seconds(n));
    v1::ReadSetRequest req;
    req.set_folder(folder);
    req.set_peek(peek);
    // The machine needs uid, body_size and modseq of the node's info; the
    // rest it has from its listing (docs/PROTOCOL.md 14).
    req.set_brief_info(true);
    for (size_t k = first; k < first + n; ++k) req.add_uids(items[k].uid);
    req.set_structure(shape.structure);
    if (shape.ranges != nullptr) {
      for (size_t k = first; k < first + n; ++k) {
        v1::ReadRanges* rs = req.add_ranges();
        for (const ByteRange& r : (*shape.ranges)[k]) {
          v1::ReadRange* out = rs->add_ranges();
          out->set_offset(r.offset);
          out->set_length(r.length);
        }
      }
    }
    std::unique_ptr<grpc::ClientReader<v1::ReadSetChunk>> reader =
        nodes_->mailbox().ReadSet(ctx.get(), req);
    size_t i = first;  // the message whose chunks arrive
    bool started = false;
    uint64_t left = 0;  // bytes of message i still to come
    absl::Status broken;
    v1::ReadSetChunk chunk;
    BodyPiece p;
    while (broken.ok() && reader->Read(&chunk)) {
      for (v1::ReadSetPiece& piece : *chunk.mutable_pieces()) {
        if (i >= first + n || piece.uid() != items[i].uid) {
          broken = absl::InternalError("the node's ReadSet answered out of order");
          break;
        }
        p = BodyPiece();
        p.index = i;
        if (piece.code() != 0) {
          if (started) {
            broken = absl::InternalError("the node's ReadSet failed a message it had begun");
            break;
          }
          p.status = absl::Status(static_cast<absl::StatusCode>(piece.code()), piece.error());
          if (p.status.code() != absl::StatusCode::kNotFound) {
            PM_LOG(INFO) << "imap " << peer_ << ": read of UID " << items[i].uid << " in "
                         << folder << " failed: " << p.status;
          }
          ++i;
          if (!each(p)) return Stop(ctx.get(), reader.get());
          continue;
        }
        if (!started) {
          started = true;
          left = piece.info().body_size();
          p.info = &piece.info();
          p.sectioned = piece.sectioned() && (shape.structure || shape.ranges != nullptr);
          if (p.sectioned && shape.structure) {
            left = 0;  // the structure, no data
            p.structure = &piece.structure();
          } else if (p.sectioned) {
            left = 0;  // the ranges' bytes, each cut at the message's end
            for (const ByteRange& r : (*shape.ranges)[i]) {
              left += ClampRange(r, piece.info().body_size()).length;
            }
          }
        }
        if (piece.data().size() > left) {
          broken = absl::InternalError("the node sent more bytes than the message's size");
          break;
        }
        left -= piece.data().size();
        if (piece.last() && left != 0) {
          // The node promises a verified, complete body; anything else is
          // not shown (DESIGN.md: never a partial body).
          broken = absl::UnavailableError("short body from the node");
          break;
        }
        p.data = piece.data();
        p.last = piece.last();
        if (p.last) {
          started = false;
          ++i;
        }
        if (!each(p)) return Stop(ctx.get(), reader.get());
      }
    }
    if (!broken.ok()) ctx->TryCancel();
    grpc::Status s = reader->Finish();
    if (i == first + n && broken.ok() && s.ok()) return SetOutcome::kAll;
    if (i == first && !started && s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      return SetOutcome::kUnimplemented;
    }
    if (broken.ok()) broken = s.ok() ? absl::UnavailableError("the node ended the read early")
                                     : FromGrpc(s);
    // A failed stream is never "expunged" (NOT_FOUND goes per message).
    if (broken.code() == absl::StatusCode::kNotFound) broken = absl::UnavailableError(broken.message());
    PM_LOG(INFO) << "imap " << peer_ << ": reading " << n << " messages of " << folder
                 << " failed at UID " << items[i < first + n ? i : first + n - 1].uid << ": "
                 << broken;
    for (; i < first + n; ++i) {
      p = BodyPiece();
      p.index = i;
      p.status = broken;
      if (!each(p)) break;
    }
    return SetOutcome::kStopped;
  }

  static SetOutcome Stop(grpc::ClientContext* ctx, grpc::ClientReader<v1::ReadSetChunk>* reader) {
    ctx->TryCancel();
    (void)reader->Finish();
    return SetOutcome::kStopped;
  }

  // One Read call per message, up to kPrefetchWindow at once (a node
  // without ReadSet).
  void ReadEach(const std::string& folder, const std::vector<ReadItem>& items, bool peek,
                const std::function<bool(size_t, absl::StatusOr<ImapBody>)>& each) {
    std::vector<BodyPrefetch::Item> reads;
    for (const ReadItem& i : items) reads.push_back({i.uid, i.size});
    BodyPrefetch prefetch(
        [nodes = nodes_, token = token_, folder, peek](uint32_t uid) {
          return ReadBody(nodes, token, folder, uid, peek, kMaxBody);
        },
        std::move(reads), kPrefetchWindow, kPrefetchBytes);
    for (size_t i = 0; i < items.size(); ++i) {
      absl::StatusOr<BodyPrefetch::Result> r = prefetch.Take(i);
      if (!r.ok() && r.status().code() != absl::StatusCode::kNotFound) {
        PM_LOG(INFO) << "imap " << peer_ << ": read of UID " << items[i].uid << " in " << folder
                     << " failed: " << r.status();
      }
      absl::StatusOr<ImapBody> body =
          r.ok() ? absl::StatusOr<ImapBody>(ImapBody{std::move(r->info), std::move(r->body)})
                 : absl::StatusOr<ImapBody>(r.status());
      if (!each(i, std::move(body))) return;
    }
  }

  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Call(grpc::Status (v1::MailboxService::Stub::*rpc)(grpc::ClientContext*,
                                                                         const Req&, Resp*),
                            const Req& req, Resp resp, absl::Duration timeout = kCallTimeout) {
    auto ctx = NodeClient::Context(token_, timeout);
    grpc::Status s = (nodes_->mailbox().*rpc)(ctx.get(), req, &resp);
    if (!s.ok()) return FromGrpc(s);
    return resp;
  }

  // The message's bytes via Read (peek as asked), with the MessageInfo the
  // node sent along. kUnavailable: the sender's node cannot be reached (no
  // byte was sent to the client). Thread-safe (BodyPrefetch runs several).
  static absl::StatusOr<BodyPrefetch::Result> ReadBody(NodeClient* nodes, const std::string& token,
                                                       const std::string& folder, uint32_t uid,
                                                       bool peek, size_t max_bytes) {
    auto ctx = NodeClient::Context(token, kReadTimeout);
    v1::ReadRequest req;
    req.set_folder(folder);
    req.set_uid(uid);
    req.set_peek(peek);
    std::unique_ptr<grpc::ClientReader<v1::ReadChunk>> reader = nodes->mailbox().Read(ctx.get(), req);
    BodyPrefetch::Result r;
    v1::ReadChunk chunk;
    bool first = true;
    while (reader->Read(&chunk)) {
      if (first && chunk.has_info()) r.info = chunk.info();
      first = false;
      r.body += chunk.data();
      if (r.body.size() > max_bytes + (size_t{1} << 20)) {
        ctx->TryCancel();
        break;
      }
    }
    grpc::Status s = reader->Finish();
    if (!s.ok()) return FromGrpc(s);
    if (!first && r.body.size() != r.info.body_size()) {
      // The node promises a verified, complete body; anything else is not
      // shown (DESIGN.md: never a partial body).
      return absl::UnavailableError("short body from the node");
    }
    return r;
  }

  NodeClient* nodes_;
  std::string peer_;
  std::string token_;  // bearer token after login; never logged
  std::unique_ptr<Watcher> watcher_;
  std::string watched_;
  bool first_ = true;
  uint64_t seen_changes_ = 0;
  absl::Time last_list_ = absl::InfinitePast();
};

class ConnOutput : public ImapOutput {
 public:
  explicit ConnOutput(Conn& conn) : conn_(conn) {}
  bool Write(std::string_view bytes) override { return conn_.Write(bytes).ok(); }

 private:
  Conn& conn_;
};

class ImapSession {
 public:
  ImapSession(Conn& conn, const SessionEnv& env)
      : conn_(conn), env_(env), mailbox_(env.nodes, conn.peer()), out_(conn),
        machine_(Options(env), &mailbox_, &out_) {}

  void Run() {
    if (machine_.Start(Transport()) != ImapNext::kRead) return;
    absl::Time idle_since = absl::InfinitePast();
    while (true) {
      if (machine_.idling()) {
        if (idle_since == absl::InfinitePast()) idle_since = absl::Now();
        if (!conn_.WaitReadable(kIdleTurn)) {
          if (absl::Now() - idle_since > env_.config->idle_timeout) {
            machine_.OnTimeout();  // RFC 2177 / RFC 3501 5.4
            return;
          }
          if (machine_.OnIdleTick() != ImapNext::kRead) return;
          continue;
        }
      } else {
        idle_since = absl::InfinitePast();
      }
      absl::StatusOr<std::string> bytes = conn_.ReadSome(kReadChunk);
      if (!bytes.ok()) {
        if (absl::IsDeadlineExceeded(bytes.status())) machine_.OnTimeout();
        return;
      }
      switch (machine_.Feed(*bytes, Transport())) {
        case ImapNext::kRead: break;
        case ImapNext::kClose: return;
        case ImapNext::kStartTls: {
          absl::Status s = conn_.StartTls();
          if (!s.ok()) {
            PM_LOG(INFO) << "imap " << conn_.peer() << ": STARTTLS failed: " << s;
            return;
          }
          break;
        }
      }
    }
  }

 private:
  static ImapMachineOptions Options(const SessionEnv& env) {
    ImapMachineOptions o;
    o.max_line_bytes = env.config->max_line_bytes;
    o.max_message_bytes = env.config->max_message_bytes;
    return o;
  }

  ImapTransport Transport() const {
    return {conn_.tls_available(), conn_.tls_active(), AuthAllowed(conn_, env_)};
  }

  Conn& conn_;
  const SessionEnv& env_;
  GrpcMailbox mailbox_;
  ConnOutput out_;
  ImapMachine machine_;
};

}  // namespace

void ServeImap(Conn& conn, const SessionEnv& env) { ImapSession(conn, env).Run(); }

}  // namespace pullmail::gateway
