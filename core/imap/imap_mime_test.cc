// Tests of ParseMime's limits (imap_mime.h, MimeLimits) against hostile
// bodies: boundary floods, deep nesting, huge fields, digests; and of part
// number 0 in SectionBytes. Well-formed MIME is tested in imap_format_test.cc.
#include "core/imap/imap_mime.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace pullmail {
namespace {

using T = FetchSection::Text;

size_t CountEntities(const MimeEntity& e) {
  size_t n = 1;
  for (const MimeEntity& p : e.parts) n += CountEntities(p);
  for (const MimeEntity& m : e.message) n += CountEntities(m);
  return n;
}

int Depth(const MimeEntity& e) {
  int d = 0;
  for (const MimeEntity& p : e.parts) d = std::max(d, Depth(p));
  for (const MimeEntity& m : e.message) d = std::max(d, Depth(m));
  return (e.parts.empty() && e.message.empty()) ? 0 : d + 1;
}

std::string Multipart(const std::string& subtype, const std::vector<std::string>& parts,
                      const std::string& boundary = "b") {
  std::string m = absl::StrCat("Content-Type: multipart/", subtype, "; boundary=", boundary,
                               "\r\n\r\n");
  for (const std::string& p : parts) absl::StrAppend(&m, "--", boundary, "\r\n", p, "\r\n");
  absl::StrAppend(&m, "--", boundary, "--\r\n");
  return m;
}

bool IsOpaque(const MimeEntity& e) {
  return e.type == "APPLICATION" && e.subtype == "OCTET-STREAM" && e.parts.empty() &&
         e.message.empty();
}

// Issue 10: a 4 MB body of "--b" lines made 1,000,000 parts and a 74 MB
// BODYSTRUCTURE. Now the multipart is one opaque leaf whose bytes are all
// still served.
TEST(MimeLimits, BoundaryFloodIsOneOpaquePart) {
  std::string msg = "Subject: flood\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n";
  const size_t header_size = msg.size();
  while (msg.size() < 4 * 1024 * 1024) msg += "--b\r\n";
  MimeEntity root = ParseMime(msg);
  EXPECT_TRUE(IsOpaque(root));
  EXPECT_EQ(CountEntities(root), 1u);
  std::string bs = ImapBodyStructure(root, true);
  EXPECT_EQ(bs, absl::StrCat("(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"7BIT\" ",
                             msg.size() - header_size, " NIL NIL NIL NIL)"));
  auto part1 = SectionBytes(msg, root, FetchSection{{1}, T::kNone, {}});
  ASSERT_TRUE(part1.ok()) << part1.status();
  EXPECT_EQ(part1->size(), msg.size() - header_size);
  EXPECT_EQ(*SectionBytes(msg, root, FetchSection{{}, T::kNone, {}}), msg);
  EXPECT_FALSE(SectionBytes(msg, root, FetchSection{{2}, T::kNone, {}}).ok());
}

TEST(MimeLimits, PartsPerEntity) {
  MimeLimits limits;
  limits.max_parts_per_entity = 5;
  std::vector<std::string> parts(5, "\r\nx");
  std::string five = Multipart("mixed", parts);
  MimeEntity root = ParseMime(five, limits);
  EXPECT_EQ(root.type, "MULTIPART");
  EXPECT_EQ(root.parts.size(), 5u);
  parts.push_back("\r\ny");
  std::string six = Multipart("mixed", parts);
  root = ParseMime(six, limits);
  EXPECT_TRUE(IsOpaque(root));
  // A multipart inside a multipart: only the inner one is hidden.
  std::string outer = Multipart("mixed", {"\r\nfirst", six}, "outer");
  root = ParseMime(outer, limits);
  ASSERT_EQ(root.parts.size(), 2u);
  EXPECT_EQ(root.parts[0].type, "TEXT");
  EXPECT_TRUE(IsOpaque(root.parts[1]));
  auto inner = SectionBytes(outer, root, FetchSection{{2}, T::kNone, {}});
  ASSERT_TRUE(inner.ok());
  EXPECT_EQ(*inner, six.substr(six.find("\r\n\r\n") + 4));
  EXPECT_EQ(*SectionBytes(outer, root, FetchSection{{2}, T::kMime, {}}),
            six.substr(0, six.find("\r\n\r\n") + 4));
  EXPECT_FALSE(SectionBytes(outer, root, FetchSection{{2, 1}, T::kNone, {}}).ok());
}

TEST(MimeLimits, TotalParts) {
  // 1 root + 4 multiparts of 4 leaves = 21 entities.
  std::vector<std::string> leaves(4, "\r\nleaf");
  std::string inner = Multipart("mixed", leaves, "in");
  std::string msg = Multipart("mixed", std::vector<std::string>(4, inner), "out");
  EXPECT_EQ(CountEntities(ParseMime(msg)), 21u);
  for (size_t max : {1u, 4u, 5u, 8u, 9u, 12u, 20u, 21u}) {
    MimeLimits limits;
    limits.max_total_parts = max;
    MimeEntity root = ParseMime(msg, limits);
    EXPECT_LE(CountEntities(root), max) << max;
    if (max < 5) {
      EXPECT_TRUE(IsOpaque(root)) << max;
    } else {
      EXPECT_EQ(root.parts.size(), 4u) << max;
    }
  }
  MimeLimits limits;
  limits.max_total_parts = 13;  // root, its 4 parts, two of them split
  MimeEntity root = ParseMime(msg, limits);
  EXPECT_EQ(root.parts[0].parts.size(), 4u);
  EXPECT_EQ(root.parts[1].parts.size(), 4u);
  EXPECT_TRUE(IsOpaque(root.parts[2]));
  EXPECT_TRUE(IsOpaque(root.parts[3]));
}

TEST(MimeLimits, NestingDepth) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "Content-Type: message/rfc822\r\n\r\n";
  deep += "Subject: x\r\n\r\ninnermost";
  MimeEntity root = ParseMime(deep);
  EXPECT_EQ(Depth(root), 20);
  const MimeEntity* e = &root;
  while (!e->message.empty()) e = &e->message.front();
  EXPECT_TRUE(IsOpaque(*e));
  // Every level still has a well-formed BODYSTRUCTURE (an envelope and a
  // body for each message/rfc822; RFC 3501 7.4.2).
  std::string bs = ImapBodyStructure(root, true);
  EXPECT_NE(bs.find("(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"7BIT\""), std::string::npos);
  MimeLimits shallow;
  shallow.max_depth = 3;
  EXPECT_EQ(Depth(ParseMime(deep, shallow)), 3);
  // Multiparts count as nesting too.
  std::string nested = "\r\nx";
  for (int i = 0; i < 10; ++i) nested = Multipart("mixed", {nested}, absl::StrCat("b", i));
  EXPECT_EQ(Depth(ParseMime(nested, shallow)), 3);
  EXPECT_EQ(Depth(ParseMime(nested)), 10);
}

TEST(MimeLimits, StructureBytesBound) {
  // 600 parts, each with a 2 KB description: about 2.4 MB of BODYSTRUCTURE
  // unbounded.
  std::string desc(2000, 'd');
  std::vector<std::string> parts(
      600, absl::StrCat("Content-Type: text/plain\r\nContent-Description: ", desc, "\r\n\r\nx"));
  std::string msg = Multipart("mixed", parts);
  ASSERT_GT(ImapBodyStructure(ParseMime(msg, MimeLimits{.max_structure_bytes = 100u << 20}), true)
                .size(),
            1u << 20);
  for (size_t max : {size_t{100}, size_t{1000}, size_t{64} << 10, size_t{1} << 20}) {
    MimeLimits limits;
    limits.max_structure_bytes = max;
    MimeEntity root = ParseMime(msg, limits);
    std::string bs = ImapBodyStructure(root, true);
    EXPECT_LE(bs.size(), std::max<size_t>(max, 128)) << max;
    EXPECT_LE(ImapBodyStructure(root, false).size(), bs.size());
    if (max >= (1u << 20)) {
      EXPECT_EQ(root.parts.size(), 600u) << max;  // the parts stay; the late ones are opaque
      EXPECT_EQ(root.parts[0].type, "TEXT");
      EXPECT_TRUE(IsOpaque(root.parts[599]));
    }
  }
  // One huge field on the root alone.
  std::string big = absl::StrCat("Content-Type: text/plain; name=\"", std::string(3 << 20, 'n'),
                                 "\"\r\n\r\nbody");
  MimeEntity root = ParseMime(big);
  EXPECT_TRUE(IsOpaque(root));
  EXPECT_LT(ImapBodyStructure(root, true).size(), 200u);
  // An encapsulated message with a huge From: list (its ENVELOPE).
  std::string to;
  for (int i = 0; i < 100; ++i) absl::StrAppend(&to, i ? "," : "", "u", i, "@", desc, ".example");
  std::string inner = absl::StrCat("Content-Type: message/rfc822\r\n\r\nTo: ", to,
                                   "\r\nSubject: s\r\n\r\nbody");
  std::string two = Multipart("mixed", {inner, inner});
  MimeLimits small;
  small.max_structure_bytes = 64 << 10;
  MimeEntity r2 = ParseMime(two, small);
  EXPECT_LE(ImapBodyStructure(r2, true).size(), small.max_structure_bytes);
}

// Issue 10: in a multipart/digest every part is a message whose header is
// parsed; 100,000 of them in a 1 MB body cost 1.2 s of CPU. The part limits
// bound that work.
TEST(MimeLimits, DigestIsBounded) {
  std::string msg = "Content-Type: multipart/digest; boundary=b\r\n\r\n";
  while (msg.size() < 1024 * 1024) msg += "--b\r\nSubject: s\r\n\r\nx\r\n";
  msg += "--b--\r\n";
  MimeEntity root = ParseMime(msg);
  EXPECT_LE(CountEntities(root), MimeLimits().max_total_parts);
  EXPECT_TRUE(IsOpaque(root));
  // Within the limits a digest is parsed as before: each part a message.
  std::string small = Multipart("digest", std::vector<std::string>(10, "Subject: s\r\n\r\nx"));
  MimeEntity r = ParseMime(small);
  ASSERT_EQ(r.parts.size(), 10u);
  EXPECT_TRUE(r.parts[9].is_message());
  EXPECT_EQ(r.parts[9].message.size(), 1u);
}

// SectionBytes used to index parts[n - 1] with n = 0.
TEST(MimeLimits, PartZeroIsRefused) {
  std::string msg = Multipart("mixed", {"\r\none", "\r\ntwo"});
  MimeEntity root = ParseMime(msg);
  ASSERT_EQ(root.parts.size(), 2u);
  for (std::vector<uint32_t> path : std::vector<std::vector<uint32_t>>{{0}, {1, 0}, {0, 1}}) {
    for (T t : {T::kNone, T::kMime, T::kHeader, T::kText}) {
      auto r = SectionBytes(msg, root, FetchSection{path, t, {}});
      EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
    }
  }
  std::string plain = "Subject: x\r\n\r\nbody";
  MimeEntity p = ParseMime(plain);
  EXPECT_EQ(SectionBytes(plain, p, FetchSection{{0}, T::kNone, {}}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(*SectionBytes(plain, p, FetchSection{{1}, T::kNone, {}}), "body");
}

TEST(ImapMime, TransferDecodings) {
  EXPECT_EQ(DecodeBase64Lenient("aGVs\r\nbG8=\r\n"), "hello");
  EXPECT_EQ(DecodeBase64Lenient("aGV sbG8"), "hello");
  EXPECT_EQ(DecodeBase64Lenient("AAEC/w=="), std::string("\x00\x01\x02\xff", 4));
  EXPECT_EQ(DecodeBase64Lenient(""), "");
  EXPECT_EQ(DecodeQuotedPrintable("caf=C3=A9 =\r\nsoft=\nline"), "caf\xc3\xa9 softline");
  EXPECT_EQ(DecodeQuotedPrintable("a=3Db =ZZ c=4"), "a=b =ZZ c=4");
  EXPECT_EQ(DecodeQuotedPrintable("end="), "end");
  EXPECT_EQ(DecodeQuotedPrintable("x=3d"), "x=");
}

}  // namespace
}  // namespace pullmail
