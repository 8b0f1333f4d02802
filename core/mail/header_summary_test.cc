// Tests for ExtractHeaderSummary and PrependHeaders on real-looking messages:
// encoded words in UTF-8 and ISO-8859-1, folded fields, groups, LF and CRLF,
// missing fields, limits and garbage.
#include "core/mail/header_summary.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/mail/utf8.h"
#include "core/util/limits.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A message as Thunderbird or mutt would write it, with CRLF line ends.
const char kMessage[] =
    "Return-Path: <ann@a.example>\r\n"
    "From: =?UTF-8?B?QW5uIE3DvGxsZXI=?= <ann@a.example>\r\n"
    "To: Bob <bob@b.example>, carol@b.example,\r\n"
    "  =?ISO-8859-1?Q?Andr=E9_Lef=E8vre?= <andre@c.example>\r\n"
    "Cc: \"Doe, John\" <john@d.example>, undisclosed: dan@d.example, eve@e.example;\r\n"
    "Subject: =?UTF-8?Q?Caf=C3=A9_meeting?= on\r\n"
    "\t=?ISO-8859-1?Q?Thursday_=E0_midi?=\r\n"
    "Date: Thu, 7 Mar 2024 09:15:02\r\n"
    " +0100\r\n"
    "Message-ID: <20240307081502.GA1234@a.example>\r\n"
    "In-Reply-To: <prev-1@b.example> (Bob's message)\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "From: this line is body text, not a header\r\n"
    "Subject: neither is this\r\n";

TEST(HeaderSummaryTest, RealMessageCrlf) {
  auto s = ExtractHeaderSummary(kMessage);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->from(), "Ann M\xC3\xBCller <ann@a.example>");
  EXPECT_THAT(s->to(), ElementsAre("Bob <bob@b.example>", "carol@b.example",
                                   "Andr\xC3\xA9 Lef\xC3\xA8vre <andre@c.example>"));
  EXPECT_THAT(s->cc(), ElementsAre("Doe, John <john@d.example>", "dan@d.example", "eve@e.example"));
  EXPECT_EQ(s->subject(), "Caf\xC3\xA9 meeting on Thursday \xC3\xA0 midi");
  EXPECT_EQ(s->date(), "Thu, 7 Mar 2024 09:15:02 +0100");
  EXPECT_EQ(s->message_id(), "<20240307081502.GA1234@a.example>");
  EXPECT_EQ(s->in_reply_to(), "<prev-1@b.example>");
}

TEST(HeaderSummaryTest, SenderAndReplyToButNeverBcc) {
  auto s = ExtractHeaderSummary(
      "From: ann@a.example\r\nSender: Sec <sec@a.example>\r\n"
      "Reply-To: list@l.example, ann@a.example\r\nBcc: hidden@h.example\r\n\r\nx\r\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_THAT(s->sender(), ElementsAre("Sec <sec@a.example>"));
  EXPECT_THAT(s->reply_to(), ElementsAre("list@l.example", "ann@a.example"));
  EXPECT_EQ(s->DebugString().find("hidden"), std::string::npos);
}

TEST(HeaderSummaryTest, SameMessageWithLfLineEnds) {
  std::string lf = absl::StrReplaceAll(kMessage, {{"\r\n", "\n"}});
  auto crlf = ExtractHeaderSummary(kMessage);
  auto s = ExtractHeaderSummary(lf);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(crlf.ok());
  EXPECT_EQ(s->SerializeAsString(), crlf->SerializeAsString());
}

TEST(HeaderSummaryTest, MissingFieldsAreEmpty) {
  auto s = ExtractHeaderSummary("From: ann@a.example\nTo: bob@b.example\n\nhi\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->from(), "ann@a.example");
  EXPECT_THAT(s->to(), ElementsAre("bob@b.example"));
  EXPECT_TRUE(s->cc().empty());
  EXPECT_EQ(s->subject(), "");
  EXPECT_EQ(s->date(), "");
  EXPECT_EQ(s->message_id(), "");
  EXPECT_EQ(s->in_reply_to(), "");
}

TEST(HeaderSummaryTest, HeadersOnlyNoBodyNoFinalNewline) {
  auto s = ExtractHeaderSummary("Subject: just a subject");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->subject(), "just a subject");
}

TEST(HeaderSummaryTest, SeveralFromAndInReplyToIds) {
  auto s = ExtractHeaderSummary(
      "From: Ann <ann@a.example>, Bob <bob@a.example>\r\n"
      "Sender: ann@a.example\r\n"
      "In-Reply-To: <one@x.example>\r\n <two@y.example>\r\n"
      "Message-ID:\r\n   <spaced@a.example>  \r\n\r\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->from(), "Ann <ann@a.example>, Bob <bob@a.example>");
  EXPECT_EQ(s->in_reply_to(), "<one@x.example> <two@y.example>");
  EXPECT_EQ(s->message_id(), "<spaced@a.example>");
}

TEST(HeaderSummaryTest, RawEightBitHeaderBecomesValidUtf8) {
  // A Latin-1 subject sent without encoded words, and a stray invalid byte.
  auto s = ExtractHeaderSummary("Subject: caf\xE9 \xFF\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(IsValidUtf8(s->subject())) << s->subject();
  EXPECT_THAT(s->subject(), HasSubstr("caf"));
  // The proto must serialize and parse back (proto3 strings are checked).
  v1::HeaderSummary back;
  ASSERT_TRUE(back.ParseFromString(s->SerializeAsString()));
  EXPECT_EQ(back.subject(), s->subject());
}

TEST(HeaderSummaryTest, LongValuesCutOnACharacterBoundary) {
  std::string euro_subject;
  for (int i = 0; i < 2000; ++i) euro_subject += "\xE2\x82\xAC";  // U+20AC, 3 bytes
  // Encoded as many RFC 2047 words, folded, as a real mailer would.
  std::string encoded;
  for (int i = 0; i < 400; ++i) encoded += " =?UTF-8?B?4oKs4oKs4oKs4oKs4oKs?=\r\n";
  auto s = ExtractHeaderSummary("Subject:" + encoded + "From: a@b.c\r\n\r\nx");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_LE(s->subject().size(), limits::kMaxHeaderValue);
  EXPECT_EQ(s->subject().size(), 996u);  // 332 whole euro signs
  EXPECT_TRUE(IsValidUtf8(s->subject()));
  EXPECT_EQ(s->subject(), euro_subject.substr(0, 996));
}

TEST(HeaderSummaryTest, ListsCappedAtMaxSummaryList) {
  std::string to = "To: ";
  for (int i = 0; i < 150; ++i) absl::StrAppend(&to, i ? ",\r\n " : "", "user", i, "@b.example");
  auto s = ExtractHeaderSummary(to + "\r\nFrom: a@a.example\r\n\r\n");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(static_cast<size_t>(s->to_size()), limits::kMaxSummaryList);
  EXPECT_EQ(s->to(0), "user0@b.example");
  EXPECT_EQ(s->to(99), "user99@b.example");
}

TEST(HeaderSummaryTest, GarbageAndHeaderlessInputRejected) {
  for (const char* bad : {"", "\n", "\r\n", "\r\nbody only\r\n", "\nFrom: a@b.c\n",
                          "hello world\nthis is not mail\n", "From a@b.c Mon Jan  1 00:00:00 2024\n",
                          ": no name\n\nx", "\x01\x02\x03:\x04\n", "bad name: x\n"}) {
    auto s = ExtractHeaderSummary(bad);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << "input: " << bad;
  }
}

TEST(HeaderSummaryTest, HugeHeaderBlockRejected) {
  std::string msg;
  while (msg.size() <= kMaxHeaderBlock) msg += "X-Filler: 0123456789012345678901234567890123456789\r\n";
  msg += "\r\nbody\r\n";
  auto s = ExtractHeaderSummary(msg);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("header block"));

  // One endless line with no line end at all.
  std::string line = "Subject: " + std::string(kMaxHeaderBlock + 10, 'a');
  EXPECT_EQ(ExtractHeaderSummary(line).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HeaderSummaryTest, BigBodyFineButOverLimitRejected) {
  std::string msg = "Subject: big\r\n\r\n";
  msg.append(limits::kMaxBodySize - msg.size(), 'x');
  auto ok = ExtractHeaderSummary(msg);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->subject(), "big");
  msg.push_back('x');
  auto too_big = ExtractHeaderSummary(msg);
  EXPECT_EQ(too_big.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HeaderSummaryTest, PrependHeadersKeepsLineEndsAndBlocksInjection) {
  std::string crlf = PrependHeaders("Subject: x\r\n\r\nbody\r\n",
                                    {{"Received", "from a by b"}, {"X-Evil", "a\r\nBcc: c@d"}});
  EXPECT_EQ(crlf,
            "Received: from a by b\r\nX-Evil: a  Bcc: c@d\r\nSubject: x\r\n\r\nbody\r\n");
  std::string lf = PrependHeaders("Subject: x\n\nbody\n", {{"Message-ID", "<m@a.example>"}});
  EXPECT_EQ(lf, "Message-ID: <m@a.example>\nSubject: x\n\nbody\n");
  auto s = ExtractHeaderSummary(lf);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->message_id(), "<m@a.example>");
  EXPECT_DEATH(PrependHeaders("Subject: x\n", {{"Bad Name", "v"}}), "invalid header field name");
}

}  // namespace
}  // namespace pullmail

namespace pullmail {
namespace {

TEST(DisplayFormTest, SplitAndJoin) {
  EXPECT_EQ(SplitDisplayForm("Ann <ann@a.example>"),
            std::make_pair(std::string("Ann"), std::string("ann@a.example")));
  EXPECT_EQ(SplitDisplayForm("  ann@a.example "), std::make_pair(std::string(), std::string("ann@a.example")));
  EXPECT_EQ(SplitDisplayForm("Doe, John <a <j@x>"), std::make_pair(std::string("Doe, John <a"), std::string("j@x")));
  EXPECT_THAT(SplitJoinedMailboxes("Ann <a@x>, b@y, Doe, John <j@z>, c@w"),
              ElementsAre("Ann <a@x>", "b@y", "Doe, John <j@z>", "c@w"));
  EXPECT_THAT(SplitJoinedMailboxes(""), ElementsAre());
  EXPECT_THAT(SplitJoinedMailboxes("solo@x"), ElementsAre("solo@x"));
}

TEST(DateTest, Rfc5322Date) {
  EXPECT_EQ(FormatRfc5322Date(absl::FromUnixSeconds(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
  EXPECT_EQ(FormatRfc5322Date(absl::FromUnixSeconds(1709800000)), "Thu, 07 Mar 2024 08:26:40 +0000");
  EXPECT_EQ(FormatRfc5322Date(absl::FromUnixSeconds(951782400)), "Tue, 29 Feb 2000 00:00:00 +0000");
}

}  // namespace
}  // namespace pullmail
