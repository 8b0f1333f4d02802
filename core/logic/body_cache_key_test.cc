// Tests for BodyCacheKey: one key per (body, sending domain), a separate one
// per user for own copies, and no collision between scopes.
#include "core/logic/body_cache_key.h"

#include <set>

#include "core/crypto/sha256.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

StoredNotification Accepted(std::string_view domain, std::string_view body,
                            std::string_view sender = "x@a.example") {
  StoredNotification n;
  n.signing_domain = std::string(domain);
  n.envelope_sender = std::string(sender);
  n.body_sha256 = Sha256(body);
  n.signed_bytes = "signed";
  return n;
}

StoredNotification Local(std::string_view user, std::string_view body) {
  StoredNotification n = Accepted("c.example", body, user);
  n.signed_bytes.clear();
  return n;
}

TEST(BodyCacheKeyTest, SameBodySameDomainSharesOneKey) {
  // De-duplication within a domain: two messages, two senders, one body.
  EXPECT_EQ(BodyCacheKey(Accepted("a.example", "body", "x@a.example")),
            BodyCacheKey(Accepted("a.example", "body", "y@a.example")));
}

TEST(BodyCacheKeyTest, SameBodyFromAnotherDomainIsAnotherKey) {
  EXPECT_NE(BodyCacheKey(Accepted("a.example", "body")),
            BodyCacheKey(Accepted("b.example", "body")));
}

TEST(BodyCacheKeyTest, OwnCopiesAreKeyedByTheirOwner) {
  // Not the node's own domain either: a local sender naming the hash of
  // another user's draft must not get it.
  EXPECT_NE(BodyCacheKey(Local("alice@c.example", "draft")),
            BodyCacheKey(Accepted("c.example", "draft", "alice@c.example")));
  EXPECT_NE(BodyCacheKey(Local("alice@c.example", "draft")),
            BodyCacheKey(Local("bob@c.example", "draft")));
  EXPECT_EQ(BodyCacheKey(Local("alice@c.example", "draft")),
            BodyCacheKey(Local("alice@c.example", "draft")));
  EXPECT_TRUE(IsLocalBody(Local("alice@c.example", "draft")));
  EXPECT_FALSE(IsLocalBody(Accepted("c.example", "draft")));
}

TEST(BodyCacheKeyTest, KeysStartWithTheHashAndNeverCollideAcrossScopes) {
  std::set<std::string> keys;
  for (const char* body : {"1", "2"}) {
    for (const char* d : {"a.example", "ua.example", "da.example"}) {
      std::string k = BodyCacheKey(Accepted(d, body));
      EXPECT_EQ(k.substr(0, 32), Sha256(body));
      keys.insert(k);
      keys.insert(BodyCacheKey(Local(d, body)));
    }
  }
  EXPECT_EQ(keys.size(), 12u);
}

}  // namespace
}  // namespace pullmail
