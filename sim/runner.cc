// One run (see runner.h).
#include "sim/runner.h"

#include <simgrid/s4u.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/util/logging.h"
#include "core/util/strings.h"
#include "sim/pull_world.h"
#include "sim/push_world.h"

namespace pullmail::sim {
namespace {

namespace sg4 = simgrid::s4u;

// The generated platform: one star, each host with its own link (the
// provider's or the bot's access link) to the core.
std::vector<sg4::Host*> BuildHosts(sg4::NetZone* zone, const World& w, std::string_view prefix) {
  const NetworkConfig& n = w.scenario().network;
  std::vector<sg4::Host*> hosts;
  for (int node = 0; node < w.nodes(); ++node) {
    const bool bot = w.IsBot(node);
    std::string name = absl::StrCat(AV(prefix), bot ? "-bot" : "-p", bot ? node - w.providers() : node);
    sg4::Host* h = zone->create_host(name, n.cpu_speed);
    sg4::SplitDuplexLink* l =
        zone->create_split_duplex_link(absl::StrCat(name, "-link"), bot ? n.bot_bandwidth : n.bandwidth);
    l->set_latency(bot ? n.bot_latency : n.latency);
    zone->add_route(h->get_netpoint(), nullptr, nullptr, nullptr,
                    {sg4::LinkInRoute(l, sg4::LinkInRoute::Direction::UP)}, true);
    h->seal();
    hosts.push_back(h);
  }
  return hosts;
}

// Columns of one world in the time series.
void AddColumns(std::vector<std::string>& cols, std::string_view w) {
  for (int k = 0; k < static_cast<int>(ByteKind::kCount); ++k) {
    cols.push_back(absl::StrCat(AV(w), "_bytes_", AV(ByteKindName(static_cast<ByteKind>(k)))));
  }
  for (const char* c : {"bytes_total", "storage_sender", "storage_recipient", "storage_spammer",
                        "sender_byte_hours", "recipient_byte_hours", "spammer_byte_hours",
                        "messages_created", "spam_shown", "spam_read", "spam_bodies_transferred",
                        "legit_read", "fetch_failures", "fetch_failures_offline", "suppressed"}) {
    cols.push_back(absl::StrCat(AV(w), "_", c));
  }
}

void AddValues(std::vector<double>& row, WorldMetrics& m, double now) {
  m.sender_storage.Advance(now);
  m.recipient_storage.Advance(now);
  m.spammer_storage.Advance(now);
  for (uint64_t b : m.bytes) row.push_back(static_cast<double>(b));
  row.push_back(static_cast<double>(m.total_bytes()));
  row.push_back(m.sender_storage.value());
  row.push_back(m.recipient_storage.value());
  row.push_back(m.spammer_storage.value());
  row.push_back(m.sender_storage.integral() / 3600);
  row.push_back(m.recipient_storage.integral() / 3600);
  row.push_back(m.spammer_storage.integral() / 3600);
  row.push_back(static_cast<double>(m.messages_created));
  row.push_back(static_cast<double>(m.copies_shown[1]));
  row.push_back(static_cast<double>(m.copies_read[1]));
  row.push_back(static_cast<double>(m.bodies_fetched[1]));
  row.push_back(static_cast<double>(m.copies_read[0]));
  row.push_back(static_cast<double>(m.fetch_failures()));
  row.push_back(static_cast<double>(m.fetch_failures_offline));
  row.push_back(static_cast<double>(m.Outcomes(Outcome::kSuppressed, 0) +
                                    m.Outcomes(Outcome::kSuppressed, 1)));
}

std::string FormatDuration(double s) {
  if (s < 3600) return absl::StrFormat("%.0fm", s / 60);
  if (s < 86400 * 2) return absl::StrFormat("%.1fh", s / 3600);
  return absl::StrFormat("%.1fd", s / 86400);
}

}  // namespace

absl::StatusOr<RunResult> RunScenario(const Scenario& sc, const RunOptions& options) {
  RunResult result;
  const auto wall_start = std::chrono::steady_clock::now();
  if (options.progress) std::fprintf(stderr, "generating the world...\n");
  absl::StatusOr<std::unique_ptr<World>> world =
      options.script ? World::FromScript(sc, *options.script) : World::Generate(sc);
  if (!world.ok()) return world.status();
  result.world = *std::move(world);
  const World& w = *result.world;

  // Real Ed25519 for small runs; the model (crypto_model.h) past the limit.
  // What real Ed25519 costs on this machine (reported on stderr only: a
  // measurement would make the outputs differ from run to run).
  result.cost = Calibrate();
  CryptoCost modelled{sc.network.sign_cost, sc.network.verify_cost};
  const bool real = sc.run.crypto == CryptoMode::kReal ||
                    (sc.run.crypto == CryptoMode::kAuto && w.notifications() <= sc.run.crypto_real_limit);
  result.signatures = real ? SignatureImpl::kReal : SignatureImpl::kModel;
  SetSignatureImpl(result.signatures);

  // The engine, configured through its argv.
  std::vector<std::string> args = {
      "pullmail-sim",
      absl::StrCat("--cfg=network/model:", sc.network.model),
      "--cfg=contexts/stack-size:256",
      "--log=root.thres:warning",
  };
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  sg4::Engine engine(&argc, argv.data());

  const bool want_pull = sc.run.mode != Mode::kPush;
  const bool want_push = sc.run.mode != Mode::kPull;
  std::vector<sg4::Host*> pull_hosts, push_hosts;
  if (sc.network.platform.empty()) {
    sg4::NetZone* zone = sg4::create_star_zone("internet");
    if (want_pull) pull_hosts = BuildHosts(zone, w, "pull");
    if (want_push) push_hosts = BuildHosts(zone, w, "push");
    zone->seal();
    result.platform = "generated star";
  } else {
    engine.load_platform(sc.network.platform);
    std::vector<sg4::Host*> all = engine.get_all_hosts();
    std::sort(all.begin(), all.end(),
              [](sg4::Host* a, sg4::Host* b) { return a->get_name() < b->get_name(); });
    const size_t need = static_cast<size_t>(w.nodes());
    if (all.size() < need) {
      return absl::InvalidArgumentError(absl::StrCat(sc.network.platform, " has ", all.size(),
                                                     " hosts; the scenario needs ", need));
    }
    pull_hosts.assign(all.begin(), all.begin() + need);
    if (want_pull && want_push && all.size() >= 2 * need) {
      push_hosts.assign(all.begin() + need, all.begin() + 2 * need);
    } else {
      push_hosts = pull_hosts;
      result.shared_hosts = want_pull && want_push;
    }
    result.platform = sc.network.platform;
  }

  Net net(static_cast<uint64_t>(sc.network.small_flow_bytes));
  std::unique_ptr<PullWorld> pull;
  std::unique_ptr<PushWorld> push;
  if (want_pull) {
    result.pull = std::make_unique<WorldMetrics>(w.users());
    pull = std::make_unique<PullWorld>(w, pull_hosts, &net, result.pull.get(), modelled);
    pull->CreateActors();
  }
  if (want_push) {
    result.push = std::make_unique<WorldMetrics>(w.users());
    push = std::make_unique<PushWorld>(w, push_hosts, &net, result.push.get());
    push->CreateActors();
  }

  // The controller: samples every sample_interval until the worlds are done.
  TimeSeries& ts = result.series;
  ts.columns.push_back("hours");
  if (want_pull) AddColumns(ts.columns, "pull");
  if (want_push) AddColumns(ts.columns, "push");
  const double interval = sc.run.sample_interval;
  const double horizon = w.horizon();
  const uint64_t total_messages = w.messages().size();
  sg4::Host* controller_host = want_pull ? pull_hosts[0] : push_hosts[0];
  sg4::Actor::create("controller", controller_host, [&]() {
    auto last_print = std::chrono::steady_clock::now() - std::chrono::seconds(10);
    double t = 0;
    while (true) {
      const double now = sg4::Engine::get_clock();
      std::vector<double> row{now / 3600};
      if (result.pull) AddValues(row, *result.pull, now);
      if (result.push) AddValues(row, *result.push, now);
      ts.rows.push_back(std::move(row));
      const bool running = (pull && pull->running() > 0) || (push && push->running() > 0);
      const bool capped = sc.run.max_time > 0 && now >= sc.run.max_time;
      if (options.progress) {
        auto wall = std::chrono::steady_clock::now();
        if (!running || capped || wall - last_print > std::chrono::milliseconds(250)) {
          last_print = wall;
          // The horizon bounds the run; a run usually ends before it, and
          // then the bar says 100% at the time it ended.
          const double end = sc.run.max_time > 0 ? std::min(horizon, sc.run.max_time) : horizon;
          const bool done = !running || capped;
          const double frac = done ? 1.0 : std::min(1.0, now / end);
          const int width = 30, filled = static_cast<int>(frac * width);
          const uint64_t created =
              result.pull ? result.pull->messages_created : result.push->messages_created;
          const double secs = std::chrono::duration<double>(wall - wall_start).count();
          std::fprintf(stderr, "\r[%s%s] %3.0f%%  sim %s / %s  messages %llu/%llu  wall %.0fs ",
                       std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                       frac * 100, FormatDuration(now).c_str(), FormatDuration(done ? now : end).c_str(),
                       static_cast<unsigned long long>(created),
                       static_cast<unsigned long long>(total_messages), secs);
          if (done) std::fprintf(stderr, "\n");
          std::fflush(stderr);
        }
      }
      if (!running) break;
      if (capped) {
        sg4::Actor::kill_all();
        break;
      }
      t += interval;
      sg4::this_actor::sleep_until(t);
    }
  });

  engine.run();
  result.end_time = sg4::Engine::get_clock();
  if (pull) {
    result.pull_conserved = pull->CopiesAllFinal();
    result.pull_trace = pull->copy_trace();
  }
  if (push) result.push_conserved = push->CopiesAllFinal();
  result.crypto = GetCryptoCounters();
  return result;
}

}  // namespace pullmail::sim
