#include "rpc/channel_cache.h"

#include <gtest/gtest.h>

namespace pullmail {
namespace {

TlsConfig Plaintext() {
  TlsConfig tls;
  tls.plaintext = true;
  return tls;
}

TEST(ChannelCacheTest, OneChannelPerPeerAndEndpoint) {
  TlsConfig tls = Plaintext();
  ChannelCache cache(&tls);
  auto a1 = cache.Get("127.0.0.1:7101", "a.example");
  auto a2 = cache.Get("127.0.0.1:7101", "a.example");
  auto b = cache.Get("127.0.0.1:7101", "b.example");
  auto a_other = cache.Get("127.0.0.1:7102", "a.example");
  ASSERT_TRUE(a1.ok()) << a1.status();
  ASSERT_TRUE(a2.ok() && b.ok() && a_other.ok());
  EXPECT_EQ(a1->get(), a2->get());
  EXPECT_NE(a1->get(), b->get());  // the certificate name is part of the channel
  EXPECT_NE(a1->get(), a_other->get());
  EXPECT_EQ(cache.size(), 3u);
}

TEST(ChannelCacheTest, ADialErrorIsReturnedAndNothingIsKept) {
  TlsConfig tls = Plaintext();
  ChannelCache cache(&tls);
  // Plaintext only to loopback (rpc/tls.h).
  auto ch = cache.Get("192.0.2.1:7101", "a.example");
  EXPECT_FALSE(ch.ok());
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ChannelCacheTest, StaysBounded) {
  TlsConfig tls = Plaintext();
  ChannelCache cache(&tls);
  for (size_t i = 0; i < ChannelCache::kMaxChannels + 10; ++i) {
    ASSERT_TRUE(cache.Get("127.0.0.1:7101", "d" + std::to_string(i) + ".example").ok());
  }
  EXPECT_LE(cache.size(), ChannelCache::kMaxChannels);
}

}  // namespace
}  // namespace pullmail
