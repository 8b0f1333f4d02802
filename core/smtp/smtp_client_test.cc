// Tests of the SMTP out client dialogue (smtp_client.h): scripted servers,
// one reply line at a time.
#include "core/smtp/smtp_client.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pullmail {
namespace {

SmtpClientParams Params(std::vector<std::string> rcpts = {"carol@legacy.example"}) {
  SmtpClientParams p;
  p.helo_domain = "a.example";
  p.mail_from = "ann@a.example";
  p.recipients = std::move(rcpts);
  p.message_size = 1234;
  return p;
}

// Drives `c` against a scripted server: each command the client sends is
// recorded and answered with the next entry of `replies` (a reply may hold
// several lines separated by '\n'). Returns the commands (and "<TLS>",
// "<MESSAGE>" for those actions).
std::vector<std::string> Drive(SmtpClient& c, std::vector<std::string> replies) {
  std::vector<std::string> sent;
  size_t next = 0;
  SmtpClientAction a = c.Start();
  for (int guard = 0; guard < 100; ++guard) {
    switch (a.kind) {
      case SmtpClientAction::kReadReply: {
        if (next >= replies.size()) {
          a = c.OnTransportError("connection closed");
          break;
        }
        std::string r = replies[next++];
        size_t start = 0;
        for (;;) {
          size_t nl = r.find('\n', start);
          std::string line = r.substr(start, nl == std::string::npos ? nl : nl - start);
          a = c.OnReplyLine(line);
          if (nl == std::string::npos) break;
          EXPECT_EQ(a.kind, SmtpClientAction::kReadReply) << "mid-reply action after " << line;
          start = nl + 1;
        }
        break;
      }
      case SmtpClientAction::kSend:
        sent.push_back(a.data);
        a = SmtpClientAction{};
        break;
      case SmtpClientAction::kSendMessage:
        sent.push_back("<MESSAGE>");
        a = SmtpClientAction{};
        break;
      case SmtpClientAction::kStartTls:
        sent.push_back("<TLS>");
        a = c.OnTlsStarted();
        break;
      case SmtpClientAction::kClose:
        return sent;
    }
  }
  ADD_FAILURE() << "dialogue did not end";
  return sent;
}

TEST(SmtpClient, DeliversWithEhloSizeAndQuit) {
  SmtpClient c(Params());
  auto sent = Drive(c, {"220 mx.legacy.example ESMTP", "250-mx.legacy.example\n250-SIZE 1000000\n250 8BITMIME",
                      "250 2.1.0 ok", "250 2.1.5 ok", "354 go ahead", "250 2.0.0 queued as X",
                      "221 2.0.0 bye"});
  std::vector<std::string> want = {"EHLO a.example\r\n",
                                   "MAIL FROM:<ann@a.example> SIZE=1234\r\n",
                                   "RCPT TO:<carol@legacy.example>\r\n", "DATA\r\n", "<MESSAGE>",
                                   "QUIT\r\n"};
  EXPECT_EQ(sent, want);
  EXPECT_EQ(c.result().kind, SmtpClientResult::kDelivered);
  EXPECT_EQ(c.result().reply, "250 2.0.0 queued as X");
  EXPECT_TRUE(c.result().refused.empty());
  EXPECT_FALSE(c.result().tls);
}

TEST(SmtpClient, NullSenderAndNoSizeWhenNotOffered) {
  SmtpClientParams p = Params();
  p.mail_from.clear();
  SmtpClient c(p);
  auto sent = Drive(c, {"220 hi", "250 hi", "250 ok", "250 ok", "354 go", "250 ok", "221 bye"});
  ASSERT_GE(sent.size(), 2u);
  EXPECT_EQ(sent[1], "MAIL FROM:<>\r\n");
  EXPECT_EQ(c.result().kind, SmtpClientResult::kDelivered);
}

TEST(SmtpClient, StartsTlsWhenOfferedAndPossibleThenSaysEhloAgain) {
  SmtpClientParams p = Params();
  p.tls_possible = true;
  SmtpClient c(p);
  auto sent = Drive(c, {"220 hi", "250-hi\n250-STARTTLS\n250 SIZE", "220 2.0.0 ready",
                      "250-hi\n250 SIZE 100000", "250 ok", "250 ok", "354 go", "250 ok",
                      "221 bye"});
  std::vector<std::string> want = {"EHLO a.example\r\n", "STARTTLS\r\n", "<TLS>",
                                   "EHLO a.example\r\n", "MAIL FROM:<ann@a.example> SIZE=1234\r\n",
                                   "RCPT TO:<carol@legacy.example>\r\n", "DATA\r\n", "<MESSAGE>",
                                   "QUIT\r\n"};
  EXPECT_EQ(sent, want);
  EXPECT_EQ(c.result().kind, SmtpClientResult::kDelivered);
  EXPECT_TRUE(c.result().tls);
}

TEST(SmtpClient, NoStartTlsWhenTheDriverCannotOrTheServerRefuses) {
  SmtpClient cannot(Params());  // tls_possible = false
  auto sent = Drive(cannot, {"220 hi", "250-hi\n250 STARTTLS", "250 ok", "250 ok", "354 go",
                           "250 ok", "221 bye"});
  EXPECT_EQ(sent[1], "MAIL FROM:<ann@a.example>\r\n");
  EXPECT_EQ(cannot.result().kind, SmtpClientResult::kDelivered);

  SmtpClientParams p = Params();
  p.tls_possible = true;
  SmtpClient refused(p);
  sent = Drive(refused, {"220 hi", "250-hi\n250 STARTTLS", "454 4.7.0 TLS not available",
                       "250 ok", "250 ok", "354 go", "250 ok", "221 bye"});
  EXPECT_EQ(sent[2], "MAIL FROM:<ann@a.example>\r\n");
  EXPECT_EQ(refused.result().kind, SmtpClientResult::kDelivered);
  EXPECT_FALSE(refused.result().tls);
}

TEST(SmtpClient, FallsBackToHeloWhenEhloIsUnknown) {
  SmtpClient c(Params());
  auto sent = Drive(c, {"220 old", "502 5.5.1 what?", "250 old", "250 ok", "250 ok", "354 go",
                      "250 ok", "221 bye"});
  EXPECT_EQ(sent[1], "HELO a.example\r\n");
  EXPECT_EQ(c.result().kind, SmtpClientResult::kDelivered);
}

TEST(SmtpClient, RcptRefusedFor5xxIsPermanentWithTheServersWords) {
  SmtpClient c(Params());
  auto sent = Drive(c, {"220 hi", "250 hi", "250 ok", "550 5.1.1 <carol@legacy.example>: no such user",
                      "221 bye"});
  EXPECT_EQ(sent.back(), "QUIT\r\n");
  for (const std::string& s : sent) EXPECT_NE(s, "DATA\r\n");
  EXPECT_EQ(c.result().kind, SmtpClientResult::kPermanent);
  EXPECT_EQ(c.result().reply, "550 5.1.1 <carol@legacy.example>: no such user");
}

TEST(SmtpClient, SomeRecipientsRefusedOthersDelivered) {
  SmtpClient c(Params({"carol@legacy.example", "dave@legacy.example"}));
  auto sent = Drive(c, {"220 hi", "250 hi", "250 ok", "550 5.1.1 no such user", "250 ok", "354 go",
                      "250 ok", "221 bye"});
  EXPECT_EQ(c.result().kind, SmtpClientResult::kDelivered);
  ASSERT_EQ(c.result().refused.size(), 1u);
  EXPECT_EQ(c.result().refused[0].first, "carol@legacy.example");
  EXPECT_EQ(c.result().refused[0].second, "550 5.1.1 no such user");
}

TEST(SmtpClient, A4xxRcptStopsBeforeDataSoARetryDuplicatesNothing) {
  SmtpClient c(Params({"carol@legacy.example", "dave@legacy.example"}));
  auto sent = Drive(c, {"220 hi", "250 hi", "250 ok", "250 ok", "450 4.2.1 mailbox busy",
                      "221 bye"});
  for (const std::string& s : sent) EXPECT_NE(s, "DATA\r\n");
  EXPECT_EQ(c.result().kind, SmtpClientResult::kTemporary);
  EXPECT_EQ(c.result().reply, "450 4.2.1 mailbox busy");
}

TEST(SmtpClient, DataRepliesDecide) {
  struct Case {
    const char* reply;
    SmtpClientResult::Kind want;
  };
  for (const Case& k : {Case{"250 2.0.0 ok", SmtpClientResult::kDelivered},
                        Case{"451 4.3.0 try later", SmtpClientResult::kTemporary},
                        Case{"554 5.7.1 spam", SmtpClientResult::kPermanent}}) {
    SmtpClient c(Params());
    Drive(c, {"220 hi", "250 hi", "250 ok", "250 ok", "354 go", k.reply, "221 bye"});
    EXPECT_EQ(c.result().kind, k.want) << k.reply;
    EXPECT_EQ(c.result().reply, k.reply);
  }
  SmtpClient refused_data(Params());
  Drive(refused_data, {"220 hi", "250 hi", "250 ok", "250 ok", "554 5.5.1 no valid recipients",
                     "221 bye"});
  EXPECT_EQ(refused_data.result().kind, SmtpClientResult::kPermanent);
}

TEST(SmtpClient, GreetingAndMailFromFailures) {
  SmtpClient busy(Params());
  Drive(busy, {"421 4.3.2 busy", "221 bye"});
  EXPECT_EQ(busy.result().kind, SmtpClientResult::kTemporary);
  SmtpClient no_service(Params());
  Drive(no_service, {"554 5.7.1 go away", "221 bye"});
  EXPECT_EQ(no_service.result().kind, SmtpClientResult::kPermanent);
  SmtpClient sender_refused(Params());
  Drive(sender_refused, {"220 hi", "250 hi", "553 5.7.1 sender refused", "221 bye"});
  EXPECT_EQ(sender_refused.result().kind, SmtpClientResult::kPermanent);
  EXPECT_EQ(sender_refused.result().reply, "553 5.7.1 sender refused");
}

TEST(SmtpClient, TransportErrorsAreTemporaryButNeverUndoADelivery) {
  SmtpClient cut(Params());
  Drive(cut, {"220 hi", "250 hi", "250 ok", "250 ok", "354 go"});  // closes before the answer
  EXPECT_EQ(cut.result().kind, SmtpClientResult::kTemporary);
  EXPECT_EQ(cut.result().reply, "connection closed");

  SmtpClient after(Params());
  Drive(after, {"220 hi", "250 hi", "250 ok", "250 ok", "354 go", "250 ok"});  // no QUIT answer
  EXPECT_EQ(after.result().kind, SmtpClientResult::kDelivered);
}

TEST(SmtpClient, MalformedRepliesAreTemporary) {
  for (const char* bad : {"hello", "22", "2200 x", "620 x", "220x", "abc def"}) {
    SmtpClient c(Params());
    EXPECT_EQ(c.OnReplyLine(bad).kind, SmtpClientAction::kClose) << bad;
    EXPECT_EQ(c.result().kind, SmtpClientResult::kTemporary) << bad;
  }
  SmtpClient mixed(Params());
  EXPECT_EQ(mixed.OnReplyLine("220-hi").kind, SmtpClientAction::kReadReply);
  EXPECT_EQ(mixed.OnReplyLine("250 hi").kind, SmtpClientAction::kClose);
  EXPECT_EQ(mixed.result().kind, SmtpClientResult::kTemporary);

  SmtpClient endless(Params());
  SmtpClientAction a;
  for (size_t i = 0; i <= SmtpClient::kMaxReplyLines; ++i) a = endless.OnReplyLine("220-more");
  EXPECT_EQ(a.kind, SmtpClientAction::kClose);
  EXPECT_EQ(endless.result().kind, SmtpClientResult::kTemporary);
}

TEST(SmtpClient, RefusesAnEnvelopeThatCouldInjectCommandsBeforeSendingAnything) {
  for (std::vector<std::string> rcpts :
       {std::vector<std::string>{}, {"carol@legacy.example>\r\nRSET"}, {"a b@x"}, {""},
        {"carol@legacy.example", "d\x80@x"}}) {
    SmtpClient c(Params(rcpts));
    EXPECT_EQ(c.Start().kind, SmtpClientAction::kClose);
    EXPECT_EQ(c.result().kind, SmtpClientResult::kPermanent);
  }
  SmtpClientParams p = Params();
  p.mail_from = "ann@a.example>\r\nRCPT TO:<x@y";
  SmtpClient bad_from(p);
  EXPECT_EQ(bad_from.Start().kind, SmtpClientAction::kClose);
  EXPECT_EQ(bad_from.result().reply, "554 5.1.3 the envelope sender is not a valid SMTP path");
}

TEST(DotStuff, StuffsDotsAndNormalisesLineEnds) {
  EXPECT_EQ(DotStuff("a\r\n.b\r\n..c\r\n"), "a\r\n..b\r\n...c\r\n.\r\n");
  EXPECT_EQ(DotStuff("a\nb"), "a\r\nb\r\n.\r\n");
  EXPECT_EQ(DotStuff("a\rb\r\n"), "a\r\nb\r\n.\r\n");
  EXPECT_EQ(DotStuff(".\n"), "..\r\n.\r\n");
  EXPECT_EQ(DotStuff(""), ".\r\n");
  EXPECT_EQ(DotStuff("x\r\n\r\n.\r\n"), "x\r\n\r\n..\r\n.\r\n");
}

}  // namespace
}  // namespace pullmail
