// Tests for MakeBounceMessage: the result parses with GMime as an RFC 6522
// multipart/report whose parts say what RFC 3464 requires, quotes the
// original summary faithfully, and stays well-formed whatever a peer put in
// the reason text.
#include "core/mail/bounce.h"

#include <gmime/gmime.h>

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/mail/header_summary.h"
#include "core/mail/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct ParsedBounce {
  std::string content_type;  // of the whole message
  std::string from, to, subject;
  std::vector<std::string> part_types;
  std::vector<std::string> part_bodies;  // transfer-decoded
};

std::string PartBody(GMimeObject* obj) {
  GMimeDataWrapper* w = g_mime_part_get_content(GMIME_PART(obj));
  GMimeStream* mem = g_mime_stream_mem_new();
  g_mime_data_wrapper_write_to_stream(w, mem);
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
  std::string out(reinterpret_cast<const char*>(bytes->data), bytes->len);
  g_object_unref(mem);
  return out;
}

ParsedBounce Parse(const std::string& raw) {
  g_mime_init();
  ParsedBounce p;
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(raw.data(), raw.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage* msg = g_mime_parser_construct_message(parser, nullptr);
  EXPECT_NE(msg, nullptr);
  if (msg == nullptr) return p;
  GMimeObject* body = g_mime_message_get_mime_part(msg);
  char* ct = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(body));
  p.content_type = ct;
  g_free(ct);
  const char* rt = g_mime_object_get_content_type_parameter(body, "report-type");
  if (rt != nullptr) p.content_type += std::string("; report-type=") + rt;
  p.from = g_mime_object_get_header(GMIME_OBJECT(msg), "From");
  p.to = g_mime_object_get_header(GMIME_OBJECT(msg), "To");
  p.subject = g_mime_message_get_subject(msg);
  if (GMIME_IS_MULTIPART(body)) {
    GMimeMultipart* mp = GMIME_MULTIPART(body);
    for (int i = 0; i < g_mime_multipart_get_count(mp); ++i) {
      GMimeObject* part = g_mime_multipart_get_part(mp, i);
      char* t = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(part));
      p.part_types.push_back(t);
      g_free(t);
      p.part_bodies.push_back(GMIME_IS_PART(part) ? PartBody(part) : "");
    }
  }
  g_object_unref(msg);
  g_object_unref(parser);
  g_object_unref(stream);
  return p;
}

BounceInfo ExpiredInfo() {
  BounceInfo info;
  info.sender = "ann@a.example";
  info.domain = "a.example";
  info.recipients = {"bob@b.example", "carol@b.example"};
  info.message_id = "m-20240307-0001+x=y";
  auto summary = ExtractHeaderSummary(
      "From: =?UTF-8?B?QW5uIE3DvGxsZXI=?= <ann@a.example>\r\n"
      "To: Bob <bob@b.example>, \"Lef\xC3\xA8vre, Carol\" <carol@b.example>\r\n"
      "Cc: dan@d.example\r\n"
      "Subject: =?UTF-8?Q?Caf=C3=A9_on_Thursday?=\r\n"
      "Date: Thu, 7 Mar 2024 09:15:02 +0100\r\n"
      "Message-ID: <orig-1@a.example>\r\n"
      "In-Reply-To: <prev@b.example>\r\n\r\nbody\r\n");
  EXPECT_TRUE(summary.ok()) << summary.status();
  info.summary = *summary;
  info.reason = "expired after 12 attempts; last error: UNAVAILABLE connection refused";
  info.status_code = "4.4.7";
  info.when = absl::FromUnixSeconds(1709800000);
  return info;
}

TEST(BounceTest, ExpiryBounceIsAWellFormedDsn) {
  std::string raw = MakeBounceMessage(ExpiredInfo());
  ParsedBounce p = Parse(raw);
  EXPECT_EQ(p.content_type, "multipart/report; report-type=delivery-status");
  EXPECT_EQ(p.from, "Mail Delivery System <MAILER-DAEMON@a.example>");
  EXPECT_EQ(p.to, "ann@a.example");
  EXPECT_THAT(p.subject, HasSubstr("Undelivered Mail Returned to Sender"));
  EXPECT_THAT(raw, HasSubstr("\r\nAuto-Submitted: auto-replied\r\n"));
  EXPECT_THAT(raw, HasSubstr("\r\nDate: Thu, 07 Mar 2024 08:26:40 +0000\r\n"));
  ASSERT_EQ(p.part_types.size(), 3u);
  EXPECT_EQ(p.part_types[0], "text/plain");
  EXPECT_EQ(p.part_types[1], "message/delivery-status");
  EXPECT_EQ(p.part_types[2], "text/rfc822-headers");

  // The explanation, decoded from quoted-printable, in UTF-8.
  const std::string& text = p.part_bodies[0];
  EXPECT_TRUE(IsValidUtf8(text));
  EXPECT_THAT(text, HasSubstr("expired"));
  EXPECT_THAT(text, HasSubstr("the mail system of b.example"));
  EXPECT_THAT(text, HasSubstr("bob@b.example"));
  EXPECT_THAT(text, HasSubstr("carol@b.example"));
  EXPECT_THAT(text, HasSubstr("UNAVAILABLE connection refused"));
  EXPECT_THAT(text, HasSubstr("Subject: Caf\xC3\xA9 on Thursday"));
  EXPECT_THAT(text, HasSubstr("Message-ID: <orig-1@a.example>"));

  // RFC 3464 fields.
  const std::string& dsn = p.part_bodies[1];
  EXPECT_THAT(dsn, HasSubstr("Reporting-MTA: dns; a.example\r\n"));
  EXPECT_THAT(dsn, HasSubstr("Original-Envelope-Id: m-20240307-0001+2Bx+3Dy\r\n"));
  EXPECT_THAT(dsn, HasSubstr("\r\n\r\nFinal-Recipient: rfc822; bob@b.example\r\n"
                             "Action: failed\r\nStatus: 4.4.7\r\n"
                             "Diagnostic-Code: X-Pullmail; expired after 12 attempts;"));
  EXPECT_THAT(dsn, HasSubstr("Final-Recipient: rfc822; carol@b.example\r\n"));
  EXPECT_THAT(dsn, HasSubstr("Last-Attempt-Date: Thu, 07 Mar 2024 08:26:40 +0000\r\n"));

  // The quoted header fields parse back to the very same summary.
  auto quoted = ExtractHeaderSummary(p.part_bodies[2]);
  ASSERT_TRUE(quoted.ok()) << quoted.status() << "\n" << p.part_bodies[2];
  EXPECT_EQ(quoted->DebugString(), ExpiredInfo().summary.DebugString());
}

TEST(BounceTest, PermanentRejection) {
  BounceInfo info = ExpiredInfo();
  info.status_code = "5.7.1";
  info.reason = "PERMISSION_DENIED: sender not allowed";
  std::string raw = MakeBounceMessage(info);
  ParsedBounce p = Parse(raw);
  EXPECT_THAT(p.subject, Not(HasSubstr("expired")));
  ASSERT_EQ(p.part_bodies.size(), 3u);
  EXPECT_THAT(p.part_bodies[0], HasSubstr("refused"));
  EXPECT_THAT(p.part_bodies[1], HasSubstr("Status: 5.7.1\r\n"));
  EXPECT_THAT(p.part_bodies[1], HasSubstr("X-Pullmail; PERMISSION_DENIED: sender not allowed\r\n"));
}

// A legacy MTA's refusal, quoted by the relay: RFC 3464 wants the server's
// own status and its reply as diagnostic-type "smtp".
TEST(BounceTest, RemoteSmtpRefusalIsQuotedAsSmtpDiagnostic) {
  BounceInfo info = ExpiredInfo();
  info.status_code = "5.1.1";
  info.reason = "refused: smtp_rejected: 550 5.1.1 <nobody@legacy.example>: User unknown";
  ParsedBounce p = Parse(MakeBounceMessage(info));
  ASSERT_EQ(p.part_bodies.size(), 3u);
  EXPECT_THAT(p.part_bodies[1], HasSubstr("Status: 5.1.1\r\n"));
  EXPECT_THAT(p.part_bodies[1],
              HasSubstr("Diagnostic-Code: smtp; 550 5.1.1 <nobody@legacy.example>: User unknown\r\n"));
  EXPECT_THAT(p.part_bodies[1], Not(HasSubstr("X-Pullmail")));
}

TEST(BounceTest, DeterministicAndStrictLines) {
  BounceInfo info = ExpiredInfo();
  std::string a = MakeBounceMessage(info);
  EXPECT_EQ(a, MakeBounceMessage(info));
  info.recipients.pop_back();
  EXPECT_NE(a, MakeBounceMessage(info));  // another bounce gets another Message-ID
  ASSERT_GE(a.size(), 2u);
  EXPECT_EQ(a.substr(a.size() - 2), "\r\n");
  for (size_t i = 0; i < a.size(); ++i) {
    unsigned char c = a[i];
    ASSERT_LT(c, 0x80) << "8-bit byte at " << i;
    if (c == '\n') {
      ASSERT_TRUE(i > 0 && a[i - 1] == '\r') << "bare LF at " << i;
    }
  }
  for (absl::string_view line : absl::StrSplit(a, "\r\n")) EXPECT_LE(line.size(), 998u);
}

TEST(BounceTest, HostileReasonCannotBreakTheStructure) {
  BounceInfo info = ExpiredInfo();
  info.status_code = "5.1.1";
  info.sender = "ann@a.example\r\nBcc: victim@x.example";
  info.reason = std::string("no\r\n\r\n--=_pullmail_dsn_0\r\nStatus: 2.0.0\r\n\xFF\xC3 ") +
                std::string(5000, 'z');
  info.summary.set_subject(std::string(990, 'S') + "\r\n--x");
  std::string raw = MakeBounceMessage(info);
  ParsedBounce p = Parse(raw);
  ASSERT_EQ(p.part_types.size(), 3u);
  // The injected field stays inside the (garbled) To address: no new field.
  EXPECT_THAT(raw, Not(HasSubstr("\r\nBcc:")));
  EXPECT_THAT(p.to, Not(HasSubstr(" ")));
  // The reason's text stays on the Diagnostic-Code line: no new status line.
  EXPECT_THAT(p.part_bodies[1], Not(HasSubstr("\nStatus: 2.0.0")));
  EXPECT_THAT(p.part_bodies[1], HasSubstr("Status: 5.1.1\r\n"));
  for (unsigned char c : p.part_bodies[1]) ASSERT_LT(c, 0x80);
  for (absl::string_view line : absl::StrSplit(raw, "\r\n")) EXPECT_LE(line.size(), 998u);
}

TEST(BounceTest, MalformedStatusBecomesGeneric) {
  BounceInfo info = ExpiredInfo();
  info.status_code = "9.9";
  ParsedBounce p = Parse(MakeBounceMessage(info));
  ASSERT_EQ(p.part_bodies.size(), 3u);
  EXPECT_THAT(p.part_bodies[1], HasSubstr("Status: 5.0.0\r\n"));
}

TEST(BounceTest, DomainDefaultsToSendersDomain) {
  BounceInfo info = ExpiredInfo();
  info.domain.clear();
  info.sender = "zed@z.example";
  ParsedBounce p = Parse(MakeBounceMessage(info));
  EXPECT_EQ(p.from, "Mail Delivery System <MAILER-DAEMON@z.example>");
}

}  // namespace
}  // namespace pullmail
