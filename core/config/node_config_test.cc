#include "core/config/node_config.h"

#include <gtest/gtest.h>

namespace pullmail {
namespace {

constexpr char kGood[] = R"(
domain = "A.Example"
data_dir = "data"
directory = "../directory.toml"
signing_key = "keys/signing.pem"
[tls]
ca = "/etc/ca.pem"
cert = "tls/node.pem"
key = "tls/node.key"
[sender]
listen = "127.0.0.1:7102"
retention_hours = 48
[recipient]
listen = "127.0.0.1:7101"
[recipient.policy]
spam_threshold_k = 2.0
)";

TEST(NodeConfig, ParsesAndResolvesPaths) {
  auto c = ParseNodeConfig(kGood, "/srv/pm/a/node.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->domain, "a.example");
  EXPECT_EQ(c->data_dir, "/srv/pm/a/data");
  EXPECT_EQ(c->directory, "/srv/pm/directory.toml");
  EXPECT_EQ(c->tls.ca, "/etc/ca.pem");
  EXPECT_EQ(c->tls.cert, "/srv/pm/a/tls/node.pem");
  EXPECT_EQ(c->key_id, "k1");
  EXPECT_EQ(c->retention, absl::Hours(48));
  EXPECT_EQ(c->SenderDbPath(), "/srv/pm/a/data/sender.db");
  ASSERT_NE(c->Section("recipient", "policy"), nullptr);
  EXPECT_EQ(c->Section("sender", "retry"), nullptr);
}

TEST(NodeConfig, DatabaseUrlPutsEveryStoreThereAndClaimLeaseIsBounded) {
  auto sqlite = ParseNodeConfig(kGood, "/srv/pm/a/node.toml");
  ASSERT_TRUE(sqlite.ok()) << sqlite.status();
  EXPECT_EQ(sqlite->RecipientStoreLocation(), "/srv/pm/a/data/recipient.db");
  EXPECT_EQ(sqlite->claim_lease, absl::Minutes(2));
  EXPECT_EQ(sqlite->DeliveryClaimLease(), absl::ZeroDuration());  // one process owns it
  const std::string url = "postgresql://pm@db:5432/mail";
  auto with_db = ParseNodeConfig("database = '" + url + "'\n" + std::string(kGood),
                                 "/srv/pm/a/node.toml");
  ASSERT_TRUE(with_db.ok()) << with_db.status();
  EXPECT_EQ(with_db->SenderStoreLocation(), url);
  EXPECT_EQ(with_db->RecipientStoreLocation(), url);
  EXPECT_EQ(with_db->UsersStoreLocation(), url);
  EXPECT_EQ(with_db->DeliveryClaimLease(), absl::Minutes(2));  // replicas share it
  auto not_url = ParseNodeConfig("database = 'data/x.db'\n" + std::string(kGood), "/x/n.toml");
  EXPECT_FALSE(not_url.ok());
  EXPECT_NE(std::string(not_url.status().message()).find("database"), std::string::npos);
  std::string lease(kGood);
  lease.replace(lease.find("retention_hours = 48"), 20, "claim_lease_seconds = 0");
  EXPECT_FALSE(ParseNodeConfig(lease, "/x/n.toml").ok());
}

TEST(NodeConfig, RejectsMissingFieldsAndPublicPlaintext) {
  EXPECT_FALSE(ParseNodeConfig("directory='d'\nsigning_key='k'", "/x/n.toml").ok());
  auto no_tls = ParseNodeConfig("domain='a'\ndirectory='d'\nsigning_key='k'", "/x/n.toml");
  EXPECT_FALSE(no_tls.ok());
  EXPECT_NE(std::string(no_tls.status().message()).find("tls"), std::string::npos);
  auto public_plain = ParseNodeConfig(
      "domain='a'\ndirectory='d'\nsigning_key='k'\n[tls]\nplaintext=true\n"
      "[recipient]\nlisten='0.0.0.0:7101'\n",
      "/x/n.toml");
  EXPECT_FALSE(public_plain.ok());
  EXPECT_TRUE(ParseNodeConfig(
                  "domain='a'\ndirectory='d'\nsigning_key='k'\n[tls]\nplaintext=true\n"
                  "[recipient]\nlisten='127.0.0.1:7101'\n",
                  "/x/n.toml")
                  .ok());
  EXPECT_FALSE(ParseNodeConfig("domain = [", "/x/n.toml").ok());
}

TEST(NodeConfig, ClientEndpointsDefaultToListenOrListEveryReplica) {
  const char* base = "domain='a'\ndirectory='d'\nsigning_key='k'\n[tls]\nplaintext=true\n";
  auto single = ParseNodeConfig(std::string(base) +
                                    "[sender]\nlisten='127.0.0.1:7102'\n"
                                    "[recipient]\nlisten='127.0.0.1:7101'\n",
                                "/x/n.toml");
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_EQ(single->SenderEndpoints(), "127.0.0.1:7102");
  EXPECT_EQ(single->RecipientEndpoints(), "127.0.0.1:7101");
  auto listed = ParseNodeConfig(
      std::string(base) +
          "[sender]\nlisten='127.0.0.1:7102'\nendpoints='127.0.0.1:7102,127.0.0.1:7202'\n"
          "[recipient]\nlisten='127.0.0.1:7101'\nendpoints='127.0.0.1:7101,127.0.0.1:7201'\n",
      "/x/n.toml");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->SenderEndpoints(), "127.0.0.1:7102,127.0.0.1:7202");
  EXPECT_EQ(listed->RecipientEndpoints(), "127.0.0.1:7101,127.0.0.1:7201");
  EXPECT_EQ(listed->recipient_listen, "127.0.0.1:7101");  // the node's own address is apart
  // An empty element, a missing port, a public address with plaintext.
  for (const char* bad : {"[sender]\nendpoints='127.0.0.1:7102,'\n",
                          "[recipient]\nendpoints='127.0.0.1'\n",
                          "[recipient]\nendpoints='127.0.0.1:7101,192.0.2.1:7101'\n"}) {
    auto r = ParseNodeConfig(std::string(base) + bad, "/x/n.toml");
    EXPECT_FALSE(r.ok()) << bad;
    const std::string why(r.status().message());
    EXPECT_TRUE(why.find("endpoints") != std::string::npos ||
                why.find("plaintext") != std::string::npos)
        << why;
  }
}

TEST(NodeConfig, DnsDirectory) {
  const char* base = "domain='a'\nsigning_key='k'\n[tls]\nplaintext=true\n";
  auto none = ParseNodeConfig(base, "/x/n.toml");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(std::string(none.status().message()).find("directory"), std::string::npos);
  auto dns = ParseNodeConfig(std::string(base) +
                                 "[dns]\nenabled=true\nservers='127.0.0.1:5300'\ntimeout_ms=500\n"
                                 "max_ttl_seconds=20\nnegative_ttl_seconds=5\n",
                             "/x/n.toml");
  ASSERT_TRUE(dns.ok()) << dns.status();
  EXPECT_TRUE(dns->dns.enabled);
  EXPECT_TRUE(dns->directory.empty());
  EXPECT_EQ(dns->dns.servers, "127.0.0.1:5300");
  EXPECT_EQ(dns->dns.timeout, absl::Milliseconds(500));
  EXPECT_EQ(dns->dns.max_ttl, absl::Seconds(20));
  EXPECT_EQ(dns->dns.negative_ttl, absl::Seconds(5));
  EXPECT_FALSE(ParseNodeConfig(std::string(base) + "[dns]\nenabled=true\ntimeout_ms=0\n", "/x/n.toml").ok());
  auto layered = ParseNodeConfig("directory='d.toml'\n" + std::string(base), "/x/n.toml");
  ASSERT_TRUE(layered.ok());
  EXPECT_FALSE(layered->dns.enabled);
}

TEST(NodeConfig, LoopbackEndpoints) {
  EXPECT_TRUE(IsLoopbackEndpoint("127.0.0.1:1"));
  EXPECT_TRUE(IsLoopbackEndpoint("[::1]:1"));
  EXPECT_TRUE(IsLoopbackEndpoint("localhost:1"));
  EXPECT_FALSE(IsLoopbackEndpoint("10.0.0.1:1"));
  EXPECT_FALSE(IsLoopbackEndpoint("[::]:1"));
  EXPECT_FALSE(IsLoopbackEndpoint("mail.example:1"));
}

}  // namespace
}  // namespace pullmail
