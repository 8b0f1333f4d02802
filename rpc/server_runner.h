// Running a node's gRPC server until SIGTERM or SIGINT: credentials, health
// checking, reflection, the "READY <address>" line on stdout that scripts
// and tests wait for, and an orderly shutdown.
#ifndef PULLMAIL_RPC_SERVER_RUNNER_H_
#define PULLMAIL_RPC_SERVER_RUNNER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "core/config/node_config.h"
#include "rpc/call_limits.h"

namespace pullmail {

// Sets the program's --help text and makes --help list the flags defined in
// `main_file` (e.g. "gateway/main.cc"; Abseil would otherwise list only
// flags from a file named after the program).
void SetProgramHelp(std::string_view usage, std::string_view main_file);

// Blocks SIGTERM/SIGINT/SIGPIPE in the calling thread (and so in every
// thread started after it). Call first thing in main().
void BlockShutdownSignals();

// Waits for SIGTERM or SIGINT (blocked by BlockShutdownSignals) and returns
// which one arrived.
int WaitForShutdownSignal();

struct ServerSpec {
  std::string listen;                   // host:port
  const TlsConfig* tls = nullptr;       // not owned
  std::vector<grpc::Service*> services; // not owned
  // The services' full names ("pullmail.v1.MailboxService"), which set the
  // server's receive limit (rpc/call_limits.h), and the limits themselves
  // (the node config's [rpc] table).
  std::vector<std::string> service_names;
  CallLimits call_limits;
  std::string metrics_listen;           // empty = none
  // Called once both the gRPC and the metrics listeners are bound, before
  // READY is printed (start background workers here: when a port is taken,
  // ServeUntilSignal returns its error before anything was started, so the
  // program exits with that error instead of leaving threads to tear down).
  std::function<void()> on_serving;
  // Called when the shutdown signal arrives, before the drain (end
  // long-lived streams here).
  std::function<void()> before_shutdown;
  // Called after the server stops accepting calls, before it is destroyed
  // (stop background workers here).
  std::function<void()> on_shutdown;
};

// Serves until a shutdown signal arrives; then drains in-flight calls for up
// to 5 s. Errors (returned before on_serving runs): bad credentials, address
// in use (gRPC or metrics port).
absl::Status ServeUntilSignal(const ServerSpec& spec);

}  // namespace pullmail

#endif  // PULLMAIL_RPC_SERVER_RUNNER_H_
