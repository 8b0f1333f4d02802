// Tests for the DATA assembler (core/smtp/smtp_data.h): RFC 5321 4.5.2
// dot-unstuffing, the end line, size limits and malformed lines.
#include "core/smtp/smtp_data.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace pullmail {
namespace {

// Feeds lines until the reader says done; returns how many lines it took.
size_t Feed(SmtpDataReader& r, const std::vector<std::string>& lines) {
  size_t n = 0;
  for (const std::string& l : lines) {
    ++n;
    if (r.AddLine(l)) break;
  }
  return n;
}

TEST(SmtpData, SimpleMessage) {
  SmtpDataReader r(1000);
  EXPECT_EQ(Feed(r, {"Subject: hi", "", "body", "."}), 4u);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.result(), SmtpDataReader::Result::kOk);
  EXPECT_EQ(r.message(), "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(r.received_bytes(), r.message().size());
}

TEST(SmtpData, DotUnstuffing) {
  SmtpDataReader r(1000);
  // A client stuffs ".x" as "..x", "." as "..", ".." as "...".
  Feed(r, {"..x", "..", "...", "a.b", ". leading space", "."});
  EXPECT_EQ(r.message(), ".x\r\n.\r\n..\r\na.b\r\n leading space\r\n");
}

TEST(SmtpData, OnlyALoneDotEnds) {
  SmtpDataReader r(1000);
  EXPECT_FALSE(r.AddLine(". "));
  EXPECT_FALSE(r.AddLine(" ."));
  EXPECT_FALSE(r.AddLine(".."));
  EXPECT_TRUE(r.AddLine("."));
  EXPECT_EQ(r.message(), " \r\n .\r\n.\r\n");
  // Lines after the end are ignored.
  EXPECT_TRUE(r.AddLine("more"));
  EXPECT_EQ(r.message(), " \r\n .\r\n.\r\n");
}

TEST(SmtpData, EmptyMessage) {
  SmtpDataReader r(1000);
  EXPECT_TRUE(r.AddLine("."));
  EXPECT_EQ(r.result(), SmtpDataReader::Result::kOk);
  EXPECT_EQ(r.message(), "");
}

TEST(SmtpData, SizeLimitCountsUnstuffedBytesWithCrlf) {
  SmtpDataReader exact(10);  // "12345678" + CRLF = 10
  Feed(exact, {"..2345678", "."});
  EXPECT_EQ(exact.result(), SmtpDataReader::Result::kOk);
  EXPECT_EQ(exact.message(), ".2345678\r\n");

  SmtpDataReader over(10);
  EXPECT_EQ(Feed(over, {"123456789", "more", "and more", "."}), 4u);  // reads to the end
  EXPECT_TRUE(over.done());
  EXPECT_EQ(over.result(), SmtpDataReader::Result::kTooBig);
  EXPECT_EQ(over.message(), "");  // nothing kept
  EXPECT_EQ(over.received_bytes(), 11u + 6u + 10u);
  EXPECT_EQ(over.ErrorReply().Format(),
            "552 5.3.4 Message size exceeds fixed maximum message size (10 bytes)\r\n");
}

TEST(SmtpData, BareCrIsMalformed) {
  SmtpDataReader r(1000);
  Feed(r, {"Subject: x", "", "a\rb", "fine", "."});
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.result(), SmtpDataReader::Result::kMalformed);
  EXPECT_EQ(r.ErrorReply().code, 554);
  EXPECT_EQ(r.ErrorReply().enhanced, "5.6.0");
  // The SMTP smuggling form "\r.\r" is a bare CR too, not an end.
  SmtpDataReader s(1000);
  EXPECT_FALSE(s.AddLine("x\r.\r"));
  EXPECT_FALSE(s.AddLine("MAIL FROM:<evil@x.example>"));
  EXPECT_TRUE(s.AddLine("."));
  EXPECT_EQ(s.result(), SmtpDataReader::Result::kMalformed);
}

TEST(SmtpData, OverlongLineIsMalformedButReadingGoesOn) {
  SmtpDataReader r(1000);
  r.AddLine("a");
  r.AddOverlongLine();
  EXPECT_FALSE(r.done());
  EXPECT_FALSE(r.AddLine("b"));
  EXPECT_TRUE(r.AddLine("."));
  EXPECT_EQ(r.result(), SmtpDataReader::Result::kMalformed);
  EXPECT_NE(r.ErrorReply().lines[0].find("over-long"), std::string::npos);
}

TEST(SmtpData, TooBigWinsOverLaterMalformed) {
  SmtpDataReader r(4);
  Feed(r, {"12345", "a\rb", "."});
  EXPECT_EQ(r.result(), SmtpDataReader::Result::kTooBig);
}

}  // namespace
// Strict mode (SMTP in): only "." ended by CRLF ends the data; a bare LF
// anywhere makes the message malformed (SMTP smuggling, CVE-2023-51766).
TEST(SmtpData, StrictDotWithBareLfIsNotTheEnd) {
  SmtpDataReader r(1000, /*strict_crlf=*/true);
  EXPECT_FALSE(r.AddLine("Subject: hi"));
  EXPECT_FALSE(r.AddLine(""));
  EXPECT_FALSE(r.AddLine("body", /*bare_lf=*/true));
  // "<LF>.<LF>": not the end; the smuggled "command" that follows is data.
  EXPECT_FALSE(r.AddLine(".", /*bare_lf=*/true));
  EXPECT_FALSE(r.AddLine("MAIL FROM:<admin@b.example>"));
  EXPECT_FALSE(r.done());
  EXPECT_TRUE(r.AddLine("."));
  EXPECT_EQ(r.result(), SmtpDataReader::Result::kMalformed);
  SmtpReply reply = r.ErrorReply();
  EXPECT_EQ(reply.code, 554);
  EXPECT_EQ(reply.Format(), "554 5.6.0 Message contains a bare LF (RFC 5321 2.3.8)\r\n");
}

TEST(SmtpData, StrictCrlfMessageIsUnchanged) {
  SmtpDataReader r(1000, /*strict_crlf=*/true);
  EXPECT_EQ(Feed(r, {"Subject: hi", "", "..x", "."}), 4u);
  EXPECT_EQ(r.result(), SmtpDataReader::Result::kOk);
  EXPECT_EQ(r.message(), "Subject: hi\r\n\r\n.x\r\n");
}

TEST(SmtpData, LenientModeStillEndsAtBareLfDot) {
  // Submission keeps its documented behaviour (the user can only send as
  // themselves there).
  SmtpDataReader r(1000);
  EXPECT_FALSE(r.AddLine("x", true));
  EXPECT_TRUE(r.AddLine(".", true));
  EXPECT_EQ(r.result(), SmtpDataReader::Result::kOk);
}

}  // namespace pullmail
