// Tests for IMAP response formatting, ENVELOPE, summary header fields,
// SEARCH evaluation, and the MIME structure (sections, BODYSTRUCTURE).
#include "core/imap/imap_format.h"

#include <gtest/gtest.h>

#include "core/imap/imap_mime.h"

namespace pullmail {
namespace {

TEST(ImapFormat, Strings) {
  EXPECT_EQ(ImapString("INBOX"), "\"INBOX\"");
  EXPECT_EQ(ImapString("a \"b\" \\c"), "\"a \\\"b\\\" \\\\c\"");
  EXPECT_EQ(ImapString(""), "\"\"");
  EXPECT_EQ(ImapString("a\r\nb"), "{4}\r\na\r\nb");
  EXPECT_EQ(ImapString("caf\xc3\xa9"), "{5}\r\ncaf\xc3\xa9");
  EXPECT_EQ(ImapString(std::string(1001, 'x')).substr(0, 8), "{1001}\r\n");
  EXPECT_EQ(ImapNString(""), "NIL");
  EXPECT_EQ(ImapNString("x"), "\"x\"");
}

TEST(ImapFormat, DateTime) {
  absl::Time t = absl::FromCivil(absl::CivilSecond(1996, 7, 7, 2, 44, 25), absl::UTCTimeZone());
  EXPECT_EQ(ImapDateTime(t), "\" 7-Jul-1996 02:44:25 +0000\"");
  t = absl::FromCivil(absl::CivilSecond(2024, 12, 17, 23, 0, 5), absl::UTCTimeZone());
  EXPECT_EQ(ImapDateTime(t), "\"17-Dec-2024 23:00:05 +0000\"");
}

TEST(ImapFormat, ParseDateTime) {
  auto utc = [](int y, int mo, int d, int h, int mi, int s) {
    return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
  };
  EXPECT_EQ(ParseImapDateTime(" 7-Jul-1996 02:44:25 +0000"), utc(1996, 7, 7, 2, 44, 25));
  EXPECT_EQ(ParseImapDateTime("07-Jul-1996 02:44:25 +0000"), utc(1996, 7, 7, 2, 44, 25));
  EXPECT_EQ(ParseImapDateTime("7-jul-1996 02:44:25 +0000"), utc(1996, 7, 7, 2, 44, 25));
  // The zone is the offset from UTC of the local time written.
  EXPECT_EQ(ParseImapDateTime("17-Jul-1996 02:44:25 -0700"), utc(1996, 7, 17, 9, 44, 25));
  EXPECT_EQ(ParseImapDateTime("01-Jan-2024 00:30:00 +0130"), utc(2023, 12, 31, 23, 0, 0));
  EXPECT_EQ(ParseImapDateTime("31-Dec-2016 23:59:60 +0000"), utc(2016, 12, 31, 23, 59, 59));
  // Round trip with the formatter.
  absl::Time t = utc(2024, 12, 17, 23, 0, 5);
  std::string quoted = ImapDateTime(t);
  EXPECT_EQ(ParseImapDateTime(quoted.substr(1, quoted.size() - 2)), t);
  for (const char* bad :
       {"", "17-Jul-1996", "17-Jul-1996 02:44:25", "17-Jul-1996 02:44:25 0000",
        "17-Jux-1996 02:44:25 +0000", "31-Feb-2024 02:44:25 +0000", "00-Jan-2024 02:44:25 +0000",
        "17-Jul-1996 24:00:00 +0000", "17-Jul-1996 02:60:00 +0000", "17-Jul-1996 02:44:25 +2400",
        "17-Jul-96 02:44:25 +0000", "17-Jul-1996 2:44:25 +0000", "17-Jul-1996 02:44:25 +0000 ",
        "\"17-Jul-1996 02:44:25 +0000\"", "117-Jul-1996 02:44:25 +0000",
        "17-Jul-1899 02:44:25 +0000"}) {
    EXPECT_EQ(ParseImapDateTime(bad), std::nullopt) << bad;
  }
  // Byte by byte: no prefix of a valid date-time is one.
  std::string good = "17-Jul-1996 02:44:25 +0000";
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(ParseImapDateTime(good.substr(0, n)), std::nullopt) << n;
  }
}

TEST(ImapFormat, EncodedWords) {
  EXPECT_EQ(EncodeWordsIfNeeded("plain"), "plain");
  EXPECT_EQ(EncodeWordsIfNeeded("caf\xc3\xa9"), "=?UTF-8?B?Y2Fmw6k=?=");
  std::string long_text;
  for (int i = 0; i < 30; ++i) long_text += "\xc3\xa9";  // 60 bytes
  std::string enc = EncodeWordsIfNeeded(long_text);
  EXPECT_NE(enc.find("?= =?UTF-8?B?"), std::string::npos);  // split into two words
}

v1::HeaderSummary Summary() {
  v1::HeaderSummary s;
  s.set_from("Ann Example <ann@a.example>");
  s.add_to("bob@b.example");
  s.add_to("Doe, John <john@b.example>");
  s.add_cc("Z\xc3\xa9 <z@c.example>");
  s.set_subject("Lunch \"Friday\"?");
  s.set_date("Thu, 7 Mar 2024 08:15:02 +0100");
  s.set_message_id("<m1@a.example>");
  return s;
}

TEST(ImapFormat, Envelope) {
  EXPECT_EQ(ImapEnvelope(Summary()),
            "(\"Thu, 7 Mar 2024 08:15:02 +0100\" \"Lunch \\\"Friday\\\"?\" "
            "((\"Ann Example\" NIL \"ann\" \"a.example\")) "
            "((\"Ann Example\" NIL \"ann\" \"a.example\")) "
            "((\"Ann Example\" NIL \"ann\" \"a.example\")) "
            "((NIL NIL \"bob\" \"b.example\")(\"Doe, John\" NIL \"john\" \"b.example\")) "
            "((\"=?UTF-8?B?WsOp?=\" NIL \"z\" \"c.example\")) NIL NIL \"<m1@a.example>\")");
  EXPECT_EQ(ImapEnvelope(v1::HeaderSummary()), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
}

// Issue 9: Sender: and Reply-To: were replaced by From.
TEST(ImapFormat, EnvelopeSenderAndReplyTo) {
  v1::HeaderSummary s;
  s.set_from("ann@a.example");
  s.add_sender("Secretary <sec@a.example>");
  s.add_reply_to("list@l.example");
  s.add_reply_to("ann@a.example");
  EXPECT_EQ(ImapEnvelope(s),
            "(NIL NIL ((NIL NIL \"ann\" \"a.example\")) "
            "((\"Secretary\" NIL \"sec\" \"a.example\")) "
            "((NIL NIL \"list\" \"l.example\")(NIL NIL \"ann\" \"a.example\")) NIL NIL NIL NIL NIL)");
}

TEST(ImapFormat, SummaryHeaderFields) {
  auto h = SummaryHeaderFields(Summary(), {"SUBJECT", "FROM", "TO", "IN-REPLY-TO"});
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(*h,
            "From: Ann Example <ann@a.example>\r\n"
            "To: bob@b.example, \"Doe, John\" <john@b.example>\r\n"
            "Subject: Lunch \"Friday\"?\r\n\r\n");
  EXPECT_FALSE(SummaryHeaderFields(Summary(), {"FROM", "REFERENCES"}).has_value());
  EXPECT_EQ(*SummaryHeaderFields(v1::HeaderSummary(), {"FROM"}), "\r\n");
}

TEST(ImapFormat, Rfc5322Day) {
  EXPECT_EQ(*ParseRfc5322Day("Thu, 7 Mar 2024 08:15:02 +0100"), absl::CivilDay(2024, 3, 7));
  EXPECT_EQ(*ParseRfc5322Day("07 mar 99 08:15 GMT"), absl::CivilDay(1999, 3, 7));
  EXPECT_FALSE(ParseRfc5322Day("yesterday").has_value());
}

TEST(ImapFormat, Search) {
  v1::MessageInfo m;
  m.set_uid(7);
  *m.mutable_summary() = Summary();
  m.set_body_size(500);
  m.add_flags("\\Seen");
  m.add_flags("$Junk");
  m.set_received_unix_ms(absl::ToUnixMillis(
      absl::FromCivil(absl::CivilSecond(2024, 3, 8, 12, 0, 0), absl::UTCTimeZone())));
  ImapSearchItem item{3, 7, false, &m};
  auto match = [&](std::string_view keys) {
    ImapCommandReader r(ImapLimits{});
    ImapFeedResult res = r.Feed(std::string("s SEARCH ") + std::string(keys));
    EXPECT_TRUE(std::holds_alternative<ImapCommand>(res)) << keys;
    if (!std::holds_alternative<ImapCommand>(res)) return false;
    return SearchMatches(std::get<ImapCommand>(res).search, item, 10, 20);
  };
  EXPECT_TRUE(match("ALL"));
  EXPECT_TRUE(match("SEEN"));
  EXPECT_FALSE(match("UNSEEN"));
  EXPECT_FALSE(match("FLAGGED"));
  EXPECT_TRUE(match("UNFLAGGED UNDELETED"));
  EXPECT_TRUE(match("KEYWORD $junk"));
  EXPECT_TRUE(match("FROM ANN"));
  EXPECT_TRUE(match("FROM a.example"));
  EXPECT_FALSE(match("FROM bob"));
  EXPECT_TRUE(match("TO john"));
  EXPECT_TRUE(match("SUBJECT friday"));
  EXPECT_TRUE(match("HEADER MESSAGE-ID m1@"));
  EXPECT_TRUE(match("SINCE 8-Mar-2024"));
  EXPECT_TRUE(match("ON 8-Mar-2024"));
  EXPECT_FALSE(match("BEFORE 8-Mar-2024"));
  EXPECT_TRUE(match("SENTON 7-Mar-2024"));
  EXPECT_TRUE(match("SENTBEFORE 8-Mar-2024"));
  EXPECT_TRUE(match("LARGER 499 SMALLER 501"));
  EXPECT_FALSE(match("LARGER 500"));
  EXPECT_TRUE(match("UID 7"));
  EXPECT_FALSE(match("UID 10:*"));  // "*" is 20: 7 is not in 10:20
  EXPECT_TRUE(match("NOT UID 10:*"));
  EXPECT_FALSE(match("UID 8:*"));
  EXPECT_TRUE(match("3"));
  EXPECT_TRUE(match("*:2"));  // 2..10
  EXPECT_FALSE(match("4:*"));
  EXPECT_TRUE(match("OR FLAGGED SEEN"));
  EXPECT_FALSE(match("NOT SEEN"));
  EXPECT_TRUE(match("(SEEN FROM ann) NOT DELETED"));
  EXPECT_FALSE(match("NEW"));
  item.recent = true;
  EXPECT_TRUE(match("RECENT"));
  EXPECT_FALSE(match("NEW"));  // recent but seen

  ImapCommandReader r(ImapLimits{});
  auto body = std::get<ImapCommand>(r.Feed("s SEARCH OR BODY x SEEN"));
  EXPECT_TRUE(SearchNeedsBody(body.search));
  auto refs = std::get<ImapCommand>(r.Feed("s SEARCH HEADER References x"));
  EXPECT_TRUE(SearchNeedsBody(refs.search));
  auto ok = std::get<ImapCommand>(r.Feed("s SEARCH HEADER Subject x"));
  EXPECT_FALSE(SearchNeedsBody(ok.search));
}

const char kPlain[] =
    "From: Ann <ann@a.example>\r\n"
    "To: bob@b.example\r\n"
    "Subject: hi\r\n"
    "Content-Type: text/plain; charset=\"utf-8\"; format=flowed\r\n"
    "\r\n"
    "hello\r\nworld\r\n";

TEST(ImapMime, SinglePart) {
  MimeEntity root = ParseMime(kPlain);
  EXPECT_EQ(root.type, "TEXT");
  EXPECT_EQ(root.subtype, "PLAIN");
  EXPECT_EQ(ImapBodyStructure(root, true),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\" \"FORMAT\" \"flowed\") NIL NIL \"7BIT\" "
            "14 2 NIL NIL NIL NIL)");
  EXPECT_EQ(ImapBodyStructure(root, false),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\" \"FORMAT\" \"flowed\") NIL NIL \"7BIT\" "
            "14 2)");
  auto sec = [&](FetchSection s) { return SectionBytes(kPlain, root, s); };
  EXPECT_EQ(*sec({}), kPlain);
  EXPECT_EQ(*sec({{}, FetchSection::Text::kText, {}}), "hello\r\nworld\r\n");
  EXPECT_EQ(*sec({{}, FetchSection::Text::kHeader, {}}),
            std::string(kPlain).substr(0, std::string(kPlain).find("\r\n\r\n") + 4));
  EXPECT_EQ(*sec({{1}, FetchSection::Text::kNone, {}}), "hello\r\nworld\r\n");
  EXPECT_EQ(*sec({{}, FetchSection::Text::kHeaderFields, {"SUBJECT", "TO"}}),
            "To: bob@b.example\r\nSubject: hi\r\n\r\n");
  EXPECT_EQ(*sec({{}, FetchSection::Text::kHeaderFieldsNot, {"SUBJECT", "TO", "CONTENT-TYPE"}}),
            "From: Ann <ann@a.example>\r\n\r\n");
  EXPECT_FALSE(sec({{2}, FetchSection::Text::kNone, {}}).ok());
  EXPECT_FALSE(sec({{1}, FetchSection::Text::kHeader, {}}).ok());
}

TEST(ImapMime, DefaultsAndLfLineEnds) {
  const char msg[] = "Subject: x\n\nbody\n";
  MimeEntity root = ParseMime(msg);
  EXPECT_EQ(ImapBodyStructure(root, false),
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 5 1)");
  FetchSection h;
  h.text = FetchSection::Text::kHeader;
  EXPECT_EQ(*SectionBytes(msg, root, h), "Subject: x\n\n");
  // No empty line at all: all header, empty body.
  MimeEntity only = ParseMime("Subject: x\r\n");
  EXPECT_EQ(only.body, "");
}

const char kMultipart[] =
    "From: a@a.example\r\n"
    "Subject: parts\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "one\r\n"
    "--XX\r\n"
    "Content-Type: application/pdf; name=a.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
    "\r\n"
    "QUJD\r\n"
    "--XX\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: c@c.example\r\n"
    "Subject: inner\r\n"
    "\r\n"
    "inner body\r\n"
    "--XX--\r\n"
    "epilogue\r\n";

TEST(ImapMime, Multipart) {
  MimeEntity root = ParseMime(kMultipart);
  ASSERT_TRUE(root.is_multipart());
  ASSERT_EQ(root.parts.size(), 3u);
  EXPECT_EQ(root.parts[0].body, "one");
  EXPECT_EQ(root.parts[1].encoding, "BASE64");
  EXPECT_EQ(root.parts[2].message.size(), 1u);
  EXPECT_EQ(ImapBodyStructure(root, false),
            "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 3 1)"
            "(\"APPLICATION\" \"PDF\" (\"NAME\" \"a.pdf\") NIL NIL \"BASE64\" 4)"
            "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 47 "
            "(NIL \"inner\" ((NIL NIL \"c\" \"c.example\")) ((NIL NIL \"c\" \"c.example\")) "
            "((NIL NIL \"c\" \"c.example\")) NIL NIL NIL NIL NIL) "
            "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 10 1) 4) \"MIXED\")");
  std::string ext = ImapBodyStructure(root, true);
  EXPECT_NE(ext.find("(\"ATTACHMENT\" (\"FILENAME\" \"a.pdf\"))"), std::string::npos) << ext;
  EXPECT_NE(ext.find("\"MIXED\" (\"BOUNDARY\" \"XX\") NIL NIL NIL)"), std::string::npos) << ext;

  auto sec = [&](std::vector<uint32_t> part, FetchSection::Text t) {
    return SectionBytes(kMultipart, root, FetchSection{part, t, {}});
  };
  using T = FetchSection::Text;
  EXPECT_EQ(*sec({1}, T::kNone), "one");
  EXPECT_EQ(*sec({2}, T::kNone), "QUJD");
  EXPECT_EQ(*sec({1}, T::kMime), "Content-Type: text/plain\r\n\r\n");
  EXPECT_EQ(*sec({3}, T::kHeader), "From: c@c.example\r\nSubject: inner\r\n\r\n");
  // The line break before a delimiter belongs to the delimiter (RFC 2046).
  EXPECT_EQ(*sec({3}, T::kText), "inner body");
  EXPECT_EQ(*sec({3, 1}, T::kNone), "inner body");
  EXPECT_FALSE(sec({4}, T::kNone).ok());
  EXPECT_FALSE(sec({1, 1}, T::kNone).ok());
  EXPECT_FALSE(sec({2}, T::kText).ok());
  EXPECT_EQ(*sec({}, T::kText), std::string(kMultipart).substr(
                                    std::string(kMultipart).find("preamble")));
}

TEST(ImapMime, HostileInputDoesNotBreak) {
  // Deep nesting stops at the depth limit; no boundary; unterminated parts.
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "Content-Type: message/rfc822\r\n\r\n";
  deep += "x";
  MimeEntity root = ParseMime(deep);
  EXPECT_FALSE(ImapBodyStructure(root, true).empty());
  MimeEntity nob = ParseMime("Content-Type: multipart/mixed\r\n\r\nabc");
  EXPECT_EQ(ImapBodyStructure(nob, false),
            "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3 1)");
  MimeEntity open = ParseMime("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nab");
  ASSERT_EQ(open.parts.size(), 1u);
  EXPECT_EQ(open.parts[0].body, "ab");
}

TEST(ImapMime, SectionSpec) {
  EXPECT_EQ(SectionSpec({}), "");
  EXPECT_EQ(SectionSpec({{1, 2}, FetchSection::Text::kMime, {}}), "1.2.MIME");
  EXPECT_EQ(SectionSpec({{}, FetchSection::Text::kHeaderFields, {"FROM", "TO"}}),
            "HEADER.FIELDS (FROM TO)");
  EXPECT_EQ(SectionSpec({{3}, FetchSection::Text::kNone, {}}), "3");
}

// RFC 5256 2.1 base subject.
TEST(ImapFormat, BaseSubject) {
  EXPECT_EQ(ImapBaseSubject("Re: lunch"), "LUNCH");
  EXPECT_EQ(ImapBaseSubject("RE: Re: re:  lunch  at\tnoon"), "LUNCH AT NOON");
  EXPECT_EQ(ImapBaseSubject("Fwd: [list] Re: lunch (fwd)"), "LUNCH");
  EXPECT_EQ(ImapBaseSubject("[list] Fw[x]: lunch"), "LUNCH");
  EXPECT_EQ(ImapBaseSubject("[Fwd: Re: lunch]"), "LUNCH");
  EXPECT_EQ(ImapBaseSubject("[only a blob]"), "[ONLY A BLOB]");
  EXPECT_EQ(ImapBaseSubject("Report: x"), "REPORT: X");
  EXPECT_EQ(ImapBaseSubject(""), "");
}

TEST(ImapFormat, Rfc5322DateTime) {
  EXPECT_EQ(ParseRfc5322DateTime("Thu, 7 Mar 2024 08:15:02 +0100"),
            absl::FromUnixSeconds(1709795702));
  EXPECT_EQ(ParseRfc5322DateTime("7 Mar 2024 07:15 -0000"), absl::FromUnixSeconds(1709795700));
  EXPECT_EQ(ParseRfc5322DateTime("nonsense"), std::nullopt);
  EXPECT_EQ(ParseRfc5322DateTime("7 Mar 2024 25:00:00 +0000"), std::nullopt);
}

}  // namespace
}  // namespace pullmail
