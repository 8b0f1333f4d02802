// Result files and figures (see report.h).
#include "sim/report.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/util/strings.h"

namespace pullmail::sim {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string Num(double v) {
  if (std::isnan(v)) return "";
  return absl::StrFormat("%.10g", v);
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return kNaN;
  size_t k = static_cast<size_t>(std::min<double>(v.size() - 1, std::floor(q * (v.size() - 1) + 0.5)));
  std::nth_element(v.begin(), v.begin() + k, v.end());
  return v[k];
}

template <typename T>
std::vector<double> AsDoubles(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// The reads of one kind of mail (spam or not) and one size class (-1: all
// sizes), one field of ReadSample, sorted ascending (infinity last: reads
// given up without the body).
std::vector<float> SortedReads(const WorldMetrics& m, bool spam, int size_class, bool delivery) {
  std::vector<float> v;
  for (const ReadSample& r : m.reads) {
    if (r.spam != (spam ? 1 : 0) || (size_class >= 0 && r.size_class != size_class)) continue;
    v.push_back(delivery ? r.delivery : r.read);
  }
  std::sort(v.begin(), v.end());
  return v;
}

// Nearest-rank quantile of a sorted vector (the same rank as Percentile).
double SortedQuantile(const std::vector<float>& v, double q) {
  if (v.empty()) return kNaN;
  size_t k = static_cast<size_t>(std::min<double>(v.size() - 1, std::floor(q * (v.size() - 1) + 0.5)));
  return v[k];
}

// The read latency figures of one world: [spam][size class + 1][field].
struct ReadStats {
  std::array<std::array<std::array<std::vector<float>, 2>, kSizeClasses + 1>, 2> sorted;
  explicit ReadStats(const WorldMetrics& m) {
    for (int spam = 0; spam < 2; ++spam) {
      for (int c = -1; c < kSizeClasses; ++c) {
        for (int f = 0; f < 2; ++f) sorted[spam][c + 1][f] = SortedReads(m, spam, c, f == 1);
      }
    }
  }
  const std::vector<float>& Get(bool spam, int size_class, bool delivery) const {
    return sorted[spam ? 1 : 0][size_class + 1][delivery ? 1 : 0];
  }
};

double Mean(const std::vector<uint32_t>& v) {
  if (v.empty()) return kNaN;
  double s = 0;
  for (uint32_t x : v) s += x;
  return s / v.size();
}

double Max(const std::vector<uint32_t>& v) {
  return v.empty() ? kNaN : *std::max_element(v.begin(), v.end());
}

// Human form for the text summary: bytes with SI prefixes, others %.4g.
std::string Human(double v, bool bytes) {
  if (std::isnan(v)) return "-";
  if (!bytes) {
    if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrFormat("%.0f", v);
    return absl::StrFormat("%.4g", v);
  }
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (std::fabs(v) >= 1000 && u < 5) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? absl::StrFormat("%.0f B", v) : absl::StrFormat("%.3g %s", v, units[u]);
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  out << text;
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("error writing ", path));
  return absl::OkStatus();
}

// Adds a row whose value is f(metrics) for each world that ran.
template <typename F>
void Row(std::vector<SummaryRow>& rows, const RunResult& r, std::string key, std::string label,
         F f) {
  rows.push_back(SummaryRow{std::move(key), std::move(label), r.pull ? f(*r.pull) : kNaN,
                            r.push ? f(*r.push) : kNaN});
}

}  // namespace

std::vector<SummaryRow> SummaryRows(const RunResult& r) {
  std::vector<SummaryRow> rows;
  const World& w = *r.world;
  uint64_t spam_messages = 0;
  for (const Message& m : w.messages()) spam_messages += m.campaign != 0;
  const double end = r.end_time;
  auto both = [&](std::string key, std::string label, double v) {
    rows.push_back(SummaryRow{std::move(key), std::move(label), r.pull ? v : kNaN, r.push ? v : kNaN});
  };
  both("messages", "messages", static_cast<double>(w.messages().size()));
  both("messages_spam", "  of which spam", static_cast<double>(spam_messages));
  both("notifications", "notifications (message x recipient domain)", static_cast<double>(w.notifications()));
  both("copies", "copies (message x recipient)", static_cast<double>(w.copies()));

  Row(rows, r, "bytes_total", "bytes moved, total", [](const WorldMetrics& m) { return static_cast<double>(m.total_bytes()); });
  for (int k = 0; k < static_cast<int>(ByteKind::kCount); ++k) {
    ByteKind kind = static_cast<ByteKind>(k);
    Row(rows, r, absl::StrCat("bytes_", AV(ByteKindName(kind))), absl::StrCat("  ", AV(ByteKindName(kind))),
        [kind](const WorldMetrics& m) { return static_cast<double>(m.Bytes(kind)); });
  }
  Row(rows, r, "bytes_per_message", "bytes moved per message", [&](const WorldMetrics& m) {
    return w.messages().empty() ? kNaN : static_cast<double>(m.total_bytes()) / w.messages().size();
  });
  Row(rows, r, "storage_sender_peak", "storage at senders, peak", [](const WorldMetrics& m) { return m.sender_storage.peak(); });
  Row(rows, r, "storage_sender_byte_hours", "storage at senders, byte-hours", [&](const WorldMetrics& m) {
    Level l = m.sender_storage;
    l.Advance(end);
    return l.integral() / 3600;
  });
  Row(rows, r, "storage_recipient_peak", "storage at recipients, peak", [](const WorldMetrics& m) { return m.recipient_storage.peak(); });
  Row(rows, r, "storage_recipient_byte_hours", "storage at recipients, byte-hours", [&](const WorldMetrics& m) {
    Level l = m.recipient_storage;
    l.Advance(end);
    return l.integral() / 3600;
  });
  Row(rows, r, "spammer_storage_byte_hours", "spammer's storage cost, byte-hours", [&](const WorldMetrics& m) {
    Level l = m.spammer_storage;
    l.Advance(end);
    return l.integral() / 3600;
  });
  Row(rows, r, "spammer_storage_peak", "spammer's storage, peak", [](const WorldMetrics& m) { return m.spammer_storage.peak(); });
  {
    // Byte-hours as money at the stated price ([economics]).
    const double usd_per_byte_hour = w.scenario().economics.storage_usd_per_gb_month / 1e9 / 730;
    auto usd = [&, usd_per_byte_hour](Level WorldMetrics::*level) {
      return [&, usd_per_byte_hour, level](const WorldMetrics& m) {
        Level l = m.*level;
        l.Advance(end);
        return l.integral() / 3600 * usd_per_byte_hour;
      };
    };
    Row(rows, r, "storage_sender_usd", "storage at senders, USD at the stated price", usd(&WorldMetrics::sender_storage));
    Row(rows, r, "storage_recipient_usd", "storage at recipients, USD", usd(&WorldMetrics::recipient_storage));
    Row(rows, r, "spammer_storage_usd", "spammer's storage, USD", usd(&WorldMetrics::spammer_storage));
  }

  for (int o = 0; o < static_cast<int>(Outcome::kCount); ++o) {
    for (int spam = 0; spam < 2; ++spam) {
      Outcome out = static_cast<Outcome>(o);
      Row(rows, r, absl::StrCat(AV(OutcomeName(out)), spam ? "_spam" : "_legit"),
          absl::StrCat("copies ", AV(OutcomeName(out)), spam ? ", spam" : ", legit"),
          [out, spam](const WorldMetrics& m) { return static_cast<double>(m.Outcomes(out, spam)); });
    }
  }
  Row(rows, r, "copies_accounted", "copies accounted for (must equal copies)",
      [](const WorldMetrics& m) { return static_cast<double>(m.OutcomeTotal()); });

  Row(rows, r, "spam_shown", "spam notifications shown (copies)", [](const WorldMetrics& m) { return static_cast<double>(m.copies_shown[1]); });
  Row(rows, r, "spam_read", "spam opened by readers", [](const WorldMetrics& m) { return static_cast<double>(m.copies_read[1]); });
  {
    const EconomicsConfig& e = w.scenario().economics;
    const double per_open = e.conversion_per_open * e.revenue_per_sale;
    Row(rows, r, "spammer_revenue_usd", "spammers' revenue, USD (spam opened x conversion x sale)",
        [per_open](const WorldMetrics& m) { return m.copies_read[1] * per_open; });
    for (size_t c = 0; c < w.scenario().campaigns.size(); ++c) {
      Row(rows, r, absl::StrCat("spammer_revenue_usd_campaign", c),
          absl::StrCat("  campaign ", c, " (", w.scenario().campaigns[c].name, ")"),
          [per_open, c](const WorldMetrics& m) {
            return c < m.spam_read_per_campaign.size() ? m.spam_read_per_campaign[c] * per_open : 0.0;
          });
    }
  }
  // Not like for like (push: delivered to a mailbox; pull: opened), so no
  // ratio: compare spam_read (opened vs opened) or delivered_spam.
  Row(rows, r, "spam_bodies_at_users",
      "spam bodies held for users (push: delivered; pull: opened)", [](const WorldMetrics& m) {
        uint64_t total = 0;
        for (uint32_t x : m.spam_bodies_per_user) total += x;
        return static_cast<double>(total);
      });
  rows.back().ratio = false;
  Row(rows, r, "legit_shown", "legitimate copies shown", [](const WorldMetrics& m) { return static_cast<double>(m.copies_shown[0]); });
  Row(rows, r, "legit_read", "legitimate copies opened", [](const WorldMetrics& m) { return static_cast<double>(m.copies_read[0]); });
  Row(rows, r, "spam_shown_per_user_mean", "spam shown per user, mean", [](const WorldMetrics& m) { return Mean(m.spam_shown_per_user); });
  Row(rows, r, "spam_shown_per_user_p99", "spam shown per user, p99", [](const WorldMetrics& m) { return Percentile(AsDoubles(m.spam_shown_per_user), 0.99); });
  Row(rows, r, "spam_shown_per_user_max", "spam shown per user, max", [](const WorldMetrics& m) { return Max(m.spam_shown_per_user); });
  Row(rows, r, "spam_bodies_per_user_mean", "spam bodies per user, mean", [](const WorldMetrics& m) { return Mean(m.spam_bodies_per_user); });
  Row(rows, r, "spam_bodies_per_user_p99", "spam bodies per user, p99", [](const WorldMetrics& m) { return Percentile(AsDoubles(m.spam_bodies_per_user), 0.99); });
  Row(rows, r, "spam_bodies_per_user_max", "spam bodies per user, max", [](const WorldMetrics& m) { return Max(m.spam_bodies_per_user); });

  // Read latency per read (docs/SIMULATION.md "Read latency"): legitimate
  // mail by body size class, spam in all; both worlds alike.
  {
    std::unique_ptr<ReadStats> pull_stats, push_stats;
    if (r.pull) pull_stats = std::make_unique<ReadStats>(*r.pull);
    if (r.push) push_stats = std::make_unique<ReadStats>(*r.push);
    auto stat = [&](std::string key, std::string label, auto f) {
      rows.push_back(SummaryRow{std::move(key), std::move(label), pull_stats ? f(*pull_stats) : kNaN,
                                push_stats ? f(*push_stats) : kNaN});
    };
    const std::pair<const char*, double> quantiles[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}};
    for (int spam = 0; spam < 2; ++spam) {
      const std::string kind = spam ? "spam" : "legit";
      for (int c = -1; c < (spam ? 0 : kSizeClasses); ++c) {
        const std::string cls = c < 0 ? "" : absl::StrCat("_", AV(SizeClassName(c)));
        const std::string who = c < 0 ? absl::StrCat(kind, ":")
                                      : absl::StrCat("  body ", AV(SizeClassLabel(c)), ":");
        stat(absl::StrCat("reads_", kind, cls), absl::StrCat(who, c < 0 ? " reads (abandoned included)" : " reads"),
             [=](const ReadStats& st) { return static_cast<double>(st.Get(spam, c, false).size()); });
        for (const auto& [name, q] : quantiles) {
          stat(absl::StrCat("read_latency_", kind, cls, "_", name, "_s"),
               absl::StrCat(c < 0 ? "  " : "    ", "read latency ", name, " (s)"),
               [=, q = q](const ReadStats& st) { return SortedQuantile(st.Get(spam, c, false), q); });
        }
      }
      for (const auto& [name, q] : quantiles) {
        stat(absl::StrCat("delivery_latency_", kind, "_", name, "_s"),
             absl::StrCat(kind, ": delivery latency ", name, " (s)"),
             [=, q = q](const ReadStats& st) { return SortedQuantile(st.Get(spam, -1, true), q); });
      }
    }
  }
  Row(rows, r, "reads_from_cache", "reads served from the node's cache", [](const WorldMetrics& m) { return static_cast<double>(m.cache_hits); });
  Row(rows, r, "tls_handshakes", "TLS handshakes (new connections)", [](const WorldMetrics& m) { return static_cast<double>(m.tls_handshakes); });
  Row(rows, r, "fetch_calls", "fetch calls", [](const WorldMetrics& m) { return static_cast<double>(m.fetch_calls); });
  Row(rows, r, "fetch_failures", "fetch failures", [](const WorldMetrics& m) { return static_cast<double>(m.fetch_failures()); });
  Row(rows, r, "fetch_failures_offline", "  sender offline", [](const WorldMetrics& m) { return static_cast<double>(m.fetch_failures_offline); });
  Row(rows, r, "fetch_failures_expired", "  body expired", [](const WorldMetrics& m) { return static_cast<double>(m.fetch_failures_expired); });
  Row(rows, r, "reads_abandoned", "reads abandoned after retries", [](const WorldMetrics& m) { return static_cast<double>(m.reads_abandoned); });
  Row(rows, r, "fetch_refused_listed", "fetches not made: the sending host is on the blocklist", [](const WorldMetrics& m) { return static_cast<double>(m.fetch_refused_listed); });
  Row(rows, r, "pins", "bodies pinned before expiry", [](const WorldMetrics& m) { return static_cast<double>(m.pins); });
  Row(rows, r, "notifications_accepted", "notifications accepted / domains stored", [](const WorldMetrics& m) { return static_cast<double>(m.notifications_accepted); });
  Row(rows, r, "notifications_duplicate", "duplicates recognised", [](const WorldMetrics& m) { return static_cast<double>(m.notifications_duplicate); });
  Row(rows, r, "notifications_rejected", "notifications rejected", [](const WorldMetrics& m) { return static_cast<double>(m.notifications_rejected); });
  Row(rows, r, "attempts_failed", "delivery attempts to a node that was down", [](const WorldMetrics& m) { return static_cast<double>(m.notify_attempts_failed); });
  Row(rows, r, "bounces", "deliveries bounced", [](const WorldMetrics& m) { return static_cast<double>(m.bounces); });
  Row(rows, r, "copies_held", "copies held back on arrival", [](const WorldMetrics& m) { return static_cast<double>(m.copies_held[0] + m.copies_held[1]); });
  Row(rows, r, "held_at_expiry", "  still held at expiry", [](const WorldMetrics& m) { return static_cast<double>(m.held_at_expiry); });
  Row(rows, r, "reports_spam", "spam reports", [](const WorldMetrics& m) { return static_cast<double>(m.reports_spam); });
  Row(rows, r, "suppress_events", "bodies suppressed at a node (threshold reached)", [](const WorldMetrics& m) { return static_cast<double>(m.suppress_events); });
  Row(rows, r, "push_filtered", "spam junked by the push content filter", [](const WorldMetrics& m) { return static_cast<double>(m.filtered_push); });
  Row(rows, r, "push_filtered_legit", "legitimate copies junked by the push content filter (false positives)", [](const WorldMetrics& m) { return static_cast<double>(m.filtered_push_legit); });
  Row(rows, r, "dnsbl_sessions_refused", "sessions refused because the sending host is on the blocklist (push: before DATA; pull: at the node's edge)", [](const WorldMetrics& m) { return static_cast<double>(m.dnsbl_sessions_refused); });
  Row(rows, r, "push_greylist_deferrals", "push SMTP sessions deferred (450) by greylisting", [](const WorldMetrics& m) { return static_cast<double>(m.greylist_deferrals); });
  Row(rows, r, "push_greylist_dropped", "push transactions a bot dropped after a greylisting 450", [](const WorldMetrics& m) { return static_cast<double>(m.greylist_dropped); });
  Row(rows, r, "push_backscatter_bounces", "bounces for unknown recipients sent to a forged (innocent) sender", [](const WorldMetrics& m) { return static_cast<double>(m.backscatter_bounces); });
  Row(rows, r, "push_unknown_recipient_bounces_legit", "bounces for unknown recipients sent to a real sender (legitimate mail)", [](const WorldMetrics& m) { return static_cast<double>(m.legit_bounces_unknown); });
  Row(rows, r, "crypto_cpu_seconds", "Ed25519 CPU time, modelled (s)", [](const WorldMetrics& m) { return m.cpu_seconds_crypto; });
  Row(rows, r, "transfers", "transfers simulated as SimGrid flows", [](const WorldMetrics& m) { return static_cast<double>(m.transfers); });
  Row(rows, r, "timed_transfers", "small transfers in closed form", [](const WorldMetrics& m) { return static_cast<double>(m.timed_transfers); });
  both("end_days", "simulated time (days)", end / 86400);
  return rows;
}

absl::Status WriteResults(const RunResult& r, const std::string& dir, std::string* summary) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  const World& w = *r.world;
  const Scenario& sc = w.scenario();
  std::vector<SummaryRow> rows = SummaryRows(r);

  // summary.csv
  std::string csv = "metric,pull,push,pull_over_push\n";
  for (const SummaryRow& row : rows) {
    double ratio = (row.ratio && !std::isnan(row.pull) && !std::isnan(row.push) && row.push != 0) ? row.pull / row.push : kNaN;
    absl::StrAppend(&csv, row.key, ",", Num(row.pull), ",", Num(row.push), ",", Num(ratio), "\n");
  }
  if (absl::Status s = WriteFile(dir + "/summary.csv", csv); !s.ok()) return s;

  // summary.txt
  std::string t;
  absl::StrAppend(&t, "pullmail-sim: ", sc.run.name, "  (seed ", sc.run.seed, ", mode ", AV(ModeName(sc.run.mode)), ")\n");
  absl::StrAppend(&t, "world: ", w.legit_domains(), " domains, ", w.users(), " users, ", w.providers(),
                  " provider hosts, ", sc.campaigns.size(), " spam campaigns, ", w.bots().size(),
                  " bots; platform: ", r.platform, r.shared_hosts ? " (both worlds share its hosts)" : "", "\n");
  absl::StrAppend(&t, "signatures: ",
                  r.signatures == SignatureImpl::kReal ? "real Ed25519" : "model (keyed SipHash, same 64-byte size)",
                  "; ", r.crypto.signs(), " signed, ", r.crypto.verifies(), " verified\n");
  absl::StrAppend(&t, "conservation: pull ", r.pull ? (r.pull_conserved ? "ok" : "FAILED") : "-",
                  ", push ", r.push ? (r.push_conserved ? "ok" : "FAILED") : "-", "\n\n");
  absl::StrAppend(&t, absl::StrFormat("%-48s %14s %14s %10s\n", "", "pull", "push", "pull/push"));
  for (const SummaryRow& row : rows) {
    const bool bytes = (row.key.rfind("bytes", 0) == 0 || row.key.rfind("storage", 0) == 0 ||
                        row.key.rfind("spammer", 0) == 0) &&
                       row.key.find("_usd") == std::string::npos;
    double ratio = (row.ratio && !std::isnan(row.pull) && !std::isnan(row.push) && row.push != 0) ? row.pull / row.push : kNaN;
    std::string ratio_text = std::isnan(ratio) ? "" : absl::StrFormat("%.4g", ratio);
    absl::StrAppend(&t, absl::StrFormat("%-48s %14s %14s %10s\n", row.label, Human(row.pull, bytes),
                                        Human(row.push, bytes), ratio_text));
  }
  if (absl::Status s = WriteFile(dir + "/summary.txt", t); !s.ok()) return s;
  *summary = t;

  // timeseries.csv
  std::string ts = absl::StrJoin(r.series.columns, ",") + "\n";
  for (const std::vector<double>& row : r.series.rows) {
    for (size_t i = 0; i < row.size(); ++i) absl::StrAppend(&ts, i ? "," : "", Num(row[i]));
    ts += "\n";
  }
  if (absl::Status s = WriteFile(dir + "/timeseries.csv", ts); !s.ok()) return s;

  // per_user_spam.csv: how many users saw n spam notifications / bodies.
  {
    const WorldMetrics* worlds[2] = {r.pull.get(), r.push.get()};
    uint32_t top = 0;
    for (const WorldMetrics* m : worlds) {
      if (m == nullptr) continue;
      top = std::max<uint32_t>(top, static_cast<uint32_t>(Max(m->spam_shown_per_user)));
      top = std::max<uint32_t>(top, static_cast<uint32_t>(Max(m->spam_bodies_per_user)));
    }
    top = std::min<uint32_t>(top, 100000);
    std::vector<std::vector<uint64_t>> hist(4, std::vector<uint64_t>(top + 1, 0));
    for (int wi = 0; wi < 2; ++wi) {
      if (worlds[wi] == nullptr) continue;
      for (uint32_t v : worlds[wi]->spam_shown_per_user) ++hist[2 * wi][std::min(v, top)];
      for (uint32_t v : worlds[wi]->spam_bodies_per_user) ++hist[2 * wi + 1][std::min(v, top)];
    }
    std::string pu = "spam_count,pull_users_shown,pull_users_bodies,push_users_shown,push_users_bodies\n";
    for (uint32_t c = 0; c <= top; ++c) {
      absl::StrAppend(&pu, c);
      for (int i = 0; i < 4; ++i) {
        absl::StrAppend(&pu, ",", worlds[i / 2] ? absl::StrCat(hist[i][c]) : std::string());
      }
      pu += "\n";
    }
    if (absl::Status s = WriteFile(dir + "/per_user_spam.csv", pu); !s.ok()) return s;
  }

  // read_latency.csv: per world, kind of mail and size class, the read
  // latency's and the delivery latency's quantiles (the summary's figures);
  // read_latency_cdf.csv: their distributions for the figure.
  {
    std::string rl =
        "world,mail,size_class,reads,abandoned,read_p50_s,read_p90_s,read_p99_s,read_max_s,"
        "delivery_p50_s,delivery_p90_s,delivery_p99_s,delivery_max_s\n";
    std::vector<std::string> cdf_cols;
    std::vector<std::vector<float>> cdf;
    const std::pair<const char*, const WorldMetrics*> worlds[] = {{"pull", r.pull.get()},
                                                                   {"push", r.push.get()}};
    for (const auto& [name, m] : worlds) {
      if (m == nullptr) continue;
      ReadStats st(*m);
      for (int spam = 0; spam < 2; ++spam) {
        for (int c = -1; c < kSizeClasses; ++c) {
          const std::vector<float>& read = st.Get(spam, c, false);
          const std::vector<float>& delivery = st.Get(spam, c, true);
          const size_t abandoned = static_cast<size_t>(
              read.end() - std::lower_bound(read.begin(), read.end(), std::numeric_limits<float>::infinity()));
          absl::StrAppend(&rl, name, ",", spam ? "spam" : "legit", ",",
                          c < 0 ? std::string("all") : std::string(SizeClassName(c)), ",", read.size(), ",", abandoned);
          for (const std::vector<float>* v : {&read, &delivery}) {
            for (double q : {0.5, 0.9, 0.99, 1.0}) absl::StrAppend(&rl, ",", Num(SortedQuantile(*v, q)));
          }
          rl += "\n";
          if (spam == 0 || c < 0) {
            const std::string col =
                absl::StrCat(name, "_", spam ? "spam" : "legit", "_",
                             c < 0 ? std::string("all") : std::string(SizeClassName(c)));
            cdf_cols.push_back(col + "_read_s");
            cdf.push_back(read);
            cdf_cols.push_back(col + "_delivery_s");
            cdf.push_back(delivery);
          }
        }
      }
    }
    if (absl::Status s = WriteFile(dir + "/read_latency.csv", rl); !s.ok()) return s;
    // One row per quantile 0.000 .. 1.000; empty where the class has no
    // reads or the quantile falls on reads given up (no finite latency).
    std::string c = "quantile";
    for (const std::string& col : cdf_cols) absl::StrAppend(&c, ",", col);
    c += "\n";
    for (int i = 0; i <= 1000; ++i) {
      const double q = i / 1000.0;
      absl::StrAppend(&c, absl::StrFormat("%.3f", q));
      for (const std::vector<float>& v : cdf) {
        const double x = SortedQuantile(v, q);
        absl::StrAppend(&c, ",", std::isfinite(x) ? Num(x) : "");
      }
      c += "\n";
    }
    if (absl::Status s = WriteFile(dir + "/read_latency_cdf.csv", c); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ReadSummaryCsv(const std::string& path,
                            std::map<std::string, std::pair<double, double>>* out) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ',');
    if (f.size() < 3) continue;
    double pull = kNaN, push = kNaN;
    if (!f[1].empty()) (void)absl::SimpleAtod(f[1], &pull);
    if (!f[2].empty()) (void)absl::SimpleAtod(f[2], &push);
    (*out)[f[0]] = {pull, push};
  }
  return absl::OkStatus();
}

bool GnuplotAvailable() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

bool RunGnuplot(const std::string& dir, const std::string& script) {
  std::string cmd = absl::StrCat("cd '", dir, "' && gnuplot '", script, "' 2>>gnuplot.log");
  return std::system(cmd.c_str()) == 0;
}

namespace {

// One look for every figure: the same world always has the same colour
// (pull blue, push red), a ratio is black; curves of one world differ by
// dash type; legends sit inside the frame, in head-room left for them above
// the data; axes carry units.
constexpr const char* kPullColour = "#1f77b4";
constexpr const char* kPushColour = "#d62728";
constexpr const char* kRatioColour = "black";

std::string Style(const std::string& colour, int dash) {
  return absl::StrCat("lw 2 lc rgb '", colour, "' dt ", dash);
}

// A script that draws `body` once as PNG and once as SVG.
std::string Script(const std::string& name, const std::string& body) {
  return absl::StrCat(
      "# ", name, ": written by pullmail-sim; run `gnuplot ", name, ".gp` in this folder.\n",
      "set datafile separator ','\nset grid\nset key inside left top opaque box samplen 3 Left reverse\n",
      "set terminal pngcairo noenhanced size 1000,700 font 'Sans,10'\nset output '", name, ".png'\n", body,
      "unset multiplot\nset output\n",
      "set terminal svg noenhanced size 1000,700 font 'Sans,10'\nset output '", name, ".svg'\n", body,
      "unset multiplot\nset output\n");
}

// A CSV file read back for the plots: column name -> values (NaN if empty).
struct Csv {
  std::vector<std::string> names;
  std::vector<std::vector<double>> columns;
  const std::vector<double>* Column(const std::string& name) const {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return &columns[i];
    }
    return nullptr;
  }
};

Csv ReadCsv(const std::string& path) {
  Csv csv;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return csv;
  csv.names = absl::StrSplit(line, ',');
  csv.columns.resize(csv.names.size());
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, ',');
    for (size_t i = 0; i < csv.names.size(); ++i) {
      double v = kNaN;
      if (i < f.size() && !f[i].empty() && !absl::SimpleAtod(f[i], &v)) v = kNaN;
      csv.columns[i].push_back(v);
    }
  }
  return csv;
}

// The x range of a time-series figure, cut to the activity: from 0 to a
// little after the last sample at which one of `cols` changed.
std::string ActiveXRange(const Csv& ts, const std::vector<std::string>& cols) {
  const std::vector<double>* hours = ts.Column("hours");
  if (hours == nullptr || hours->size() < 2) return "set xrange [0:*]\n";
  size_t last = 1;
  for (const std::string& c : cols) {
    const std::vector<double>* v = ts.Column(c);
    if (v == nullptr) continue;
    for (size_t i = 1; i < v->size(); ++i) {
      const bool same = (*v)[i] == (*v)[i - 1] || (std::isnan((*v)[i]) && std::isnan((*v)[i - 1]));
      if (!same) last = std::max(last, i);
    }
  }
  const double end = (*hours)[std::min(last + 1, hours->size() - 1)];
  return absl::StrFormat("set xrange [0:%.6g]\n", end * 1.03);
}

// Curves of one series for the worlds that ran, plus a ratio panel when both
// ran. `yformat`: gnuplot format of the y tics (units).
std::string TwoPanel(const Csv& ts, const std::string& title, const std::string& ylabel,
                     const std::string& yformat,
                     const std::vector<std::pair<std::string, std::string>>& curves, bool pull,
                     bool push, const std::string& ratio_num, const std::string& ratio_den,
                     const std::string& ratio_label = "pull / push") {
  std::string s;
  const bool ratio = pull && push && !ratio_num.empty();
  std::vector<std::string> cols;
  for (const auto& [col, label] : curves) cols.push_back(col);
  if (ratio) {
    cols.push_back(ratio_num);
    cols.push_back(ratio_den);
  }
  s += ActiveXRange(ts, cols);
  if (ratio) {
    s += "set multiplot layout 2,1 title \"" + title + "\"\n";
  } else {
    s += "set title \"" + title + "\"\n";
  }
  s += "set xlabel 'simulated time (h)'\nset ylabel '" + ylabel + "'\nset format y '" + yformat + "'\n";
  s += "set yrange [0:*]\nset offsets 0, 0, graph 0.45, 0\n";
  std::vector<std::string> parts;
  int pull_dash = 0, push_dash = 0;
  for (const auto& [col, label] : curves) {
    const bool is_pull = col.rfind("pull_", 0) == 0;
    if ((is_pull && !pull) || (!is_pull && !push)) continue;
    const std::string style =
        is_pull ? Style(kPullColour, ++pull_dash) : Style(kPushColour, ++push_dash);
    parts.push_back(
        absl::StrCat("'timeseries.csv' using 'hours':'", col, "' with lines ", style, " title '", label, "'"));
  }
  s += "plot " + absl::StrJoin(parts, ", \\\n     ") + "\n";
  if (ratio) {
    s += "set title ''\nset ylabel 'pull / push (ratio)'\nset format y '%g'\n";
    s += absl::StrCat("plot 'timeseries.csv' using 'hours':(column('", ratio_den, "') > 0 ? column('",
                      ratio_num, "') / column('", ratio_den, "') : 1/0) with lines ",
                      Style(kRatioColour, 1), " title '", ratio_label,
                      "', \\\n     1 with lines lw 1 lc rgb 'gray' dt 2 title 'parity (1)'\n");
  }
  s += "set offsets 0, 0, 0, 0\nset yrange [*:*]\nset xrange [*:*]\nset format y '%g'\n";
  return s;
}

// A column of read_latency_cdf.csv worth plotting: it has a positive finite
// value (a log axis drops zeros; a class with no reads has none).
bool Plottable(const Csv& cdf, const std::string& col) {
  const std::vector<double>* v = cdf.Column(col);
  if (v == nullptr) return false;
  for (double x : *v) {
    if (std::isfinite(x) && x > 0) return true;
  }
  return false;
}

}  // namespace

absl::Status WritePlots(const std::string& dir, bool pull, bool push, bool k_sweep,
                        std::string* note) {
  const Csv ts = ReadCsv(dir + "/timeseries.csv");
  std::vector<std::pair<std::string, std::string>> scripts;
  const std::string bytes = "%.1s %cB";
  scripts.emplace_back(
      "fig_bytes",
      TwoPanel(ts, "Bytes moved (cumulative)", "bytes on the wire (B)", bytes,
               {{"pull_bytes_total", "pull: total"},
                {"pull_bytes_notify", "pull: notifications"},
                {"pull_bytes_body", "pull: bodies (reads)"},
                {"pull_bytes_pin", "pull: bodies (pinned)"},
                {"pull_bytes_tls", "pull: TLS"},
                {"push_bytes_total", "push: total"},
                {"push_bytes_push_body", "push: bodies"},
                {"push_bytes_tls", "push: TLS"}},
               pull, push, "pull_bytes_total", "push_bytes_total", "total bytes, pull / push"));
  scripts.emplace_back(
      "fig_storage",
      TwoPanel(ts, "Storage held over time", "bodies held (B)", bytes,
               {{"pull_storage_sender", "pull: at senders"},
                {"pull_storage_recipient", "pull: at recipients"},
                {"push_storage_sender", "push: at senders (queues)"},
                {"push_storage_recipient", "push: at recipients"}},
               pull, push, "pull_recipient_byte_hours", "push_recipient_byte_hours",
               "recipient byte-hours so far, pull / push"));
  scripts.emplace_back(
      "fig_spammer_storage",
      TwoPanel(ts, "Storage held by the spammer (bodies on bots); area = byte-hours",
               "bodies held by bots (B)", bytes,
               {{"pull_storage_spammer", "pull"}, {"push_storage_spammer", "push"}}, pull, push,
               "pull_spammer_byte_hours", "push_spammer_byte_hours",
               "spammer byte-hours so far, pull / push"));
  scripts.emplace_back(
      "fig_spam_over_time",
      TwoPanel(ts, "Spam reaching users (cumulative)", "spam copies", "%.1s%c",
               {{"pull_spam_shown", "pull: spam notifications shown"},
                {"pull_spam_read", "pull: spam opened"},
                {"push_spam_shown", "push: spam delivered to inboxes"},
                {"push_spam_read", "push: spam opened"}},
               pull, push, "pull_spam_read", "push_spam_read", "spam opened, pull / push"));
  if (pull) {
    scripts.emplace_back(
        "fig_fetch_failures",
        TwoPanel(ts, "Fetch failures (cumulative; push fetches nothing)", "failed fetch calls", "%.1s%c",
                 {{"pull_fetch_failures", "pull: all"},
                  {"pull_fetch_failures_offline", "pull: sender (bot) offline"}},
                 pull, false, "", ""));
  }
  {
    std::string s =
        "set title 'Spam per user: how many users got n spam copies'\n"
        "set xlabel 'spam copies per user, n'\nset ylabel 'users (log scale)'\nset logscale y\n"
        "set offsets 0, 0, 0, 0\nset key inside right top opaque box Left reverse\n";
    std::vector<std::string> parts;
    if (pull) {
      parts.push_back(absl::StrCat("'per_user_spam.csv' using 'spam_count':'pull_users_shown' with linespoints ",
                                   Style(kPullColour, 1), " pt 7 ps 0.6 title 'pull: notifications shown'"));
      parts.push_back(absl::StrCat("'per_user_spam.csv' using 'spam_count':'pull_users_bodies' with linespoints ",
                                   Style(kPullColour, 2), " pt 6 ps 0.6 title 'pull: bodies (opened)'"));
    }
    if (push) {
      parts.push_back(absl::StrCat("'per_user_spam.csv' using 'spam_count':'push_users_shown' with linespoints ",
                                   Style(kPushColour, 1), " pt 7 ps 0.6 title 'push: delivered (= bodies)'"));
    }
    s += "plot " + absl::StrJoin(parts, ", \\\n     ") + "\nunset logscale y\n";
    scripts.emplace_back("fig_spam_per_user", s);
  }
  {
    // Read latency per read (read_latency_cdf.csv): legitimate mail by size
    // class, then the delivery latency of both worlds.
    const Csv cdf = ReadCsv(dir + "/read_latency_cdf.csv");
    std::vector<std::string> top, bottom;
    int dash = 0;
    for (int c = -1; c < kSizeClasses; ++c) {
      const std::string cls = c < 0 ? "all" : std::string(SizeClassName(c));
      const std::string col = absl::StrCat("pull_legit_", cls, "_read_s");
      if (!pull || !Plottable(cdf, col)) continue;
      top.push_back(absl::StrCat("'read_latency_cdf.csv' using '", col, "':'quantile' with lines ",
                                 Style(kPullColour, ++dash), " title 'pull: ",
                                 c < 0 ? std::string("all sizes") : absl::StrCat("body ", AV(SizeClassLabel(c))),
                                 "'"));
    }
    const std::pair<const char*, bool> worlds[] = {{"pull", pull}, {"push", push}};
    for (const auto& [w, ran] : worlds) {
      for (const char* mail : {"legit", "spam"}) {
        const std::string col = absl::StrCat(w, "_", mail, "_all_delivery_s");
        if (!ran || !Plottable(cdf, col)) continue;
        bottom.push_back(absl::StrCat(
            "'read_latency_cdf.csv' using '", col, "':'quantile' with lines ",
            Style(std::string(w) == "pull" ? kPullColour : kPushColour, std::string(mail) == "legit" ? 1 : 2),
            " title '", w, ": ", std::string(mail) == "legit" ? "legitimate" : "spam", "'"));
      }
    }
    if (!top.empty() || !bottom.empty()) {
      std::string s =
          "set multiplot layout 2,1\nset logscale x\nset yrange [0:1.45]\nset ytics 0, 0.2, 1\n"
          "set ylabel 'fraction of reads'\nset format x '%g'\n";
      if (!top.empty()) {
        s += "set title 'Read latency per legitimate read: hold-back + fetch (push: 0 s, the body is local; "
             "reads at 0 s and reads given up are off the axis)'\n"
             "set xlabel 'read latency (s, log scale)'\n";
        s += "plot " + absl::StrJoin(top, ", \\\n     ") + "\n";
      }
      if (!bottom.empty()) {
        s += "set title 'Delivery latency per read: creation to body at the reader, less the reader''s own delay'\n"
             "set xlabel 'delivery latency (s, log scale)'\n";
        s += "plot " + absl::StrJoin(bottom, ", \\\n     ") + "\n";
      }
      s += "unset logscale x\nset yrange [*:*]\nset ytics autofreq\n";
      scripts.emplace_back("fig_read_latency", s);
    }
  }
  if (k_sweep) {
    scripts.emplace_back(
        "fig_k",
        absl::StrCat(
            "set title 'Suppression as a function of k (pull runs over the push baseline)'\n"
            "set xlabel 'policy.spam_threshold_k (net spam reports)'\nset ylabel 'pull / push (ratio)'\n"
            "set yrange [0:*]\nset offsets 0.2, 0.2, graph 0.35, 0\nset key inside left top opaque box Left reverse\n"
            "plot 'k_sweep.csv' using 'k':'spam_shown_ratio' with linespoints lw 2 lc rgb '#2ca02c' pt 7 title 'spam notifications shown', \\\n"
            "     'k_sweep.csv' using 'k':'delivered_spam_ratio' with linespoints lw 2 lc rgb '#9467bd' pt 5 title 'spam left in inboxes', \\\n"
            "     'k_sweep.csv' using 'k':'spam_read_ratio' with linespoints ", Style(kRatioColour, 1),
            " pt 9 title 'spam opened', \\\n"
            "     1 with lines lw 1 lc rgb 'gray' dt 2 title 'parity (1)'\n"
            "set yrange [*:*]\nset offsets 0, 0, 0, 0\n"));
  }
  const bool have = GnuplotAvailable();
  int failed = 0;
  for (const auto& [name, body] : scripts) {
    if (absl::Status s = WriteFile(absl::StrCat(dir, "/", name, ".gp"), Script(name, body)); !s.ok()) {
      return s;
    }
    if (have && !RunGnuplot(dir, name + ".gp")) ++failed;
  }
  if (!have) {
    *note = "gnuplot not found: wrote the .gp scripts and CSVs only";
  } else if (failed > 0) {
    *note = absl::StrCat(failed, " gnuplot script(s) failed; see gnuplot.log");
  } else {
    *note = absl::StrCat("plots: ", scripts.size(), " figures as PNG and SVG");
  }
  return absl::OkStatus();
}

absl::Status WriteSweep(const std::string& dir, const std::string& param,
                        const std::vector<std::string>& values,
                        const std::vector<std::map<std::string, std::pair<double, double>>>& runs,
                        bool plots, std::string* note) {
  static const char* kKeys[] = {"bytes_total", "storage_recipient_byte_hours",
                                "storage_sender_byte_hours", "spam_shown", "spam_read",
                                "delivered_spam", "read_latency_legit_p50_s", "read_latency_legit_p99_s",
                                "fetch_failures", "spammer_storage_byte_hours", "rejected_spam",
                                "spammer_revenue_usd"};
  std::string csv = "value";
  for (const char* k : kKeys) absl::StrAppend(&csv, ",pull_", k, ",push_", k, ",ratio_", k);
  csv += "\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    csv += values[i];
    for (const char* k : kKeys) {
      auto it = runs[i].find(k);
      double pull = it == runs[i].end() ? kNaN : it->second.first;
      double push = it == runs[i].end() ? kNaN : it->second.second;
      double ratio = (!std::isnan(pull) && !std::isnan(push) && push != 0) ? pull / push : kNaN;
      absl::StrAppend(&csv, ",", Num(pull), ",", Num(push), ",", Num(ratio));
    }
    csv += "\n";
  }
  if (absl::Status s = WriteFile(dir + "/sweep.csv", csv); !s.ok()) return s;
  // Values are labels (they may carry units: "10m", "1h"), evenly spaced in
  // the order given. Top: spam opened and shown in each world (pull blue,
  // push red); bottom: the pull / push ratios.
  std::string body = absl::StrCat(
      "set multiplot layout 2,1 title 'Sweep of ", param, "'\n",
      "set xlabel '", param, " (values as given)'\nset offsets 0.2, 0.2, graph 0.45, 0\n",
      "set ylabel 'spam copies'\nset yrange [0:*]\nset format y '%.1s%c'\n",
      "plot 'sweep.csv' using 0:'pull_spam_read':xtic(1) with linespoints ", Style(kPullColour, 1),
      " pt 7 title 'pull: spam opened', \\\n",
      "     '' using 0:'push_spam_read':xtic(1) with linespoints ", Style(kPushColour, 1),
      " pt 7 title 'push: spam opened', \\\n",
      "     '' using 0:'pull_spam_shown':xtic(1) with linespoints ", Style(kPullColour, 2),
      " pt 6 title 'pull: spam shown', \\\n",
      "     '' using 0:'push_spam_shown':xtic(1) with linespoints ", Style(kPushColour, 2),
      " pt 6 title 'push: spam delivered to inboxes'\n",
      "set ylabel 'pull / push (ratio)'\nset format y '%g'\nset logscale y\nset yrange [*:*]\n",
      "set offsets 0.2, 0.2, graph 0.6, 0\nset key inside left top opaque box Left reverse\n",
      "plot 'sweep.csv' using 0:'ratio_spam_read':xtic(1) with linespoints ", Style(kRatioColour, 1),
      " pt 9 title 'spam opened', \\\n",
      "     '' using 0:'ratio_spam_shown':xtic(1) with linespoints lw 2 lc rgb '#2ca02c' pt 7 title 'spam shown', \\\n",
      "     '' using 0:'ratio_bytes_total':xtic(1) with linespoints lw 2 lc rgb '#ff7f0e' pt 5 title 'bytes moved', \\\n",
      "     '' using 0:'ratio_storage_recipient_byte_hours':xtic(1) with linespoints lw 2 lc rgb '#8c564b' pt 13 title 'recipient storage (byte-hours)', \\\n",
      "     1 with lines lw 1 lc rgb 'gray' dt 2 title 'parity (1)'\n",
      "unset logscale y\nset offsets 0, 0, 0, 0\n");
  if (absl::Status s = WriteFile(dir + "/sweep.gp", Script("sweep", body)); !s.ok()) return s;
  if (!plots) {
    *note = "plots disabled";
  } else if (!GnuplotAvailable()) {
    *note = "gnuplot not found: wrote sweep.gp and sweep.csv only";
  } else {
    *note = RunGnuplot(dir, "sweep.gp") ? "sweep plot: sweep.png, sweep.svg"
                                        : "gnuplot failed; see gnuplot.log";
  }
  return absl::OkStatus();
}

absl::Status WriteKSweep(const std::string& dir, const std::vector<double>& ks,
                         const std::vector<std::map<std::string, std::pair<double, double>>>& runs,
                         const std::map<std::string, std::pair<double, double>>& main_run) {
  static const char* kKeys[] = {"spam_shown", "delivered_spam", "spam_read",
                                "suppressed_spam", "suppressed_legit", "bytes_total"};
  std::string csv = "k";
  for (const char* k : kKeys) absl::StrAppend(&csv, ",", k, ",", k, "_ratio");
  csv += "\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    csv += Num(ks[i]);
    for (const char* k : kKeys) {
      auto it = runs[i].find(k);
      double pull = it == runs[i].end() ? kNaN : it->second.first;
      auto base = main_run.find(k);
      double push = base == main_run.end() ? kNaN : base->second.second;
      double ratio = (!std::isnan(pull) && !std::isnan(push) && push != 0) ? pull / push : kNaN;
      absl::StrAppend(&csv, ",", Num(pull), ",", Num(ratio));
    }
    csv += "\n";
  }
  return WriteFile(dir + "/k_sweep.csv", csv);
}

}  // namespace pullmail::sim
