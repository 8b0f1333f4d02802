// Tests for DnsDirectory on a fake resolver and a fake clock: answers are
// cached for their TTL (and no longer), a timeout is Unavailable and never
// cached nor turned into an answer, a missing or revoked key drops that key
// only, and LayeredDirectory lets the TOML file override DNS.
#include "core/directory/dns_directory.h"

#include <map>
#include <string>

#include "core/crypto/encoding.h"
#include "core/directory/dns_record.h"
#include "core/directory/memory_directory.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::HasSubstr;

const char kKey1B64[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const char kKey2B64[] = "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=";

// A zone in memory: name -> records (absent = NXDOMAIN); `down` makes every
// query time out.
class FakeResolver : public TxtResolver {
 public:
  std::vector<absl::StatusOr<TxtRecords>> Resolve(const std::vector<std::string>& names) override {
    std::vector<absl::StatusOr<TxtRecords>> out;
    for (const std::string& n : names) {
      ++queries;
      if (down) {
        out.push_back(absl::UnavailableError("timeout"));
        continue;
      }
      auto it = zone.find(n);
      if (it == zone.end()) {
        out.push_back(absl::NotFoundError("NXDOMAIN"));
      } else {
        out.push_back(it->second);
      }
    }
    return out;
  }
  void Set(const std::string& name, std::string text, int ttl_s) {
    zone[name] = TxtRecords{{std::move(text)}, absl::Seconds(ttl_s)};
  }
  std::map<std::string, TxtRecords> zone;
  bool down = false;
  int queries = 0;
};

class DnsDirectoryTest : public ::testing::Test {
 protected:
  DnsDirectoryTest() : dir_(&resolver_, &clock_, Options()) {
    resolver_.Set("_pullmail.a.example", "v=pm1; r=127.0.0.1:7101; s=127.0.0.1:7102; k=k2,k1", 300);
    resolver_.Set("k1._pmkey.a.example", std::string("v=pm1; k=ed25519; p=") + kKey1B64, 600);
    resolver_.Set("k2._pmkey.a.example", std::string("v=pm1; k=ed25519; p=") + kKey2B64, 200);
  }
  static DnsDirectoryOptions Options() {
    DnsDirectoryOptions o;
    o.negative_ttl = absl::Seconds(30);
    o.max_ttl = absl::Hours(1);
    return o;
  }
  FakeResolver resolver_;
  FakeClock clock_;
  DnsDirectory dir_;
};

TEST_F(DnsDirectoryTest, BuildsTheEntryFromTheRecords) {
  auto e = dir_.Lookup("A.Example");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->domain, "a.example");
  EXPECT_EQ(e->recipient_endpoint, "127.0.0.1:7101");
  EXPECT_EQ(e->sender_endpoint, "127.0.0.1:7102");
  EXPECT_FALSE(e->legacy);
  ASSERT_EQ(e->keys.size(), 2u);
  EXPECT_EQ(e->keys.at("k1"), *Base64Decode(kKey1B64));
  EXPECT_EQ(e->keys.at("k2"), *Base64Decode(kKey2B64));
  EXPECT_EQ(resolver_.queries, 3);
  auto k = dir_.LookupKey("a.example", "k2");
  ASSERT_TRUE(k.ok());
}

TEST_F(DnsDirectoryTest, CachedForTheSmallestTtlThenAskedAgain) {
  ASSERT_TRUE(dir_.Lookup("a.example").ok());
  int after_first = resolver_.queries;
  clock_.Advance(absl::Seconds(199));
  ASSERT_TRUE(dir_.Lookup("a.example").ok());
  EXPECT_EQ(resolver_.queries, after_first);  // within k2's 200 s
  EXPECT_EQ(dir_.resolves(), 1);
  // k2 is revoked meanwhile: seen only once the cached entry expires.
  resolver_.Set("k2._pmkey.a.example", "v=pm1; k=ed25519; p=", 200);
  ASSERT_EQ(dir_.Lookup("a.example")->keys.count("k2"), 1u);
  clock_.Advance(absl::Seconds(1));
  auto e = dir_.Lookup("a.example");
  ASSERT_TRUE(e.ok());
  EXPECT_GT(resolver_.queries, after_first);
  EXPECT_EQ(e->keys.count("k2"), 0u);
  EXPECT_EQ(e->keys.count("k1"), 1u);
  auto k = dir_.LookupKey("a.example", "k2");
  EXPECT_EQ(k.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DnsDirectoryTest, KeyRemovedFromListOrZoneStopsVerifying) {
  resolver_.Set("_pullmail.a.example", "v=pm1; r=127.0.0.1:7101; s=127.0.0.1:7102; k=k2", 300);
  auto e = dir_.Lookup("a.example");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->keys.count("k1"), 0u);  // its record remains, but k= no longer lists it
  resolver_.zone.erase("k2._pmkey.a.example");
  clock_.Advance(absl::Seconds(300));
  e = dir_.Lookup("a.example");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->keys.empty());  // listed but NXDOMAIN: absent, entry stands
  // The missing key makes the entry live only negative_ttl (30 s).
  int q = resolver_.queries;
  clock_.Advance(absl::Seconds(30));
  ASSERT_TRUE(dir_.Lookup("a.example").ok());
  EXPECT_GT(resolver_.queries, q);
}

TEST_F(DnsDirectoryTest, TimeoutIsUnavailableNeverCachedAndLaterRetrySucceeds) {
  resolver_.down = true;
  auto e = dir_.Lookup("a.example");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(e.status().message(), HasSubstr("_pullmail.a.example"));
  resolver_.down = false;
  e = dir_.Lookup("a.example");  // no time passed: the failure was not cached
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->keys.size(), 2u);
}

TEST_F(DnsDirectoryTest, TimeoutOfOneKeyRecordMakesTheWholeLookupUnavailable) {
  class OneKeyDown : public FakeResolver {
   public:
    std::vector<absl::StatusOr<TxtRecords>> Resolve(const std::vector<std::string>& names) override {
      auto out = FakeResolver::Resolve(names);
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i] == "k1._pmkey.a.example") out[i] = absl::UnavailableError("SERVFAIL");
      }
      return out;
    }
  } resolver;
  resolver.zone = resolver_.zone;
  DnsDirectory dir(&resolver, &clock_, Options());
  auto e = dir.Lookup("a.example");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kUnavailable);  // not "k1 unknown"
}

TEST_F(DnsDirectoryTest, UnknownDomainIsNotFoundAndCachedNegatively) {
  auto e = dir_.Lookup("nowhere.example");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kNotFound);
  int q = resolver_.queries;
  clock_.Advance(absl::Seconds(29));
  EXPECT_FALSE(dir_.Lookup("nowhere.example").ok());
  EXPECT_EQ(resolver_.queries, q);
  resolver_.Set("_pullmail.nowhere.example", "v=pm1; r=h:1; s=h:2", 60);
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(dir_.Lookup("nowhere.example").ok());
}

TEST_F(DnsDirectoryTest, BadRecordIsAPermanentUnknownDomain) {
  resolver_.Set("_pullmail.bad.example", "v=pm1; r=nope", 60);
  auto e = dir_.Lookup("bad.example");
  EXPECT_EQ(e.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(e.status().message(), HasSubstr("invalid _pullmail.bad.example"));
  resolver_.zone["_pullmail.two.example"] = TxtRecords{{"v=pm1; r=h:1; s=h:2", "v=pm1; r=h:3; s=h:4"},
                                                       absl::Seconds(60)};
  EXPECT_EQ(dir_.Lookup("two.example").status().code(), absl::StatusCode::kNotFound);
  resolver_.zone["_pullmail.spf.example"] = TxtRecords{{"v=spf1 -all"}, absl::Seconds(60)};
  EXPECT_EQ(dir_.Lookup("spf.example").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(DnsDirectoryTest, NamesThatAreNoHostNamesAreNeverQueried) {
  EXPECT_EQ(dir_.Lookup("a.exa mple").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(dir_.Lookup(std::string("a\0b", 3)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(dir_.Lookup("").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(dir_.Lookup(std::string(300, 'a')).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(resolver_.queries, 0);
}

TEST_F(DnsDirectoryTest, TtlIsClamped) {
  DnsDirectoryOptions o = Options();
  o.max_ttl = absl::Seconds(10);
  DnsDirectory dir(&resolver_, &clock_, o);
  ASSERT_TRUE(dir.Lookup("a.example").ok());
  clock_.Advance(absl::Seconds(10));
  ASSERT_TRUE(dir.Lookup("a.example").ok());
  EXPECT_EQ(dir.resolves(), 2);
  // A zero TTL is never cached.
  resolver_.Set("_pullmail.z.example", "v=pm1; r=h:1; s=h:2", 0);
  ASSERT_TRUE(dir.Lookup("z.example").ok());
  ASSERT_TRUE(dir.Lookup("z.example").ok());
  EXPECT_EQ(dir.resolves(), 4);
}

TEST_F(DnsDirectoryTest, CacheIsBounded) {
  DnsDirectoryOptions o = Options();
  o.max_cached_domains = 2;
  DnsDirectory dir(&resolver_, &clock_, o);
  for (int i = 0; i < 5; ++i) {
    resolver_.Set("_pullmail.d" + std::to_string(i) + ".example", "v=pm1; r=h:1; s=h:2", 600);
    ASSERT_TRUE(dir.Lookup("d" + std::to_string(i) + ".example").ok());
  }
  EXPECT_EQ(dir.resolves(), 5);
  ASSERT_TRUE(dir.Lookup("d4.example").ok());  // the newest is still cached
  EXPECT_EQ(dir.resolves(), 5);
}

TEST_F(DnsDirectoryTest, TomlOverridesDnsDomainByDomain) {
  MemoryDirectory toml;
  DomainEntry b;
  b.domain = "a.example";
  b.recipient_endpoint = "10.0.0.1:1";
  b.sender_endpoint = "10.0.0.1:2";
  DomainEntry legacy;
  legacy.domain = "old.example";
  legacy.legacy = true;
  toml.Add(b);
  toml.Add(legacy);
  LayeredDirectory layered(&toml, &dir_);
  EXPECT_EQ(layered.Lookup("a.example")->recipient_endpoint, "10.0.0.1:1");
  EXPECT_TRUE(layered.Lookup("old.example")->legacy);
  EXPECT_EQ(resolver_.queries, 0);
  EXPECT_EQ(layered.Lookup("nowhere.example").status().code(), absl::StatusCode::kNotFound);
  resolver_.down = true;
  EXPECT_EQ(layered.Lookup("c.example").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(layered.Lookup("a.example").ok());  // the file needs no DNS
}

}  // namespace
}  // namespace pullmail
