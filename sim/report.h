// Results of a run on disk: summary.txt (also printed), summary.csv (one row
// per metric: pull, push, pull/push), timeseries.csv, per_user_spam.csv,
// read_latency.csv, and the gnuplot scripts that draw the figures as PNG and
// SVG (run when gnuplot is installed). Sweeps add sweep.csv and its plot.
// Every file is a pure function of the run: same seed, same bytes.
#ifndef PULLMAIL_SIM_REPORT_H_
#define PULLMAIL_SIM_REPORT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sim/runner.h"

namespace pullmail::sim {

// One summary line. NaN where a world was not simulated.
struct SummaryRow {
  std::string key;    // machine name, e.g. "bytes_total"
  std::string label;  // what the text summary prints
  double pull;
  double push;
  // False where the two worlds' values are not the same quantity, so that no
  // pull/push ratio is printed for them (docs/SIMULATION.md "Figures").
  bool ratio = true;
};

std::vector<SummaryRow> SummaryRows(const RunResult& r);

// Writes every result file into `dir` (created if needed) and returns the
// text of summary.txt in *summary.
absl::Status WriteResults(const RunResult& r, const std::string& dir, std::string* summary);

// Reads a summary.csv back: key -> {pull, push}.
absl::Status ReadSummaryCsv(const std::string& path,
                            std::map<std::string, std::pair<double, double>>* out);

// Writes the figures' gnuplot scripts into `dir` and runs them if gnuplot is
// on PATH. *note says what happened (e.g. "gnuplot not found: scripts only").
// `k_sweep` says whether k_sweep.csv exists.
absl::Status WritePlots(const std::string& dir, bool pull, bool push, bool k_sweep,
                        std::string* note);

// A sweep: one row per value of `param` with the main metrics of each run.
absl::Status WriteSweep(const std::string& dir, const std::string& param,
                        const std::vector<std::string>& values,
                        const std::vector<std::map<std::string, std::pair<double, double>>>& runs,
                        bool plots, std::string* note);

// The k figure's table: one row per k from pull-only runs, with the push
// baseline of the main run for the ratios.
absl::Status WriteKSweep(const std::string& dir, const std::vector<double>& ks,
                         const std::vector<std::map<std::string, std::pair<double, double>>>& runs,
                         const std::map<std::string, std::pair<double, double>>& main_run);

// Runs `gnuplot script` in `dir`; false if gnuplot is missing or fails.
bool RunGnuplot(const std::string& dir, const std::string& script);
bool GnuplotAvailable();

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_REPORT_H_
