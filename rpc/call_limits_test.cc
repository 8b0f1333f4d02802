// Tests for the per-method receive limits, the per-peer call counter, peer
// address parsing and the [rpc] table (rpc/call_limits.h). The interceptor
// itself is exercised end to end by tests/e2e/test_hostile.py.
#include "rpc/call_limits.h"

#include <toml++/toml.h>

#include "core/util/limits.h"
#include "core/util/toml.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

TEST(CallLimits, MaxRequestBytesPerMethod) {
  EXPECT_EQ(MaxRequestBytes("/pullmail.v1.RecipientService/Notify"), 128u * 1024);
  EXPECT_EQ(MaxRequestBytes("/pullmail.v1.RecipientService/NotifyStream"), 128u * 1024);
  EXPECT_EQ(MaxRequestBytes("/pullmail.v1.SenderService/ReportAbuse"), 128u * 1024);
  EXPECT_GT(MaxRequestBytes("/pullmail.v1.RecipientService/Notify"), limits::kMaxSignedPayload);
  EXPECT_GT(MaxRequestBytes("/pullmail.v1.MailboxService/Append"), limits::kMaxBodySize);
  EXPECT_GT(MaxRequestBytes("/pullmail.v1.SubmitService/Submit"), limits::kMaxBodySize);
  EXPECT_GT(MaxRequestBytes("/pullmail.v1.SubmitService/BridgeBatch"), limits::kMaxBodySize);
  EXPECT_EQ(MaxRequestBytes("/pullmail.v1.SenderService/FetchBody"), 1024u * 1024);
  EXPECT_EQ(MaxRequestBytesOf({"pullmail.v1.RecipientService"}), 1024u * 1024);
  EXPECT_GT(MaxRequestBytesOf({"pullmail.v1.RecipientService", "pullmail.v1.MailboxService"}),
            limits::kMaxBodySize);
  EXPECT_TRUE(IsPeerFacing("/pullmail.v1.SenderService/FetchBody"));
  EXPECT_FALSE(IsPeerFacing("/pullmail.v1.MailboxService/Watch"));
}

TEST(CallLimits, PeerCallCounterBoundsEachPeer) {
  PeerCallCounter c(2);
  EXPECT_TRUE(c.Acquire("10.0.0.1"));
  EXPECT_TRUE(c.Acquire("10.0.0.1"));
  EXPECT_FALSE(c.Acquire("10.0.0.1"));
  EXPECT_TRUE(c.Acquire("10.0.0.2"));
  c.Release("10.0.0.1");
  EXPECT_TRUE(c.Acquire("10.0.0.1"));
  c.Release("unknown");  // ignored
}

TEST(CallLimits, PeerAddress) {
  EXPECT_EQ(PeerAddress("ipv4:127.0.0.1:5555"), "127.0.0.1");
  EXPECT_EQ(PeerAddress("ipv6:[::1]:5555"), "::1");
  EXPECT_EQ(PeerAddress("unix:/tmp/sock"), "/tmp/sock");
}

TEST(CallLimits, ParsesTheRpcTable) {
  auto t = ParseToml("max_calls_per_peer = 7\nmemory_quota_mib = 128\n", "t");
  ASSERT_TRUE(t.ok());
  auto l = ParseCallLimits(*t);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->max_calls_per_peer, 7);
  EXPECT_EQ(l->memory_quota_bytes, int64_t{128} << 20);
  for (const char* bad : {"max_calls_per_peer = 0", "memory_quota_mib = 1", "x = 1",
                          "max_calls_per_peer = \"many\""}) {
    auto b = ParseToml(bad, "t");
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(ParseCallLimits(*b).ok()) << bad;
  }
}

}  // namespace
}  // namespace pullmail
