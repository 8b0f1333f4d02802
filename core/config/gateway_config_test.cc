#include "core/config/gateway_config.h"

#include <gtest/gtest.h>

#include <string>

namespace pullmail {
namespace {

constexpr char kBase[] = R"(
domain = "a.example"
directory = "../directory.toml"
signing_key = "keys/signing.pem"
[tls]
plaintext = true
)";

absl::StatusOr<GatewayConfig> Parse(const std::string& gateway_section) {
  auto node = ParseNodeConfig(std::string(kBase) + gateway_section, "/srv/a/node.toml");
  if (!node.ok()) return node.status();
  return ParseGatewayConfig(*node);
}

TEST(GatewayConfig, AbsentSectionGivesDefaultsWithEveryListenerOff) {
  auto c = Parse("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->imap_listen.empty());
  EXPECT_TRUE(c->submission_listen.empty());
  EXPECT_EQ(c->max_connections, 200);
  EXPECT_EQ(c->idle_timeout, absl::Minutes(30));
  EXPECT_FALSE(c->allow_plaintext_auth);
}

TEST(GatewayConfig, ReadsListenersAndLimits) {
  auto c = Parse(R"(
[gateway]
imap_listen = "127.0.0.1:7143"
pop3_listen = "127.0.0.1:7110"
submission_listen = "127.0.0.1:7587"
max_connections = 5
idle_timeout_seconds = 60
max_line_bytes = 1024
max_message_bytes = 100000
allow_plaintext_auth = true
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->imap_listen, "127.0.0.1:7143");
  EXPECT_EQ(c->pop3_listen, "127.0.0.1:7110");
  EXPECT_EQ(c->submission_listen, "127.0.0.1:7587");
  EXPECT_EQ(c->max_connections, 5);
  EXPECT_EQ(c->idle_timeout, absl::Seconds(60));
  EXPECT_EQ(c->max_line_bytes, 1024u);
  EXPECT_EQ(c->max_message_bytes, 100000u);
  EXPECT_TRUE(c->allow_plaintext_auth);
}

TEST(GatewayConfig, RejectsUnknownKeysAndOutOfRangeValues) {
  EXPECT_EQ(Parse("[gateway]\nimap = \"x\"\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Parse("[gateway]\nmax_connections = 0\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Parse("[gateway]\nmax_line_bytes = 10\n").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Parse("[gateway]\nimap_listen = 143\n").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GatewayConfig, PlaintextAuthOnlyOnLoopback) {
  auto c = Parse("[gateway]\nimap_listen = \"0.0.0.0:143\"\nallow_plaintext_auth = true\n");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("loopback"), std::string::npos);
}

TEST(GatewayConfig, ReadsRelayAndSmarthost) {
  auto c = Parse("[gateway]\nrelay_listen = \"127.0.0.1:7125\"\nsmarthost = \"mx.isp.example:2525\"\n");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->relay_listen, "127.0.0.1:7125");
  EXPECT_EQ(c->smarthost, "mx.isp.example:2525");
  auto off = Parse("");
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(off->relay_listen.empty());
  EXPECT_TRUE(off->smarthost.empty());
}

TEST(GatewayConfig, RelayNeedsAWellFormedSmarthost) {
  // pullmail init writes relay_listen and leaves smarthost unset.
  auto unset = Parse("[gateway]\nrelay_listen = \"127.0.0.1:7125\"\n");
  ASSERT_TRUE(unset.ok()) << unset.status();
  EXPECT_TRUE(unset->smarthost.empty());
  for (const char* bad : {"mx.isp.example", "mx.isp.example:0", "mx.isp.example:x", ":25",
                          "mx.isp.example:70000"}) {
    auto c = Parse(std::string("[gateway]\nsmarthost = \"") + bad + "\"\n");
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(GatewayConfig, PlaintextAuthIgnoresTheRelayAndSmarthost) {
  auto c = Parse(
      "[gateway]\nimap_listen = \"127.0.0.1:143\"\nrelay_listen = \"0.0.0.0:7125\"\n"
      "smarthost = \"mx.isp.example:25\"\nallow_plaintext_auth = true\n");
  EXPECT_TRUE(c.ok()) << c.status();
}

}  // namespace
}  // namespace pullmail
