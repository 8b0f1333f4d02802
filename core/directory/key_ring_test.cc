// Tests for the key rotation rules: the next id, the older key kept
// published for its notifications' lifetime and then dropped, newest-first
// publication, and published.toml round-tripping.
#include "core/directory/key_ring.h"

#include "core/crypto/encoding.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kPub1 = *Base64Decode("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
const std::string kPub2 = *Base64Decode("PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=");
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

TEST(KeyRing, NextKeyId) {
  EXPECT_EQ(NextKeyId("k1", {}), "k2");
  EXPECT_EQ(NextKeyId("main", {}), "k1");
  EXPECT_EQ(NextKeyId("k2", {{"k9", kPub1, kT0, kT0}, {"k10x", kPub1, kT0, kT0}}), "k10");
}

TEST(KeyRing, RotationKeepsTheOldKeyForItsNotificationsThenDropsIt) {
  absl::Duration keep = RetiredKeyLifetime(absl::Hours(1));
  EXPECT_EQ(keep, absl::Hours(1) + absl::Minutes(5));
  auto r = Rotate({}, "k1", kPub1, "k2", kT0, keep);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].id, "k1");
  EXPECT_EQ((*r)[0].publish_until, kT0 + keep);

  std::vector<std::string> order;
  DomainEntry e = PublishedEntry("a.example", "h:1", "h:2", "k2", kPub2, *r, kT0 + keep - absl::Seconds(1), &order);
  EXPECT_THAT(order, ElementsAre("k2", "k1"));
  EXPECT_EQ(e.keys.at("k1"), kPub1);
  e = PublishedEntry("a.example", "h:1", "h:2", "k2", kPub2, *r, kT0 + keep, &order);
  EXPECT_THAT(order, ElementsAre("k2"));
  EXPECT_EQ(e.keys.count("k1"), 0u);

  // A second rotation later: k2 joins, expired k1 is dropped from the file.
  auto r2 = Rotate(*r, "k2", kPub2, "k3", kT0 + keep + absl::Seconds(1), keep);
  ASSERT_TRUE(r2.ok());
  ASSERT_EQ(r2->size(), 1u);
  EXPECT_EQ((*r2)[0].id, "k2");
}

TEST(KeyRing, NewestFirstAndRefusals) {
  std::vector<RetiredKey> retired = {{"k1", kPub1, kT0, kT0 + absl::Hours(9)},
                                     {"k2", kPub2, kT0 + absl::Hours(1), kT0 + absl::Hours(9)}};
  std::vector<std::string> order;
  PublishedEntry("a.example", "h:1", "h:2", "k3", kPub1, retired, kT0, &order);
  EXPECT_THAT(order, ElementsAre("k3", "k2", "k1"));
  EXPECT_THAT(Rotate(retired, "k3", kPub1, "k1", kT0, absl::Hours(1)).status().message(),
              HasSubstr("still published"));
  EXPECT_FALSE(Rotate(retired, "k3", kPub1, "k3", kT0, absl::Hours(1)).ok());
  EXPECT_FALSE(Rotate(retired, "k3", kPub1, "Bad_Id", kT0, absl::Hours(1)).ok());
}

TEST(KeyRing, FileRoundTripsAndRejectsNonsense) {
  std::vector<RetiredKey> keys = {{"k1", kPub1, kT0, kT0 + absl::Hours(2)}};
  std::string text = FormatRetiredKeys("a.example", keys);
  auto back = ParseRetiredKeys(text, "published.toml");
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].id, "k1");
  EXPECT_EQ((*back)[0].public_key, kPub1);
  EXPECT_EQ((*back)[0].retired, kT0);
  EXPECT_EQ((*back)[0].publish_until, kT0 + absl::Hours(2));
  EXPECT_TRUE(ParseRetiredKeys("", "p")->empty());
  EXPECT_THAT(ParseRetiredKeys("[keys.k1]\npublic_key='AAAA'\nretired_unix=1\npublish_until_unix=2\n", "p")
                  .status().message(), HasSubstr("keys.k1"));
  EXPECT_FALSE(ParseRetiredKeys("[keys.K1]\n", "p").ok());
  EXPECT_FALSE(ParseRetiredKeys("other = 1\n", "p").ok());
}

}  // namespace
}  // namespace pullmail
