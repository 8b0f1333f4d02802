// One simulation run: builds the SimGrid platform (generated or from a
// platform file), the pull and/or push world over it, a controller actor that
// samples the time series and draws the progress bar, runs the engine, and
// returns what was measured. SimGrid allows one engine per process, so one
// process makes one run (sweeps start child processes; see main.cc).
#ifndef PULLMAIL_SIM_RUNNER_H_
#define PULLMAIL_SIM_RUNNER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/crypto_model.h"
#include "sim/metrics.h"
#include "sim/scenario.h"
#include "sim/world.h"

namespace pullmail::sim {

struct TimeSeries {
  std::vector<std::string> columns;      // first is "hours"
  std::vector<std::vector<double>> rows;
};

struct RunOptions {
  bool progress = false;  // draw a progress bar on stderr
  // A scripted world (tests/parity) instead of one generated from the
  // scenario; not owned.
  const WorldScript* script = nullptr;
};

struct RunResult {
  std::unique_ptr<World> world;
  std::unique_ptr<WorldMetrics> pull;  // null when the mode has no pull world
  std::unique_ptr<WorldMetrics> push;
  TimeSeries series;
  double end_time = 0;         // simulated seconds at the last event
  CryptoCost cost;             // measured cost of real Ed25519 here
  SignatureImpl signatures = SignatureImpl::kReal;
  CryptoCounters crypto;
  bool pull_conserved = true;  // every copy ended in exactly one outcome
  bool push_conserved = true;
  bool shared_hosts = false;   // a platform file too small for two worlds
  std::string platform;        // "generated star" or the file
  std::vector<uint8_t> pull_trace;  // per copy: PullWorld::copy_trace()
};

// Runs `scenario` once. Errors: the world cannot be generated, the platform
// file cannot be loaded or has too few hosts. Call at most once per process.
absl::StatusOr<RunResult> RunScenario(const Scenario& scenario, const RunOptions& options);

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_RUNNER_H_
