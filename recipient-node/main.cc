// pullmail-recipient: a domain's recipient node. It verifies and stores the
// signed notifications other domains send, shows them in its users'
// mailboxes, and fetches a body from the sender's node only when a user
// reads it (checked against the committed SHA-256, cached once).
//
// SECURITY: a notification's payload is parsed only after its Ed25519
// signature verifies with a key the directory lists; bodies come only from
// the directory's sender endpoint for the signing domain; users authenticate
// (scrypt) and see only their own mailboxes; plaintext gRPC is refused on
// anything but loopback.
#include <malloc.h>

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "core/config/node_config.h"
#include "core/util/logging.h"
#include "recipient-node/recipient_node.h"
#include "rpc/memory_trim.h"
#include "rpc/program_clock.h"
#include "rpc/server_runner.h"

ABSL_FLAG(std::string, config, "", "path to the domain's node.toml (made by `pullmail init`)");
ABSL_FLAG(std::string, listen, "",
          "host:port to serve on instead of [recipient] listen: one more replica of the node "
          "sharing the config's PostgreSQL database (docs/SCALE-OUT.md)");
ABSL_FLAG(std::string, metrics_listen, "", "host:port for /metrics instead of [recipient] metrics_listen");

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex (gRPC's
  // locks among them) would record a stack trace and update a global lock
  // graph on each acquisition, looking for lock-order cycles. That is a
  // debugging aid; production nodes run without it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // A first read holds its body whole (up to 64 MiB) until it is verified.
  // glibc raises its mmap threshold to the size of each large block freed,
  // after which such bodies come from the threads' heaps and their freed
  // middle is never returned; a fixed threshold keeps every block above
  // 1 MiB in its own mapping, returned when freed (the 256 KiB slices a
  // cached body streams in stay below it: a mapping each cost page faults).
  mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
  pullmail::SetProgramHelp(
      "pullmail-recipient --config DIR/node.toml\n\n"
      "The recipient node of one pullmail domain. Serves RecipientService (other\n"
      "domains' sender nodes deliver signed notifications; revocations) and\n"
      "MailboxService (its users list, read, flag, move, expunge, report, watch) on\n"
      "[recipient] listen; serves Prometheus counters on [recipient] metrics_listen.\n"
      "Prints 'READY <address>' on stdout once serving; stops cleanly on SIGTERM/SIGINT.\n"
      "Logging: PULLMAIL_LOG_LEVEL=debug|info|warning|error.\n"
      "Test runs: --clock_speed=S [--clock_origin=UNIX_SECONDS] compress time.",
      "recipient-node/main.cc");
  pullmail::BlockShutdownSignals();
  absl::ParseCommandLine(argc, argv);
  pullmail::SetLogProgramName("pullmail-recipient");
  std::string path = absl::GetFlag(FLAGS_config);
  if (path.empty()) {
    std::fprintf(stderr, "pullmail-recipient: --config is required (see --help)\n");
    return 1;
  }
  auto config = pullmail::LoadNodeConfig(path);
  if (!config.ok()) {
    PM_LOG(ERROR) << config.status();
    return 1;
  }
  if (!absl::GetFlag(FLAGS_listen).empty()) {
    config->recipient_listen = absl::GetFlag(FLAGS_listen);
  }
  if (!absl::GetFlag(FLAGS_metrics_listen).empty()) {
    config->recipient_metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  }
  if (config->recipient_listen.empty()) {
    PM_LOG(ERROR) << path << ": [recipient] listen is missing";
    return 1;
  }
  auto clock = pullmail::ProgramClock();
  if (!clock.ok()) {
    PM_LOG(ERROR) << clock.status();
    return 1;
  }
  auto node = pullmail::RecipientNode::Open(*config, *clock);
  if (!node.ok()) {
    PM_LOG(ERROR) << "cannot start: " << node.status();
    return 1;
  }
  auto recipient = pullmail::MakeRecipientService(node->get());
  auto mailbox = pullmail::MakeMailboxService(node->get());
  pullmail::ServerSpec spec;
  spec.listen = config->recipient_listen;
  spec.tls = &config->tls;
  spec.services = {recipient.get(), mailbox.get()};
  spec.service_names = {"pullmail.v1.RecipientService", "pullmail.v1.MailboxService"};
  auto call_limits = pullmail::CallLimitsFromConfig(*config);
  if (!call_limits.ok()) {
    PM_LOG(ERROR) << path << ": " << call_limits.status();
    return 1;
  }
  spec.call_limits = *call_limits;
  spec.metrics_listen = config->recipient_metrics_listen;
  spec.before_shutdown = [&node] { (*node)->BeginShutdown(); };
  spec.on_shutdown = [&node] {
    (*node)->StopChangeListener();
    (*node)->StopMaintenance();
  };
  // Started only once both ports are bound: a busy port then ends the
  // program with its error and exit code 1, not with a joinable thread.
  spec.on_serving = [&node] {
    (*node)->StartMaintenance();
    (*node)->StartChangeListener();
  };
  // Free heap pages go back to the system every 10 s (rpc/memory_trim.h:
  // under many concurrent calls glibc's arenas kept tens of MB of freed
  // memory resident).
  pullmail::MemoryTrimmer trimmer(absl::Seconds(10));
  absl::Status s = pullmail::ServeUntilSignal(spec);
  if (!s.ok()) {
    PM_LOG(ERROR) << s;
    return 1;
  }
  return 0;
}
