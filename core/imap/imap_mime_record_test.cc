// Tests of the MIME structure record (imap_mime.h, MimeToRecord and
// MimeFromRecord): over many message shapes (well-formed, truncated at every
// byte, hostile, with and without the served Authentication-Results: field
// in front), the tree read back from a record gives the same BODYSTRUCTURE
// and BODY bytes and the same section ranges as parsing the message; and a
// record that lies never yields a range outside the message.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/imap/imap_mime.h"
#include "core/logic/author.h"

namespace pullmail {
namespace {

using T = FetchSection::Text;

std::string Multipart(const std::string& subtype, const std::vector<std::string>& parts,
                      const std::string& boundary, const std::string& eol = "\r\n") {
  std::string m = absl::StrCat("Content-Type: multipart/", subtype, "; boundary=\"", boundary,
                               "\"", eol, "Subject: parts", eol, eol, "preamble", eol);
  for (const std::string& p : parts) absl::StrAppend(&m, "--", boundary, eol, p, eol);
  absl::StrAppend(&m, "--", boundary, "--", eol, "epilogue", eol);
  return m;
}

// Shapes seen in the unit tests and the fuzz seeds of imap_mime (nested
// multiparts, a digest, an encapsulated message, encodings, parameters,
// dispositions, bare LF, missing delimiters, no header, no body).
std::vector<std::string> Shapes() {
  std::vector<std::string> out;
  const std::string text =
      "Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\nh=C3=A9llo\r\nsecond line=\r\n end\r\n";
  const std::string html = "Content-Type: text/html\r\nContent-ID: <h@x>\r\n"
                           "Content-Description: the (html) part\r\n\r\n<p>hi</p>\r\n";
  const std::string attach =
      "Content-Type: application/pdf; name=\"a b.pdf\"\r\n"
      "Content-Disposition: attachment; filename=\"a b.pdf\"; size=12\r\n"
      "Content-Language: en\r\nContent-Location: http://x/a.pdf\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nSGVsbG8gd29y\r\nbGQhCg==\r\n";
  const std::string inner = "From: Ann <ann@a.example>\r\nTo: bob@b.example\r\n"
                            "Subject: inner\r\nDate: Sat, 5 Dec 2026 10:00:00 +0000\r\n"
                            "Message-ID: <i@a>\r\n\r\ninner body\r\nline 2\r\n";
  const std::string rfc822 =
      absl::StrCat("Content-Type: message/rfc822\r\n\r\n", inner);
  out.push_back("Subject: plain\r\n\r\nhello\r\nworld\r\n");
  out.push_back("Subject: no final newline\r\n\r\nhello");
  out.push_back("Subject: only a header\r\n");
  out.push_back("\r\nno header at all\r\n");
  out.push_back("");
  out.push_back("Subject: bare LF\n\nhello\nworld\n");
  out.push_back(text);
  out.push_back(Multipart("alternative", {text, html}, "alt"));
  out.push_back(Multipart("mixed", {Multipart("alternative", {text, html}, "alt"), attach,
                                    rfc822},
                          "mix"));
  out.push_back(Multipart("digest", {"\r\n" + inner, inner, rfc822}, "dig"));
  out.push_back(Multipart("mixed", {text, "Content-Type: multipart/related\r\n\r\nno boundary"},
                          "nb"));
  out.push_back(absl::StrCat("Content-Type: message/rfc822\r\n\r\n",
                             Multipart("mixed", {text, rfc822}, "deep")));
  out.push_back(Multipart("mixed", {"Content-Type: text/plain\n\nlf part\n", attach}, "lf", "\n"));
  // No close delimiter, an empty part, a delimiter with trailing space.
  out.push_back("Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\na\r\n--q  \r\n"
                "\r\n--q\r\nContent-Type: text/x-foo\r\n\r\nunclosed");
  out.push_back("Content-Type: multipart/mixed; boundary=q\r\n\r\nno delimiter at all\r\n");
  out.push_back("Content-Type: text/plain; charset=\"weird \\\"quoted\\\"\" (comment)\r\n"
                "Content-Transfer-Encoding: x-unknown\r\n\r\n\xff\xfe 8-bit\r\n");
  out.push_back("Content-Type: foo\r\nContent-Disposition: inline\r\n\r\nbad type\r\n");
  out.push_back(" folded first line: x\r\nContent-Type: text/html\r\n\r\n<p>\r\n");
  out.push_back("Authentication-Results: a.example; spf=pass\r\nContent-Type: text/plain\r\n"
                "\r\nbody\r\n");
  return out;
}

// Every part path of `e` up to a budget, plus one past the end at each level.
void Paths(const MimeEntity& e, std::vector<uint32_t>* path,
           std::vector<std::vector<uint32_t>>* out, int* budget) {
  const MimeEntity* container = &e;
  if (e.is_message() && !e.message.empty()) container = &e.message.front();
  size_t n = container->is_multipart() ? container->parts.size() : 1;
  for (uint32_t i = 1; i <= n + 1 && *budget > 0; ++i) {
    --*budget;
    path->push_back(i);
    out->push_back(*path);
    if (i <= container->parts.size()) Paths(container->parts[i - 1], path, out, budget);
    path->pop_back();
  }
}

std::vector<FetchSection> Sections(const MimeEntity& root) {
  std::vector<std::vector<uint32_t>> paths = {{}, {0}, {1, 0}};
  std::vector<uint32_t> path;
  int budget = 100;
  Paths(root, &path, &paths, &budget);
  std::vector<FetchSection> out;
  for (const auto& p : paths) {
    for (T text : {T::kNone, T::kHeader, T::kHeaderFields, T::kHeaderFieldsNot, T::kText,
                   T::kMime}) {
      if (text == T::kMime && p.empty()) continue;
      FetchSection s;
      s.part = p;
      s.text = text;
      if (text == T::kHeaderFields || text == T::kHeaderFieldsNot) s.fields = {"SUBJECT", "FROM"};
      out.push_back(s);
    }
  }
  return out;
}

// The record of `message` read back gives what parsing gives. `parsed` is
// the tree parsed from `served` (the message as a reader gets it); `record`
// describes it.
void ExpectSame(std::string_view served, const MimeEntity& parsed,
                const v1::MimeStructure& record, const MimeLimits& limits) {
  absl::StatusOr<MimeEntity> back =
      MimeFromRecordBytes(record.SerializeAsString(), served.size(), limits);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ImapBodyStructure(*back, true), ImapBodyStructure(parsed, true));
  EXPECT_EQ(ImapBodyStructure(*back, false), ImapBodyStructure(parsed, false));
  for (const FetchSection& s : Sections(parsed)) {
    SCOPED_TRACE(SectionSpec(s));
    absl::StatusOr<ByteRange> want = SectionRange(parsed, served.size(), s);
    absl::StatusOr<ByteRange> got = SectionRange(*back, served.size(), s);
    ASSERT_EQ(got.status().code(), want.status().code());
    if (!want.ok()) continue;
    EXPECT_EQ(*got, *want);
    ASSERT_LE(got->offset + got->length, served.size());
    absl::StatusOr<std::string> bytes = SectionBytes(served, parsed, s);
    ASSERT_TRUE(bytes.ok());
    std::string_view from_range = served.substr(got->offset, got->length);
    if (s.text == T::kHeaderFields || s.text == T::kHeaderFieldsNot) {
      EXPECT_EQ(FilterHeaderFields(from_range, s.fields, s.text == T::kHeaderFieldsNot), *bytes);
    } else {
      EXPECT_EQ(from_range, *bytes);
    }
    if (s.text == T::kNone) {
      std::string want_cte, got_cte;
      absl::StatusOr<ByteRange> wb = BinaryRange(parsed, served.size(), s.part, &want_cte);
      absl::StatusOr<ByteRange> gb = BinaryRange(*back, served.size(), s.part, &got_cte);
      ASSERT_EQ(gb.status().code(), wb.status().code());
      if (!wb.ok()) continue;
      EXPECT_EQ(*gb, *wb);
      EXPECT_EQ(got_cte, want_cte);
      absl::StatusOr<std::string> bin = BinarySectionBytes(served, parsed, s.part);
      absl::StatusOr<std::string> dec = BinaryDecode(served.substr(gb->offset, gb->length), got_cte);
      ASSERT_EQ(dec.status().code(), bin.status().code());
      if (bin.ok()) {
        EXPECT_EQ(*dec, *bin);
      }
    }
  }
}

void CheckMessage(const std::string& msg, const MimeLimits& limits = MimeLimits()) {
  MimeEntity tree = ParseMime(msg, limits);
  ExpectSame(msg, tree, MimeToRecord(tree, msg.size()), limits);
  // As the node serves it: its Authentication-Results: field in front, the
  // record of the stored bytes shifted.
  const std::string prefix = AuthenticationResultsField("b.example; dkim=pass");
  const std::string served = prefix + msg;
  v1::MimeStructure shifted = MimeToRecord(tree, msg.size());
  ShiftMimeRecord(&shifted, prefix.size());
  ExpectSame(served, ParseMime(served, limits), shifted, limits);
}

TEST(MimeRecord, ShapesGiveWhatParsingGives) {
  for (const std::string& msg : Shapes()) {
    SCOPED_TRACE(msg.substr(0, 80));
    CheckMessage(msg);
  }
}

// Every prefix of the nested shapes: unclosed headers, delimiters cut in
// half, bodies cut inside a part or an encapsulated message.
TEST(MimeRecord, TruncatedShapesGiveWhatParsingGives) {
  std::vector<std::string> shapes = Shapes();
  for (size_t k : {size_t{8}, size_t{9}, size_t{11}}) {
    const std::string& msg = shapes[k];
    for (size_t n = 0; n <= msg.size(); ++n) {
      SCOPED_TRACE(absl::StrCat("shape ", k, " cut at ", n));
      CheckMessage(msg.substr(0, n));
      if (HasFatalFailure()) return;
    }
  }
}

// Random mixtures of the shapes, nested, with bare LF and CRLF.
TEST(MimeRecord, RandomNestingsGiveWhatParsingGives) {
  std::mt19937 rng(20261206);
  std::vector<std::string> shapes = Shapes();
  std::function<std::string(int)> make = [&](int depth) -> std::string {
    std::uniform_int_distribution<int> pick(0, 5);
    int k = depth <= 0 ? 0 : pick(rng);
    if (k <= 1) return shapes[rng() % shapes.size()];
    if (k == 2) return absl::StrCat("Content-Type: message/rfc822\r\n\r\n", make(depth - 1));
    std::vector<std::string> parts;
    for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n; ++i) parts.push_back(make(depth - 1));
    const char* sub[] = {"mixed", "alternative", "digest"};
    return Multipart(sub[rng() % 3], parts, absl::StrCat("b", depth, "_", rng() % 100),
                     rng() % 4 == 0 ? "\n" : "\r\n");
  };
  for (int i = 0; i < 300; ++i) {
    std::string msg = make(4);
    SCOPED_TRACE(i);
    CheckMessage(msg);
    if (HasFatalFailure()) return;
  }
}

// Over the limits (imap_mime_test's hostile shapes): the opaque leaves and
// bounded trees come back the same.
TEST(MimeRecord, HostileShapesWithinLimits) {
  MimeLimits small;
  small.max_depth = 3;
  small.max_parts_per_entity = 4;
  small.max_total_parts = 12;
  small.max_structure_bytes = 4096;
  std::string flood = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 50; ++i) flood += "--b\r\n\r\nx\r\n";
  std::string deep = "\r\nleaf";
  for (int i = 0; i < 8; ++i) deep = Multipart("mixed", {deep}, absl::StrCat("d", i));
  std::string wide = Multipart("mixed", std::vector<std::string>(3, Multipart("mixed",
                                        std::vector<std::string>(4, "\r\nx"), "in")), "out");
  std::string fat = absl::StrCat("Content-Type: text/plain; name=\"", std::string(5000, 'n'),
                                 "\"\r\n\r\nx");
  for (const std::string& m : {flood, deep, wide, fat}) {
    CheckMessage(m, small);
    CheckMessage(m);
  }
}

// A record is untrusted: whatever is changed in it, MimeFromRecord either
// refuses it or gives a tree whose every range lies inside the message.
TEST(MimeRecord, LyingRecordsStayInsideTheMessage) {
  std::mt19937 rng(7);
  std::vector<std::string> shapes = Shapes();
  int refused = 0, accepted = 0;
  for (int round = 0; round < 2000; ++round) {
    const std::string& msg = shapes[rng() % shapes.size()];
    MimeEntity tree = ParseMime(msg);
    v1::MimeStructure rec = MimeToRecord(tree, msg.size());
    v1::MimePart* p = rec.mutable_parts(static_cast<int>(rng() % rec.parts_size()));
    uint64_t big = uint64_t{1} << (rng() % 64);
    switch (rng() % 8) {
      case 0: p->set_header_offset(p->header_offset() + big); break;
      case 1: p->set_header_size(p->header_size() + big); break;
      case 2: p->set_body_size(p->body_size() + (rng() % 2 ? big : UINT64_MAX)); break;
      case 3: p->set_children(p->children() + 1 + static_cast<uint32_t>(rng() % 3)); break;
      case 4: p->set_children(static_cast<uint32_t>(rng())); break;
      case 5: p->set_type("MULTIPART"); p->set_children(1); break;
      case 6: rec.set_version(kMimeRecordVersion + 1); break;
      case 7: rec.set_size(rec.size() + 1); break;
    }
    std::string bytes = rec.SerializeAsString();
    if (rng() % 5 == 0) bytes.resize(rng() % (bytes.size() + 1));  // cut
    absl::StatusOr<MimeEntity> back = MimeFromRecordBytes(bytes, msg.size());
    if (!back.ok()) {
      EXPECT_EQ(back.status().code(), absl::StatusCode::kDataLoss);
      ++refused;
      continue;
    }
    ++accepted;
    (void)ImapBodyStructure(*back, true);
    for (const FetchSection& s : Sections(*back)) {
      absl::StatusOr<ByteRange> r = SectionRange(*back, msg.size(), s);
      if (r.ok()) {
        ASSERT_LE(r->offset + r->length, msg.size()) << SectionSpec(s);
      }
    }
  }
  EXPECT_GT(refused, 1000);
  EXPECT_GT(accepted, 0);
}

TEST(MimeRecord, OverLimitRecordsAreRefused) {
  std::string msg = Multipart("mixed", std::vector<std::string>(5, "\r\nx"), "b");
  MimeEntity tree = ParseMime(msg);
  v1::MimeStructure rec = MimeToRecord(tree, msg.size());
  MimeLimits few;
  few.max_total_parts = 5;  // the record has 6 entities
  EXPECT_EQ(MimeFromRecord(rec, msg.size(), few).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(MimeFromRecord(rec, msg.size()).ok());
  MimeLimits flat;
  flat.max_depth = 0;
  EXPECT_EQ(MimeFromRecord(rec, msg.size(), flat).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(MimeFromRecordBytes(std::string(kMaxMimeRecordBytes + 1, '\0'), msg.size())
                .status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(MimeFromRecordBytes("\xff\xff\xff", msg.size()).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(MimeRecord, PartialRange) {
  ByteRange r{10, 100};
  EXPECT_EQ(PartialRange(r, std::nullopt, 0), r);
  EXPECT_EQ(PartialRange(r, 0, 5), (ByteRange{10, 5}));
  EXPECT_EQ(PartialRange(r, 95, 10), (ByteRange{105, 5}));
  EXPECT_EQ(PartialRange(r, 100, 10), (ByteRange{110, 0}));
  EXPECT_EQ(PartialRange(r, 500, 10), (ByteRange{110, 0}));
}

}  // namespace
}  // namespace pullmail
