// Tests for the SMTP command parser, paths, parameters, replies and SASL
// decoding (core/smtp/smtp_command.h, smtp_reply.h, sasl.h).
#include "core/smtp/smtp_command.h"

#include <string>

#include "core/crypto/encoding.h"
#include "core/smtp/sasl.h"
#include "core/smtp/smtp_reply.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

SmtpCommand Ok(std::string_view line) {
  auto r = ParseSmtpCommand(line);
  if (auto* e = std::get_if<SmtpReply>(&r)) {
    ADD_FAILURE() << "'" << line << "' refused: " << e->Format();
    return {};
  }
  return std::get<SmtpCommand>(r);
}

std::string Err(std::string_view line) {
  auto r = ParseSmtpCommand(line);
  if (auto* e = std::get_if<SmtpReply>(&r)) return e->Format();
  ADD_FAILURE() << "'" << line << "' accepted";
  return "";
}

TEST(SmtpReply, SingleAndMultiLine) {
  EXPECT_EQ(Reply(250, "2.0.0", "Ok").Format(), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(Reply(220, "", "host ESMTP").Format(), "220 host ESMTP\r\n");
  SmtpReply r{250, "", {"host Hello x", "PIPELINING", "8BITMIME"}};
  EXPECT_EQ(r.Format(), "250-host Hello x\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
  SmtpReply e{550, "5.1.1", {"a", "b"}};
  EXPECT_EQ(e.Format(), "550-5.1.1 a\r\n550 5.1.1 b\r\n");
  EXPECT_EQ((SmtpReply{334, "", {}}.Format()), "334 \r\n");
}

TEST(SmtpReply, FindsAQuotedReplyWithAMatchingEnhancedCode) {
  QuotedSmtpReply r;
  ASSERT_TRUE(FindQuotedSmtpReply("smtp_rejected: 550 5.1.1 <a@b>: User unknown", &r));
  EXPECT_EQ(r.code, 550);
  EXPECT_EQ(r.enhanced, "5.1.1");
  EXPECT_EQ(r.text, "550 5.1.1 <a@b>: User unknown");
  ASSERT_TRUE(FindQuotedSmtpReply("452 4.2.2 mailbox full", &r));
  EXPECT_EQ(r.enhanced, "4.2.2");
  EXPECT_FALSE(FindQuotedSmtpReply("550 4.1.1 class mismatch", &r));
  EXPECT_FALSE(FindQuotedSmtpReply("size 1550 5.1.1x", &r));
  EXPECT_FALSE(FindQuotedSmtpReply("250 2.0.0 ok", &r));
  EXPECT_FALSE(FindQuotedSmtpReply("", &r));
}

TEST(SmtpReply, SanitizeKeepsOneSafeLine) {
  EXPECT_EQ(SanitizeReplyText("bad\r\n250 ok\x01\xff"), "bad??250 ok??");
  EXPECT_EQ(SanitizeReplyText(""), "-");
  EXPECT_EQ(SanitizeReplyText(std::string(500, 'x'), 10), std::string(10, 'x'));
}

TEST(SmtpCommand, VerbsAreCaseInsensitive) {
  EXPECT_EQ(Ok("ehlo client.example").verb, SmtpVerb::kEhlo);
  EXPECT_EQ(Ok("EhLo client.example").argument, "client.example");
  EXPECT_EQ(Ok("HELO [127.0.0.1]").verb, SmtpVerb::kHelo);
  EXPECT_EQ(Ok("data").verb, SmtpVerb::kData);
  EXPECT_EQ(Ok("RSET").verb, SmtpVerb::kRset);
  EXPECT_EQ(Ok("QUIT").verb, SmtpVerb::kQuit);
  EXPECT_EQ(Ok("starttls").verb, SmtpVerb::kStarttls);
  EXPECT_EQ(Ok("NOOP").verb, SmtpVerb::kNoop);
  EXPECT_EQ(Ok("NOOP anything at all").argument, "anything at all");
  EXPECT_EQ(Ok("HELP").verb, SmtpVerb::kHelp);
  EXPECT_EQ(Ok("VRFY bob").verb, SmtpVerb::kVrfy);
  EXPECT_EQ(Ok("DATA  ").verb, SmtpVerb::kData);  // trailing blanks tolerated
}

TEST(SmtpCommand, Errors) {
  EXPECT_EQ(Err("FOO bar"), "500 5.5.2 Command unrecognized\r\n");
  EXPECT_EQ(Err(""), "500 5.5.2 Command unrecognized\r\n");
  EXPECT_EQ(Err("EXPN list"), "502 5.5.1 EXPN not implemented\r\n");
  EXPECT_EQ(Err("BDAT 10 LAST"), "502 5.5.1 BDAT not implemented\r\n");
  EXPECT_EQ(Err("DATA now"), "501 5.5.4 Syntax: DATA\r\n");
  EXPECT_EQ(Err("QUIT please"), "501 5.5.4 Syntax: QUIT\r\n");
  EXPECT_EQ(Err("STARTTLS x"), "501 5.5.4 Syntax: STARTTLS\r\n");
  EXPECT_EQ(Err("EHLO"), "501 5.5.4 Syntax: EHLO hostname\r\n");
  EXPECT_EQ(Err("HELO "), "501 5.5.4 Syntax: HELO hostname\r\n");
  EXPECT_EQ(Err("VRFY"), "501 5.5.4 Syntax: VRFY address\r\n");
  EXPECT_EQ(Err(std::string("NOOP \0", 6)),
            "500 5.5.2 Command line contains control characters\r\n");
  EXPECT_EQ(Err("NOOP a\rb"), "500 5.5.2 Command line contains control characters\r\n");
}

TEST(SmtpCommand, LineLimits) {
  // RFC 5321 4.5.3.1.4: 512 octets including CRLF.
  std::string noop = "NOOP " + std::string(505, 'x');  // 510 + CRLF = 512
  EXPECT_EQ(Ok(noop).verb, SmtpVerb::kNoop);
  EXPECT_EQ(Err(noop + "x"), "500 5.5.2 Line too long\r\n");
  // MAIL and RCPT get room for parameters; AUTH gets RFC 4954's 12288.
  std::string mail = "MAIL FROM:<a@b.example> AUTH=" + std::string(600, 'x');
  EXPECT_EQ(Ok(mail).verb, SmtpVerb::kMail);
  EXPECT_EQ(Err("MAIL FROM:<a@b.example> AUTH=" + std::string(1000, 'x')),
            "500 5.5.2 Line too long\r\n");
  std::string auth = "AUTH PLAIN " + std::string(12000, 'A');
  EXPECT_EQ(Ok(auth).initial_response->size(), 12000u);
  EXPECT_EQ(Err("AUTH PLAIN " + std::string(12280, 'A')),
            "500 5.5.6 Authentication exchange line is too long\r\n");
}

TEST(SmtpCommand, MailFrom) {
  SmtpCommand c = Ok("MAIL FROM:<alice@a.example>");
  EXPECT_EQ(c.verb, SmtpVerb::kMail);
  EXPECT_EQ(c.address, "alice@a.example");
  EXPECT_FALSE(c.null_path);
  EXPECT_FALSE(c.size.has_value());
  EXPECT_EQ(Ok("mail from:<alice@a.example>").address, "alice@a.example");
  EXPECT_EQ(Ok("MAIL FROM: <alice@a.example>").address, "alice@a.example");  // liberal
  EXPECT_TRUE(Ok("MAIL FROM:<>").null_path);
  c = Ok("MAIL FROM:<alice@a.example> SIZE=12345 BODY=8BITMIME");
  EXPECT_EQ(*c.size, 12345u);
  EXPECT_EQ(c.body, SmtpBody::k8BitMime);
  EXPECT_EQ(Ok("MAIL FROM:<a@b.example> body=7bit").body, SmtpBody::k7Bit);
  EXPECT_EQ(Ok("MAIL FROM:<a@b.example> AUTH=<>").address, "a@b.example");
  // Source routes are accepted and dropped (RFC 5321 4.1.1.3, C.).
  EXPECT_EQ(Ok("MAIL FROM:<@relay.example,@r2.example:a@b.example>").address, "a@b.example");
}

TEST(SmtpCommand, MailFromErrors) {
  EXPECT_EQ(Err("MAIL alice@a.example"), "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n");
  EXPECT_EQ(Err("MAIL FROM:alice@a.example"), "501 5.1.7 Bad sender address syntax\r\n");
  EXPECT_EQ(Err("MAIL FROM:<alice>"), "501 5.1.7 Bad sender address syntax\r\n");
  EXPECT_EQ(Err("MAIL FROM:<alice@a.example"), "501 5.1.7 Bad sender address syntax\r\n");
  EXPECT_EQ(Err("MAIL FROM:<alice@a.example>SIZE=1"),
            "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n");
  EXPECT_EQ(Err("MAIL FROM:<a@b.example> SIZE=abc"), "501 5.5.4 Bad SIZE parameter\r\n");
  EXPECT_EQ(Err("MAIL FROM:<a@b.example> SIZE"), "501 5.5.4 Bad SIZE parameter\r\n");
  EXPECT_EQ(Err("MAIL FROM:<a@b.example> SIZE=123456789012345678901"),
            "501 5.5.4 Bad SIZE parameter\r\n");
  EXPECT_EQ(Err("MAIL FROM:<a@b.example> SIZE=-1"), "501 5.5.4 Bad SIZE parameter\r\n");
  EXPECT_EQ(Err("MAIL FROM:<a@b.example> BODY=BINARYMIME"),
            "501 5.5.4 Bad BODY parameter: 7BIT or 8BITMIME\r\n");
  EXPECT_EQ(Err("MAIL FROM:<a@b.example> SMTPUTF8"),
            "555 5.5.4 Unsupported parameter SMTPUTF8\r\n");
  EXPECT_EQ(Err("MAIL FROM:<a@b.example> RET=HDRS"), "555 5.5.4 Unsupported parameter RET\r\n");
  EXPECT_EQ(Err("MAIL FROM:<a@b.example> SIZE=1 size=2"), "501 5.5.4 Duplicate parameter SIZE\r\n");
  EXPECT_EQ(Err("MAIL FROM:<a@b.example> -X=1"), "501 5.5.4 Syntax error in parameters\r\n");
  EXPECT_EQ(Err("MAIL FROM:<a@b.example> X="), "501 5.5.4 Syntax error in parameters\r\n");
}

TEST(SmtpCommand, RcptTo) {
  SmtpCommand c = Ok("RCPT TO:<bob@b.example>");
  EXPECT_EQ(c.verb, SmtpVerb::kRcpt);
  EXPECT_EQ(c.address, "bob@b.example");
  EXPECT_TRUE(Ok("RCPT TO:<Postmaster>").postmaster);
  EXPECT_TRUE(Ok("rcpt to:<postmaster>").postmaster);
  EXPECT_EQ(Err("RCPT TO:<>"), "501 5.1.3 Bad recipient address syntax\r\n");
  EXPECT_EQ(Err("RCPT TO:<bob>"), "501 5.1.3 Bad recipient address syntax\r\n");
  EXPECT_EQ(Err("RCPT TO:<bob@b.example> NOTIFY=NEVER"),
            "555 5.5.4 Unsupported parameter NOTIFY\r\n");
  EXPECT_EQ(Err("RCPT TO:<bob@b.example> SIZE=10"), "555 5.5.4 Unsupported parameter SIZE\r\n");
  EXPECT_EQ(Err("RCPT FROM:<bob@b.example>"),
            "501 5.5.4 Syntax: RCPT TO:<address> [parameters]\r\n");
}

TEST(SmtpPath, Syntax) {
  EXPECT_EQ(*ParseSmtpPath("<a@b.example>", false), "a@b.example");
  EXPECT_EQ(*ParseSmtpPath("<first.last+tag@sub.b-c.example>", false),
            "first.last+tag@sub.b-c.example");
  EXPECT_EQ(*ParseSmtpPath("<\"john doe\"@b.example>", false), "\"john doe\"@b.example");
  EXPECT_EQ(*ParseSmtpPath("<\"a>b\\\"c\"@b.example>", false), "\"a>b\\\"c\"@b.example");
  EXPECT_EQ(*ParseSmtpPath("<a@[192.0.2.1]>", false), "a@[192.0.2.1]");
  EXPECT_EQ(*ParseSmtpPath("<a@[IPv6:2001:db8::1]>", false), "a@[IPv6:2001:db8::1]");
  EXPECT_EQ(*ParseSmtpPath("<>", true), "");
  EXPECT_FALSE(ParseSmtpPath("<>", false));
  for (const char* bad :
       {"a@b.example", "<a@b.example", "<a b@b.example>", "<.a@b.example>", "<a.@b.example>",
        "<a..b@b.example>", "<@b.example>", "<a@>", "<a@-b.example>", "<a@b-.example>",
        "<a@b..example>", "<a@b_c.example>", "<\"unterminated@b.example>", "<a@[]>",
        "<@r.example:>", "<@r.example,:a@b.example>", "<a@b.example@c.example>", "<a@b@c>"}) {
    EXPECT_FALSE(ParseSmtpPath(bad, true)) << bad;
  }
}

TEST(SmtpPath, Limits) {
  // RFC 5321 4.5.3.1.1 local part 64, 4.5.3.1.2 domain 255, 4.5.3.1.3 path 256.
  std::string local64(64, 'l');
  EXPECT_TRUE(ParseSmtpPath("<" + local64 + "@b.example>", false));
  EXPECT_FALSE(ParseSmtpPath("<" + local64 + "l@b.example>", false));
  std::string label(63, 'd');
  std::string domain = label + "." + label + "." + label + "." + std::string(50, 'd');  // 245
  EXPECT_TRUE(ParseSmtpPath("<a@" + domain + ">", false));
  std::string path = "<" + std::string(64, 'l') + "@" + domain + ">";  // 312 > 256
  EXPECT_FALSE(ParseSmtpPath(path, false));
  EXPECT_EQ(Err("RCPT TO:" + path), "501 5.1.3 Bad recipient address syntax\r\n");
}

TEST(SmtpCommand, Auth) {
  SmtpCommand c = Ok("AUTH plain");
  EXPECT_EQ(c.verb, SmtpVerb::kAuth);
  EXPECT_EQ(c.argument, "PLAIN");
  EXPECT_FALSE(c.initial_response.has_value());
  c = Ok("AUTH PLAIN AGFsaWNlAHNlY3JldA==");
  EXPECT_EQ(*c.initial_response, "AGFsaWNlAHNlY3JldA==");
  EXPECT_EQ(*Ok("AUTH LOGIN =").initial_response, "=");
  EXPECT_EQ(Err("AUTH"), "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n");
  EXPECT_EQ(Err("AUTH PL@IN"), "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n");
  EXPECT_EQ(Err("AUTH PLAIN a b"), "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n");
}

TEST(Sasl, DecodeResponse) {
  EXPECT_EQ(*DecodeSaslResponse("aGVsbG8="), "hello");
  EXPECT_EQ(*DecodeSaslResponse("="), "");
  EXPECT_TRUE(absl::IsCancelled(DecodeSaslResponse("*").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeSaslResponse("aGVsbG8").status()));    // no padding
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeSaslResponse("aGV sbG8=").status()));  // space
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeSaslResponse("a$==").status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(DecodeSaslResponse(std::string(kSaslMaxResponse + 4, 'A')).status()));
}

TEST(Sasl, Plain) {
  auto c = ParseSaslPlain(std::string("\0alice\0secret", 13));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->authzid, "");
  EXPECT_EQ(c->authcid, "alice");
  EXPECT_EQ(c->password, "secret");
  c = ParseSaslPlain(std::string("alice@a.example\0alice\0pw with spaces", 36));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->authzid, "alice@a.example");
  EXPECT_EQ(c->password, "pw with spaces");
  EXPECT_FALSE(ParseSaslPlain("alice secret").ok());
  EXPECT_FALSE(ParseSaslPlain(std::string("\0alice", 6)).ok());
  EXPECT_FALSE(ParseSaslPlain(std::string("\0\0secret", 8)).ok());
  EXPECT_FALSE(ParseSaslPlain(std::string("\0alice\0", 7)).ok());
  EXPECT_FALSE(ParseSaslPlain(std::string("\0alice\0pw\0x", 11)).ok());
  std::string long_pw(kSaslMaxPassword + 1, 'p');
  EXPECT_FALSE(ParseSaslPlain(std::string("\0alice\0", 7) + long_pw).ok());
  // Through base64, as a client sends it.
  auto d = DecodeSaslResponse(Base64Encode(std::string("\0bob\0pw", 7)));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(ParseSaslPlain(*d)->authcid, "bob");
}

TEST(Sasl, LoginFields) {
  EXPECT_TRUE(CheckSaslLoginField("alice", false).ok());
  EXPECT_FALSE(CheckSaslLoginField("", false).ok());
  EXPECT_FALSE(CheckSaslLoginField(std::string("a\0b", 3), true).ok());
  EXPECT_FALSE(CheckSaslLoginField("a\r\nb", true).ok());
  EXPECT_FALSE(CheckSaslLoginField(std::string(kSaslMaxIdentity + 1, 'u'), false).ok());
  EXPECT_TRUE(CheckSaslLoginField(std::string(kSaslMaxIdentity + 1, 'p'), true).ok());
}

}  // namespace
}  // namespace pullmail
