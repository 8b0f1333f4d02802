// ServeUntilSignal: the life cycle every node program shares.
#include "rpc/server_runner.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/util/strings.h"
#include "core/util/logging.h"
#include "rpc/metrics.h"
#include "rpc/tls.h"

namespace pullmail {

void SetProgramHelp(std::string_view usage, std::string_view main_file) {
  absl::SetProgramUsageMessage(AV(usage));
  absl::FlagsUsageConfig config;
  std::string file(main_file);
  config.contains_help_flags = [file](absl::string_view path) {
    return absl::EndsWith(path, AV(file));
  };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
}

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

absl::Status ServeUntilSignal(const ServerSpec& spec) {
  auto creds = MakeServerCredentials(*spec.tls, spec.listen);
  if (!creds.ok()) return creds.status();

  std::unique_ptr<MetricsServer> metrics;
  if (!spec.metrics_listen.empty()) {
    auto m = MetricsServer::Start(spec.metrics_listen);
    if (!m.ok()) return m.status();
    metrics = std::move(*m);
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(spec.listen, *creds, &port);
  // Per-method receive limits, per-peer concurrency, memory quota.
  PeerCallCounter peer_calls(spec.call_limits.max_calls_per_peer);
  ApplyCallLimits(spec.call_limits, spec.service_names, &peer_calls, &builder);
  for (grpc::Service* s : spec.services) builder.RegisterService(s);
  // The sync server's threads. gRPC keeps at most MAX_POLLERS threads waiting
  // for calls (default 2) and starts one whenever the last waiting thread
  // takes a call: with more calls than that in flight (a gateway's SMTP
  // sessions bridging at once, a sender's streams) nearly every call started
  // a thread and nearly every finished call ended one (clone, stack, exit:
  // about 5% of the sender node's CPU per bridged message). Threads that
  // finish a call now go back to waiting, up to this many; they cost a stack
  // each and wake every few seconds.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 32);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", spec.listen));
  }
  PM_LOG(INFO) << "serving on " << spec.listen
               << (spec.tls->plaintext ? " (PLAINTEXT)" : " (TLS)")
               << (metrics ? absl::StrCat(", metrics on ", spec.metrics_listen) : "");
  if (spec.on_serving) spec.on_serving();
  std::printf("READY %s\n", spec.listen.c_str());
  std::fflush(stdout);

  int sig = WaitForShutdownSignal();
  PM_LOG(INFO) << "signal " << sig << ": shutting down";
  if (spec.before_shutdown) spec.before_shutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (spec.on_shutdown) spec.on_shutdown();
  server->Wait();
  return absl::OkStatus();
}

}  // namespace pullmail
