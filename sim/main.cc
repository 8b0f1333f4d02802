// pullmail-sim: what would pull-based mail do to spam, bandwidth and storage?
// Runs a scenario over a SimGrid network model with core's protocol logic,
// side by side with classic SMTP push, and writes a summary, CSV time series
// and gnuplot figures. docs/SIMULATION.md is the researcher's guide.
//
//   pullmail-sim --scenario sim/scenarios/example.toml --out results/example
//   pullmail-sim --scenario S --out DIR --sweep policy.spam_threshold_k=1,2,3,5,10
//
// SimGrid allows one engine per process, so every extra run (a sweep point,
// a point of the k figure) is a child process: this same binary, re-executed
// with overrides.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/util/logging.h"
#include "sim/report.h"
#include "sim/runner.h"
#include "sim/scenario.h"
#include "sim/workload_out.h"

ABSL_FLAG(std::string, scenario, "", "Scenario file (TOML). Required. See docs/SIMULATION.md.");
ABSL_FLAG(std::string, out, "", "Results folder (created). Default: results/<run.name>.");
ABSL_FLAG(int64_t, seed, -1, "Overrides [run] seed. The same seed gives the same output, byte for byte.");
ABSL_FLAG(std::string, mode, "", "Overrides [run] mode: pull, push, or both (side by side in one run).");
ABSL_FLAG(std::string, set, "",
          "Overrides any scenario key: 'table.key=value' (value as in TOML), several separated "
          "by ';', e.g. --set 'policy.spam_threshold_k=5;campaign.0.bots=200'.");
ABSL_FLAG(std::string, sweep, "",
          "Sweep one key over values: 'table.key=v1,v2,...'. One run per value (each in "
          "OUT/sweep/<key>=<v>), then OUT/sweep.csv and the sweep plot.");
ABSL_FLAG(int, jobs, 1,
          "With --sweep: run up to N sweep points at once, each its own process writing its "
          "own OUT/sweep/<key>=<v> (the merged result is the same whatever N).");
ABSL_FLAG(int, sweep_point, -1,
          "With --sweep: run only point I (0-based, in the order given) and stop; no merge. "
          "For cluster job arrays, e.g. --sweep_point=$SLURM_ARRAY_TASK_ID (sim/slurm/).");
ABSL_FLAG(bool, merge, false,
          "With --sweep: run nothing; build OUT/sweep.csv and its plot from the points' "
          "outputs already in OUT/sweep/ (after --sweep_point runs). Fails if one is missing.");
ABSL_FLAG(std::string, progress, "auto", "Progress bar on stderr: auto (if stderr is a terminal), on, off.");
ABSL_FLAG(bool, plots, true, "Run gnuplot on the figures' scripts (the scripts are always written).");
ABSL_FLAG(bool, quiet, false, "Do not print the summary on stdout.");
ABSL_FLAG(std::string, workload_out, "",
          "Also write the generated workload (domains, users, messages, each reader's choices) "
          "and the run's per-copy outcomes and bytes to this file, as JSON lines "
          "(sim/workload_out.h), for tests/xval/replay.py to replay against real nodes.");

namespace pullmail::sim {
namespace {

constexpr char kUsage[] =
    R"(simulate pull-based mail (pullmail) and classic SMTP push side by side.

Usage:
  pullmail-sim --scenario FILE [--out DIR] [--seed N] [--mode pull|push|both]
               [--set 'table.key=value;...'] [--sweep 'table.key=v1,v2,...']
               [--jobs N] [--sweep_point I | --merge]
               [--progress auto|on|off] [--plots=false] [--quiet]
               [--workload_out FILE]

The scenario (TOML) sets the domains and users, legitimate traffic, spam
campaigns (bots, uptime, recipients, body sizes, personalised or not), readers
(read probability and delay, report probability), the spam policy ([policy],
as a recipient node reads it), the retry schedule ([retry]), the senders' retention, the
network, and the mode. docs/SIMULATION.md documents every key and figure.

Outputs in DIR: summary.txt (also printed), summary.csv, timeseries.csv,
per_user_spam.csv, read_latency.csv (per-read latency by size class, both
worlds), read_latency_cdf.csv, fig_*.gp and, with gnuplot, fig_*.png and
fig_*.svg. With [output] k_values, DIR/k/ holds one pull run per k and
k_sweep.csv + fig_k.* show suppression as a function of k. With --sweep,
DIR/sweep/ holds one run per value and sweep.csv + sweep.* compare them.
Sweep points are independent processes: --jobs N runs N at once here;
--sweep_point I runs one (a cluster job array's task: sim/slurm/sweep.sbatch)
and --merge then builds sweep.csv and the plot from their folders.

Examples:
  pullmail-sim --scenario sim/scenarios/example.toml --out results/example
  pullmail-sim --scenario sim/scenarios/example.toml --out results/bots \
      --sweep campaign.0.bot_uptime=0.2,0.5,0.8,1.0
)";

std::vector<std::string> Overrides() {
  std::vector<std::string> o;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_set), ';', absl::SkipWhitespace())) {
    o.emplace_back(s);
  }
  if (absl::GetFlag(FLAGS_seed) >= 0) o.push_back(absl::StrCat("run.seed=", absl::GetFlag(FLAGS_seed)));
  if (!absl::GetFlag(FLAGS_mode).empty()) o.push_back(absl::StrCat("run.mode=\"", absl::GetFlag(FLAGS_mode), "\""));
  return o;
}

// Starts this binary again on the same scenario with extra overrides;
// returns the child's pid (-1 if fork failed).
pid_t StartChild(const std::string& out, const std::vector<std::string>& extra) {
  std::vector<std::string> overrides = Overrides();
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  std::vector<std::string> args = {"pullmail-sim",
                                   "--scenario=" + absl::GetFlag(FLAGS_scenario),
                                   "--out=" + out,
                                   "--set=" + absl::StrJoin(overrides, ";"),
                                   "--progress=off",
                                   "--plots=false",
                                   "--quiet"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execv("/proc/self/exe", argv.data());
    _exit(127);
  }
  return pid;
}

int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }

// Runs this binary again on the same scenario with extra overrides; waits.
int RunChild(const std::string& out, const std::vector<std::string>& extra) {
  pid_t pid = StartChild(out, extra);
  if (pid < 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return ExitCode(status);
}

// Runs sweep points [0, n) as child processes, up to `jobs` at once; each
// writes only its own folder, so the order they finish in changes nothing.
// Returns false (after all started ones ended) if any failed.
bool RunPoints(const std::string& key, const std::vector<std::string>& values,
               const std::string& out, int jobs) {
  std::map<pid_t, size_t> running;
  size_t next = 0;
  bool ok = true;
  while (next < values.size() || !running.empty()) {
    while (ok && next < values.size() && static_cast<int>(running.size()) < std::max(jobs, 1)) {
      const std::string& v = values[next];
      std::cerr << "sweep: " << key << " = " << v << "\n";
      pid_t pid = StartChild(absl::StrCat(out, "/sweep/", key, "=", v), {absl::StrCat(key, "=", v)});
      if (pid < 0) {
        std::cerr << "sweep run " << key << "=" << v << ": cannot start a process\n";
        ok = false;
        break;
      }
      running[pid] = next++;
    }
    if (running.empty()) break;
    int status = 0;
    pid_t done = waitpid(-1, &status, 0);
    if (done < 0) break;
    auto it = running.find(done);
    if (it == running.end()) continue;
    if (int rc = ExitCode(status); rc != 0) {
      std::cerr << "sweep run " << key << "=" << values[it->second] << " failed (exit " << rc
                << ")\n";
      ok = false;
    }
    running.erase(it);
  }
  return ok;
}

int Sweep(const std::string& out) {
  const std::string spec = absl::GetFlag(FLAGS_sweep);
  size_t eq = spec.find('=');
  if (eq == std::string::npos) {
    std::cerr << "--sweep wants key=v1,v2,...\n";
    return 2;
  }
  const std::string key = spec.substr(0, eq);
  std::vector<std::string> values = absl::StrSplit(spec.substr(eq + 1), ',', absl::SkipEmpty());
  const int point = absl::GetFlag(FLAGS_sweep_point);
  if (point >= 0) {
    // One point of a job array: run it, leave the merge to --merge.
    if (static_cast<size_t>(point) >= values.size()) {
      std::cerr << "--sweep_point " << point << ": the sweep has " << values.size()
                << " points (0.." << values.size() - 1 << ")\n";
      return 2;
    }
    const std::string& v = values[point];
    std::cerr << "sweep point " << point << ": " << key << " = " << v << "\n";
    int rc = RunChild(absl::StrCat(out, "/sweep/", key, "=", v), {absl::StrCat(key, "=", v)});
    if (rc != 0) std::cerr << "sweep run " << key << "=" << v << " failed (exit " << rc << ")\n";
    return rc == 0 ? 0 : 1;
  }
  if (!absl::GetFlag(FLAGS_merge) && !RunPoints(key, values, out, absl::GetFlag(FLAGS_jobs))) {
    return 1;
  }
  // The merge: the points' summaries in the order the values were given.
  std::vector<std::map<std::string, std::pair<double, double>>> runs;
  for (const std::string& v : values) {
    const std::string dir = absl::StrCat(out, "/sweep/", key, "=", v);
    runs.emplace_back();
    if (absl::Status s = ReadSummaryCsv(dir + "/summary.csv", &runs.back()); !s.ok()) {
      std::cerr << s << (absl::GetFlag(FLAGS_merge) ? " (has every --sweep_point run?)" : "")
                << "\n";
      return 1;
    }
  }
  std::string note;
  if (absl::Status s = WriteSweep(out, key, values, runs, absl::GetFlag(FLAGS_plots), &note); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  std::cout << "sweep of " << key << " over " << values.size() << " values: " << out
            << "/sweep.csv (" << note << ")\n";
  return 0;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "sim/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::ParseCommandLine(argc, argv);
  SetLogProgramName("pullmail-sim");
  const std::string path = absl::GetFlag(FLAGS_scenario);
  if (path.empty()) {
    std::cerr << "pullmail-sim: " << kUsage << "\n--scenario is required; --help lists every flag.\n";
    return 2;
  }
  absl::StatusOr<Scenario> sc = LoadScenario(path, Overrides());
  if (!sc.ok()) {
    std::cerr << "pullmail-sim: " << sc.status().message() << "\n";
    return 2;
  }
  std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) out = absl::StrCat("results/", sc->run.name);
  if (!absl::GetFlag(FLAGS_sweep).empty()) return Sweep(out);

  const std::string progress = absl::GetFlag(FLAGS_progress);
  RunOptions options;
  options.progress = progress == "on" || (progress == "auto" && isatty(2));
  const auto wall0 = std::chrono::steady_clock::now();
  absl::StatusOr<RunResult> r = RunScenario(*sc, options);
  if (!r.ok()) {
    std::cerr << "pullmail-sim: " << r.status().message() << "\n";
    return 1;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  std::string summary;
  if (absl::Status s = WriteResults(*r, out, &summary); !s.ok()) {
    std::cerr << "pullmail-sim: " << s.message() << "\n";
    return 1;
  }
  if (const std::string w = absl::GetFlag(FLAGS_workload_out); !w.empty()) {
    if (absl::Status s = WriteWorkload(*r, w); !s.ok()) {
      std::cerr << "pullmail-sim: " << s.message() << "\n";
      return 1;
    }
  }
  const bool conserved = r->pull_conserved && r->push_conserved;
  const bool pull = r->pull != nullptr, push = r->push != nullptr;
  const Scenario scenario = *sc;
  const double verify_us = r->cost.verify_seconds * 1e6, sign_us = r->cost.sign_seconds * 1e6;
  r->world.reset();  // free the world before child runs

  bool k_sweep = false;
  if (!scenario.output.k_values.empty() && pull) {
    std::map<std::string, std::pair<double, double>> main_run;
    (void)ReadSummaryCsv(out + "/summary.csv", &main_run);
    std::vector<std::map<std::string, std::pair<double, double>>> runs;
    for (double k : scenario.output.k_values) {
      const std::string dir = absl::StrCat(out, "/k/k=", k);
      if (options.progress) std::cerr << "k figure: pull run with spam_threshold_k = " << k << "\n";
      if (int rc = RunChild(dir, {absl::StrCat("policy.spam_threshold_k=", k), "run.mode=\"pull\"",
                                  "output.k_values=[]"});
          rc != 0) {
        std::cerr << "k run " << k << " failed (exit " << rc << ")\n";
        return 1;
      }
      runs.emplace_back();
      if (absl::Status s = ReadSummaryCsv(dir + "/summary.csv", &runs.back()); !s.ok()) {
        std::cerr << s << "\n";
        return 1;
      }
    }
    if (absl::Status s = WriteKSweep(out, scenario.output.k_values, runs, main_run); !s.ok()) {
      std::cerr << s << "\n";
      return 1;
    }
    k_sweep = true;
  }
  std::string note = "plots disabled";
  if (absl::GetFlag(FLAGS_plots) && scenario.output.plots) {
    if (absl::Status s = WritePlots(out, pull, push, k_sweep, &note); !s.ok()) {
      std::cerr << "pullmail-sim: " << s.message() << "\n";
      return 1;
    }
  }
  if (!absl::GetFlag(FLAGS_quiet)) {
    std::cout << summary << "\nresults in " << out << "/ (" << note << ")\n";
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::cerr << absl::StrFormat(
      "pullmail-sim: wall %.1f s, peak RSS %.0f MB; real Ed25519 here: sign %.1f us, verify %.1f us\n",
      wall, ru.ru_maxrss / 1024.0, sign_us, verify_us);
  if (!conserved) {
    std::cerr << "pullmail-sim: CONSERVATION FAILED: some copy has no outcome or two\n";
    return 3;
  }
  return 0;
}

}  // namespace
}  // namespace pullmail::sim

int main(int argc, char** argv) { return pullmail::sim::Main(argc, argv); }
