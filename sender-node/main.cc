// pullmail-sender: a domain's sender node. It keeps the bodies of its users'
// messages, sends each recipient domain a signed notification, and serves
// a body to a recipient node only when one of its readers opens it.
//
// SECURITY: the signing key and TLS key are read from 0600 files; bodies are
// served only against the fetch token issued to a recipient domain; users
// authenticate (scrypt hashes) and may submit only as themselves; plaintext
// gRPC is refused on anything but loopback.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "core/config/node_config.h"
#include "core/util/logging.h"
#include "rpc/program_clock.h"
#include "rpc/server_runner.h"
#include "sender-node/delivery_worker.h"
#include "sender-node/sender_node.h"

ABSL_FLAG(std::string, config, "", "path to the domain's node.toml (made by `pullmail init`)");
ABSL_FLAG(std::string, listen, "",
          "host:port to serve on instead of [sender] listen: one more replica of the node "
          "sharing the config's PostgreSQL database (docs/SCALE-OUT.md)");
ABSL_FLAG(std::string, metrics_listen, "", "host:port for /metrics instead of [sender] metrics_listen");

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // locks among them) would record a stack trace and update a global lock
  // graph on each acquisition, looking for lock-order cycles. That is a
  // debugging aid; production nodes run without it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  pullmail::SetProgramHelp(
      "pullmail-sender --config DIR/node.toml\n\n"
      "The sender node of one pullmail domain. Serves SubmitService (its users submit\n"
      "mail) and SenderService (recipient nodes fetch bodies, revocations, abuse\n"
      "reports) on [sender] listen; sends queued notifications with retries; bounces\n"
      "what expires; serves Prometheus counters on [sender] metrics_listen.\n"
      "Prints 'READY <address>' on stdout once serving; stops cleanly on SIGTERM/SIGINT.\n"
      "Logging: PULLMAIL_LOG_LEVEL=debug|info|warning|error.\n"
      "Test runs: --clock_speed=S [--clock_origin=UNIX_SECONDS] compress time.",
      "sender-node/main.cc");
  pullmail::BlockShutdownSignals();
  absl::ParseCommandLine(argc, argv);
  pullmail::SetLogProgramName("pullmail-sender");
  std::string path = absl::GetFlag(FLAGS_config);
  if (path.empty()) {
    std::fprintf(stderr, "pullmail-sender: --config is required (see --help)\n");
    return 1;
  }
  auto config = pullmail::LoadNodeConfig(path);
  if (!config.ok()) {
    PM_LOG(ERROR) << config.status();
    return 1;
  }
  if (!absl::GetFlag(FLAGS_listen).empty()) {
    config->sender_listen = absl::GetFlag(FLAGS_listen);
  }
  if (!absl::GetFlag(FLAGS_metrics_listen).empty()) {
    config->sender_metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  }
  if (config->sender_listen.empty()) {
    PM_LOG(ERROR) << path << ": [sender] listen is missing";
    return 1;
  }
  auto clock = pullmail::ProgramClock();
  if (!clock.ok()) {
    PM_LOG(ERROR) << clock.status();
    return 1;
  }
  auto node = pullmail::SenderNode::Open(*config, *clock);
  if (!node.ok()) {
    PM_LOG(ERROR) << "cannot start: " << node.status();
    return 1;
  }
  auto submit = pullmail::MakeSubmitService(node->get());
  auto sender = pullmail::MakeSenderService(node->get());
  auto worker = std::make_unique<pullmail::DeliveryWorker>(node->get());

  pullmail::ServerSpec spec;
  spec.listen = config->sender_listen;
  spec.tls = &config->tls;
  spec.services = {submit.get(), sender.get()};
  spec.service_names = {"pullmail.v1.SubmitService", "pullmail.v1.SenderService"};
  auto call_limits = pullmail::CallLimitsFromConfig(*config);
  if (!call_limits.ok()) {
    PM_LOG(ERROR) << path << ": " << call_limits.status();
    return 1;
  }
  spec.call_limits = *call_limits;
  spec.metrics_listen = config->sender_metrics_listen;
  spec.on_shutdown = [&worker] { worker.reset(); };
  absl::Status s = pullmail::ServeUntilSignal(spec);
  if (!s.ok()) {
    PM_LOG(ERROR) << s;
    return 1;
  }
  return 0;
}
