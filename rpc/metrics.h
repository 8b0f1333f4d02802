// Counters in Prometheus text exposition format, and a tiny HTTP endpoint
// that serves them at GET /metrics. Counters are process-wide, lock-free to
// bump, and named once where they are defined:
//
//   Metrics& m = Metrics::Global();
//   m.Add("pullmail_notifications_rejected_total{reason=\"bad_signature\"}", 1);
#ifndef PULLMAIL_RPC_METRICS_H_
#define PULLMAIL_RPC_METRICS_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace pullmail {

class Metrics {
 public:
  static Metrics& Global();

  // Adds `delta` to the counter named `series` (metric name plus optional
  // {labels}). Thread-safe. The first use of a name creates it.
  void Add(const std::string& series, uint64_t delta = 1);
  uint64_t Get(const std::string& series) const;
  // All counters, sorted, with one "# TYPE name counter" line per metric name.
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<std::atomic<uint64_t>>> counters_;
};

// Serves Metrics::Global().Render() over HTTP/1.0 on `listen` (host:port;
// port 0 picks one). One thread; requests are answered one at a time, which
// is plenty for a scraper. Stops and joins on destruction.
class MetricsServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer(int fd, int port);
  void Loop();
  int fd_;
  int port_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace pullmail

#endif  // PULLMAIL_RPC_METRICS_H_
