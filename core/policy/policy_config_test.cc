// Tests of the [policy] table parser, including the worked example printed
// in docs/POLICY.md (kept identical to the one below).
#include "core/policy/policy_config.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<PolicyConfig> ParseText(std::string_view text) {
  toml::parse_result parsed = toml::parse(text);
  const toml::table& doc = parsed;
  const toml::table* policy = doc["policy"].as_table();
  if (policy == nullptr) return ParsePolicyConfig(toml::table{});
  return ParsePolicyConfig(*policy);
}

// The worked example of docs/POLICY.md.
constexpr char kDocExample[] = R"(
[policy]
spam_threshold_k = 3
not_spam_weight = 1.0
local_report_weight = 1.0
max_peer_report_count = 10

reputation_half_life = "7d"
min_reads_for_reputation = 20
bad_reputation_ratio = 0.1
suppress_reputation_ratio = 0.5

hold_new_domains = true
hold_bad_domains = true
early_reader_fraction = 0.1
hold_period = "2h"
hold_complaint_threshold = 1
min_early_reads = 0
max_hold_period = "24h"
sample_key = "change-me-to-a-long-random-string"

body_state_ttl = "90d"

[policy.peer_weights]
"mail.partner.example" = 1.0
"Big-Provider.Example" = 0.5
)";

TEST(PolicyConfigTest, EmptyTableKeepsDefaults) {
  absl::StatusOr<PolicyConfig> c = ParseText("");
  ASSERT_TRUE(c.ok()) << c.status();
  PolicyConfig d;
  EXPECT_EQ(c->spam_threshold_k, d.spam_threshold_k);
  EXPECT_EQ(c->reputation_half_life, absl::Hours(24 * 7));
  EXPECT_EQ(c->hold_period, absl::Hours(2));
  EXPECT_TRUE(c->peer_weights.empty());
  EXPECT_TRUE(ValidatePolicyConfig(d).ok());
}

TEST(PolicyConfigTest, ParsesTheDocumentedExample) {
  absl::StatusOr<PolicyConfig> c = ParseText(kDocExample);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->spam_threshold_k, 3);
  EXPECT_DOUBLE_EQ(c->suppress_reputation_ratio, 0.5);
  EXPECT_EQ(c->reputation_half_life, absl::Hours(24 * 7));
  EXPECT_EQ(c->hold_period, absl::Hours(2));
  EXPECT_EQ(c->max_hold_period, absl::Hours(24));
  EXPECT_EQ(c->body_state_ttl, absl::Hours(24 * 90));
  EXPECT_EQ(c->sample_key, "change-me-to-a-long-random-string");
  ASSERT_EQ(c->peer_weights.size(), 2u);
  EXPECT_DOUBLE_EQ(c->peer_weights.at("mail.partner.example"), 1.0);
  EXPECT_DOUBLE_EQ(c->peer_weights.at("big-provider.example"), 0.5) << "keys are lower-cased";
}

TEST(PolicyConfigTest, DurationForms) {
  EXPECT_EQ(*ParsePolicyDuration("90s"), absl::Seconds(90));
  EXPECT_EQ(*ParsePolicyDuration("30m"), absl::Minutes(30));
  EXPECT_EQ(*ParsePolicyDuration("1d12h"), absl::Hours(36));
  EXPECT_EQ(*ParsePolicyDuration("1.5h"), absl::Minutes(90));
  EXPECT_EQ(*ParsePolicyDuration("250ms"), absl::Milliseconds(250));
  EXPECT_FALSE(ParsePolicyDuration("2 weeks").ok());
  EXPECT_FALSE(ParsePolicyDuration("-2h").ok());
  EXPECT_FALSE(ParsePolicyDuration("h").ok());
  EXPECT_FALSE(ParsePolicyDuration("").ok());
  absl::StatusOr<PolicyConfig> c = ParseText("[policy]\nhold_period = 3600\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->hold_period, absl::Hours(1));
}

TEST(PolicyConfigTest, UnknownKeyIsAnError) {
  absl::StatusOr<PolicyConfig> c = ParseText("[policy]\nspam_treshold_k = 5\n");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("spam_treshold_k"));
}

TEST(PolicyConfigTest, WrongTypesAreErrors) {
  for (const char* text : {
           "[policy]\nspam_threshold_k = \"three\"\n",
           "[policy]\nhold_new_domains = 1\n",
           "[policy]\nhold_period = true\n",
           "[policy]\nhold_period = \"2 hours\"\n",
           "[policy]\npeer_weights = 3\n",
           "[policy.peer_weights]\n\"p.example\" = \"high\"\n",
           "[policy]\nsample_key = 5\n",
       }) {
    EXPECT_EQ(ParseText(text).status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
}

TEST(PolicyConfigTest, OutOfRangeValuesAreErrors) {
  struct Case {
    const char* text;
    const char* field;
  };
  for (const Case& c : {
           Case{"spam_threshold_k = 0", "spam_threshold_k"},
           Case{"not_spam_weight = -1", "not_spam_weight"},
           Case{"early_reader_fraction = 1.5", "early_reader_fraction"},
           Case{"reputation_half_life = \"0s\"", "reputation_half_life"},
           Case{"max_peer_report_count = 0", "max_peer_report_count"},
           Case{"hold_period = \"48h\"", "max_hold_period"},  // above the 24h max hold
           Case{"hold_complaint_threshold = 0", "hold_complaint_threshold"},
           Case{"min_reads_for_reputation = -3", "min_reads_for_reputation"},
       }) {
    absl::StatusOr<PolicyConfig> r = ParseText(std::string("[policy]\n") + c.text + "\n");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.field)) << c.text;
  }
  absl::StatusOr<PolicyConfig> r = ParseText("[policy.peer_weights]\n\"p.example\" = -0.5\n");
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("peer_weights.p.example"));
}

}  // namespace
}  // namespace pullmail
