// WriteWorkload on one small run: every message and copy is written once, in
// order, with the reader's choices the worlds used and the pull world's
// place of each copy; the world lines carry the metrics' bytes and outcomes.
// (SimGrid allows one engine per process: one run for the whole file.)
#include "sim/workload_out.h"

#include <toml++/toml.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/pull_world.h"
#include "sim/runner.h"
#include "sim/scenario.h"

namespace pullmail::sim {
namespace {

constexpr char kScenario[] = R"(
[run]
seed = 3
mode = "both"
duration = "1h"
crypto = "model"
[network]
providers = 2
[domains]
count = 2
users = 6
[legit]
messages_per_user_per_day = 24
retention = "3h"
[[campaign]]
messages = 3
recipients = 4
bots = 1
bot_uptime = 1
retention = "3h"
[readers]
spam_read_probability = 0.5
spam_report_probability = 1
read_delay = "10m"
[policy]
spam_threshold_k = 1
hold_new_domains = false
)";

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(WorkloadOutTest, WritesTheWorldTheReadersAndWhatTheWorldsMadeOfIt) {
  toml::table doc = toml::parse(kScenario);
  absl::StatusOr<Scenario> sc = ParseScenario(doc, "test");
  ASSERT_TRUE(sc.ok()) << sc.status();
  absl::StatusOr<RunResult> r = RunScenario(*sc, RunOptions{});
  ASSERT_TRUE(r.ok()) << r.status();
  const World& w = *r->world;
  ASSERT_GT(w.messages().size(), 3u);

  const std::string path = absl::StrCat(::testing::TempDir(), "/workload-", getpid(), ".jsonl");
  ASSERT_TRUE(WriteWorkload(*r, path).ok());
  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 1 + w.domains().size() + w.messages().size() + w.copies() + 2);
  EXPECT_TRUE(absl::StartsWith(lines[0], R"({"type":"run","name":"scenario","seed":3,)")) << lines[0];

  size_t i = 1;
  for (uint32_t d = 0; d < w.domains().size(); ++d, ++i) {
    EXPECT_TRUE(absl::StrContains(lines[i], absl::StrCat(R"("name":")", w.domains()[d].name)))
        << lines[i];
  }
  EXPECT_TRUE(absl::StrContains(lines[i - 1], R"("spam":true,"users":["bot0@)")) << lines[i - 1];
  for (uint32_t m = 0; m < w.messages().size(); ++m, ++i) {
    EXPECT_TRUE(absl::StartsWith(lines[i], absl::StrCat(R"({"type":"message","index":)", m, ",")));
    EXPECT_TRUE(absl::StrContains(lines[i], absl::StrCat(R"("size":)", w.messages()[m].body_size, ",")));
  }
  int reports = 0;
  for (uint32_t m = 0; m < w.messages().size(); ++m) {
    const Message& msg = w.messages()[m];
    for (uint32_t j = msg.rcpt_begin; j < msg.rcpt_begin + msg.rcpt_count; ++j, ++i) {
      const ReaderChoice c = w.Reader(m, w.rcpts()[j], w.IsSpam(msg));
      const std::string& l = lines[i];
      EXPECT_TRUE(absl::StrContains(l, absl::StrCat(R"("reads":)", c.reads ? "true" : "false"))) << l;
      EXPECT_TRUE(absl::StrContains(l, absl::StrCat(R"("reports":)", c.reports ? "true" : "false"))) << l;
      EXPECT_TRUE(absl::StrContains(
          l, absl::StrCat(R"("pull":")", DescribeCopyTrace(r->pull_trace[j]), "\"}")))
          << l;
      reports += c.reports && c.reads && w.IsSpam(msg);
    }
  }
  EXPECT_GT(reports, 0);
  EXPECT_TRUE(absl::StrContains(
      lines[i], absl::StrCat(R"({"type":"world","name":"pull","bytes":{"notify":)",
                             r->pull->Bytes(ByteKind::kNotify), ",")))
      << lines[i];
  EXPECT_TRUE(absl::StrContains(lines[i], absl::StrCat(R"("suppressed":[0,)",
                                                       r->pull->Outcomes(Outcome::kSuppressed, 1), "]")))
      << lines[i];
  EXPECT_TRUE(absl::StrContains(lines[i + 1], R"({"type":"world","name":"push")")) << lines[i + 1];

  // The file is a function of the run.
  const std::string again = path + ".2";
  ASSERT_TRUE(WriteWorkload(*r, again).ok());
  EXPECT_EQ(Slurp(path), Slurp(again));
  std::remove(path.c_str());
  std::remove(again.c_str());
}

TEST(WorkloadOutTest, DescribesTracesAsTheParityTestDoes) {
  EXPECT_EQ(DescribeCopyTrace(PullWorld::kPlaceShown | PullWorld::kTraceFetched), "shown read");
  EXPECT_EQ(DescribeCopyTrace(PullWorld::kPlaceNone | PullWorld::kTraceBounced), "none bounced");
  EXPECT_EQ(DescribeCopyTrace(PullWorld::kPlaceJunk), "junk");
}

}  // namespace
}  // namespace pullmail::sim
