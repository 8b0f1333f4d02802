// Tests of the RFC 5965 export: the required fields are there, the message
// parses with GMime as multipart/report with the three parts in order, the
// original headers survive encoding, and nothing a sender wrote can inject a
// header or break the 998-octet line limit.
#include "core/policy/arf.h"

#include <gmime/gmime.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "core/mail/header_summary.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct GObjectUnref {
  void operator()(void* p) const {
    if (p != nullptr) g_object_unref(p);
  }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

class ArfTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { g_mime_init(); }

  static GPtr<GMimeMessage> Parse(const std::string& text) {
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(text.data(), text.size()));
    GPtr<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
    return GPtr<GMimeMessage>(g_mime_parser_construct_message(parser.get(), nullptr));
  }

  // The decoded content of a leaf part, or the serialised inner message of a
  // message/* part.
  static std::string Content(GMimeObject* part) {
    GPtr<GMimeStream> out(g_mime_stream_mem_new());
    if (GMIME_IS_PART(part)) {
      GMimeDataWrapper* w = g_mime_part_get_content(GMIME_PART(part));
      if (w != nullptr) g_mime_data_wrapper_write_to_stream(w, out.get());
    } else if (GMIME_IS_MESSAGE_PART(part)) {
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
      if (inner != nullptr) g_mime_object_write_to_stream(GMIME_OBJECT(inner), nullptr, out.get());
    }
    GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out.get()));
    return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
  }

  static std::string MimeType(GMimeObject* obj) {
    char* t = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(obj));
    std::string s = t;
    g_free(t);
    return s;
  }

  // All values of header `name` in `obj`, in order.
  static std::vector<std::string> Headers(GMimeObject* obj, const char* name) {
    std::vector<std::string> out;
    GMimeHeaderList* list = g_mime_object_get_header_list(obj);
    for (int i = 0; i < g_mime_header_list_get_count(list); ++i) {
      GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
      if (g_ascii_strcasecmp(g_mime_header_get_name(h), name) == 0) {
        out.emplace_back(g_mime_header_get_value(h));
      }
    }
    return out;
  }

  static ArfInfo SampleInfo() {
    ArfInfo info;
    info.from = "abuse-reports@rcpt.example";
    info.to = "abuse@bad.example";
    info.date = absl::FromUnixSeconds(1'700'000'000);
    info.original_mail_from = "spammer@bad.example";
    info.original_rcpt_to = {"ann@rcpt.example", "bob@rcpt.example"};
    info.arrival_date = absl::FromUnixSeconds(1'699'990'000);
    info.reporting_mta = "mx.rcpt.example";
    info.source_ip = "192.0.2.7";
    info.incidents = 3;
    info.reported_domains = {"bad.example"};
    info.message_id = "m-0001@bad.example";
    info.body_sha256 = std::string(32, '\xab');
    info.explanation = "suppressed: 3 net spam reports on this body (threshold 3)";
    info.summary.set_from("J\xc3\xbcrgen Spam <spammer@bad.example>");
    info.summary.add_to("Ann <ann@rcpt.example>");
    info.summary.add_to("bob@rcpt.example");
    info.summary.set_subject("Gewinnen Sie jetzt \xe2\x80\x94 100 \xe2\x82\xac \xe2\x9c\x93");
    info.summary.set_date("Tue, 14 Nov 2023 19:00:00 +0100");
    info.summary.set_message_id("<m-0001@bad.example>");
    return info;
  }

  // 7-bit, CRLF only, every line at most 998 octets (RFC 5322 2.1.1, 2.3).
  static void ExpectWellFormedLines(const std::string& text) {
    for (size_t i = 0; i < text.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      ASSERT_LT(c, 0x80) << "8-bit byte at " << i;
      if (c == '\n') {
        ASSERT_TRUE(i > 0 && text[i - 1] == '\r') << "bare LF at " << i;
      }
      if (c == '\r') {
        ASSERT_TRUE(i + 1 < text.size() && text[i + 1] == '\n') << "bare CR at " << i;
      }
    }
    for (absl::string_view line : absl::StrSplit(text, "\r\n")) {
      EXPECT_LE(line.size(), 998u) << line.substr(0, 60);
    }
  }
};

TEST_F(ArfTest, Rfc5322DateIsEnglishAndUtc) {
  EXPECT_EQ(FormatRfc5322Date(absl::FromUnixSeconds(1'700'000'000)), "Tue, 14 Nov 2023 22:13:20 +0000");
  EXPECT_EQ(FormatRfc5322Date(absl::FromUnixSeconds(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
}

TEST_F(ArfTest, IsAMultipartReportWithTheThreeParts) {
  const std::string arf = MakeArfReport(SampleInfo());
  ExpectWellFormedLines(arf);
  GPtr<GMimeMessage> msg = Parse(arf);
  ASSERT_NE(msg, nullptr);

  GMimeObject* top = g_mime_message_get_mime_part(msg.get());
  ASSERT_NE(top, nullptr);
  EXPECT_EQ(MimeType(top), "multipart/report");
  const char* report_type =
      g_mime_content_type_get_parameter(g_mime_object_get_content_type(top), "report-type");
  ASSERT_NE(report_type, nullptr);
  EXPECT_STREQ(report_type, "feedback-report");
  ASSERT_TRUE(GMIME_IS_MULTIPART(top));
  GMimeMultipart* mp = GMIME_MULTIPART(top);
  ASSERT_EQ(g_mime_multipart_get_count(mp), 3);

  GMimeObject* human = g_mime_multipart_get_part(mp, 0);
  GMimeObject* report = g_mime_multipart_get_part(mp, 1);
  GMimeObject* original = g_mime_multipart_get_part(mp, 2);
  EXPECT_EQ(MimeType(human), "text/plain");
  EXPECT_EQ(MimeType(report), "message/feedback-report");
  EXPECT_EQ(MimeType(original), "text/rfc822-headers");

  const std::string text = Content(human);
  EXPECT_THAT(text, HasSubstr("m-0001@bad.example"));
  EXPECT_THAT(text, HasSubstr("abababababababababababababababababababababababababababababababab"));
  EXPECT_THAT(text, HasSubstr("3 net spam reports on this body (threshold 3)"));
  EXPECT_STREQ(g_mime_object_get_content_type_parameter(human, "charset"), "us-ascii");

  // The outer header.
  const char* report_id = g_mime_message_get_message_id(msg.get());
  ASSERT_NE(report_id, nullptr);
  EXPECT_THAT(std::string(report_id), ::testing::StartsWith("arf-"));
  EXPECT_THAT(std::string(report_id), ::testing::EndsWith("@rcpt.example"));
  EXPECT_THAT(std::string(g_mime_message_get_subject(msg.get())),
              HasSubstr("Feedback report (abuse): Gewinnen Sie jetzt \xe2\x80\x94 100 \xe2\x82\xac"));
  GDateTime* date = g_mime_message_get_date(msg.get());
  ASSERT_NE(date, nullptr);
  EXPECT_EQ(g_date_time_to_unix(date), 1'700'000'000);
  EXPECT_THAT(arf, HasSubstr("\r\nAuto-Submitted: auto-generated\r\n"));
}

TEST_F(ArfTest, FeedbackReportHasRequiredAndOptionalFields) {
  const std::string arf = MakeArfReport(SampleInfo());
  GPtr<GMimeMessage> msg = Parse(arf);
  ASSERT_NE(msg, nullptr);
  GMimeObject* report =
      g_mime_multipart_get_part(GMIME_MULTIPART(g_mime_message_get_mime_part(msg.get())), 1);
  // Parse the part's fields as a header block (RFC 5965 3: they use RFC 5322 syntax).
  GPtr<GMimeMessage> fields = Parse(Content(report) + "\r\n");
  ASSERT_NE(fields, nullptr);
  GMimeObject* f = GMIME_OBJECT(fields.get());

  // Required, exactly once each (RFC 5965 3.1).
  EXPECT_THAT(Headers(f, "Feedback-Type"), ::testing::ElementsAre("abuse"));
  EXPECT_THAT(Headers(f, "User-Agent"), ::testing::ElementsAre("pullmail/0.1"));
  EXPECT_THAT(Headers(f, "Version"), ::testing::ElementsAre("1"));
  // Optional, once (3.2).
  EXPECT_THAT(Headers(f, "Original-Mail-From"), ::testing::ElementsAre("<spammer@bad.example>"));
  EXPECT_THAT(Headers(f, "Arrival-Date"),
              ::testing::ElementsAre("Tue, 14 Nov 2023 19:26:40 +0000"));
  EXPECT_THAT(Headers(f, "Reporting-MTA"), ::testing::ElementsAre("dns; mx.rcpt.example"));
  EXPECT_THAT(Headers(f, "Source-IP"), ::testing::ElementsAre("192.0.2.7"));
  EXPECT_THAT(Headers(f, "Incidents"), ::testing::ElementsAre("3"));
  // Optional, repeatable (3.3).
  EXPECT_THAT(Headers(f, "Original-Rcpt-To"),
              ::testing::ElementsAre("<ann@rcpt.example>", "<bob@rcpt.example>"));
  EXPECT_THAT(Headers(f, "Reported-Domain"), ::testing::ElementsAre("bad.example"));
}

TEST_F(ArfTest, OriginalHeadersSurviveEncoding) {
  const ArfInfo info = SampleInfo();
  GPtr<GMimeMessage> msg = Parse(MakeArfReport(info));
  ASSERT_NE(msg, nullptr);
  GMimeObject* original =
      g_mime_multipart_get_part(GMIME_MULTIPART(g_mime_message_get_mime_part(msg.get())), 2);
  GPtr<GMimeMessage> headers = Parse(Content(original) + "\r\n");
  ASSERT_NE(headers, nullptr);

  EXPECT_EQ(std::string(g_mime_message_get_subject(headers.get())), info.summary.subject());
  EXPECT_STREQ(g_mime_message_get_message_id(headers.get()), "m-0001@bad.example");
  InternetAddressList* from = g_mime_message_get_from(headers.get());
  ASSERT_EQ(internet_address_list_length(from), 1);
  InternetAddress* a = internet_address_list_get_address(from, 0);
  EXPECT_STREQ(internet_address_get_name(a), "J\xc3\xbcrgen Spam");
  ASSERT_TRUE(INTERNET_ADDRESS_IS_MAILBOX(a));
  EXPECT_STREQ(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)),
               "spammer@bad.example");
  InternetAddressList* to = g_mime_message_get_addresses(headers.get(), GMIME_ADDRESS_TYPE_TO);
  ASSERT_EQ(internet_address_list_length(to), 2);
  EXPECT_STREQ(internet_address_mailbox_get_addr(
                   INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(to, 1))),
               "bob@rcpt.example");
  EXPECT_THAT(Headers(GMIME_OBJECT(headers.get()), "Date"),
              ::testing::ElementsAre("Tue, 14 Nov 2023 19:00:00 +0100"));
}

TEST_F(ArfTest, SenderTextCannotInjectHeaders) {
  ArfInfo info = SampleInfo();
  info.summary.set_subject("hello\r\nBcc: victim@elsewhere.example\r\n\r\nbody");
  info.summary.set_from("x <a@b.example>\nX-Injected: 1");
  info.original_mail_from = "spammer@bad.example\r\nX-Evil: 1";
  info.reported_domains = {"bad.example\nX-Evil: 2"};
  const std::string arf = MakeArfReport(info);
  ExpectWellFormedLines(arf);
  EXPECT_THAT(arf, Not(HasSubstr("\nBcc:")));
  EXPECT_THAT(arf, Not(HasSubstr("\nX-Injected:")));
  EXPECT_THAT(arf, Not(HasSubstr("\nX-Evil:")));
  // The address with a space in it is dropped rather than mangled.
  EXPECT_THAT(arf, Not(HasSubstr("Original-Mail-From:")));
  GPtr<GMimeMessage> msg = Parse(arf);
  ASSERT_NE(msg, nullptr);
  EXPECT_EQ(g_mime_multipart_get_count(GMIME_MULTIPART(g_mime_message_get_mime_part(msg.get()))),
            3);
}

TEST_F(ArfTest, LongValuesAreFoldedOrEncodedWithinLineLimits) {
  ArfInfo info = SampleInfo();
  std::string words;
  while (words.size() < 990) words += "spam ";
  info.summary.set_subject(std::string(990, 'x'));  // one 990-octet word
  info.summary.set_in_reply_to(words);
  for (int i = 0; i < 100; ++i) info.summary.add_cc("someone" + std::to_string(i) + "@rcpt.example");
  const std::string arf = MakeArfReport(info);
  ExpectWellFormedLines(arf);

  GPtr<GMimeMessage> msg = Parse(arf);
  ASSERT_NE(msg, nullptr);
  GMimeObject* original =
      g_mime_multipart_get_part(GMIME_MULTIPART(g_mime_message_get_mime_part(msg.get())), 2);
  GPtr<GMimeMessage> headers = Parse(Content(original) + "\r\n");
  ASSERT_NE(headers, nullptr);
  EXPECT_EQ(std::string(g_mime_message_get_subject(headers.get())), std::string(990, 'x'));
  EXPECT_EQ(internet_address_list_length(
                g_mime_message_get_addresses(headers.get(), GMIME_ADDRESS_TYPE_CC)),
            100);
}

TEST_F(ArfTest, LongNonAsciiValuesSplitAtCharacterBoundaries) {
  ArfInfo info = SampleInfo();
  std::string subject;
  for (int i = 0; i < 100; ++i) subject += "\xc3\xa9\xf0\x9f\x98\x80 x";  // "é😀 x": 2-, 4-, 1-byte
  info.summary.set_subject(subject);
  info.summary.set_from("\"D\xc3\xa9j\xc3\xa0 Vu, \xe6\x97\xa5\xe6\x9c\xac\" <deja@bad.example>");
  const std::string arf = MakeArfReport(info);
  ExpectWellFormedLines(arf);
  GPtr<GMimeMessage> msg = Parse(arf);
  ASSERT_NE(msg, nullptr);
  GMimeObject* original =
      g_mime_multipart_get_part(GMIME_MULTIPART(g_mime_message_get_mime_part(msg.get())), 2);
  GPtr<GMimeMessage> headers = Parse(Content(original) + "\r\n");
  ASSERT_NE(headers, nullptr);
  EXPECT_EQ(std::string(g_mime_message_get_subject(headers.get())), subject);
  InternetAddress* a = internet_address_list_get_address(g_mime_message_get_from(headers.get()), 0);
  EXPECT_STREQ(internet_address_get_name(a), "D\xc3\xa9j\xc3\xa0 Vu, \xe6\x97\xa5\xe6\x9c\xac");
  EXPECT_STREQ(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)), "deja@bad.example");
  // The outer Subject carries the same text after the report's prefix.
  EXPECT_EQ(std::string(g_mime_message_get_subject(msg.get())),
            "Feedback report (abuse): " + subject);
}

TEST_F(ArfTest, DeterministicAndDistinctBoundaries) {
  ArfInfo info = SampleInfo();
  const std::string a = MakeArfReport(info);
  EXPECT_EQ(a, MakeArfReport(info));
  info.message_id = "m-0002@bad.example";
  const std::string b = MakeArfReport(info);
  EXPECT_NE(a, b);
  auto boundary = [](const std::string& s) {
    size_t p = s.find("boundary=\"");
    return s.substr(p, s.find('"', p + 10) - p);
  };
  EXPECT_NE(boundary(a), boundary(b));
}

TEST_F(ArfTest, NotSpamAndMinimalReports) {
  ArfInfo info;
  info.feedback_type = "not-spam";
  info.date = absl::FromUnixSeconds(1'700'000'000);
  info.reporting_mta = "mx.rcpt.example";
  const std::string arf = MakeArfReport(info);
  ExpectWellFormedLines(arf);
  GPtr<GMimeMessage> msg = Parse(arf);
  ASSERT_NE(msg, nullptr);
  GMimeObject* report =
      g_mime_multipart_get_part(GMIME_MULTIPART(g_mime_message_get_mime_part(msg.get())), 1);
  GPtr<GMimeMessage> fields = Parse(Content(report) + "\r\n");
  GMimeObject* f = GMIME_OBJECT(fields.get());
  EXPECT_THAT(Headers(f, "Feedback-Type"), ::testing::ElementsAre("not-spam"));
  EXPECT_THAT(Headers(f, "User-Agent"), ::testing::ElementsAre("pullmail/0.1"));
  EXPECT_THAT(Headers(f, "Version"), ::testing::ElementsAre("1"));
  EXPECT_TRUE(Headers(f, "Original-Mail-From").empty());
  EXPECT_TRUE(Headers(f, "Incidents").empty()) << "one incident is the default";
  // A From is always present; here derived from the reporting host.
  EXPECT_THAT(arf, HasSubstr("From: postmaster@mx.rcpt.example\r\n"));
  EXPECT_THAT(arf, HasSubstr("Message-ID: <arf-"));

  info.feedback_type = "Abuse; x=1";  // not a token
  EXPECT_THAT(MakeArfReport(info), HasSubstr("\r\nFeedback-Type: other\r\n"));
}

TEST_F(ArfTest, NonAsciiCommentIsBase64Utf8) {
  ArfInfo info = SampleInfo();
  info.comment = "Gr\xc3\xbc\xc3\x9f" "e: das ist Spam.";
  const std::string arf = MakeArfReport(info);
  ExpectWellFormedLines(arf);
  GPtr<GMimeMessage> msg = Parse(arf);
  ASSERT_NE(msg, nullptr);
  GMimeObject* human =
      g_mime_multipart_get_part(GMIME_MULTIPART(g_mime_message_get_mime_part(msg.get())), 0);
  EXPECT_STREQ(g_mime_object_get_content_type_parameter(human, "charset"), "utf-8");
  EXPECT_THAT(Content(human), HasSubstr("Gr\xc3\xbc\xc3\x9f" "e: das ist Spam."));
}

}  // namespace
}  // namespace pullmail
