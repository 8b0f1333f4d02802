// Tests for the TOML directory back end: the documented format loads, every
// documented error names the file, the domain and the field, and what
// FormatTomlDirectoryEntry writes parses back to the same entry.
#include "core/directory/toml_directory.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::HasSubstr;

// RFC 8032 section 7.1 TEST 1 and TEST 2 public keys.
const char kKey1B64[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const char kKey2B64[] = "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=";

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

const char kGood[] = R"(
# Two native domains and a legacy one.
[domains."a.example"]
recipient_endpoint = "127.0.0.1:7101"
sender_endpoint = "127.0.0.1:7102"
legacy = false
[domains."a.example".keys]
k1 = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
k2 = "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw="

[domains."B.Example"]
recipient_endpoint = "[::1]:7201"
sender_endpoint = "localhost:7202"
[domains."B.Example".keys]
"2024-01" = "PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw="

[domains."legacy.example"]
legacy = true
recipient_endpoint = "127.0.0.1:2525"
)";

TEST(TomlDirectoryTest, ParsesTheDocumentedFormat) {
  auto dir = ParseTomlDirectory(kGood, "dir.toml");
  ASSERT_TRUE(dir.ok()) << dir.status();
  auto a = (*dir)->Lookup("a.example");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->recipient_endpoint, "127.0.0.1:7101");
  EXPECT_EQ(a->sender_endpoint, "127.0.0.1:7102");
  EXPECT_FALSE(a->legacy);
  ASSERT_EQ(a->keys.size(), 2u);
  EXPECT_EQ(a->keys.at("k1"),
            Unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
  EXPECT_EQ(a->keys.at("k2"),
            Unhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"));

  // Domain names are case-insensitive; lookups too.
  auto b = (*dir)->Lookup("b.example");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->domain, "b.example");
  EXPECT_EQ(b->recipient_endpoint, "[::1]:7201");
  EXPECT_TRUE((*dir)->LookupKey("B.EXAMPLE", "2024-01").ok());

  auto legacy = (*dir)->Lookup("legacy.example");
  ASSERT_TRUE(legacy.ok());
  EXPECT_TRUE(legacy->legacy);
  EXPECT_TRUE(legacy->sender_endpoint.empty());
  EXPECT_TRUE(legacy->keys.empty());

  EXPECT_EQ((*dir)->Lookup("c.example").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*dir)->All().size(), 3u);
}

// Replicas (docs/SCALE-OUT.md): an endpoint may list several, comma-separated;
// each must be a valid host:port.
TEST(TomlDirectoryTest, EndpointListsOfReplicas) {
  auto dir = ParseTomlDirectory(
      "[domains.\"a.example\"]\nrecipient_endpoint = \"10.0.0.1:7101,10.0.0.2:7101\"\n"
      "sender_endpoint = \"10.0.0.1:7102\"\n",
      "d.toml");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ((*dir)->Lookup("a.example")->recipient_endpoint, "10.0.0.1:7101,10.0.0.2:7101");
  for (const char* bad : {"10.0.0.1:7101,", ",10.0.0.1:7101", "10.0.0.1:7101,,10.0.0.2:1",
                          "10.0.0.1:7101,nohost"}) {
    auto d = ParseTomlDirectory(absl::StrCat("[domains.\"a.example\"]\nrecipient_endpoint = \"",
                                             bad, "\"\nsender_endpoint = \"h:2\"\n"),
                                "d.toml");
    EXPECT_FALSE(d.ok()) << bad;
  }
}

TEST(TomlDirectoryTest, EmptyFileIsAnEmptyDirectory) {
  auto dir = ParseTomlDirectory("# nothing yet\n");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_TRUE((*dir)->All().empty());
}

struct BadCase {
  const char* name;
  const char* text;
  std::vector<const char*> must_mention;
};

TEST(TomlDirectoryTest, ErrorsNameFileDomainAndField) {
  const std::vector<BadCase> cases = {
      {"bad base64",
       "[domains.\"a.example\"]\nrecipient_endpoint = \"h:1\"\nsender_endpoint = \"h:2\"\n"
       "[domains.\"a.example\".keys]\nk1 = \"not*base64!\"\n",
       {"d.toml", "a.example", "keys.k1", "bad base64"}},
      {"base64 with bad padding position",
       "[domains.\"a.example\"]\nrecipient_endpoint = \"h:1\"\nsender_endpoint = \"h:2\"\n"
       "[domains.\"a.example\".keys]\nk1 = \"11qY=YKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n",
       {"a.example", "keys.k1", "bad base64"}},
      {"key too short",
       "[domains.\"a.example\"]\nrecipient_endpoint = \"h:1\"\nsender_endpoint = \"h:2\"\n"
       "[domains.\"a.example\".keys]\nk1 = \"AAAA\"\n",
       {"a.example", "keys.k1", "32 bytes", "got 3"}},
      {"key too long (33 bytes)",
       "[domains.\"a.example\"]\nrecipient_endpoint = \"h:1\"\nsender_endpoint = \"h:2\"\n"
       "[domains.\"a.example\".keys]\nk1 = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoA\"\n",
       {"a.example", "keys.k1", "got 33"}},
      {"key not a string",
       "[domains.\"a.example\"]\nrecipient_endpoint = \"h:1\"\nsender_endpoint = \"h:2\"\n"
       "[domains.\"a.example\".keys]\nk1 = 5\n",
       {"a.example", "keys.k1", "string"}},
      {"missing recipient endpoint",
       "[domains.\"a.example\"]\nsender_endpoint = \"h:2\"\n",
       {"d.toml", "a.example", "recipient_endpoint", "missing"}},
      {"missing sender endpoint",
       "[domains.\"a.example\"]\nrecipient_endpoint = \"h:2\"\nlegacy = false\n",
       {"a.example", "sender_endpoint", "missing"}},
      {"endpoint without port",
       "[domains.\"a.example\"]\nrecipient_endpoint = \"localhost\"\nsender_endpoint = \"h:2\"\n",
       {"a.example", "recipient_endpoint", "host:port"}},
      {"endpoint port out of range",
       "[domains.\"a.example\"]\nrecipient_endpoint = \"h:70000\"\nsender_endpoint = \"h:2\"\n",
       {"a.example", "recipient_endpoint"}},
      {"legacy not a bool",
       "[domains.\"a.example\"]\nlegacy = \"yes\"\n",
       {"a.example", "legacy", "true or false"}},
      {"unknown field in domain",
       "[domains.\"a.example\"]\nrecipient_endpoint = \"h:1\"\nsender_endpoint = \"h:2\"\n"
       "sender_endpiont = \"h:3\"\n",
       {"a.example", "sender_endpiont", "unknown field"}},
      {"unknown top-level key",
       "version = 1\n[domains.\"a.example\"]\nlegacy = true\n",
       {"d.toml", "unknown top-level key", "version"}},
      {"unknown top-level table",
       "[domain.\"a.example\"]\nlegacy = true\n",
       {"unknown top-level key", "domain"}},
      {"domains not a table", "domains = 3\n", {"domains", "table"}},
      {"domain entry not a table", "[domains]\n\"a.example\" = 3\n", {"a.example", "table"}},
      {"bad domain name", "[domains.\"a example\"]\nlegacy = true\n", {"a example", "domain name"}},
      {"duplicate after lower-casing",
       "[domains.\"a.example\"]\nlegacy = true\n[domains.\"A.EXAMPLE\"]\nlegacy = true\n",
       {"a.example", "twice"}},
      {"TOML syntax error", "[domains.\"a.example\"\nlegacy = true\n", {"d.toml:1"}},
  };
  for (const BadCase& c : cases) {
    auto dir = ParseTomlDirectory(c.text, "d.toml");
    ASSERT_FALSE(dir.ok()) << c.name;
    EXPECT_EQ(dir.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    for (const char* s : c.must_mention) {
      EXPECT_THAT(std::string(dir.status().message()), HasSubstr(s)) << c.name;
    }
  }
}

TEST(TomlDirectoryTest, FormatRoundTrips) {
  DomainEntry e;
  e.domain = "New.Example";
  e.recipient_endpoint = "127.0.0.1:7301";
  e.sender_endpoint = "127.0.0.1:7302";
  e.keys["k1"] = Unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  e.keys["odd \"id\""] = Unhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  std::string text = FormatTomlDirectoryEntry(e);
  EXPECT_THAT(text, HasSubstr("[domains.\"new.example\"]\n"));
  EXPECT_THAT(text, HasSubstr(std::string("\"k1\" = \"") + kKey1B64 + "\"\n"));

  // Appending to an existing file keeps both.
  auto dir = ParseTomlDirectory(std::string(kGood) + "\n" + text);
  ASSERT_TRUE(dir.ok()) << dir.status() << "\n" << text;
  auto got = (*dir)->Lookup("new.example");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->domain, "new.example");
  EXPECT_EQ(got->recipient_endpoint, e.recipient_endpoint);
  EXPECT_EQ(got->sender_endpoint, e.sender_endpoint);
  EXPECT_EQ(got->keys, e.keys);
  EXPECT_FALSE(got->legacy);
  EXPECT_TRUE((*dir)->Lookup("a.example").ok());

  DomainEntry legacy;
  legacy.domain = "old.example";
  legacy.legacy = true;
  auto dir2 = ParseTomlDirectory(FormatTomlDirectoryEntry(legacy));
  ASSERT_TRUE(dir2.ok()) << dir2.status();
  EXPECT_TRUE((*dir2)->Lookup("old.example")->legacy);
  (void)kKey2B64;
}

TEST(TomlDirectoryTest, LoadsFromFileAndReportsMissingFile) {
  char tmpl[] = "/tmp/pullmail_dir_test_XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  std::string path = tmpl;
  {
    std::ofstream out(path);
    out << kGood;
  }
  auto dir = LoadTomlDirectory(path);
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_TRUE((*dir)->Lookup("a.example").ok());

  {
    std::ofstream out(path);
    out << "[domains.\"x.example\"]\nsender_endpoint = \"h:1\"\n";
  }
  auto bad = LoadTomlDirectory(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("x.example"));
  std::remove(path.c_str());

  auto missing = LoadTomlDirectory(path);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(path));
}

}  // namespace
}  // namespace pullmail
