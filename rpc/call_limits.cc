// Per-method receive limits, per-peer concurrency and the memory quota of
// every gRPC server (see call_limits.h).
#include "rpc/call_limits.h"

#include <google/protobuf/message_lite.h>
#include <toml++/toml.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/util/limits.h"
#include "core/util/strings.h"
#include "rpc/metrics.h"

namespace pullmail {
namespace {

constexpr size_t kSignedObjectMax = 128 * 1024;
constexpr size_t kBodyCarrierMax = limits::kMaxBodySize + 1024 * 1024;
constexpr size_t kDefaultMax = 1024 * 1024;

using grpc::experimental::InterceptionHookPoints;

class CallLimitsInterceptor final : public grpc::experimental::Interceptor {
 public:
  CallLimitsInterceptor(grpc::experimental::ServerRpcInfo* info, PeerCallCounter* counter)
      : info_(info), counter_(counter), method_(info->method() ? info->method() : "") {}

  ~CallLimitsInterceptor() override {
    if (acquired_) counter_->Release(peer_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA) &&
        IsPeerFacing(method_)) {
      peer_ = PeerAddress(info_->server_context()->peer());
      acquired_ = counter_->Acquire(peer_);
      if (!acquired_) {
        Refuse(absl::StrCat("too_many_calls: ", peer_,
                            " has too many calls in flight at this node; retry later"),
               "too_many_calls");
        // A stream would hold its slot-less call open: end it now.
        if (info_->type() != grpc::experimental::ServerRpcInfo::Type::UNARY) {
          info_->server_context()->TryCancel();
        }
      }
    }
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      // Every request type of our services is a generated protobuf message;
      // GetRecvMessage is that object.
      auto* msg = static_cast<google::protobuf::MessageLite*>(m->GetRecvMessage());
      if (msg != nullptr) {
        const size_t size = msg->ByteSizeLong();
        const size_t max = MaxRequestBytes(method_);
        if (size > max && refusal_.empty()) {
          Refuse(absl::StrCat("message_too_large: ", size, " bytes; ", method_, " takes at most ",
                              max),
                 "message_too_large");
        }
        // A refused call's handler sees an empty request and acts on nothing.
        if (!refusal_.empty()) msg->Clear();
      }
    }
    if (m->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        !refusal_.empty()) {
      m->ModifySendStatus(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, refusal_));
    }
    m->Proceed();
  }

 private:
  void Refuse(std::string why, std::string_view label) {
    refusal_ = std::move(why);
    Metrics::Global().Add(absl::StrCat("pullmail_rpc_refused_total{reason=\"", AV(label), "\"}"));
  }

  grpc::experimental::ServerRpcInfo* info_;
  PeerCallCounter* counter_;
  std::string method_;
  std::string peer_;
  bool acquired_ = false;
  std::string refusal_;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(PeerCallCounter* counter) : counter_(counter) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallLimitsInterceptor(info, counter_);  // gRPC owns it
  }

 private:
  PeerCallCounter* counter_;
};

}  // namespace

absl::StatusOr<CallLimits> ParseCallLimits(const toml::table& table) {
  CallLimits l;
  for (const auto& [k, v] : table) {
    std::string_view key = k.str();
    const auto* i = v.as_integer();
    if (i == nullptr) return absl::InvalidArgumentError(absl::StrCat("[rpc] ", AV(key), ": must be an integer"));
    const int64_t x = i->get();
    if (key == "max_calls_per_peer") {
      if (x < 1 || x > 100000) return absl::InvalidArgumentError("[rpc] max_calls_per_peer: must be in 1..100000");
      l.max_calls_per_peer = static_cast<int>(x);
    } else if (key == "memory_quota_mib") {
      if (x < 64 || x > 65536) return absl::InvalidArgumentError("[rpc] memory_quota_mib: must be in 64..65536");
      l.memory_quota_bytes = x << 20;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("[rpc] ", AV(key), ": unknown key (max_calls_per_peer, memory_quota_mib)"));
    }
  }
  return l;
}

absl::StatusOr<CallLimits> CallLimitsFromConfig(const NodeConfig& config) {
  if (const toml::table* t = config.Section("rpc")) return ParseCallLimits(*t);
  return CallLimits();
}

size_t MaxRequestBytes(std::string_view method) {
  if (absl::StartsWith(AV(method), "/pullmail.v1.RecipientService/") ||
      method == "/pullmail.v1.SenderService/ReportAbuse") {
    return kSignedObjectMax;
  }
  if (method == "/pullmail.v1.SubmitService/Submit" ||
      method == "/pullmail.v1.SubmitService/Bridge" ||
      method == "/pullmail.v1.SubmitService/BridgeBatch" ||
      method == "/pullmail.v1.MailboxService/Append") {
    return kBodyCarrierMax;
  }
  return kDefaultMax;
}

size_t MaxRequestBytesOf(const std::vector<std::string>& services) {
  size_t max = kDefaultMax;
  for (const std::string& s : services) {
    if (s == "pullmail.v1.RecipientService") max = std::max(max, kSignedObjectMax);
    if (s == "pullmail.v1.SubmitService" || s == "pullmail.v1.MailboxService") {
      max = std::max(max, kBodyCarrierMax);
    }
  }
  return max;
}

bool IsPeerFacing(std::string_view method) {
  return absl::StartsWith(AV(method), "/pullmail.v1.RecipientService/") ||
         absl::StartsWith(AV(method), "/pullmail.v1.SenderService/") ||
         absl::StartsWith(AV(method), "/pullmail.v1.RelayService/");
}

bool PeerCallCounter::Acquire(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  int& n = in_flight_[peer];
  if (n >= max_) return false;
  ++n;
  return true;
}

void PeerCallCounter::Release(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_flight_.find(peer);
  if (it == in_flight_.end()) return;
  if (--it->second <= 0) in_flight_.erase(it);
}

std::string PeerAddress(std::string_view p) {
  size_t colon = p.find(':');
  if (colon != std::string_view::npos && colon < 6) p.remove_prefix(colon + 1);  // "ipv4:"
  if (!p.empty() && p.front() == '[') {
    size_t end = p.find(']');
    return std::string(p.substr(1, end == std::string_view::npos ? p.size() - 1 : end - 1));
  }
  size_t last = p.rfind(':');
  return std::string(last == std::string_view::npos ? p : p.substr(0, last));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeCallLimitsInterceptor(
    PeerCallCounter* counter) {
  return std::make_unique<Factory>(counter);
}

void ApplyCallLimits(const CallLimits& limits, const std::vector<std::string>& services,
                     PeerCallCounter* counter, grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(static_cast<int>(MaxRequestBytesOf(services)));
  grpc::ResourceQuota quota("pullmail-server");
  quota.Resize(static_cast<size_t>(limits.memory_quota_bytes));
  builder->SetResourceQuota(quota);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(MakeCallLimitsInterceptor(counter));
  builder->experimental().SetInterceptorCreators(std::move(creators));
}

}  // namespace pullmail
