// What one spam report costs the recipient node now that the policy's state
// is one row in its store, committed with the report (docs/SCALE-OUT.md):
// RecordReportWithPolicy on SQLite (synchronous=FULL, as the node runs) with
// the node's update -- parse the stored text, restore core's SpamPolicy,
// OnLocalReport, snapshot, write the text back -- for a state that tracks
// N bodies (spread over 500 signing domains). The cost grows with N: the whole
// state is read and written by every report.
//
//   cmake --build <build> --target policy_state_bench && <build>/bench/policy_state_bench
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/policy/spam_policy.h"
#include "core/storage/sqlite_store.h"
#include "core/util/logging.h"
#include "recipient-node/policy_state.h"

namespace pullmail {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

void BM_SqliteReportWithPolicy(benchmark::State& state) {
  const int tracked = static_cast<int>(state.range(0));
  std::string dir = (std::filesystem::temp_directory_path() / "pullmail-bench-XXXXXX").string();
  PM_CHECK(mkdtemp(dir.data()) != nullptr) << "mkdtemp";
  {
    auto store = OpenSqliteRecipientStore(dir + "/recipient.db");
    PM_CHECK(store.ok()) << store.status();
    PolicyConfig config;
    SpamPolicy seed(config);
    for (int i = 0; i < tracked; ++i) {
      seed.OnLocalReport(absl::StrCat("d", i % 500, ".example"), absl::StrCat("body", i),
                         Verdict::kSpam, kNow);
    }
    const std::string text = PolicySnapshotText(seed.Snapshot());
    PM_CHECK((*store)->UpdatePolicyState([&](std::string_view) {
      return absl::StatusOr<std::string>(text);
    }).ok());
    StoredNotification n;
    n.signing_domain = "d1.example";
    n.message_id = "spam@d1.example";
    n.envelope_sender = "s@d1.example";
    n.signed_bytes = "signed";
    n.body_sha256 = std::string(32, 'b');
    n.fetch_token = std::string(32, 't');
    n.created = n.received = kNow;
    n.expires = kNow + absl::Hours(24);
    auto inserted = (*store)->InsertNotification(n, {"u@r.example"}, EntryState::kShown, "");
    PM_CHECK(inserted.ok()) << inserted.status();
    int64_t user = 0;
    for (auto _ : state) {
      auto fresh = (*store)->RecordReportWithPolicy(
          absl::StrCat("u", ++user, "@r.example"), inserted->notification_id, 1, kNow,
          [&](std::string_view old) -> absl::StatusOr<std::string> {
            SpamPolicy p(config);
            auto snap = ParsePolicySnapshot(old, "bench");
            if (!snap.ok()) return snap.status();
            if (absl::Status s = p.Restore(*snap); !s.ok()) return s;
            p.OnLocalReport(n.signing_domain, n.body_sha256, Verdict::kSpam, kNow);
            return PolicySnapshotText(p.Snapshot());
          });
      PM_CHECK(fresh.ok() && *fresh) << fresh.status();
    }
    state.counters["state_KiB"] = static_cast<double>(text.size()) / 1024;
    state.counters["reports_per_s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}
BENCHMARK(BM_SqliteReportWithPolicy)
    ->ArgNames({"tracked_bodies"})
    ->Arg(0)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace pullmail

BENCHMARK_MAIN();
