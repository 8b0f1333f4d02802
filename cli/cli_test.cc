// Unit tests for the pieces of `pullmail` that need no running node: the
// argument parser, the metrics parser, message composition, `init`'s files
// and directory entries, and the exit-code mapping.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "cli/args.h"
#include "cli/client.h"
#include "cli/compose.h"
#include "cli/init.h"
#include "cli/metrics_client.h"
#include "cli/process.h"
#include "core/config/node_config.h"
#include "core/crypto/ed25519.h"
#include "core/crypto/encoding.h"
#include "core/directory/toml_directory.h"
#include "core/mail/header_summary.h"
#include "gtest/gtest.h"

namespace pullmail::cli {
namespace {
namespace fs = std::filesystem;

const std::vector<OptionSpec> kSpecs = {
    {"config", true, "c"}, {"to", true, "t"}, {"json", false, "j"}};

TEST(ArgsTest, ParsesValuesSwitchesRepeatsAndPositionals) {
  auto a = Args::Parse({"--config", "x.toml", "--to=a@b", "--to", "c@d", "--json", "3", "-\\Seen",
                        "--", "--not-an-option"},
                       kSpecs);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->GetOr("config", ""), "x.toml");
  EXPECT_EQ(a->GetAll("to"), (std::vector<std::string>{"a@b", "c@d"}));
  EXPECT_EQ(a->Get("to"), "c@d");
  EXPECT_TRUE(a->Has("json"));
  EXPECT_FALSE(a->Has("help"));
  EXPECT_EQ(a->positional(), (std::vector<std::string>{"3", "-\\Seen", "--not-an-option"}));
}

TEST(ArgsTest, RejectsUnknownOptionsAndMissingValues) {
  EXPECT_TRUE(absl::IsInvalidArgument(Args::Parse({"--nope"}, kSpecs).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Args::Parse({"--config"}, kSpecs).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Args::Parse({"--json=1"}, kSpecs).status()));
  auto help = Args::Parse({"--help"}, kSpecs);
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(help->Has("help"));
}

TEST(ArgsTest, ParseIntChecksRange) {
  EXPECT_EQ(*ParseInt("42", "n", 1, 100), 42);
  EXPECT_FALSE(ParseInt("0", "n", 1, 100).ok());
  EXPECT_FALSE(ParseInt("4x", "n", 1, 100).ok());
  EXPECT_FALSE(ParseInt("", "n", 1, 100).ok());
}

TEST(MetricsTest, ParsesSamplesWithAndWithoutLabels) {
  MetricSamples m = ParseMetrics(
      "# TYPE pullmail_reads_total counter\n"
      "pullmail_reads_total 7\n"
      "pullmail_fetches_total{result=\"ok\"} 3\n"
      "pullmail_fetches_total{result=\"unavailable\"} 2\r\n"
      "pullmail_notifications_rejected_total{reason=\"bad signature\"} 1\n"
      "garbage line without value\n"
      "\n");
  EXPECT_EQ(Metric(m, "pullmail_reads_total"), 7);
  EXPECT_EQ(Metric(m, "pullmail_fetches_total{result=\"ok\"}"), 3);
  EXPECT_EQ(MetricSum(m, "pullmail_fetches_total"), 5);
  EXPECT_EQ(MetricSum(m, "pullmail_fetches"), 0);  // a prefix is not a name
  EXPECT_EQ(Metric(m, "pullmail_notifications_rejected_total{reason=\"bad signature\"}"), 1);
  EXPECT_EQ(Metric(m, "absent_total"), 0);
}

TEST(MetricsTest, ScrapeOfClosedPortIsUnavailable) {
  auto port = PickFreePort();
  ASSERT_TRUE(port.ok());
  auto m = ScrapeMetrics("127.0.0.1:" + std::to_string(*port), absl::Seconds(2));
  EXPECT_TRUE(absl::IsUnavailable(m.status())) << m.status();
}

TEST(ComposeTest, ComposedMessageHasHeadersAndCrlfBody) {
  SeededRandom random(1);
  std::string msg = ComposeMessage("ann@a.example", {"bob@b.example", "cy@c.example"},
                                   "Grüße aus Köln", "line one\nline two", absl::UnixEpoch(),
                                   random);
  EXPECT_TRUE(absl::StartsWith(msg, "From: ann@a.example\r\nTo: bob@b.example, cy@c.example\r\n"));
  EXPECT_TRUE(absl::StrContains(msg, "\r\n\r\nline one\r\nline two\r\n"));
  EXPECT_FALSE(absl::StrContains(msg, "Köln"));  // encoded in the header
  auto summary = ExtractHeaderSummary(msg);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->subject(), "Grüße aus Köln");
  EXPECT_TRUE(absl::StartsWith(summary->message_id(), "<"));
  auto rcpts = RecipientsFromHeaders(msg);
  ASSERT_TRUE(rcpts.ok());
  EXPECT_EQ(*rcpts, (std::vector<std::string>{"bob@b.example", "cy@c.example"}));
}

TEST(ComposeTest, DisplayFormSenderGivesAWellFormedMessageId) {
  SeededRandom random(2);
  std::string msg = ComposeMessage("Ann <ann@a.example>", {"Bob <bob@b.example>"}, "x", "y",
                                   absl::UnixEpoch(), random);
  auto summary = ExtractHeaderSummary(msg);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->from(), "Ann <ann@a.example>");
  EXPECT_TRUE(absl::EndsWith(summary->message_id(), "@a.example>")) << summary->message_id();
}

TEST(ComposeTest, RecipientsFromHeadersTakesToAndCcAndNeedsOne) {
  auto r = RecipientsFromHeaders("From: a@x\nTo: Bob <Bob@B.example>\nCc: c@c.example\n\nhi\n");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (std::vector<std::string>{"bob@b.example", "c@c.example"}));
  EXPECT_TRUE(absl::IsInvalidArgument(RecipientsFromHeaders("From: a@x\n\nhi\n").status()));
}

class InitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "pullmail-cli-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string root_;
};

TEST_F(InitTest, CreatesAWorkingDomainAndIsIdempotent) {
  InitOptions o;
  o.root = root_;
  o.domain = "A.Example";
  o.sender_port = 17102;
  auto r = InitDomain(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->created_config);
  EXPECT_EQ(r->config_path, root_ + "/a.example/node.toml");
  EXPECT_EQ(r->sender_listen, "127.0.0.1:17102");

  auto config = LoadNodeConfig(r->config_path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->domain, "a.example");
  EXPECT_FALSE(config->tls.plaintext);
  EXPECT_EQ(config->tls.ca, root_ + "/ca/ca.pem");
  EXPECT_EQ(config->directory, root_ + "/directory.toml");
  for (const std::string& p : {config->tls.ca, config->tls.cert, config->tls.key,
                               config->signing_key, config->TokenKeyPath()}) {
    EXPECT_TRUE(fs::exists(p)) << p;
  }
  // Secrets are private.
  for (const std::string& p : {config->signing_key, config->TokenKeyPath(), config->tls.key}) {
    struct stat st;
    ASSERT_EQ(stat(p.c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_mode & 077, 0u) << p;
  }
  EXPECT_EQ(fs::file_size(config->TokenKeyPath()), 32u);
  // Four distinct ports.
  std::set<std::string> listens = {config->sender_listen, config->recipient_listen,
                                   config->sender_metrics_listen,
                                   config->recipient_metrics_listen};
  EXPECT_EQ(listens.size(), 4u);

  // The directory lists the domain with the key in keys/signing.pem.
  auto key = SigningKey::LoadPem(config->signing_key);
  ASSERT_TRUE(key.ok());
  auto dir = LoadTomlDirectory(root_ + "/directory.toml");
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto entry = (*dir)->Lookup("a.example");
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->recipient_endpoint, config->recipient_listen);
  EXPECT_EQ(entry->sender_endpoint, "127.0.0.1:17102");
  EXPECT_EQ(entry->keys.at("k1"), key->PublicKey());
  EXPECT_EQ(r->public_key_base64, Base64Encode(key->PublicKey()));

  // A second domain joins the same directory; re-running the first keeps
  // its key and ports.
  InitOptions ob;
  ob.root = root_;
  ob.domain = "b.example";
  ASSERT_TRUE(InitDomain(ob).ok());
  auto again = InitDomain(o);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created_config);
  EXPECT_TRUE(again->created.empty());
  EXPECT_EQ(again->public_key_base64, r->public_key_base64);
  dir = LoadTomlDirectory(root_ + "/directory.toml");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ((*dir)->All().size(), 2u);

  // Asking for a different port than the existing node.toml has is refused.
  o.sender_port = 17103;
  EXPECT_TRUE(absl::IsFailedPrecondition(InitDomain(o).status()));
}

TEST_F(InitTest, RejectsBadDomains) {
  for (const char* d : {"", "../x", "a/b", ".a", "a..b", "a b"}) {
    InitOptions o;
    o.root = root_;
    o.domain = d;
    EXPECT_TRUE(absl::IsInvalidArgument(InitDomain(o).status())) << d;
  }
}

TEST_F(InitTest, ChildProcessWaitsForReadyAndStops) {
  ChildProcess p;
  ASSERT_TRUE(p.Start({"/bin/sh", "-c", "echo starting; echo READY 127.0.0.1:4242; exec sleep 30"},
                      root_ + "/out", root_ + "/err")
                  .ok());
  auto ready = p.WaitReady(absl::Seconds(10));
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(*ready, "127.0.0.1:4242");
  auto ws = p.Stop(absl::Seconds(5));
  ASSERT_TRUE(ws.ok()) << ws.status();
  EXPECT_EQ(ExitDescription(*ws), "killed by signal 15 (Terminated)");
  EXPECT_FALSE(p.running());

  // A program that dies before READY: the error says how, with its stderr.
  ASSERT_TRUE(p.Start({"/bin/sh", "-c", "echo no config >&2; exit 3"}, root_ + "/out",
                      root_ + "/err")
                  .ok());
  auto dead = p.WaitReady(absl::Seconds(10));
  EXPECT_TRUE(absl::IsUnavailable(dead.status())) << dead.status();
  EXPECT_TRUE(absl::StrContains(dead.status().message(), "exited with status 3"));
  EXPECT_TRUE(absl::StrContains(dead.status().message(), "no config"));

  // A program that never says READY: the deadline holds.
  ASSERT_TRUE(p.Start({"/bin/sh", "-c", "exec sleep 30"}, root_ + "/out", root_ + "/err").ok());
  EXPECT_TRUE(absl::IsDeadlineExceeded(p.WaitReady(absl::Milliseconds(200)).status()));
  p.Kill();
  EXPECT_FALSE(p.running());
  EXPECT_TRUE(absl::IsNotFound(p.Start({"/nonexistent/x"}, root_ + "/o", root_ + "/e")));
}

TEST(ClientTest, ExitCodesAndCodeNames) {
  EXPECT_EQ(ExitCodeFor(grpc::Status::OK), kExitOk);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::UNAVAILABLE, "")), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "")), kExitUnavailable);
  EXPECT_EQ(ExitCodeFor(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "")), kExitRefused);
  EXPECT_EQ(StatusCodeName(7), "PERMISSION_DENIED");
  EXPECT_EQ(StatusCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(99), "CODE_99");
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
}

}  // namespace
}  // namespace pullmail::cli
