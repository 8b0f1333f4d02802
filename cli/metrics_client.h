// Reads a node's Prometheus counters (GET /metrics on its metrics_listen
// address) so that `pullmail status` and `pullmail demo` can say how many
// bytes moved. Only the text exposition format's sample lines are parsed:
// `name{labels} value` or `name value`; comments and blank lines are skipped.
#ifndef PULLMAIL_CLI_METRICS_CLIENT_H_
#define PULLMAIL_CLI_METRICS_CLIENT_H_

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace pullmail::cli {

// Series ("name" or "name{labels}", exactly as exposed) -> value.
using MetricSamples = std::map<std::string, double, std::less<>>;

// Parses exposition text. Lines that do not parse are skipped (a scraper
// must not fail on a series it does not know). Pure.
MetricSamples ParseMetrics(std::string_view text);

// Fetches http://<host_port>/metrics with HTTP/1.0 over a plain TCP socket.
// Blocks the calling thread for at most `timeout`. kUnavailable when the
// endpoint cannot be reached or does not answer 200 in time.
absl::StatusOr<MetricSamples> ScrapeMetrics(const std::string& host_port,
                                            absl::Duration timeout = absl::Seconds(3));

// The value of one series, e.g. `pullmail_reads_total` or
// `pullmail_fetches_total{result="ok"}`; 0 when absent (a counter that has
// never been bumped may not be exposed yet).
double Metric(const MetricSamples& m, std::string_view series);

// The sum over every series of metric `name` whatever its labels.
double MetricSum(const MetricSamples& m, std::string_view name);

}  // namespace pullmail::cli

#endif  // PULLMAIL_CLI_METRICS_CLIENT_H_
