// SubmitService and SenderService: thin gRPC adapters over SenderNode. Every
// decision is made in core or SenderNode; here we authenticate, translate
// and count.
#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/logic/fetch_authorizer.h"
#include "core/logic/fetch_batch.h"
#include "core/util/limits.h"
#include "core/util/logging.h"
#include "rpc/grpc_status.h"
#include "rpc/metrics.h"
#include "sender-node/sender_node.h"

namespace pullmail {
namespace {

// FetchBodies writes its served records together, this many at a time.
constexpr size_t kServedBatch = 64;

class SubmitServiceImpl final : public v1::SubmitService::Service {
 public:
  explicit SubmitServiceImpl(SenderNode* node) : node_(node) {}

  grpc::Status Login(grpc::ServerContext* ctx, const v1::LoginRequest* req,
                     v1::LoginResponse* resp) override {
    return ServeLogin(node_->auth(), *ctx, *req, resp);
  }

  grpc::Status Submit(grpc::ServerContext* ctx, const v1::SubmitRequest* req,
                      v1::SubmitResponse* resp) override {
    auto user = node_->auth().Authenticate(*ctx);
    if (!user.ok()) return ToGrpc(user.status());
    SubmissionInput in;
    in.authenticated_user = *user;
    in.from = req->from().empty() ? *user : req->from();
    in.to.assign(req->to().begin(), req->to().end());
    in.message = req->message();
    in.idempotency_key = req->idempotency_key();
    auto r = node_->Submit(in);
    if (!r.ok()) return ToGrpc(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status Bridge(grpc::ServerContext* ctx, const v1::BridgeRequest* req,
                      v1::SubmitResponse* resp) override {
    // The gateway's minted principal only: every user gets PERMISSION_DENIED.
    if (absl::Status s = node_->auth().AuthenticatePrincipal(*ctx, kBridgePrincipal); !s.ok()) {
      Metrics::Global().Add("pullmail_bridge_refused_total{reason=\"auth\"}");
      return ToGrpc(s);
    }
    auto r = node_->Bridge(*req);
    if (!r.ok()) return ToGrpc(r.status());
    if (!req->check_only()) Metrics::Global().Add("pullmail_bridged_total");
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status BridgeBatch(grpc::ServerContext* ctx, const v1::BridgeBatchRequest* req,
                           v1::BridgeBatchResponse* resp) override {
    // The same caller rule as Bridge.
    if (absl::Status s = node_->auth().AuthenticatePrincipal(*ctx, kBridgePrincipal); !s.ok()) {
      Metrics::Global().Add("pullmail_bridge_refused_total{reason=\"auth\"}");
      return ToGrpc(s);
    }
    auto r = node_->BridgeBatch(*req);
    if (!r.ok()) return ToGrpc(r.status());
    int bridged = 0;
    for (absl::StatusOr<v1::SubmitResponse>& one : *r) {
      v1::BridgeResult* out = resp->add_results();
      if (one.ok()) {
        ++bridged;
        *out->mutable_response() = std::move(*one);
      } else {
        // The code and text Bridge would have answered (rpc/grpc_status.h's
        // mapping: absl and gRPC codes are the same numbers).
        grpc::Status g = ToGrpc(one.status());
        out->set_code(static_cast<int32_t>(g.error_code()));
        out->set_error(g.error_message().substr(0, 1024));
      }
    }
    Metrics::Global().Add("pullmail_bridged_total", bridged);
    Metrics::Global().Add("pullmail_bridge_batches_total");
    return grpc::Status::OK;
  }

  grpc::Status Revoke(grpc::ServerContext* ctx, const v1::RevokeRequest* req,
                      v1::RevokeResponse* resp) override {
    auto user = node_->auth().Authenticate(*ctx);
    if (!user.ok()) return ToGrpc(user.status());
    auto r = node_->Revoke(*user, req->message_id(), req->reason());
    if (!r.ok()) return ToGrpc(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status ListSent(grpc::ServerContext* ctx, const v1::ListSentRequest* req,
                        v1::ListSentResponse* resp) override {
    auto user = node_->auth().Authenticate(*ctx);
    if (!user.ok()) return ToGrpc(user.status());
    auto r = node_->ListSent(*user, req->limit());
    if (!r.ok()) return ToGrpc(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

 private:
  SenderNode* node_;
};

std::string ResultLabel(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return "ok";
    case absl::StatusCode::kPermissionDenied: return "denied";
    case absl::StatusCode::kFailedPrecondition: return "revoked";
    case absl::StatusCode::kNotFound: return "not_found";
    default: return "error";
  }
}

class SenderServiceImpl final : public v1::SenderService::Service {
 public:
  explicit SenderServiceImpl(SenderNode* node) : node_(node) {}

  grpc::Status FetchBody(grpc::ServerContext* ctx, const v1::FetchRequest* req,
                         grpc::ServerWriter<v1::BodyChunk>* writer) override {
    v1::BodyChunk chunk;
    absl::Status s = Serve(ctx, *req, [&](uint64_t offset, std::string data, uint64_t total, bool) {
      if (data.empty()) return true;  // FetchBody sends no empty chunk
      chunk.set_offset(offset);
      chunk.set_total_size(total);
      chunk.set_data(std::move(data));
      return writer->Write(chunk);
    });
    Count(*req, s);
    return ToGrpc(s);
  }

  // Several bodies in one stream (docs/PROTOCOL.md 8.1): each served exactly
  // as FetchBody serves it, in request order; a refusal is that body's one
  // piece and the stream goes on. Pieces of small bodies share a chunk (one
  // Write) of up to kBodyChunkSize bytes of data.
  grpc::Status FetchBodies(grpc::ServerContext* ctx, const v1::FetchBodiesRequest* req,
                           grpc::ServerWriter<v1::FetchBodiesChunk>* writer) override {
    if (req->bodies_size() == 0 || req->bodies_size() > static_cast<int>(kMaxBatchBodies)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("FetchBodies takes 1 to ", kMaxBatchBodies, " bodies"));
    }
    Metrics::Global().Add("pullmail_fetch_batches_total");
    v1::FetchBodiesChunk out;
    size_t out_bytes = 0;
    bool written = true;
    // The call's bookkeeping, written together (RecordServedMany: one
    // commit) every kServedBatch bodies and when the call ends, however it
    // ends. A crash of this process loses the records of the call in
    // progress: bookkeeping only (sender_store.h).
    std::vector<SenderStore::Served> served;
    struct WriteServed {
      SenderStore& store;
      std::vector<SenderStore::Served>& served;
      ~WriteServed() { Write(); }
      void Write() {
        if (!served.empty()) (void)store.RecordServedMany(served);
        served.clear();
      }
    } write_served{node_->store(), served};
    auto flush = [&] {
      if (out.pieces_size() > 0 && written) written = writer->Write(out);
      out.Clear();
      out_bytes = 0;
      return written;
    };
    for (int i = 0; i < req->bodies_size() && written; ++i) {
      bool sent_data = false;
      if (served.size() >= kServedBatch) write_served.Write();
      absl::Status s = Serve(ctx, req->bodies(i),
                             [&](uint64_t offset, std::string data, uint64_t total, bool last) {
        if (out_bytes + data.size() > limits::kBodyChunkSize && !flush()) return false;
        v1::BodyPiece* p = out.add_pieces();
        p->set_index(static_cast<uint32_t>(i));
        p->set_offset(offset);
        p->set_total_size(total);
        p->set_last(last);
        out_bytes += data.size();
        p->set_data(std::move(data));
        sent_data = true;
        return true;
      }, &served);
      Count(req->bodies(i), s);
      if (s.ok()) continue;
      // A failure in the middle of a body cannot become its code (its first
      // bytes are gone): the stream ends with it, and the client fetches
      // the rest alone.
      if (sent_data) {
        flush();
        return ToGrpc(s);
      }
      v1::BodyPiece* p = out.add_pieces();
      p->set_index(static_cast<uint32_t>(i));
      p->set_code(static_cast<int>(s.code()));
      p->set_error(std::string(s.message()));
      p->set_last(true);
      out_bytes += p->error().size();
    }
    flush();
    return grpc::Status::OK;
  }

  grpc::Status Revoke(grpc::ServerContext* ctx, const v1::RevokeRequest* req,
                      v1::RevokeResponse* resp) override {
    auto user = node_->auth().Authenticate(*ctx);
    if (!user.ok()) return ToGrpc(user.status());
    auto r = node_->Revoke(*user, req->message_id(), req->reason());
    if (!r.ok()) return ToGrpc(r.status());
    *resp = std::move(*r);
    return grpc::Status::OK;
  }

  grpc::Status ReportAbuse(grpc::ServerContext*, const v1::SignedSpamReport* req,
                           v1::AbuseResult* resp) override {
    absl::Status s = node_->ReportAbuse(*req);
    resp->set_code(static_cast<int>(s.code()));
    resp->set_reason(std::string(s.message()));
    return ToGrpc(s);
  }

 private:
  void Count(const v1::FetchRequest& req, const absl::Status& s) {
    std::string label = ResultLabel(s.code());
    if (s.code() == absl::StatusCode::kNotFound && absl::StartsWith(s.message(), "expired")) {
      label = "expired";
    }
    Metrics::Global().Add(absl::StrCat("pullmail_fetch_requests_total{result=\"", label, "\"}"));
    if (!s.ok()) {
      PM_LOG(INFO) << "fetch of " << req.message_id() << " by " << req.recipient_domain()
                   << " refused: " << s;
    }
  }

  // One body from req.offset(), authorised by core's rule, handed to
  // `emit(offset, data, total_size, last)` in slices of at most
  // kBodyChunkSize (at least one slice, empty for an empty body); emit
  // returning false (the client has gone) stops. The served bytes are
  // recorded (SenderStore::RecordServed) at once, or appended to `defer`
  // for the caller to write with others.
  template <typename Emit>
  absl::Status Serve(grpc::ServerContext* ctx, const v1::FetchRequest& req, Emit emit,
                     std::vector<SenderStore::Served>* defer = nullptr) {
    SenderStore& store = node_->store();
    absl::StatusOr<OutboundMessage> msg = store.GetMessage(req.message_id());
    if (!msg.ok() && msg.status().code() != absl::StatusCode::kNotFound) return msg.status();
    std::vector<Delivery> deliveries;
    if (msg.ok()) {
      auto listed = store.ListDeliveries(req.message_id());
      if (!listed.ok()) return listed.status();
      deliveries = std::move(*listed);
    }
    // core's rule checks the token first: an unknown id is refused exactly
    // as a wrong token is (fetch_authorizer.h).
    auto delivery = AuthorizeFetch(msg.ok() ? &*msg : nullptr, deliveries, req.recipient_domain(),
                                   req.fetch_token(), req.offset(), node_->clock().Now());
    if (!delivery.ok()) return delivery.status();

    const uint64_t start = req.offset();
    uint64_t offset = start;
    uint64_t sent = 0;
    do {
      // IsCancelled plucks the completion queue on a synchronous server; a
      // gone client also fails the next write. Asked between slices only.
      if (offset != start && ctx->IsCancelled()) break;
      auto data = store.ReadBody(req.message_id(), offset, limits::kBodyChunkSize);
      if (!data.ok()) return data.status();
      if (data->empty() && offset < msg->body_size) break;  // shorter on disk: the client resumes
      const size_t n = data->size();
      if (!emit(offset, std::move(*data), msg->body_size, offset + n >= msg->body_size)) break;
      offset += n;
      sent += n;
    } while (offset < msg->body_size);
    if (sent > 0) Metrics::Global().Add("pullmail_body_bytes_served_total", sent);
    // One bookkeeping write, which does not wait for the disk (see
    // SenderStore::RecordServed): the reader is not held for an fsync.
    const bool complete = offset == msg->body_size;
    if (sent > 0 || (complete && delivery->state == DeliveryState::kDelivered)) {
      if (defer != nullptr) {
        defer->push_back({req.message_id(), delivery->domain, sent, complete});
      } else {
        (void)store.RecordServed(req.message_id(), delivery->domain, sent, complete);
      }
    }
    PM_LOG(DEBUG) << "served " << sent << " bytes of " << req.message_id() << " to "
                  << delivery->domain;
    return absl::OkStatus();
  }

  SenderNode* node_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeSubmitService(SenderNode* node) {
  return std::make_unique<SubmitServiceImpl>(node);
}
std::unique_ptr<grpc::Service> MakeSenderService(SenderNode* node) {
  return std::make_unique<SenderServiceImpl>(node);
}

}  // namespace pullmail
