// RecipientService and MailboxService: thin gRPC adapters over
// RecipientNode. Authentication, translation and streaming live here;
// decisions live in core and RecipientNode.
#include <grpcpp/grpcpp.h>
#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/imap/imap_mime.h"
#include "core/logic/author.h"
#include "core/logic/mailbox_rules.h"
#include "core/logic/watch_rules.h"
#include "core/storage/types.h"
#include "core/util/limits.h"
#include "core/util/logging.h"
#include "recipient-node/recipient_node.h"
#include "rpc/grpc_status.h"
#include "rpc/metrics.h"

namespace pullmail {
namespace {

constexpr size_t kMaxBatch = 256;      // notifications handed to the intake at once
constexpr size_t kMaxInFlight = 2048;  // read ahead and not yet answered, per stream
// ReadSet: UIDs per call, the threads that make messages ready ahead of the
// one being streamed, how far ahead, and the bodies those reads may hold.
constexpr size_t kMaxReadSet = 10000;
constexpr size_t kReadSetWorkers = 8;
constexpr size_t kReadSetWindow = 16;
constexpr uint64_t kReadSetAheadBytes = uint64_t{32} << 20;
constexpr int kCancelCheckEvery = 64;  // ReadSet messages between IsCancelled checks
// ReadSet looks its messages up this many at a time (RecipientNode::PrepareReads).
constexpr size_t kPrepareWindow = 128;
// ReadSet's pieces gather into one Write up to this many bytes of data.
constexpr size_t kReadSetChunkBytes = 256 * 1024;
// A body is streamed in slices that end on a multiple of this (the SQLite
// store's chunk rows are this size: each slice reads one).
constexpr uint64_t kReadSlice = 256 * 1024;
// ReadSetRequest.ranges: at most this many ranges per message.
constexpr int kMaxRangesPerMessage = 64;

class RecipientServiceImpl final : public v1::RecipientService::Service {
 public:
  explicit RecipientServiceImpl(RecipientNode* node) : node_(node) {}

  grpc::Status Notify(grpc::ServerContext*, const v1::SignedNotification* req,
                      v1::NotifyResult* resp) override {
    *resp = node_->AcceptBatch({*req}).front();
    return grpc::Status::OK;
  }

  // A reader thread queues what arrives; this thread hands whatever has
  // queued to the node's intake (verified on every core, committed with
  // other calls' notifications) without waiting for the previous handful,
  // and writes the answers in request order as their commits complete. So a
  // busy stream keeps every core verifying and gets group commit, and a
  // quiet one gets an answer per notification at once.
  grpc::Status NotifyStream(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::NotifyResult, v1::SignedNotification>* stream) override {
    struct Pending {
      bool complete = false;
      std::vector<v1::NotifyResult> results;
    };
    std::mutex mu;
    std::condition_variable cv;
    std::deque<v1::SignedNotification> queue;
    std::deque<std::shared_ptr<Pending>> pending;  // submitted, in request order
    size_t in_flight = 0;                          // queued + submitted, unanswered
    bool done = false;
    std::thread reader([&] {
      pthread_setname_np(pthread_self(), "pm-stream-read");
      v1::SignedNotification n;
      while (stream->Read(&n)) {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return in_flight < kMaxInFlight; });
        queue.push_back(std::move(n));
        ++in_flight;
        cv.notify_all();
      }
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_all();
    });
    uint64_t sequence = 0;
    bool write_ok = true;
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      cv.wait(lock, [&] {
        return !queue.empty() || (!pending.empty() && pending.front()->complete) ||
               (done && pending.empty());
      });
      if (!pending.empty() && pending.front()->complete) {
        std::shared_ptr<Pending> p = std::move(pending.front());
        pending.pop_front();
        lock.unlock();
        // One plain (flushing) Write per answer. Answers written with the
        // buffer hint, all but a group's last, left NotifyStreams of the
        // sender node's delivery pass without their last answers until the
        // stream's 15 s deadline (smtpin_bench: 4 runs of 4 listed at ~130
        // msgs/s, "2 unanswered (Deadline Exceeded)" in the sender's log;
        // with plain writes 0 of 4). After a failed write the client has
        // gone: keep draining.
        for (v1::NotifyResult& r : p->results) {
          r.set_sequence(sequence++);
          if (write_ok && !stream->Write(r)) write_ok = false;
        }
        lock.lock();
        in_flight -= p->results.size();
        cv.notify_all();
        continue;
      }
      if (!queue.empty()) {
        std::vector<v1::SignedNotification> batch;
        while (!queue.empty() && batch.size() < kMaxBatch) {
          batch.push_back(std::move(queue.front()));
          queue.pop_front();
        }
        auto p = std::make_shared<Pending>();
        pending.push_back(p);
        lock.unlock();
        node_->intake().Submit(std::move(batch), [&mu, &cv, p](std::vector<v1::NotifyResult> r) {
          std::lock_guard<std::mutex> l(mu);
          p->results = std::move(r);
          p->complete = true;
          cv.notify_all();
        });
        lock.lock();
        continue;
      }
      if (done && pending.empty()) break;
    }
    lock.unlock();
    reader.join();
    return grpc::Status::OK;
  }

  grpc::Status Revoke(grpc::ServerContext*, const v1::SignedRevocation* req,
                      v1::RevokeResult* resp) override {
    auto hidden = node_->ApplyRevocation(*req);
    resp->set_code(static_cast<int>(hidden.status().code()));
    if (!hidden.ok()) {
      resp->set_reason(std::string(hidden.status().message()));
      return ToGrpc(hidden.status());
    }
    resp->set_hidden(*hidden);
    return grpc::Status::OK;
  }

  grpc::Status ShareReport(grpc::ServerContext*, const v1::SignedSpamReport* req,
                           v1::ReportResult* resp) override {
    auto r = node_->AcceptPeerReport(*req);
    if (!r.ok()) {
      resp->set_code(static_cast<int>(r.status().code()));
      resp->set_reason(std::string(r.status().message()));
      return ToGrpc(r.status());
    }
    *resp = *r;
    return grpc::Status::OK;
  }

 private:
  RecipientNode* node_;
};

class MailboxServiceImpl final : public v1::MailboxService::Service {
 public:
  explicit MailboxServiceImpl(RecipientNode* node) : node_(node) {}

  grpc::Status Login(grpc::ServerContext* ctx, const v1::LoginRequest* req,
                     v1::LoginResponse* resp) override {
    return ServeLogin(node_->auth(), *ctx, *req, resp);
  }

  grpc::Status ListFolders(grpc::ServerContext* ctx, const v1::ListFoldersRequest*,
                           v1::ListFoldersResponse* resp) override {
    return Call(ctx, resp, [&](const std::string& u) { return node_->ListFolders(u); });
  }
  grpc::Status CreateFolder(grpc::ServerContext* ctx, const v1::CreateFolderRequest* req,
                            v1::CreateFolderResponse* resp) override {
    auto user = node_->auth().Authenticate(*ctx);
    if (!user.ok()) return ToGrpc(user.status());
    auto f = node_->CreateFolder(*user, req->name());
    if (!f.ok()) return ToGrpc(f.status());
    *resp->mutable_folder() = *f;
    return grpc::Status::OK;
  }
  grpc::Status ListMessages(grpc::ServerContext* ctx, const v1::ListMessagesRequest* req,
                            v1::ListMessagesResponse* resp) override {
    return Call(ctx, resp, [&](const std::string& u) { return node_->ListMessages(u, *req); });
  }
  grpc::Status SetFlags(grpc::ServerContext* ctx, const v1::SetFlagsRequest* req,
                        v1::SetFlagsResponse* resp) override {
    return Call(ctx, resp, [&](const std::string& u) { return node_->SetFlags(u, *req); });
  }
  grpc::Status Copy(grpc::ServerContext* ctx, const v1::CopyRequest* req,
                    v1::CopyResponse* resp) override {
    return Call(ctx, resp, [&](const std::string& u) { return node_->Copy(u, *req); });
  }
  grpc::Status Expunge(grpc::ServerContext* ctx, const v1::ExpungeRequest* req,
                       v1::ExpungeResponse* resp) override {
    return Call(ctx, resp, [&](const std::string& u) { return node_->Expunge(u, *req); });
  }
  grpc::Status Report(grpc::ServerContext* ctx, const v1::ReportRequest* req,
                      v1::ReportResponse* resp) override {
    return Call(ctx, resp, [&](const std::string& u) { return node_->Report(u, *req); });
  }

  grpc::Status Append(grpc::ServerContext* ctx, const v1::AppendRequest* req,
                      v1::AppendResponse* resp) override {
    return Call(ctx, resp, [&](const std::string& u) { return node_->Append(u, *req); });
  }
  grpc::Status DeleteFolder(grpc::ServerContext* ctx, const v1::DeleteFolderRequest* req,
                            v1::DeleteFolderResponse*) override {
    auto user = node_->auth().Authenticate(*ctx);
    if (!user.ok()) return ToGrpc(user.status());
    return ToGrpc(node_->DeleteFolder(*user, req->name()));
  }

  // The body is streamed only after it is complete and verified here, so a
  // reader never sees a partial or unverified byte.
  grpc::Status Read(grpc::ServerContext* ctx, const v1::ReadRequest* req,
                    grpc::ServerWriter<v1::ReadChunk>* writer) override {
    auto user = node_->auth().Authenticate(*ctx);
    if (!user.ok()) return ToGrpc(user.status());
    auto r = node_->Read(*user, *req);
    if (!r.ok()) return ToGrpc(r.status());
    v1::ReadChunk chunk;
    *chunk.mutable_info() = r->info;
    chunk.set_from_cache(r->from_cache);
    absl::Status s = StreamBody(*r, ctx, [&](std::string data, bool) {
      chunk.set_data(std::move(data));
      bool ok = writer->Write(chunk);
      chunk.Clear();
      return ok;
    });
    return ToGrpc(s);
  }

  // One FETCH set's bodies in one stream (proto ReadSetRequest): each message
  // exactly as Read serves it (RecipientNode::Read's rules). The set is
  // looked up kPrepareWindow messages at a time (PrepareReads: a few
  // statements for all of them); a message whose body is cached is read and
  // streamed right here, and only those that must be fetched go to this
  // call's read-ahead workers (ReadAhead, started at the first such
  // message), which fetch them a few messages ahead of the one streaming.
  grpc::Status ReadSet(grpc::ServerContext* ctx, const v1::ReadSetRequest* req,
                       grpc::ServerWriter<v1::ReadSetChunk>* writer) override {
    auto user = node_->auth().Authenticate(*ctx);
    if (!user.ok()) return ToGrpc(user.status());
    if (req->uids_size() == 0 || req->uids_size() > static_cast<int>(kMaxReadSet)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("ReadSet takes 1 to ", kMaxReadSet, " UIDs"));
    }
    if (req->structure() && req->ranges_size() > 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "ReadSet takes structure or ranges, not both");
    }
    if (req->ranges_size() > 0) {
      if (req->ranges_size() != req->uids_size()) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "ReadSet's ranges need one entry per UID");
      }
      for (const v1::ReadRanges& r : req->ranges()) {
        if (r.ranges_size() > kMaxRangesPerMessage) {
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              absl::StrCat("at most ", kMaxRangesPerMessage,
                                           " ranges per message"));
        }
      }
    }
    Metrics::Global().Add("pullmail_read_sets_total");
    const size_t n = static_cast<size_t>(req->uids_size());
    // Bodies streamed from the bytes PrepareReads read along, counted once
    // per call (a metric's lock per message shows in a profile).
    uint64_t read_along = 0;
    struct CountAlong {
      uint64_t* n;
      ~CountAlong() {
        if (*n > 0) Metrics::Global().Add("pullmail_read_set_bodies_read_along_total", *n);
      }
    } count_along{&read_along};
    const std::string folder = req->folder().empty() ? std::string(kInbox) : req->folder();
    ReadAhead ahead(node_, *user, *req);
    // prepared[i]: message i's lookup, from its window's PrepareReads until
    // it is streamed; nullopt (the lookup failed) sends it through Read.
    std::vector<std::optional<RecipientNode::PreparedRead>> prepared(n);
    size_t prepared_end = 0;
    auto prepare_ahead = [&](size_t i) {
      while (prepared_end < n && prepared_end <= i + kReadSetWindow) {
        const size_t from = prepared_end, to = std::min(n, from + kPrepareWindow);
        std::vector<uint32_t> uids(req->uids().begin() + from, req->uids().begin() + to);
        absl::StatusOr<std::vector<RecipientNode::PreparedRead>> p =
            node_->PrepareReads(*user, folder, uids);
        if (p.ok()) {
          // The window's bodies that must be fetched go to the fetcher at
          // once, in batches per sender node (FetchBodies), before the
          // workers' reads of them wait for their batch.
          std::vector<StoredNotification> fetch;
          for (const RecipientNode::PreparedRead& r : *p) {
            if (r.status.ok() && !r.cached) fetch.push_back(r.notification);
          }
          if (!fetch.empty()) node_->FetchAhead(std::move(fetch));
        }
        for (size_t k = from; k < to; ++k) {
          if (p.ok()) prepared[k] = std::move((*p)[k - from]);
          if (!p.ok() || (prepared[k]->status.ok() && !prepared[k]->cached)) ahead.Add(k);
        }
        prepared_end = to;
      }
    };
    // Pieces gather into one chunk (one Write) up to kReadSetChunkBytes of
    // data, and leave before a wait for a message that is not ready yet.
    v1::ReadSetChunk out;
    size_t out_bytes = 0;
    bool written = true;
    auto flush = [&] {
      if (out.pieces_size() > 0 && written) {
        written = writer->Write(out);
        Metrics::Global().Add("pullmail_read_set_data_bytes_total", out_bytes);
      }
      out.Clear();
      out_bytes = 0;
      return written;
    };
    auto error_piece = [&](int i, const absl::Status& status) {
      v1::ReadSetPiece* p = out.add_pieces();
      p->set_uid(req->uids(i));
      p->set_code(static_cast<int>(status.code()));
      p->set_error(std::string(status.message()));
      p->set_last(true);
      out_bytes += p->error().size();
      return out_bytes < kReadSetChunkBytes || flush();
    };
    // Streams message i (its body, its structure or its ranges, as asked;
    // a whole body from `held`, the stored bytes PrepareReads read along,
    // if given); false with *sent unset: nothing of it went out.
    auto stream = [&](int i, RecipientNode::ReadResult& r, bool* sent,
                      const std::string* held = nullptr) {
      bool first = true;
      if (req->structure()) {
        absl::StatusOr<v1::MimeStructure> structure = ServedStructure(r);
        if (!structure.ok()) return structure.status();
        v1::ReadSetPiece* p = out.add_pieces();
        p->set_uid(req->uids(i));
        *p->mutable_info() = r.info;
        p->set_from_cache(r.from_cache);
        p->set_sectioned(true);
        *p->mutable_structure() = *std::move(structure);
        p->set_last(true);
        *sent = true;
        if (out.pieces_size() >= 64 && !flush()) return absl::OkStatus();
        return absl::OkStatus();
      }
      auto send = [&](std::string data, bool last) {
        if (out_bytes > 0 && out_bytes + data.size() > kReadSetChunkBytes && !flush()) {
          return false;
        }
        v1::ReadSetPiece* p = out.add_pieces();
        p->set_uid(req->uids(i));
        if (first) {
          *p->mutable_info() = std::move(r.info);  // r.info is not used after
          p->set_from_cache(r.from_cache);
          first = false;
        }
        out_bytes += data.size();
        p->set_data(std::move(data));
        p->set_last(last);
        p->set_sectioned(req->ranges_size() > 0);
        return true;
      };
      absl::Status s = req->ranges_size() > 0 ? StreamRanges(r, ctx, req->ranges(i), send)
                       : held != nullptr        ? StreamHeld(r, *held, send)
                                                : StreamBody(r, ctx, send);
      *sent = !first;
      return s;
    };
    for (int i = 0; i < static_cast<int>(n); ++i) {
      // IsCancelled on a synchronous call plucks the completion queue (a
      // poll and a futex wait): it cost a third of a cached read's CPU when
      // asked per message (and a tenth of a one-message set's). A gone
      // client also fails the next Write.
      if (i > 0 && i % kCancelCheckEvery == 0 && ctx->IsCancelled()) break;
      prepare_ahead(i);
      std::optional<RecipientNode::PreparedRead> p = std::move(prepared[i]);
      prepared[i].reset();
      if (p.has_value() && !p->status.ok()) {
        ahead.Advance(i);
        if (!error_piece(i, p->status)) return grpc::Status::OK;
        continue;
      }
      absl::Status s;
      bool sent = false;
      if (p.has_value() && p->cached) {
        ahead.Advance(i);
        absl::StatusOr<RecipientNode::ReadResult> r = node_->ReadPrepared(*user, folder, *p, req->peek(), req->brief_info());
        if (r.ok() && p->body) ++read_along;
        if (r.ok()) s = stream(i, *r, &sent, p->body ? &*p->body : nullptr);
        if (r.ok() && (s.ok() || sent || !absl::IsNotFound(s))) {
          // A failure in the middle of a body cannot become a per-message
          // code (its first bytes may be gone): the stream ends with it,
          // and the client drops the partial message.
          if (!s.ok()) return ToGrpc(s);
          if (!written) return grpc::Status::OK;
          continue;
        }
        // The body left the cache since the lookup (or the read failed):
        // read it as Read does, fetching it again if need be.
        v1::ReadRequest one;
        one.set_folder(req->folder());
        one.set_uid(req->uids(i));
        one.set_peek(req->peek());
        if (!flush()) return grpc::Status::OK;
        r = node_->Read(*user, one);
        if (!r.ok()) {
          if (!error_piece(i, r.status())) return grpc::Status::OK;
          continue;
        }
        s = stream(i, *r, &sent);
      } else {
        if (!ahead.Ready(i) && !flush()) return grpc::Status::OK;
        absl::StatusOr<RecipientNode::ReadResult> r = ahead.Take(i);
        if (!r.ok()) {
          if (!error_piece(i, r.status())) return grpc::Status::OK;
          continue;
        }
        s = stream(i, *r, &sent);
      }
      if (!s.ok()) return ToGrpc(s);
      if (!written) return grpc::Status::OK;
    }
    flush();
    return grpc::Status::OK;
  }

  // Sends the events core's rule (core/logic/watch_rules.h) makes of each
  // change to the watched folder after the call starts. Only changes to
  // that folder wake the stream, and the first of its streams to wake reads
  // what changed (counts and changed entries above the last reading, not
  // the folder) for all of them (change_feed.h). The initial metadata goes
  // out once the stream is set up, so that a watcher knows it is open
  // before any event.
  grpc::Status Watch(grpc::ServerContext* ctx, const v1::WatchRequest* req,
                     grpc::ServerWriter<v1::WatchEvent>* writer) override {
    auto user = node_->auth().Authenticate(*ctx);
    if (!user.ok()) return ToGrpc(user.status());
    // Before the open metadata: a watcher backs off from a stream that
    // never opened, and opens one that did again at once.
    if (node_->shutting_down()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the node is shutting down");
    }
    const std::string folder = req->folder().empty() ? std::string(kInbox) : req->folder();
    auto load = [&](uint64_t from) -> absl::StatusOr<FolderChanges> {
      absl::StatusOr<FolderChanges> c = node_->store().ListFolderChanges(*user, folder, from);
      const std::string normalized = NormalizeFolderName(folder);
      if (absl::IsNotFound(c.status()) && (normalized == kInbox || normalized == kJunkFolder)) {
        // INBOX and Junk always exist (made on first use).
        absl::Status made = node_->store().EnsureFolder(*user, folder).status();
        if (!made.ok()) return made;
        c = node_->store().ListFolderChanges(*user, folder, from);
      }
      return c;
    };
    std::unique_ptr<ChangeFeed::Subscription> sub = node_->changes().Subscribe(*user, folder);
    absl::Status started = sub->Start(load);
    if (!started.ok()) return ToGrpc(started);
    Metrics::Global().Add("pullmail_watch_streams_opened_total");
    ctx->AddInitialMetadata(std::string(kWatchOpenMetadata), "1");
    writer->SendInitialMetadata();
    while (!ctx->IsCancelled()) {
      if (node_->shutting_down()) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the node is shutting down");
      }
      absl::StatusOr<std::vector<v1::WatchEvent>> events = sub->Next(absl::Seconds(1), load);
      if (!events.ok()) return ToGrpc(events.status());
      for (const v1::WatchEvent& ev : *events) {
        Metrics::Global().Add(absl::StrCat("pullmail_watch_events_total{kind=\"", ev.kind(), "\"}"));
        if (!writer->Write(ev)) return grpc::Status::OK;
      }
    }
    return grpc::Status::OK;
  }

 private:
  // What Read serves for `r`, in slices of at most kReadSlice bytes (plus
  // the prefix on the first and a few bytes the filter held back):
  // the Authentication-Results: field first (info.body_size counts it), then
  // the stored bytes, whose hash was checked as they came, with the sender's
  // own Authentication-Results: fields renamed (core's ServedHeaderFilter:
  // same length, RFC 8601 section 5). A user's own APPENDed message has no
  // field and comes back exactly as stored. Only one slice is held at a
  // time. `send(data, last)` returning false (the client has gone) stops.
  template <typename Send>
  absl::Status StreamBody(const RecipientNode::ReadResult& r, grpc::ServerContext* ctx,
                          Send send) {
    uint64_t size = r.stored_size, offset = 0;
    std::string prefix = r.prefix;
    const bool verified = !prefix.empty();
    ServedHeaderFilter filter;
    do {
      // To the next multiple of kReadSlice (one stored chunk a read), with
      // the prefix and the few bytes the filter held back on top.
      auto data = node_->store().ReadCachedBody(r.body_key, offset,
                                                kReadSlice - offset % kReadSlice);
      if (!data.ok()) return data.status();
      offset += data->size();
      std::string out = std::move(prefix);
      prefix.clear();
      if (verified) {
        filter.FeedTo(*data, &out);
        if (offset >= size) filter.FinishTo(&out);
      } else if (out.empty()) {
        out = *std::move(data);
      } else {
        out += *data;
      }
      if (!send(std::move(out), offset >= size)) break;
    } while (offset < size && !ctx->IsCancelled());
    return absl::OkStatus();
  }

  // StreamBody of a body read whole already (`stored`: its stored bytes,
  // from PrepareReads): one piece, the prefix and the filtered bytes in one
  // buffer.
  template <typename Send>
  absl::Status StreamHeld(const RecipientNode::ReadResult& r, std::string_view stored, Send send) {
    if (stored.size() != r.stored_size) return absl::DataLossError("cached body of the wrong size");
    std::string out;
    out.reserve(r.prefix.size() + stored.size());
    out.append(r.prefix);
    if (r.prefix.empty()) {
      out.append(stored.data(), stored.size());
    } else {
      ServedHeaderFilter filter;
      filter.FeedTo(stored, &out);
      filter.FinishTo(&out);
    }
    send(std::move(out), true);
    return absl::OkStatus();
  }

  // The MIME structure record of `r`'s body (core's MimeStructure), with
  // offsets into the message as Read serves it (ShiftMimeRecord: the
  // Authentication-Results: field first). The store's record is untrusted
  // like any stored bytes: a missing one (a body cached before records were
  // kept), one of another version or one that does not check out is
  // computed again from the whole body, once, and stored.
  absl::StatusOr<v1::MimeStructure> ServedStructure(const RecipientNode::ReadResult& r) {
    v1::MimeStructure record;
    absl::StatusOr<std::string> stored = node_->store().GetBodyStructure(r.body_key);
    if (!stored.ok() && !absl::IsNotFound(stored.status())) return stored.status();
    bool good = stored.ok() && stored->size() <= kMaxMimeRecordBytes &&
                record.ParseFromString(*stored) && MimeFromRecord(record, r.stored_size).ok();
    if (!good) {
      absl::StatusOr<std::string> body = node_->store().GetBody(r.body_key);
      if (!body.ok()) return body.status();
      if (body->size() != r.stored_size) return absl::DataLossError("cached body of the wrong size");
      std::string bytes = MimeRecordOf(*body);
      record.ParseFromString(bytes);
      absl::Status put = node_->store().PutBodyStructure(r.body_key, bytes);
      if (!put.ok()) PM_LOG(WARNING) << "storing a MIME structure record failed: " << put;
      Metrics::Global().Add("pullmail_structure_records_computed_total");
    }
    ShiftMimeRecord(&record, r.prefix.size());
    return record;
  }

  // What Read serves for `r`, cut to `ranges` (offsets into the served
  // message, each cut at its end), the ranges' bytes one after the other,
  // through `send(data, last)` as StreamBody does (at least one call, the
  // last with last set). Only the stored chunks the ranges cover are read,
  // except that a range inside the top-level header of a message with an
  // Authentication-Results: field is filtered from the header's start (the
  // renaming of the sender's fields, ServedHeaderFilter, decides per line).
  template <typename Send>
  absl::Status StreamRanges(const RecipientNode::ReadResult& r, grpc::ServerContext* ctx,
                            const v1::ReadRanges& ranges, Send send) {
    const uint64_t p = r.prefix.size();
    const uint64_t total = p + r.stored_size;
    const bool verified = p > 0;
    std::optional<uint64_t> header_end;  // the stored header's size, when needed
    std::string pending;                 // gathered up to a slice before it goes
    auto emit = [&](std::string_view data) {
      while (!data.empty()) {
        size_t take = std::min<size_t>(data.size(), kReadSlice - pending.size());
        pending.append(data.data(), take);
        data.remove_prefix(take);
        if (pending.size() == kReadSlice && !send(std::exchange(pending, {}), false)) return false;
      }
      return true;
    };
    for (const v1::ReadRange& range : ranges.ranges()) {
      const uint64_t a = std::min(range.offset(), total);
      const uint64_t b = a + std::min(range.length(), total - a);
      if (a < p && !emit(std::string_view(r.prefix).substr(a, std::min(b, p) - a))) {
        return absl::OkStatus();
      }
      if (b <= p) continue;
      const uint64_t s0 = std::max(a, p) - p, s1 = b - p;
      if (verified && !header_end) {
        header_end = r.stored_size;  // unknown: filter from the start (right, slower)
        absl::StatusOr<std::string> rec = node_->store().GetBodyStructure(r.body_key);
        v1::MimeStructure record;
        if (rec.ok() && rec->size() <= kMaxMimeRecordBytes && record.ParseFromString(*rec) &&
            MimeFromRecord(record, r.stored_size).ok()) {
          header_end = record.parts(0).header_size();
        }
      }
      const bool filter = verified && s0 < *header_end;
      // With the filter, read from 0 and past s1 by more than the filter
      // holds back (23 bytes), so that every byte before s1 is decided.
      uint64_t at = filter ? 0 : s0;
      const uint64_t until = filter ? std::min<uint64_t>(s1 + 32, r.stored_size) : s1;
      ServedHeaderFilter f;
      uint64_t out_at = 0;  // the filter's output so far
      while (at < until) {
        if (ctx->IsCancelled()) return absl::CancelledError("the client went away");
        auto data = node_->store().ReadCachedBody(
            r.body_key, at, std::min<uint64_t>(until - at, kReadSlice - at % kReadSlice));
        if (!data.ok()) return data.status();
        if (data->empty()) return absl::DataLossError("cached body shorter than its size");
        at += data->size();
        std::string chunk = *std::move(data);
        if (filter) {
          chunk = f.Feed(chunk);
          if (at >= r.stored_size) chunk += f.Finish();
          const uint64_t from = out_at;
          out_at += chunk.size();
          const uint64_t lo = std::max(from, s0), hi = std::min(out_at, s1);
          if (lo < hi && !emit(std::string_view(chunk).substr(lo - from, hi - lo))) {
            return absl::OkStatus();
          }
        } else if (!emit(chunk)) {
          return absl::OkStatus();
        }
      }
    }
    send(std::move(pending), true);
    return absl::OkStatus();
  }

  // ReadSet's read-ahead for the messages it is given (Add: those whose
  // body must be fetched, in ascending order): they are made ready
  // (RecipientNode::Read, which fetches and caches a body on its first read)
  // by up to kReadSetWorkers threads of this call, started at the first Add,
  // at most kReadSetWindow messages past the one being streamed (Advance,
  // Take) and at most kReadSetAheadBytes of bodies being fetched at once (by
  // the notification's size, counted from Read's before_fetch: a fetch holds
  // its body whole until it is verified and cached; a cached body costs
  // nothing ahead); the message being streamed is always read, whatever its
  // size. Results are taken strictly in order.
  class ReadAhead {
   public:
    ReadAhead(RecipientNode* node, std::string user, const v1::ReadSetRequest& req)
        : node_(node), user_(std::move(user)), req_(req), results_(req.uids_size()) {}
    ~ReadAhead() {
      {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
      }
      work_cv_.notify_all();
      for (std::thread& t : threads_) t.join();
    }
    ReadAhead(const ReadAhead&) = delete;
    ReadAhead& operator=(const ReadAhead&) = delete;

    // Message i (above every one added before) is to be read here.
    void Add(size_t i) {
      std::lock_guard<std::mutex> lock(mu_);
      todo_.push_back(i);
      if (threads_.empty()) {
        const size_t workers = std::min<size_t>(kReadSetWorkers, results_.size() - i);
        for (size_t w = 0; w < workers; ++w) threads_.emplace_back([this] { Work(); });
      }
      work_cv_.notify_one();
    }

    // The stream is at message i (served elsewhere): the window moves.
    void Advance(size_t i) {
      if (threads_.empty()) return;  // only this thread starts them
      std::lock_guard<std::mutex> lock(mu_);
      MoveTo(i);
    }

    // Whether message i is ready, so that Take(i) would not wait.
    bool Ready(size_t i) {
      std::lock_guard<std::mutex> lock(mu_);
      return results_[i].has_value();
    }

    absl::StatusOr<RecipientNode::ReadResult> Take(size_t i) {
      std::unique_lock<std::mutex> lock(mu_);
      MoveTo(i);
      taking_ = true;
      done_cv_.wait(lock, [&] { return results_[i].has_value(); });
      taking_ = false;
      absl::StatusOr<RecipientNode::ReadResult> r = std::move(*results_[i]);
      results_[i].reset();
      return r;
    }

   private:
    // Requires mu_.
    void MoveTo(size_t i) {
      if (taken_ == i) return;
      taken_ = i;
      // One idle worker may start the next message if the window now
      // reaches it, and a worker waiting for room may go if i was its own.
      if (room_waiters_ > 0) {
        work_cv_.notify_all();
      } else if (next_ < todo_.size() && todo_[next_] <= taken_ + kReadSetWindow) {
        work_cv_.notify_one();
      }
    }

    void Work() {
      std::unique_lock<std::mutex> lock(mu_);
      while (true) {
        work_cv_.wait(lock, [&] {
          return stop_ || (next_ < todo_.size() && todo_[next_] <= taken_ + kReadSetWindow);
        });
        if (stop_) return;
        const size_t j = todo_[next_++];
        lock.unlock();
        v1::ReadRequest one;
        one.set_folder(req_.folder());
        one.set_uid(req_.uids(static_cast<int>(j)));
        one.set_peek(req_.peek());
        // Only a body that must be fetched (held whole until it is verified
        // and cached) counts against the bytes ahead; the message being
        // taken goes at once, others wait for room.
        uint64_t size = 0;
        absl::StatusOr<RecipientNode::ReadResult> r =
            node_->Read(user_, one, [&](uint64_t body_size) {
              std::unique_lock<std::mutex> room(mu_);
              ++room_waiters_;
              work_cv_.wait(room, [&] {
                return stop_ || j <= taken_ || ahead_ + body_size <= kReadSetAheadBytes;
              });
              --room_waiters_;
              if (stop_) return false;
              size = body_size;
              ahead_ += size;
              return true;
            });
        lock.lock();
        ahead_ -= size;
        results_[j] = std::move(r);
        // Only the streaming thread waits for results, and only for its one.
        if (taking_ && j == taken_) done_cv_.notify_one();
        if (room_waiters_ > 0 && size > 0) work_cv_.notify_all();
      }
    }

    RecipientNode* node_;
    const std::string user_;
    const v1::ReadSetRequest& req_;
    std::mutex mu_;
    std::condition_variable work_cv_;  // workers: stop, the window moved, room for bytes
    std::condition_variable done_cv_;  // the streaming thread: its message is ready
    bool stop_ = false;                      // guarded by mu_
    bool taking_ = false;                    // Take waits for results_[taken_]; mu_
    int room_waiters_ = 0;                   // workers waiting for byte room; mu_
    std::vector<size_t> todo_;               // the messages to read here, ascending; mu_
    size_t next_ = 0;                        // the first of todo_ no worker took; mu_
    size_t taken_ = 0;                       // the message being streamed; mu_
    uint64_t ahead_ = 0;                     // bytes of bodies in reads now; mu_
    std::vector<std::optional<absl::StatusOr<RecipientNode::ReadResult>>> results_;  // mu_
    std::vector<std::thread> threads_;       // started by Add (the streaming thread)
  };

  template <typename Resp, typename Fn>
  grpc::Status Call(grpc::ServerContext* ctx, Resp* resp, Fn fn) {
    auto user = node_->auth().Authenticate(*ctx);
    if (!user.ok()) return ToGrpc(user.status());
    auto r = fn(*user);
    if (!r.ok()) return ToGrpc(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  RecipientNode* node_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeRecipientService(RecipientNode* node) {
  return std::make_unique<RecipientServiceImpl>(node);
}
std::unique_ptr<grpc::Service> MakeMailboxService(RecipientNode* node) {
  return std::make_unique<MailboxServiceImpl>(node);
}

}  // namespace pullmail
