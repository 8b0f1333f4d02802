// Storage costs, to set beside docs/TOOLCHAIN.md's SQLite ceilings (WAL,
// 4 KiB rows: synchronous=NORMAL 15-17k commits/s, 100 rows per transaction
// 33-38k rows/s, synchronous=FULL 3-4k commits/s).
//
// What a recipient node's Notify path costs per notification with one commit
// each and with group commit (InsertNotifications of 100), under
// synchronous=FULL (what the nodes use: nothing acknowledged is lost even to
// an OS crash) and NORMAL; a sender node's Submit (PutMessage); a 64 KiB
// body-chunk read; a whole 16 MiB body read in 64 KiB slices (ReadBody and
// ReadCachedBody); the scheduler's DueDeliveries; and the memory back end's
// speed and bytes per notification (for the simulator).
//
//   cmake --build <build> --target storage_bench && <build>/bench/storage_bench
//   (wall-clock figures: the SQLite ones are fsync-bound)
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/storage/memory_store.h"
#include "core/storage/sqlite_store.h"
#include "core/util/logging.h"
#include "core/util/random.h"

namespace pullmail {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

// A fresh directory removed at scope exit.
class BenchDir {
 public:
  BenchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pullmail-bench-XXXXXX").string();
    PM_CHECK(mkdtemp(tmpl.data()) != nullptr) << "mkdtemp";
    path_ = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string File(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

SqliteOptions Options(bool full) {
  SqliteOptions o;
  o.synchronous = full ? SqliteOptions::Synchronous::kFull : SqliteOptions::Synchronous::kNormal;
  return o;
}

// A ~4 KiB notification row: a 3.5 KiB signed notification (many
// recipients) plus hashes, token and summary.
StoredNotification Notification(int64_t n, Random& random) {
  StoredNotification s;
  s.signing_domain = "alpha.example";
  s.message_id = absl::StrCat("msg-", n, "@alpha.example");
  s.envelope_sender = "ann@alpha.example";
  s.signed_bytes = random.Bytes(3500);
  s.body_sha256 = random.Bytes(32);
  s.body_size = 48'213;
  s.fetch_token = random.Bytes(32);
  s.summary = random.Bytes(400);
  s.created = kNow;
  s.expires = kNow + absl::Hours(24 * 30);
  s.received = kNow;
  return s;
}

std::vector<NotificationInsert> Batch(int64_t& next, int size, Random& random) {
  std::vector<NotificationInsert> batch(size);
  for (auto& item : batch) {
    item.notification = Notification(next, random);
    item.placements = {{absl::StrCat("user", next % 100, "@beta.example")}};
    ++next;
  }
  return batch;
}

// args: full (1 = synchronous=FULL), batch (notifications per transaction).
void BM_SqliteInsertNotifications(benchmark::State& state) {
  BenchDir dir;
  auto store = OpenSqliteRecipientStore(dir.File("r.db"), Options(state.range(0) != 0));
  PM_CHECK(store.ok()) << store.status();
  SeededRandom random(1);
  int64_t next = 0;
  const int batch_size = static_cast<int>(state.range(1));
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<NotificationInsert> batch = Batch(next, batch_size, random);
    state.ResumeTiming();
    auto r = (*store)->InsertNotifications(batch);
    PM_CHECK(r.ok()) << r.status();
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
}
BENCHMARK(BM_SqliteInsertNotifications)
    ->ArgNames({"full", "batch"})
    ->Args({1, 1})
    ->Args({1, 100})
    ->Args({0, 1})
    ->Args({0, 100})
    ->UseRealTime()
    ->MinTime(2.0);

void BM_MemoryInsertNotifications(benchmark::State& state) {
  auto store = NewMemoryRecipientStore();
  SeededRandom random(1);
  int64_t next = 0;
  const int batch_size = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<NotificationInsert> batch = Batch(next, batch_size, random);
    state.ResumeTiming();
    auto r = store->InsertNotifications(batch);
    PM_CHECK(r.ok()) << r.status();
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
}
BENCHMARK(BM_MemoryInsertNotifications)->ArgNames({"batch"})->Arg(1)->Arg(100);

// Heap bytes the memory back end holds per notification with one INBOX
// entry, for a simulator-sized small notification (~500 B signed).
void BM_MemoryBytesPerNotification(benchmark::State& state) {
  constexpr int kCount = 100'000;
  double per = 0;
  for (auto _ : state) {
    size_t before = mallinfo2().uordblks;
    auto store = NewMemoryRecipientStore();
    SeededRandom random(2);
    for (int i = 0; i < kCount; ++i) {
      StoredNotification n = Notification(i, random);
      n.signed_bytes.resize(500);
      n.summary.resize(120);
      auto r = store->InsertNotification(n, {absl::StrCat("user", i % 1000, "@beta.example")},
                                         EntryState::kShown, "");
      PM_CHECK(r.ok()) << r.status();
    }
    per = static_cast<double>(mallinfo2().uordblks - before) / kCount;
  }
  state.counters["bytes_per_notification"] = per;
}
BENCHMARK(BM_MemoryBytesPerNotification)->Iterations(1)->Unit(benchmark::kMillisecond);

// A sender node's Submit: message + 4 KiB body + two deliveries, one commit.
void BM_SqlitePutMessage(benchmark::State& state) {
  BenchDir dir;
  auto store = OpenSqliteSenderStore(dir.File("s.db"), Options(state.range(0) != 0));
  PM_CHECK(store.ok()) << store.status();
  SeededRandom random(3);
  const std::string body = random.Bytes(4096);
  int64_t n = 0;
  for (auto _ : state) {
    OutboundMessage m;
    m.message_id = absl::StrCat("m", n++);
    m.sender = "ann@alpha.example";
    m.body_sha256 = std::string(32, 'h');
    m.body_size = body.size();
    m.summary = std::string(300, 's');
    m.created = kNow;
    m.expires = kNow + absl::Hours(24 * 30);
    std::vector<Delivery> ds(2);
    for (int i = 0; i < 2; ++i) {
      ds[i].message_id = m.message_id;
      ds[i].domain = absl::StrCat("d", i, ".example");
      ds[i].recipients = {"bob@" + ds[i].domain};
      ds[i].fetch_token = std::string(32, 't');
      ds[i].signed_notification = std::string(500, 'n');
      ds[i].next_attempt = kNow;
    }
    absl::Status s = (*store)->PutMessage(m, body, ds);
    PM_CHECK(s.ok()) << s;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SqlitePutMessage)->ArgNames({"full"})->Arg(1)->Arg(0)->UseRealTime()->MinTime(2.0);

// FetchBody's inner loop: 64 KiB slices of a 1 MiB body, cycling.
void BM_SqliteReadBodyChunk(benchmark::State& state) {
  BenchDir dir;
  auto store = OpenSqliteSenderStore(dir.File("s.db"));
  PM_CHECK(store.ok()) << store.status();
  SeededRandom random(4);
  const std::string body = random.Bytes(1 << 20);
  OutboundMessage m;
  m.message_id = "big";
  m.body_size = body.size();
  PM_CHECK((*store)->PutMessage(m, body, {}).ok());
  uint64_t offset = 0;
  for (auto _ : state) {
    auto chunk = (*store)->ReadBody("big", offset, 64 * 1024);
    PM_CHECK(chunk.ok()) << chunk.status();
    benchmark::DoNotOptimize(chunk->data());
    offset = (offset + 64 * 1024) % body.size();
  }
  state.SetBytesProcessed(state.iterations() * 64 * 1024);
}
BENCHMARK(BM_SqliteReadBodyChunk);

// A whole large body read the way FetchBody and the recipient's cached read
// do it: 16 MiB in 64 KiB slices, one call per slice, offset advancing. The
// cost of a slice must not grow with its offset (no O(n^2) walk of one big
// BLOB's overflow chain), so this runs near the 64 KiB-chunk figure above.
constexpr size_t kBigBody = 16u << 20;
constexpr size_t kSlice = 64u << 10;

void BM_SqliteReadBody16MiB(benchmark::State& state) {
  BenchDir dir;
  auto store = OpenSqliteSenderStore(dir.File("s.db"), Options(false));
  PM_CHECK(store.ok()) << store.status();
  SeededRandom random(5);
  const std::string body = random.Bytes(kBigBody);
  OutboundMessage m;
  m.message_id = "big";
  m.body_size = body.size();
  PM_CHECK((*store)->PutMessage(m, body, {}).ok());
  for (auto _ : state) {
    for (uint64_t offset = 0; offset < body.size(); offset += kSlice) {
      auto chunk = (*store)->ReadBody("big", offset, kSlice);
      PM_CHECK(chunk.ok() && chunk->size() == kSlice) << chunk.status();
      benchmark::DoNotOptimize(chunk->data());
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_SqliteReadBody16MiB)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

void BM_SqliteReadCachedBody16MiB(benchmark::State& state) {
  BenchDir dir;
  auto store = OpenSqliteRecipientStore(dir.File("r.db"), Options(false));
  PM_CHECK(store.ok()) << store.status();
  SeededRandom random(6);
  const std::string body = random.Bytes(kBigBody);
  const std::string sha(32, 'h');  // the store does not check the hash
  PM_CHECK((*store)->PutBody(sha, body).ok());
  for (auto _ : state) {
    for (uint64_t offset = 0; offset < body.size(); offset += kSlice) {
      auto chunk = (*store)->ReadCachedBody(sha, offset, kSlice);
      PM_CHECK(chunk.ok() && chunk->size() == kSlice) << chunk.status();
      benchmark::DoNotOptimize(chunk->data());
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_SqliteReadCachedBody16MiB)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);

// The write side of a first read: the recipient caches a fetched 16 MiB
// body (PutBody, one transaction, synchronous=FULL as the nodes run), then
// drops it so the next iteration writes afresh. Bounds what storage adds to
// "first read" in bench/run_node_bench.sh.
void BM_SqlitePutBody16MiB(benchmark::State& state) {
  BenchDir dir;
  auto store = OpenSqliteRecipientStore(dir.File("r.db"), Options(true));
  PM_CHECK(store.ok()) << store.status();
  SeededRandom random(7);
  const std::string body = random.Bytes(kBigBody);
  const std::string sha(32, 'p');
  for (auto _ : state) {
    PM_CHECK((*store)->PutBody(sha, body).ok());
    state.PauseTiming();
    PM_CHECK((*store)->DeleteBody(sha).ok());
    state.ResumeTiming();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_SqlitePutBody16MiB)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

// The delivery scheduler's poll: 100 due out of 10,000 queued.
void BM_SqliteDueDeliveries(benchmark::State& state) {
  BenchDir dir;
  auto store = OpenSqliteSenderStore(dir.File("s.db"), Options(false));
  PM_CHECK(store.ok()) << store.status();
  for (int i = 0; i < 10'000; ++i) {
    OutboundMessage m;
    m.message_id = absl::StrCat("m", i);
    Delivery d;
    d.message_id = m.message_id;
    d.domain = "d.example";
    d.signed_notification = std::string(500, 'n');
    d.next_attempt = kNow + absl::Seconds(i);
    PM_CHECK((*store)->PutMessage(m, "", {d}).ok());
  }
  for (auto _ : state) {
    auto due = (*store)->DueDeliveries(kNow + absl::Hours(10), 100);
    PM_CHECK(due.ok() && due->size() == 100) << due.status();
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_SqliteDueDeliveries);

}  // namespace
}  // namespace pullmail

BENCHMARK_MAIN();
