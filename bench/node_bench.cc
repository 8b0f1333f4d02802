// node_bench: throughput of real pullmail nodes on loopback (TLS), beside
// the ceilings of the same machine measured in the same run:
//   1. verified, committed notifications/s into one recipient node, unary
//      (8 calls in flight) and streaming (one NotifyStream, single- and
//      batch-signed), beside the Ed25519 verify ceiling of one core. The
//      machine is shared, so each phase runs --reps times (interleaved with
//      the others), each run beside a ceiling measured right before and
//      after it, and the summary gives medians with their spread; with
//      --recipient_pid it also gives the CPU time per notification of the
//      node and of this client, and the share of cores x ceiling that CPU
//      time allows (which other load moves much less than the wall clock);
//   2. body fetch MB/s (first read of a message = a pull from the sender
//      node, verified and cached) for 64 KiB, 1 MiB and 16 MiB bodies,
//      beside a raw gRPC server stream of the same bytes in 64 KiB chunks.
// Run it through bench/run_node_bench.sh, which builds a two-domain world
// with `pullmail init`, starts the four nodes, and stops them afterwards.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/config/node_config.h"
#include "core/crypto/ed25519.h"
#include "core/crypto/encoding.h"
#include "core/crypto/token.h"
#include "core/directory/toml_directory.h"
#include "core/envelope/envelope.h"
#include "core/util/clock.h"
#include "core/util/random.h"
#include "pullmail/v1/pullmail.grpc.pb.h"
#include "rpc/tls.h"
#include "rpc/user_auth.h"

ABSL_FLAG(std::string, from, "", "node.toml of the sending domain (its key signs)");
ABSL_FLAG(std::string, to, "", "node.toml of the receiving domain (its recipient node is measured)");
ABSL_FLAG(std::string, sender_user, "", "user at the sending domain (for Submit)");
ABSL_FLAG(std::string, reader, "", "user at the receiving domain (recipient of everything)");
ABSL_FLAG(std::string, password, "bench", "password of both users");
ABSL_FLAG(int, n, 20000, "notifications per mode");
ABSL_FLAG(int, inflight, 8, "unary calls in flight");
ABSL_FLAG(std::vector<std::string>, fanout, {},
          "node.toml files of the domains a fan-out Submit goes to (comma-separated); this "
          "bench serves their recipient endpoints with a verifying sink");
ABSL_FLAG(int, fanout_submits, 20, "Submits in the fan-out run (each to every --fanout domain)");
ABSL_FLAG(int, campaign, 10000, "messages in the one-domain campaign (to --reader)");
ABSL_FLAG(int, batch, 64, "notifications per batch signature in the batch-signed run");
ABSL_FLAG(std::vector<std::string>, modes, std::vector<std::string>({"unary", "stream", "batch", "send", "fetch"}),
          "what to run, comma-separated: unary, stream (NotifyStream single-signed), batch "
          "(NotifyStream batch-signed), send (fan-out and campaign), fetch (body pulls)");
ABSL_FLAG(int, reps, 3,
          "runs of each notify phase (interleaved); medians and spreads are printed");
ABSL_FLAG(int, ceiling_n, 3000,
          "verifications in each ceiling measurement beside a notify run");
ABSL_FLAG(int, recipient_pid, 0,
          "process id of the measured recipient node: each notify figure then also prints "
          "its CPU time per notification beside this bench's own (the machine is shared)");

namespace pullmail {
namespace {

using SteadyClock = std::chrono::steady_clock;
double Seconds(SteadyClock::time_point a) {
  return std::chrono::duration<double>(SteadyClock::now() - a).count();
}

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "node_bench: %s\n", why.c_str());
  std::exit(1);
}

std::vector<v1::SignedNotification> MakeNotifications(const NodeConfig& from, const SigningKey& key,
                                                      const std::string& to_domain,
                                                      const std::string& reader, int n) {
  SeededRandom rng(static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
  std::vector<v1::SignedNotification> out;
  out.reserve(n);
  v1::Notification t;
  t.set_version(1);
  t.set_envelope_sender(absl::StrCat("bench@", from.domain));
  t.add_recipients(reader);
  t.set_recipient_domain(to_domain);
  t.set_sender_endpoint(from.sender_listen);
  int64_t now = ToUnixMs(absl::Now());
  t.set_created_unix_ms(now);
  // Kept as long as the sending node keeps bodies (its retention, 30 days by
  // default), as its own notifications are. An expiry within the recipient's
  // prefetch margin (24 h by default) would make every unread notification a
  // prefetch candidate at each maintenance pass: work a real inbox does only
  // for mail about to expire, and fetches of bodies the sender never had.
  t.set_expires_unix_ms(now + absl::ToInt64Milliseconds(from.retention));
  t.set_body_size(4096);
  t.mutable_summary()->set_from(absl::StrCat("Bench <bench@", from.domain, ">"));
  t.mutable_summary()->add_to(reader);
  t.mutable_summary()->set_subject("benchmark notification");
  t.set_origin(v1::ORIGIN_NATIVE);
  for (int i = 0; i < n; ++i) {
    t.set_message_id(NewMessageId(rng, from.domain, absl::Now()));
    // Each its own body, as real mail has: the notifications(body_sha256)
    // index then grows at random places, as it does in a real store.
    t.set_body_sha256(rng.Bytes(32));
    t.set_fetch_token(NewToken(rng));
    auto s = SignNotification(t, from.domain, from.key_id, key);
    if (!s.ok()) Die(std::string(s.status().message()));
    out.push_back(*s);
  }
  return out;
}

// Re-signs `singles` in batches of `batch_size` (the sender node's batch
// signature, docs/PROTOCOL.md 4.1).
std::vector<v1::SignedNotification> Rebatch(const NodeConfig& from, const SigningKey& key,
                                            std::vector<v1::SignedNotification> singles,
                                            size_t batch_size) {
  std::vector<v1::SignedNotification> out;
  out.reserve(singles.size());
  for (size_t i = 0; i < singles.size(); i += batch_size) {
    std::vector<v1::SignedNotification> part(
        std::make_move_iterator(singles.begin() + i),
        std::make_move_iterator(singles.begin() + std::min(singles.size(), i + batch_size)));
    auto b = BatchSign(std::move(part), from.key_id, key);
    if (!b.ok()) Die(std::string(b.status().message()));
    for (auto& n : *b) out.push_back(std::move(n));
  }
  return out;
}

// The machine's load, printed beside each figure: this host is shared.
std::string Load() {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) < 1) return "load ?";
  return absl::StrFormat("load %.2f", l[0]);
}

bool Mode(const std::string& m) {
  for (const std::string& x : absl::GetFlag(FLAGS_modes)) {
    if (x == m) return true;
  }
  return false;
}

// CPU seconds (user + system) used so far by process `pid` (/proc/PID/stat),
// or by this process when pid is 0; -1 when unknown.
double CpuSeconds(int pid) {
  if (pid == 0) {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  }
  std::ifstream f(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(f, line)) return -1;
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stod(field);
    if (i == 15) stime = std::stod(field);
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU seconds of the measured recipient node (--recipient_pid), or -1.
double NodeCpuSeconds() {
  const int pid = absl::GetFlag(FLAGS_recipient_pid);
  return pid > 0 ? CpuSeconds(pid) : -1;
}

// The node's CPU seconds by thread name (/proc/PID/task/*/stat), for the
// threads the recipient node names: "pm-verify" (the verification pool),
// "pm-commit" (the committer), "pm-maintain" (the maintenance pass). The
// rest (gRPC's threads, each stream's reader, threads that have ended) is
// the process's total minus these.
struct NodeThreads {
  double verify = 0, commit = 0, maintain = 0;
};
NodeThreads NodeThreadCpu() {
  NodeThreads t;
  const int pid = absl::GetFlag(FLAGS_recipient_pid);
  if (pid <= 0) return t;
  std::error_code ec;
  for (const auto& task :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), ec)) {
    std::ifstream f(task.path() / "stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    const size_t open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    const std::string name = line.substr(open + 1, close - open - 1);
    double* slot = name == "pm-verify"     ? &t.verify
                   : name == "pm-commit"   ? &t.commit
                   : name == "pm-maintain" ? &t.maintain
                                           : nullptr;
    if (slot == nullptr) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
    }
    *slot += (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return t;
}

// One core's Ed25519 verifications per second (wall clock) and the CPU time
// of one verification, which the machine's other load moves much less. The
// verification is VerifySignature, the node's own (parsed keys cached per
// thread), on one key over and over: the fastest verify this machine does.
struct Ceiling {
  double rate = 0;       // verifies/s, one core
  double verify_us = 0;  // CPU per verify
};
Ceiling MeasureCeiling(const SigningKey& key, int n) {
  std::string msg(400, 'x');
  std::string sig = key.Sign(kNotificationContext, msg);
  std::string pub = key.PublicKey();
  VerifySignature(pub, kNotificationContext, msg, sig);  // warm the key cache
  timespec c0{}, c1{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
  auto t0 = SteadyClock::now();
  for (int i = 0; i < n; ++i) {
    if (!VerifySignature(pub, kNotificationContext, msg, sig)) Die("ceiling: verify failed");
  }
  const double wall = Seconds(t0);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  Ceiling c;
  c.rate = n / wall;
  c.verify_us = ((c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9) * 1e6 / n;
  return c;
}

// One run of one notify phase, with the ceiling measured right before and
// right after it (the better of the two: a shared machine only ever makes
// the ceiling look lower).
struct PhaseRun {
  int stored = 0;
  double rate = 0;                 // notifications stored per second
  Ceiling ceiling;
  double node_us = -1;             // recipient node CPU per notification (-1: unknown)
  // Of node_us, by thread (NodeThreadCpu): the verification pool, the
  // committer, the maintenance pass; the rest is gRPC and the stream readers.
  double verify_us = 0, commit_us = 0, maintain_us = 0;
  double other_us() const { return node_us - verify_us - commit_us - maintain_us; }
  double client_us = 0;            // this bench's CPU per notification (signing excluded)
  double load = 0;
  double cores_ratio(int cores) const { return rate / (cores * ceiling.rate); }
  // verify / (node + client) CPU per notification: the share of cores x
  // ceiling the run would reach with the machine to itself.
  double cpu_ratio() const {
    return node_us < 0 ? -1 : ceiling.verify_us / (node_us + client_us);
  }
};

double LoadNow() {
  double l[3] = {0, 0, 0};
  return getloadavg(l, 3) < 1 ? -1 : l[0];
}

// Runs `body` (which sends `n` notifications and returns how many were
// stored) between two ceiling measurements, metering both processes' CPU.
template <typename Fn>
PhaseRun RunPhase(const SigningKey& key, int n, Fn body) {
  const int ceiling_n = absl::GetFlag(FLAGS_ceiling_n);
  PhaseRun run;
  Ceiling before = MeasureCeiling(key, ceiling_n);
  const NodeThreads threads0 = NodeThreadCpu();
  const double node0 = NodeCpuSeconds(), self0 = CpuSeconds(0);
  auto t0 = SteadyClock::now();
  run.stored = body();
  run.rate = n / Seconds(t0);
  const double node1 = NodeCpuSeconds(), self1 = CpuSeconds(0);
  const NodeThreads threads1 = NodeThreadCpu();
  run.verify_us = (threads1.verify - threads0.verify) * 1e6 / n;
  run.commit_us = (threads1.commit - threads0.commit) * 1e6 / n;
  run.maintain_us = (threads1.maintain - threads0.maintain) * 1e6 / n;
  run.load = LoadNow();
  Ceiling after = MeasureCeiling(key, ceiling_n);
  run.ceiling.rate = std::max(before.rate, after.rate);
  run.ceiling.verify_us = std::min(before.verify_us, after.verify_us);
  if (node0 >= 0 && node1 >= 0) run.node_us = (node1 - node0) * 1e6 / n;
  run.client_us = (self1 - self0) * 1e6 / n;
  return run;
}

// One NotifyStream carrying `batch`; returns how many were stored (code 0,
// not a duplicate).
int StreamAll(v1::RecipientService::Stub* stub, const std::vector<v1::SignedNotification>& batch) {
  const int n = static_cast<int>(batch.size());
  grpc::ClientContext ctx;
  auto stream = stub->NotifyStream(&ctx);
  std::atomic<int> stored{0};
  std::thread rd([&] {
    v1::NotifyResult r;
    while (stream->Read(&r)) {
      if (r.code() == 0 && !r.duplicate()) ++stored;
    }
  });
  grpc::WriteOptions hint;
  hint.set_buffer_hint();
  for (int i = 0; i < n; ++i) stream->Write(batch[i], i + 1 < n ? hint : grpc::WriteOptions());
  stream->WritesDone();
  rd.join();
  grpc::Status st = stream->Finish();
  if (!st.ok()) Die("NotifyStream: " + st.error_message());
  return stored.load();
}

// `inflight` threads of unary Notify calls; returns how many were stored.
int UnaryAll(v1::RecipientService::Stub* stub, const std::vector<v1::SignedNotification>& batch,
             int inflight) {
  const int n = static_cast<int>(batch.size());
  std::atomic<int> next{0}, ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < inflight; ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < n;) {
        grpc::ClientContext ctx;
        v1::NotifyResult r;
        if (stub->Notify(&ctx, batch[i], &r).ok() && r.code() == 0 && !r.duplicate()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  return ok.load();
}

// "median [min..max]" of `v`, each with `decimals` decimals.
std::string Spread(std::vector<double> v, int decimals) {
  if (v.empty()) return "-";
  std::sort(v.begin(), v.end());
  const double median =
      v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  const auto f = [&](double x) { return absl::StrFormat("%.*f", decimals, x); };
  if (v.size() == 1) return f(median);
  return absl::StrCat(f(median), " [", f(v.front()), "..", f(v.back()), "]");
}

template <typename Fn>
std::vector<double> Each(const std::vector<PhaseRun>& runs, Fn fn) {
  std::vector<double> out;
  for (const PhaseRun& r : runs) {
    const double x = fn(r);
    if (x >= 0) out.push_back(x);
  }
  return out;
}

// One line per run, as it happens.
void PrintRun(const char* phase, int rep, int n, const PhaseRun& r, int cores) {
  std::printf("  %-14s run %d: %d/%d stored, %.0f/s = %.2f of cores x ceiling (ceiling %.0f/s, "
              "verify %.0f us); CPU per notification: node %.0f us (verify pool %.0f, committer "
              "%.0f, maintenance %.0f, gRPC and the rest %.0f), client %.0f us -> %.2f by CPU "
              "time  [load %.2f]\n",
              phase, rep + 1, r.stored, n, r.rate, r.cores_ratio(cores), r.ceiling.rate,
              r.ceiling.verify_us, r.node_us, r.verify_us, r.commit_us, r.maintain_us,
              r.other_us(), r.client_us, r.cpu_ratio(), r.load);
  std::fflush(stdout);
}

// The summary of a phase's runs: medians with their spread.
void PrintPhase(const char* title, const std::vector<PhaseRun>& runs, int cores,
                const char* target) {
  if (runs.empty()) return;
  std::printf("%s: %s/s = %s of cores x ceiling%s; by CPU time %s (recipient node %s us + "
              "client %s us per notification, one verify %s us)  [load %s]\n",
              title, Spread(Each(runs, [](const PhaseRun& r) { return r.rate; }), 0).c_str(),
              Spread(Each(runs, [&](const PhaseRun& r) { return r.cores_ratio(cores); }), 2)
                  .c_str(),
              target,
              Spread(Each(runs, [](const PhaseRun& r) { return r.cpu_ratio(); }), 2).c_str(),
              Spread(Each(runs, [](const PhaseRun& r) { return r.node_us; }), 0).c_str(),
              Spread(Each(runs, [](const PhaseRun& r) { return r.client_us; }), 0).c_str(),
              Spread(Each(runs, [](const PhaseRun& r) { return r.ceiling.verify_us; }), 0)
                  .c_str(),
              Spread(Each(runs, [](const PhaseRun& r) { return r.load; }), 1).c_str());
  if (runs.front().node_us >= 0) {
    std::printf("  node CPU per notification by thread: verify pool %s us, committer %s us, "
                "maintenance pass %s us, gRPC and the rest %s us; without the maintenance pass "
                "%s by CPU time\n",
                Spread(Each(runs, [](const PhaseRun& r) { return r.verify_us; }), 0).c_str(),
                Spread(Each(runs, [](const PhaseRun& r) { return r.commit_us; }), 0).c_str(),
                Spread(Each(runs, [](const PhaseRun& r) { return r.maintain_us; }), 0).c_str(),
                Spread(Each(runs, [](const PhaseRun& r) { return r.other_us(); }), 0).c_str(),
                Spread(Each(runs,
                            [](const PhaseRun& r) {
                              return r.ceiling.verify_us /
                                     (r.node_us - r.maintain_us + r.client_us);
                            }),
                       2)
                    .c_str());
  }
}

// The notify phases, each run --reps times (interleaved: run i of every
// phase before run i+1 of any, so that a burst of load elsewhere hits every
// phase alike), each beside its own ceiling; then medians and spreads.
void BenchNotify(const NodeConfig& from, const NodeConfig& to, const std::string& reader) {
  auto key = SigningKey::LoadPem(from.signing_key);
  if (!key.ok()) Die(std::string(key.status().message()));
  auto channel = Dial(to.tls, to.recipient_listen, to.domain);
  if (!channel.ok()) Die(std::string(channel.status().message()));
  auto stub = v1::RecipientService::NewStub(*channel);
  const int n = absl::GetFlag(FLAGS_n);
  const int inflight = absl::GetFlag(FLAGS_inflight);
  const int reps = std::max(1, absl::GetFlag(FLAGS_reps));
  const size_t batch_size = static_cast<size_t>(absl::GetFlag(FLAGS_batch));
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  std::vector<PhaseRun> ceiling_runs, unary_runs, single_runs, batch_runs;
  {
    PhaseRun c;
    c.ceiling = MeasureCeiling(*key, 20000);
    c.load = LoadNow();
    std::printf("Ed25519 verify, one core (ceiling): %.0f/s; CPU per verify %.0f us  [load %.2f]\n",
                c.ceiling.rate, c.ceiling.verify_us, c.load);
    std::printf("cores x ceiling: %d x %.0f = %.0f/s\n", cores, c.ceiling.rate,
                cores * c.ceiling.rate);
    std::printf("(each run below measures the ceiling again right before and after it)\n");
  }
  for (int rep = 0; rep < reps; ++rep) {
    if (Mode("unary")) {
      auto batch = MakeNotifications(from, *key, to.domain, reader, n);
      unary_runs.push_back(
          RunPhase(*key, n, [&] { return UnaryAll(stub.get(), batch, inflight); }));
      PrintRun("unary", rep, n, unary_runs.back(), cores);
    }
    if (Mode("stream")) {
      auto batch = MakeNotifications(from, *key, to.domain, reader, n);
      single_runs.push_back(RunPhase(*key, n, [&] { return StreamAll(stub.get(), batch); }));
      PrintRun("single-signed", rep, n, single_runs.back(), cores);
    }
    if (Mode("batch")) {
      auto batch =
          Rebatch(from, *key, MakeNotifications(from, *key, to.domain, reader, n), batch_size);
      batch_runs.push_back(RunPhase(*key, n, [&] { return StreamAll(stub.get(), batch); }));
      PrintRun("batch-signed", rep, n, batch_runs.back(), cores);
    }
  }
  for (const auto* runs : {&unary_runs, &single_runs, &batch_runs}) {
    for (const PhaseRun& r : *runs) ceiling_runs.push_back(r);
  }
  std::printf("Summary of %d run(s) of %d notifications each: median [min..max]\n", reps, n);
  if (!ceiling_runs.empty()) {
    std::printf("Ed25519 verify ceiling beside the runs: %s/s, CPU per verify %s us\n",
                Spread(Each(ceiling_runs, [](const PhaseRun& r) { return r.ceiling.rate; }),
                       0)
                    .c_str(),
                Spread(Each(ceiling_runs, [](const PhaseRun& r) { return r.ceiling.verify_us; }),
                       0)
                    .c_str());
  }
  PrintPhase(absl::StrCat("Notify unary, ", inflight, " in flight").c_str(), unary_runs, cores, "");
  PrintPhase("NotifyStream, single-signed", single_runs, cores, " (target 0.85)");
  PrintPhase(absl::StrCat("NotifyStream, batch-signed (", batch_size, " per signature)").c_str(),
             batch_runs, cores, "");
  if (!single_runs.empty() && !batch_runs.empty()) {
    // Run i of each phase ran next to each other: compare them pairwise.
    std::vector<double> wall, cpu;
    for (size_t i = 0; i < std::min(single_runs.size(), batch_runs.size()); ++i) {
      wall.push_back(batch_runs[i].rate / single_runs[i].rate);
      if (single_runs[i].node_us >= 0 && batch_runs[i].node_us >= 0) {
        cpu.push_back((single_runs[i].node_us + single_runs[i].client_us) /
                      (batch_runs[i].node_us + batch_runs[i].client_us));
      }
    }
    std::printf("batch-signed / single-signed: %s x by wall clock, %s x by CPU time (target 3 x)\n",
                Spread(wall, 2).c_str(), Spread(cpu, 2).c_str());
  }
}

// Raw gRPC: a server stream of `size` bytes in 64 KiB chunks, same TLS.
class RawBodyService final : public v1::SenderService::Service {
 public:
  grpc::Status FetchBody(grpc::ServerContext*, const v1::FetchRequest* req,
                         grpc::ServerWriter<v1::BodyChunk>* w) override {
    const uint64_t size = req->offset();  // this baseline reads the size from `offset`
    const std::string chunk(64 * 1024, 'x');
    v1::BodyChunk c;
    c.set_total_size(size);
    for (uint64_t off = 0; off < size; off += chunk.size()) {
      c.set_offset(off);
      c.set_data(chunk.substr(0, std::min<uint64_t>(chunk.size(), size - off)));
      w->Write(c);
    }
    return grpc::Status::OK;
  }
};

// The recipient side of the fan-out run: a RecipientService for many
// domains at once (one TLS port per domain, each with that domain's
// certificate) that verifies every notification for real against the
// directory -- batch signatures included -- and acknowledges it, storing
// nothing. It stands in for 100 recipient nodes that this 2-core machine
// could not run beside the sender.
class SinkService final : public v1::RecipientService::Service {
 public:
  explicit SinkService(const Directory* directory) : directory_(directory) {}

  grpc::Status Notify(grpc::ServerContext*, const v1::SignedNotification* req,
                      v1::NotifyResult* resp) override {
    *resp = Check(*req);
    return grpc::Status::OK;
  }
  grpc::Status NotifyStream(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<v1::NotifyResult, v1::SignedNotification>* stream) override {
    v1::SignedNotification n;
    uint64_t seq = 0;
    while (stream->Read(&n)) {
      v1::NotifyResult r = Check(n);
      r.set_sequence(seq++);
      stream->Write(r);
    }
    return grpc::Status::OK;
  }
  int accepted() const { return accepted_.load(); }
  int refused() const { return refused_.load(); }

 private:
  v1::NotifyResult Check(const v1::SignedNotification& n) {
    Rejection why = Rejection::kNone;
    VerifyOptions options{absl::Now(), "", &roots_};
    auto parsed = VerifyNotification(n, *directory_, options, &why);
    v1::NotifyResult r;
    if (parsed.ok()) {
      r.set_message_id(parsed->message_id());
      ++accepted_;
    } else {
      r.set_code(static_cast<int>(RejectionCode(why)));
      r.set_reason(std::string(RejectionName(why)));
      ++refused_;
    }
    return r;
  }
  const Directory* directory_;
  VerifiedBatchRoots roots_;
  std::atomic<int> accepted_{0}, refused_{0};
};

// Log in once and use bearer tokens, as a real client does: Basic would
// spend an scrypt verification (tens of ms, by design) on every call.
template <typename Stub>
std::string Bearer(Stub* stub, const std::string& user, const std::string& password) {
  grpc::ClientContext c;
  v1::LoginRequest req;
  req.set_user(user);
  req.set_password(password);
  v1::LoginResponse resp;
  grpc::Status s = stub->Login(&c, req, &resp);
  if (!s.ok()) Die("login failed: " + s.error_message());
  return "Bearer " + resp.token();
}

uint32_t InboxUidNext(v1::MailboxService::Stub* mailbox, const std::string& auth) {
  grpc::ClientContext c;
  c.AddMetadata("authorization", auth);
  v1::ListMessagesRequest req;
  req.set_limit(1);
  v1::ListMessagesResponse resp;
  grpc::Status s = mailbox->ListMessages(&c, req, &resp);
  if (!s.ok()) Die("ListMessages: " + s.error_message());
  return resp.folder().uid_next();
}

std::string SmallMessage(const std::string& from, const std::string& to, int i) {
  return absl::StrCat("From: ", from, "\r\nTo: ", to, "\r\nSubject: send bench ", i,
                      "\r\n\r\n", std::string(1024, 'x'), "\r\n");
}

// The sending side: notifications signed and delivered per second by the
// sender node, (1) for Submits with many recipient domains, delivered to
// the verifying sink, and (2) for a campaign of many messages to one domain,
// delivered to the real recipient node and counted in the reader's inbox.
void BenchSend(const NodeConfig& from, const NodeConfig& to, const std::string& sender_user,
               const std::string& reader, const std::string& password) {
  auto submit = v1::SubmitService::NewStub(*Dial(from.tls, from.sender_listen, from.domain));
  const std::string send_auth = Bearer(submit.get(), sender_user, password);
  auto submit_one = [&](const std::vector<std::string>& rcpts, int i) {
    grpc::ClientContext sc;
    sc.AddMetadata("authorization", send_auth);
    v1::SubmitRequest req;
    req.set_from(sender_user);
    for (const auto& r : rcpts) req.add_to(r);
    req.set_message(SmallMessage(sender_user, rcpts.front(), i));
    v1::SubmitResponse resp;
    grpc::Status st = submit->Submit(&sc, req, &resp);
    if (!st.ok()) Die("submit failed: " + st.error_message());
  };

  const std::vector<std::string> fanout = absl::GetFlag(FLAGS_fanout);
  if (!fanout.empty()) {
    auto directory = LoadTomlDirectory(from.directory);
    if (!directory.ok()) Die(std::string(directory.status().message()));
    SinkService sink(directory->get());
    grpc::ServerBuilder b;
    std::vector<std::string> rcpts;
    for (const std::string& path : fanout) {
      auto cfg = LoadNodeConfig(path);
      if (!cfg.ok()) Die(std::string(cfg.status().message()));
      auto creds = MakeServerCredentials(cfg->tls, cfg->recipient_listen);
      if (!creds.ok()) Die(std::string(creds.status().message()));
      b.AddListeningPort(cfg->recipient_listen, *creds);
      rcpts.push_back(absl::StrCat("user@", cfg->domain));
    }
    b.RegisterService(&sink);
    auto server = b.BuildAndStart();
    if (server == nullptr) Die("cannot start the fan-out sink");
    const int submits = absl::GetFlag(FLAGS_fanout_submits);
    const int expected = submits * static_cast<int>(rcpts.size());
    auto t0 = SteadyClock::now();
    for (int i = 0; i < submits; ++i) submit_one(rcpts, i);
    double submitted = Seconds(t0);
    while (sink.accepted() + sink.refused() < expected && Seconds(t0) < 300) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    double total = Seconds(t0);
    std::printf("Sending, %d Submits x %zu recipient domains: %d notifications verified by the "
                "sink (%d refused), %.0f/s end to end (Submits took %.2f s)  [%s]\n",
                submits, rcpts.size(), sink.accepted(), sink.refused(),
                sink.accepted() / total, submitted, Load().c_str());
    server->Shutdown();
  }

  const int campaign = absl::GetFlag(FLAGS_campaign);
  if (campaign > 0) {
    auto mailbox = v1::MailboxService::NewStub(*Dial(to.tls, to.recipient_listen, to.domain));
    const std::string read_auth = Bearer(mailbox.get(), reader, password);
    const uint32_t before = InboxUidNext(mailbox.get(), read_auth);
    const int inflight = absl::GetFlag(FLAGS_inflight);
    std::atomic<int> next{0};
    auto t0 = SteadyClock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < inflight; ++t) {
      threads.emplace_back([&] {
        for (int i; (i = next++) < campaign;) submit_one({reader}, i);
      });
    }
    for (auto& th : threads) th.join();
    double submitted = Seconds(t0);
    uint32_t now = before;
    while ((now = InboxUidNext(mailbox.get(), read_auth)) - before < static_cast<uint32_t>(campaign) &&
           Seconds(t0) < 600) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    double total = Seconds(t0);
    std::printf("Sending, a campaign of %d messages to one domain: Submit %.0f/s; %u listed in "
                "the reader's inbox, %.0f/s end to end  [%s]\n",
                campaign, campaign / submitted, now - before, (now - before) / total,
                Load().c_str());
  }
}

uint32_t WaitListed(v1::MailboxService::Stub* mailbox, const std::string& auth,
                    const std::string& message_id) {
  for (int i = 0; i < 400; ++i) {
    grpc::ClientContext lc;
    lc.AddMetadata("authorization", auth);
    v1::ListMessagesRequest lreq;
    v1::ListMessagesResponse lresp;
    {
      // Look only at the newest few: the inbox holds the notify benchmark's mail.
      grpc::ClientContext hc;
      hc.AddMetadata("authorization", auth);
      v1::ListMessagesRequest head;
      head.set_limit(1);
      v1::ListMessagesResponse hresp;
      if (mailbox->ListMessages(&hc, head, &hresp).ok() && hresp.folder().uid_next() > 20) {
        lreq.set_since_uid(hresp.folder().uid_next() - 20);
      }
    }
    if (mailbox->ListMessages(&lc, lreq, &lresp).ok()) {
      for (const auto& m : lresp.messages()) {
        if (m.message_id() == message_id) return m.uid();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Die("notification for " + message_id + " never arrived");
}

double TimedRead(v1::MailboxService::Stub* mailbox, const std::string& auth, uint32_t uid,
                 uint64_t size) {
  grpc::ClientContext rc;
  rc.AddMetadata("authorization", auth);
  v1::ReadRequest rreq;
  rreq.set_uid(uid);
  rreq.set_peek(true);
  auto t0 = SteadyClock::now();
  auto rd = mailbox->Read(&rc, rreq);
  v1::ReadChunk chunk;
  uint64_t got = 0, served = 0;
  while (rd->Read(&chunk)) {
    if (chunk.has_info()) served = chunk.info().body_size();
    got += chunk.data().size();
  }
  grpc::Status fs = rd->Finish();
  double s = Seconds(t0);
  // What is served is the stored body with the node's Authentication-Results:
  // field in front (info.body_size counts it).
  if (!fs.ok() || got != served || got < size) {
    Die(absl::StrCat("read failed: ", fs.error_message(), " (", got, " bytes of ", served,
                     ", body ", size, ")"));
  }
  return s;
}

void BenchFetch(const NodeConfig& from, const NodeConfig& to, const std::string& sender_user,
                const std::string& reader, const std::string& password) {
  RawBodyService raw;
  grpc::ServerBuilder b;
  int port = 0;
  auto creds = MakeServerCredentials(to.tls, "127.0.0.1:0");
  if (!creds.ok()) Die(std::string(creds.status().message()));
  b.AddListeningPort("127.0.0.1:0", *creds, &port);
  b.RegisterService(&raw);
  auto server = b.BuildAndStart();
  auto raw_stub =
      v1::SenderService::NewStub(*Dial(to.tls, absl::StrCat("127.0.0.1:", port), to.domain));
  auto submit = v1::SubmitService::NewStub(*Dial(from.tls, from.sender_listen, from.domain));
  auto mailbox = v1::MailboxService::NewStub(*Dial(to.tls, to.recipient_listen, to.domain));
  const std::string send_auth = Bearer(submit.get(), sender_user, password);
  const std::string read_auth = Bearer(mailbox.get(), reader, password);

  for (uint64_t size : {64ull << 10, 1ull << 20, 16ull << 20}) {
    double raw_s = 0;
    for (int rep = 0; rep < 3; ++rep) {
      grpc::ClientContext c;
      v1::FetchRequest req;
      req.set_offset(size);
      auto t0 = SteadyClock::now();
      auto rd = raw_stub->FetchBody(&c, req);
      v1::BodyChunk chunk;
      while (rd->Read(&chunk)) {
      }
      rd->Finish();
      raw_s += Seconds(t0);
    }
    std::string msg = absl::StrCat("From: ", sender_user, "\r\nTo: ", reader, "\r\nSubject: bench ",
                                   size, " ", absl::ToUnixNanos(absl::Now()), "\r\n\r\n");
    SeededRandom rng(size ^ static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
    while (msg.size() < size) msg += HexEncode(rng.Bytes(38)) + "\r\n";
    msg.resize(size);
    grpc::ClientContext sc;
    sc.AddMetadata("authorization", send_auth);
    v1::SubmitRequest sreq;
    sreq.set_from(sender_user);
    sreq.add_to(reader);
    sreq.set_message(msg);
    v1::SubmitResponse sresp;
    grpc::Status st = submit->Submit(&sc, sreq, &sresp);
    if (!st.ok()) Die("submit failed: " + st.error_message());
    uint32_t uid = WaitListed(mailbox.get(), read_auth, sresp.message_id());
    double first = TimedRead(mailbox.get(), read_auth, uid, size);
    double cached = TimedRead(mailbox.get(), read_auth, uid, size);
    double mb = size / 1e6;
    double raw_mbs = mb / (raw_s / 3);
    std::printf("body %5llu KiB: first read (pull + verify + cache + serve) %7.1f MB/s | cached "
                "re-read %7.1f MB/s | raw gRPC stream %7.1f MB/s | pull/raw %.2f\n",
                static_cast<unsigned long long>(size >> 10), mb / first, mb / cached, raw_mbs,
                (mb / first) / raw_mbs);
  }
  server->Shutdown();
}

}  // namespace
}  // namespace pullmail

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "node_bench --from A/node.toml --to B/node.toml --sender_user u@a --reader r@b\n"
      "Measures notifications/s into B's recipient node and body pull MB/s from A's\n"
      "sender node, beside the machine's ceilings. See bench/run_node_bench.sh.");
  absl::ParseCommandLine(argc, argv);
  // As in the nodes' mains: no lock-order debugging in Debian's Abseil.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  auto from = pullmail::LoadNodeConfig(absl::GetFlag(FLAGS_from));
  auto to = pullmail::LoadNodeConfig(absl::GetFlag(FLAGS_to));
  if (!from.ok() || !to.ok()) {
    std::fprintf(stderr, "node_bench: --from and --to must name node.toml files (see --help)\n");
    return 1;
  }
  pullmail::BenchNotify(*from, *to, absl::GetFlag(FLAGS_reader));
  if (pullmail::Mode("send")) {
    pullmail::BenchSend(*from, *to, absl::GetFlag(FLAGS_sender_user), absl::GetFlag(FLAGS_reader),
                        absl::GetFlag(FLAGS_password));
  }
  if (pullmail::Mode("fetch")) {
    pullmail::BenchFetch(*from, *to, absl::GetFlag(FLAGS_sender_user),
                         absl::GetFlag(FLAGS_reader), absl::GetFlag(FLAGS_password));
  }
  return 0;
}
