// Tests for the DNS directory records: the documented examples parse, every
// documented error is an error, formatting round-trips, and DNS responses
// (built here byte by byte as RFC 1035 lays them out) yield their TXT answers
// and TTL, with truncations and loops refused.
#include "core/directory/dns_record.h"

#include <string>

#include "core/crypto/encoding.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// RFC 8032 section 7.1 TEST 1 public key.
const char kKey1B64[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

std::string Raw(const char* b64) { return *Base64Decode(b64); }

TEST(DnsRecordNames, DkimStyle) {
  EXPECT_EQ(DomainRecordName("A.Example"), "_pullmail.a.example");
  EXPECT_EQ(KeyRecordName("a.example", "k2"), "k2._pmkey.a.example");
}

TEST(DnsKeyId, OneLowerCaseLabel) {
  EXPECT_TRUE(ValidDnsKeyId("k1"));
  EXPECT_TRUE(ValidDnsKeyId("2026-12-a"));
  EXPECT_FALSE(ValidDnsKeyId(""));
  EXPECT_FALSE(ValidDnsKeyId("K1"));
  EXPECT_FALSE(ValidDnsKeyId("-k"));
  EXPECT_FALSE(ValidDnsKeyId("k.1"));
  EXPECT_FALSE(ValidDnsKeyId(std::string(64, 'k')));
  EXPECT_TRUE(ValidDnsKeyId(std::string(63, 'k')));
}

TEST(DomainRecord, DocumentedExampleParses) {
  auto r = ParseDomainRecord("v=pm1; r=mx.a.example:7101; s=bodies.a.example:7102; k=k2,k1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->recipient_endpoint, "mx.a.example:7101");
  EXPECT_EQ(r->sender_endpoint, "bodies.a.example:7102");
  EXPECT_THAT(r->key_ids, ElementsAre("k2", "k1"));
}

TEST(DomainRecord, WhitespaceUnknownTagsAndTrailingSemicolon) {
  auto r = ParseDomainRecord("  v = pm1 ;s=[::1]:2 ; x=future; r=127.0.0.1:1;k= a , b ;");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->recipient_endpoint, "127.0.0.1:1");
  EXPECT_EQ(r->sender_endpoint, "[::1]:2");
  EXPECT_THAT(r->key_ids, ElementsAre("a", "b"));
}

TEST(DomainRecord, ReplicaListsAsInTheTomlFile) {
  auto r = ParseDomainRecord("v=pm1; r=10.0.0.1:7101,10.0.0.2:7101; s=h:2; k=k1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->recipient_endpoint, "10.0.0.1:7101,10.0.0.2:7101");
  EXPECT_FALSE(ParseDomainRecord("v=pm1; r=10.0.0.1:7101,; s=h:2").ok());
}

TEST(DomainRecord, NoKeysIsAnEntryWithoutKeys) {
  auto r = ParseDomainRecord("v=pm1; r=h:1; s=h:2");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->key_ids.empty());
}

TEST(DomainRecord, Errors) {
  struct Case {
    std::string text, error;
  } cases[] = {
      {"r=h:1; s=h:2; v=pm1", "v must come first"},
      {"v=pm2; r=h:1; s=h:2", "expected v=pm1"},
      {"v=pm1; s=h:2", "tag r missing"},
      {"v=pm1; r=h:1", "tag s missing"},
      {"v=pm1; r=h; s=h:2", "tag r"},
      {"v=pm1; r=h:1; s=h:99999", "tag s"},
      {"v=pm1; r=h:1; r=h:3; s=h:2", "appears twice"},
      {"v=pm1; r=h:1; s=h:2; k=K1", "not a key id"},
      {"v=pm1; r=h:1; s=h:2; k=a..b", "not a key id"},
      {"v=pm1; r h:1; s=h:2", "without '='"},
      {"v=pm1;; r=h:1; s=h:2", "empty tag"},
      {"v=pm1; r=h:1; s=h:2; x=" + std::string(3000, 'a'), "limit"},
  };
  for (const Case& c : cases) {
    auto r = ParseDomainRecord(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_THAT(r.status().message(), HasSubstr(c.error)) << c.text;
  }
}

TEST(DomainRecord, TooManyKeys) {
  std::string k;
  for (int i = 0; i < 17; ++i) k += "k" + std::to_string(i) + ",";
  k.pop_back();
  auto r = ParseDomainRecord("v=pm1; r=h:1; s=h:2; k=" + k);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("more than 16"));
}

TEST(DomainRecord, FormatRoundTrips) {
  DomainRecord in{"127.0.0.1:7101", "127.0.0.1:7102", {"k2", "k1"}};
  EXPECT_EQ(FormatDomainRecord(in), "v=pm1; r=127.0.0.1:7101; s=127.0.0.1:7102; k=k2,k1");
  auto out = ParseDomainRecord(FormatDomainRecord(in));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->key_ids, in.key_ids);
}

TEST(KeyRecord, ParsesAndFormats) {
  std::string text = FormatKeyRecord(Raw(kKey1B64));
  EXPECT_EQ(text, std::string("v=pm1; k=ed25519; p=") + kKey1B64);
  auto raw = ParseKeyRecord(text);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(*raw, Raw(kKey1B64));
  // k= defaults to ed25519; whitespace inside p= is ignored (RFC 6376 3.6.1).
  raw = ParseKeyRecord("v=pm1; p=11qYAYKxCrfVS/7TyWQHOg7hc vPapiMlrwIaaPcHURo=");
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(*raw, Raw(kKey1B64));
}

TEST(KeyRecord, RevokedAndBad) {
  EXPECT_EQ(ParseKeyRecord("v=pm1; k=ed25519; p=").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ParseKeyRecord("v=pm1; k=rsa; p=AAAA").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseKeyRecord("v=pm1; p=AAAA").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseKeyRecord("v=pm1; p=!!!!").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseKeyRecord("v=pm1; k=ed25519").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SelectRecord, IgnoresOthersRefusesTwo) {
  auto r = SelectPullmailRecord({"google-site-verification=x", "v=pm1; r=h:1; s=h:2", "v=pm10"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "v=pm1; r=h:1; s=h:2");
  EXPECT_EQ(SelectPullmailRecord({"v=spf1 -all"}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(SelectPullmailRecord({"v=pm1; a", " v = pm1 ;b"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- DNS messages ---

std::string U16(int v) { return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)}; }
std::string U32(uint32_t v) { return U16(static_cast<int>(v >> 16)) + U16(static_cast<int>(v & 0xffff)); }
std::string Name(const std::string& dotted) {
  std::string out;
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    out += static_cast<char>(dot - start);
    out += dotted.substr(start, dot - start);
    start = dot + 1;
  }
  return out + std::string(1, '\0');
}
std::string Txt(const std::vector<std::string>& strings) {
  std::string rdata;
  for (const auto& s : strings) rdata += static_cast<char>(s.size()) + s;
  return rdata;
}
// A response with one question and the given answers (rdata already built);
// each answer's owner is a pointer to the question name (offset 12).
std::string Response(int rcode, const std::vector<std::tuple<int, uint32_t, std::string>>& answers) {
  std::string m = U16(0x1234) + U16(0x8400 | rcode) + U16(1) + U16(static_cast<int>(answers.size())) +
                  U16(0) + U16(0);
  m += Name("_pullmail.a.example") + U16(16) + U16(1);
  for (const auto& [type, ttl, rdata] : answers) {
    m += std::string("\xC0\x0C", 2) + U16(type) + U16(1) + U32(ttl) +
         U16(static_cast<int>(rdata.size())) + rdata;
  }
  return m;
}

TEST(TxtResponse, RecordsConcatenatedAndSmallestTtl) {
  std::string m = Response(0, {{16, 300, Txt({"v=pm1; r=h:1;", " s=h:2"})},
                               {5, 10, Name("elsewhere.example")},
                               {16, 120, Txt({"other"})}});
  auto a = ParseTxtResponse(m);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->rcode, 0);
  EXPECT_THAT(a->records, ElementsAre("v=pm1; r=h:1; s=h:2", "other"));
  EXPECT_EQ(a->ttl, absl::Seconds(120));  // the CNAME's TTL does not count
}

TEST(TxtResponse, NxdomainAndHighBitTtl) {
  auto a = ParseTxtResponse(Response(3, {}));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->rcode, 3);
  EXPECT_TRUE(a->records.empty());
  a = ParseTxtResponse(Response(0, {{16, 0x80000001u, Txt({"x"})}}));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->ttl, absl::ZeroDuration());
}

TEST(TxtResponse, EveryTruncationIsAnErrorNotACrash) {
  std::string m = Response(0, {{16, 300, Txt({"v=pm1; r=h:1; s=h:2"})}});
  for (size_t n = 0; n < m.size(); ++n) {
    EXPECT_FALSE(ParseTxtResponse(m.substr(0, n)).ok()) << n;
  }
  EXPECT_TRUE(ParseTxtResponse(m).ok());
}

TEST(TxtResponse, RefusesLoopsQueriesAndFloods) {
  // A label with the reserved type bits (0x40) in the question name.
  std::string reserved = U16(1) + U16(0x8000) + U16(1) + U16(0) + U16(0) + U16(0) +
                         std::string("\x41" "a", 2) + std::string(1, '\0') + U16(16) + U16(1);
  EXPECT_FALSE(ParseTxtResponse(reserved).ok());
  // More labels than a name can have (a long chain of 1-byte labels).
  std::string deep = U16(1) + U16(0x8000) + U16(1) + U16(0) + U16(0) + U16(0);
  for (int i = 0; i < 200; ++i) deep += std::string("\x01" "a", 2);
  deep += std::string(1, '\0') + U16(16) + U16(1);
  EXPECT_FALSE(ParseTxtResponse(deep).ok());
  std::string query = Response(0, {});
  query[2] = 0;  // QR bit clear
  EXPECT_FALSE(ParseTxtResponse(query).ok());
  std::vector<std::tuple<int, uint32_t, std::string>> many(17, {16, 60, Txt({"x"})});
  auto a = ParseTxtResponse(Response(0, many));
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("more than 16"));
  std::vector<std::string> strings(9, std::string(255, 'a'));
  EXPECT_FALSE(ParseTxtResponse(Response(0, {{16, 60, Txt(strings)}})).ok());
  // A TXT string longer than its rdata.
  EXPECT_FALSE(ParseTxtResponse(Response(0, {{16, 60, std::string("\x05" "ab", 3)}})).ok());
}

TEST(ZoneLines, PublishesDomainThenKeysInOrder) {
  DomainEntry e;
  e.domain = "A.example";
  e.recipient_endpoint = "127.0.0.1:7101";
  e.sender_endpoint = "127.0.0.1:7102";
  e.keys["k1"] = Raw(kKey1B64);
  e.keys["k2"] = Raw(kKey1B64);
  auto z = FormatZoneLines(e, {"k2", "k1", "gone"}, absl::Seconds(300));
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ(*z, std::string("_pullmail.a.example. 300 IN TXT \"v=pm1; r=127.0.0.1:7101; "
                            "s=127.0.0.1:7102; k=k2,k1\"\n"
                            "k2._pmkey.a.example. 300 IN TXT \"v=pm1; k=ed25519; p=") +
                    kKey1B64 + "\"\nk1._pmkey.a.example. 300 IN TXT \"v=pm1; k=ed25519; p=" +
                    kKey1B64 + "\"\n");
  e.keys["Bad.Id"] = Raw(kKey1B64);
  EXPECT_FALSE(FormatZoneLines(e, {}, absl::Seconds(300)).ok());
}

// docs/PROTOCOL.md section 10.6.
TEST(Vectors, AlphaExample) {
  std::string key_a = *HexDecode("03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8");
  const std::string domain_txt = "v=pm1; r=mx.alpha.example:7443; s=pm.alpha.example:7443; k=2023a";
  const std::string key_txt = "v=pm1; k=ed25519; p=A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
  DomainEntry e;
  e.domain = "alpha.example";
  e.recipient_endpoint = "mx.alpha.example:7443";
  e.sender_endpoint = "pm.alpha.example:7443";
  e.keys["2023a"] = key_a;
  auto z = FormatZoneLines(e, {"2023a"}, absl::Seconds(300));
  ASSERT_TRUE(z.ok()) << z.status();
  EXPECT_EQ(*z, "_pullmail.alpha.example. 300 IN TXT \"" + domain_txt + "\"\n" +
                    "2023a._pmkey.alpha.example. 300 IN TXT \"" + key_txt + "\"\n");
  auto r = ParseDomainRecord(domain_txt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->recipient_endpoint, "mx.alpha.example:7443");
  EXPECT_EQ(r->sender_endpoint, "pm.alpha.example:7443");
  EXPECT_THAT(r->key_ids, ElementsAre("2023a"));
  EXPECT_EQ(*ParseKeyRecord(key_txt), key_a);
}

}  // namespace
}  // namespace pullmail
