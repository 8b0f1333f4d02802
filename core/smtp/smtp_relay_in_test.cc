// Tests for SmtpSession's relay-in mode (SMTP in: the gateway as its
// domain's MX): no AUTH, opportunistic STARTTLS, any sender but a pullmail
// domain's, null sender, recipients only at the domain and checked with the
// node, strict CRLF.CRLF, the Received: line, and the Bridge error table.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/directory/memory_directory.h"
#include "core/smtp/smtp_session.h"
#include "core/util/strings.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

class FailingDirectory : public Directory {
 public:
  absl::StatusOr<DomainEntry> Lookup(std::string_view) const override {
    return absl::UnavailableError("DNS timeout");
  }
};

class SmtpRelayInTest : public ::testing::Test {
 protected:
  SmtpRelayInTest() : random_(11) {
    DomainEntry a;  // another pullmail domain
    a.domain = "a.example";
    directory_.Add(a);
    DomainEntry b;  // this gateway's own domain
    b.domain = "b.example";
    directory_.Add(b);
    DomainEntry legacy;
    legacy.domain = "legacy.example";
    legacy.legacy = true;
    directory_.Add(legacy);
    Reset(&directory_);
  }

  void Reset(const Directory* directory, size_t max_message = 1000) {
    SmtpSessionOptions o;
    o.hostname = "b.example";
    o.domain = "b.example";
    o.client = "192.0.2.7:40000";
    o.max_message_bytes = max_message;
    o.max_recipients = 3;
    o.clock = &clock_;
    o.random = &random_;
    o.mode = SmtpMode::kRelayIn;
    o.directory = directory;
    s_ = std::make_unique<SmtpSession>(o);
    s_->SetTransport(/*tls_available=*/true, /*tls_active=*/false, /*auth_allowed=*/false);
  }

  std::string Line(std::string_view line, bool bare_lf = false) {
    SmtpStep st = s_->OnLine(line, bare_lf);
    last_action_ = st.action;
    return st.reply;
  }

  // RCPT that the session checks with the node; `node` is the node's answer.
  std::string Rcpt(std::string_view address, absl::Status node = absl::OkStatus()) {
    std::string r = Line(absl::StrCat("RCPT TO:<", AV(address), ">"));
    if (last_action_ != SmtpAction::kCheckRecipient) return r;
    EXPECT_EQ(r, "");
    checked_.push_back(s_->pending_recipient());
    SmtpStep st = s_->OnRecipientResult(node);
    last_action_ = st.action;
    return st.reply;
  }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};  // Tue, 14 Nov 2023 22:13:20 UTC
  SeededRandom random_;
  MemoryDirectory directory_;
  std::unique_ptr<SmtpSession> s_;
  SmtpAction last_action_ = SmtpAction::kNone;
  std::vector<std::string> checked_;
};

TEST_F(SmtpRelayInTest, GreetingEhloOffersStarttlsNeverAuth) {
  EXPECT_EQ(s_->Greeting(), "220 b.example ESMTP pullmail\r\n");
  std::string ehlo = Line("EHLO mx.legacy.example");
  EXPECT_TRUE(absl::StrContains(ehlo, "250-STARTTLS\r\n")) << ehlo;
  EXPECT_FALSE(absl::StrContains(ehlo, "AUTH")) << ehlo;
  EXPECT_EQ(Line("AUTH PLAIN AGFsaWNlAHB3"), "503 5.5.1 Error: authentication not enabled\r\n");
  EXPECT_EQ(Line("STARTTLS"), "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_EQ(last_action_, SmtpAction::kStartTls);
  s_->OnTlsStarted(/*auth_allowed=*/true);  // even over TLS: no AUTH on an MX
  ehlo = Line("EHLO mx.legacy.example");
  EXPECT_FALSE(absl::StrContains(ehlo, "AUTH")) << ehlo;
  EXPECT_FALSE(absl::StrContains(ehlo, "STARTTLS")) << ehlo;
}

TEST_F(SmtpRelayInTest, FullTransactionWithoutTls) {
  Line("EHLO mx.legacy.example");
  EXPECT_EQ(Line("MAIL FROM:<carol@Legacy.Example> SIZE=50"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(Rcpt("bob@B.example"), "250 2.1.5 Ok\r\n");
  EXPECT_EQ(Rcpt("bob@b.example"), "250 2.1.5 Ok\r\n");  // duplicate: no second check
  EXPECT_EQ(checked_, (std::vector<std::string>{"bob@b.example"}));
  EXPECT_EQ(Line("DATA"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(Line("From: carol@legacy.example"), "");
  EXPECT_EQ(Line(""), "");
  EXPECT_EQ(Line("hello"), "");
  EXPECT_EQ(Line("."), "");
  ASSERT_EQ(last_action_, SmtpAction::kSubmit);
  const SmtpEnvelope& e = s_->envelope();
  EXPECT_EQ(e.from, "carol@legacy.example");
  EXPECT_EQ(e.to, (std::vector<std::string>{"bob@b.example"}));
  // Received: only (a relay adds no Date: or Message-ID:), "with ESMTP".
  EXPECT_EQ(e.message,
            "Received: from mx.legacy.example ([192.0.2.7])\r\n"
            "\tby b.example (pullmail smtp-in) with ESMTP\r\n"
            "\tfor <bob@b.example>; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
            "From: carol@legacy.example\r\n\r\nhello\r\n");
  EXPECT_EQ(s_->OnSubmitResult(std::string("m-1")).reply, "250 2.0.0 Ok: queued as m-1\r\n");
}

TEST_F(SmtpRelayInTest, OverTlsIsEsmtps) {
  Line("EHLO mx.legacy.example");
  Line("STARTTLS");
  s_->OnTlsStarted(false);
  Line("EHLO mx.legacy.example");
  Line("MAIL FROM:<carol@legacy.example>");
  Rcpt("bob@b.example");
  Line("DATA");
  Line("x");
  Line(".");
  ASSERT_EQ(last_action_, SmtpAction::kSubmit);
  EXPECT_TRUE(absl::StrContains(s_->envelope().message, "(pullmail smtp-in) with ESMTPS\r\n"))
      << s_->envelope().message;
}

TEST_F(SmtpRelayInTest, NullSenderIsAccepted) {
  Line("HELO mx.legacy.example");
  EXPECT_EQ(Line("MAIL FROM:<>"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(Rcpt("bob@b.example"), "250 2.1.5 Ok\r\n");
  Line("DATA");
  Line("Subject: bounce");
  Line(".");
  ASSERT_EQ(last_action_, SmtpAction::kSubmit);
  EXPECT_EQ(s_->envelope().from, "");
  EXPECT_TRUE(absl::StrContains(s_->envelope().message, ") with SMTP\r\n"));
}

TEST_F(SmtpRelayInTest, PullmailDomainSendersAreRefused) {
  Line("EHLO mx.example");
  EXPECT_EQ(Line("MAIL FROM:<ann@a.example>"),
            "550 5.7.1 <ann@a.example> is a pullmail domain: its mail cannot arrive over SMTP\r\n");
  // Its own domain too: its users send natively (submission).
  EXPECT_EQ(Line("MAIL FROM:<bob@B.EXAMPLE>"),
            "550 5.7.1 <bob@b.example> is a pullmail domain: its mail cannot arrive over SMTP\r\n");
  EXPECT_EQ(Line("RCPT TO:<bob@b.example>"), "503 5.5.1 Error: need MAIL command\r\n");
  // Legacy and unknown domains are fine.
  EXPECT_EQ(Line("MAIL FROM:<carol@legacy.example>"), "250 2.1.0 Ok\r\n");
  Line("RSET");
  EXPECT_EQ(Line("MAIL FROM:<dan@unknown.example>"), "250 2.1.0 Ok\r\n");
}

TEST_F(SmtpRelayInTest, DirectoryDownIsTemporary) {
  FailingDirectory failing;
  Reset(&failing);
  Line("EHLO mx.example");
  EXPECT_EQ(Line("MAIL FROM:<carol@legacy.example>"),
            "451 4.3.0 Temporary failure (directory), try again later\r\n");
  // A null sender needs no directory.
  EXPECT_EQ(Line("MAIL FROM:<>"), "250 2.1.0 Ok\r\n");
}

TEST_F(SmtpRelayInTest, BadSenderSyntax) {
  Line("EHLO mx.example");
  std::string r = Line("MAIL FROM:<no-domain>");
  // The parser refuses it before the mode sees it.
  EXPECT_TRUE(absl::StartsWith(r, "501 5.1.7 ")) << r;
}

TEST_F(SmtpRelayInTest, RelayingDeniedAndNodeVerdicts) {
  Line("EHLO mx.legacy.example");
  Line("MAIL FROM:<carol@legacy.example>");
  EXPECT_EQ(Rcpt("x@c.example"), "550 5.7.1 <x@c.example>: Relay access denied\r\n");
  EXPECT_EQ(Rcpt("x@sub.b.example"), "550 5.7.1 <x@sub.b.example>: Relay access denied\r\n");
  EXPECT_TRUE(checked_.empty());  // refused without asking the node
  EXPECT_EQ(Rcpt("nobody@b.example", absl::NotFoundError("no such user: nobody@b.example")),
            "550 5.1.1 <nobody@b.example>: Recipient address rejected: User unknown\r\n");
  EXPECT_EQ(Rcpt("bob@b.example", absl::UnavailableError("connection refused")),
            "451 4.3.0 <bob@b.example>: Temporary failure, try again later\r\n");
  EXPECT_EQ(Rcpt("bob@b.example", absl::PermissionDeniedError("only gateway:bridge")),
            "451 4.3.0 <bob@b.example>: Temporary failure, try again later\r\n");
  // None was accepted: DATA is refused (RFC 2920 3.1).
  EXPECT_EQ(Line("DATA"), "554 5.5.1 Error: no valid recipients\r\n");
  EXPECT_EQ(Rcpt("Postmaster", absl::OkStatus()), "250 2.1.5 Ok\r\n");
  EXPECT_EQ(checked_.back(), "postmaster@b.example");
}

TEST_F(SmtpRelayInTest, RecipientLimit) {
  Line("EHLO mx.legacy.example");
  Line("MAIL FROM:<carol@legacy.example>");
  EXPECT_EQ(Rcpt("u1@b.example"), "250 2.1.5 Ok\r\n");
  EXPECT_EQ(Rcpt("u2@b.example"), "250 2.1.5 Ok\r\n");
  EXPECT_EQ(Rcpt("u3@b.example"), "250 2.1.5 Ok\r\n");
  EXPECT_EQ(Rcpt("u4@b.example"), "452 4.5.3 Error: too many recipients\r\n");
}

TEST_F(SmtpRelayInTest, LineWhileRecipientCheckPendingCloses) {
  Line("EHLO mx.legacy.example");
  Line("MAIL FROM:<carol@legacy.example>");
  EXPECT_EQ(Line("RCPT TO:<bob@b.example>"), "");
  ASSERT_EQ(last_action_, SmtpAction::kCheckRecipient);
  EXPECT_TRUE(absl::StartsWith(Line("NOOP"), "421 4.3.0"));
  EXPECT_EQ(last_action_, SmtpAction::kClose);
}

TEST_F(SmtpRelayInTest, SmugglingBareLfDotDoesNotEndData) {
  Line("EHLO mx.legacy.example");
  Line("MAIL FROM:<carol@legacy.example>");
  Rcpt("bob@b.example");
  Line("DATA");
  EXPECT_EQ(Line("Subject: hi"), "");
  EXPECT_EQ(Line("", /*bare_lf=*/false), "");
  EXPECT_EQ(Line("text", /*bare_lf=*/true), "");
  // "<LF>.<CR><LF>" and "<LF>.<LF>": no end, and what follows is data.
  EXPECT_EQ(Line(".", /*bare_lf=*/true), "");
  EXPECT_EQ(Line("MAIL FROM:<admin@legacy.example>"), "");
  EXPECT_EQ(Line("RCPT TO:<alice@b.example>"), "");
  EXPECT_EQ(Line("DATA"), "");
  EXPECT_NE(last_action_, SmtpAction::kSubmit);
  EXPECT_EQ(Line("."), "554 5.6.0 Message contains a bare LF (RFC 5321 2.3.8)\r\n");
  EXPECT_EQ(last_action_, SmtpAction::kNone);
  // The session goes on; nothing was submitted.
  EXPECT_EQ(Line("MAIL FROM:<carol@legacy.example>"), "250 2.1.0 Ok\r\n");
}

TEST_F(SmtpRelayInTest, BridgeErrorsMapToReplies) {
  auto code = [](absl::Status s) { return SmtpReplyForBridgeError(s).Format().substr(0, 9); };
  EXPECT_EQ(code(absl::UnavailableError("down")), "451 4.3.0");
  EXPECT_EQ(code(absl::DeadlineExceededError("slow")), "451 4.3.0");
  EXPECT_EQ(code(absl::UnauthenticatedError("bad token")), "451 4.3.0");
  EXPECT_EQ(code(absl::PermissionDeniedError("not the gateway")), "451 4.3.0");
  EXPECT_EQ(code(absl::NotFoundError("no such user: x@b.example")), "550 5.1.1");
  EXPECT_EQ(code(absl::InvalidArgumentError("sender_outside_domain: ...")), "550 5.7.1");
  EXPECT_EQ(code(absl::InvalidArgumentError("relaying denied: ...")), "550 5.7.1");
  EXPECT_EQ(code(absl::InvalidArgumentError("message without a header block")), "554 5.6.0");
  EXPECT_EQ(code(absl::ResourceExhaustedError("big")), "552 5.3.4");
  // At the end of DATA the session uses this table.
  Line("EHLO mx.legacy.example");
  Line("MAIL FROM:<carol@legacy.example>");
  Rcpt("bob@b.example");
  Line("DATA");
  Line("x");
  Line(".");
  ASSERT_EQ(last_action_, SmtpAction::kSubmit);
  EXPECT_TRUE(absl::StartsWith(
      s_->OnSubmitResult(absl::UnavailableError("sender node down")).reply, "451 4.3.0 "));
}

TEST_F(SmtpRelayInTest, SizeLimits) {
  Reset(&directory_, /*max_message=*/200);
  Line("EHLO mx.legacy.example");
  EXPECT_TRUE(absl::StartsWith(Line("MAIL FROM:<carol@legacy.example> SIZE=201"), "552 5.3.4"));
  Line("MAIL FROM:<carol@legacy.example>");
  Rcpt("bob@b.example");
  Line("DATA");
  for (int i = 0; i < 10; ++i) Line(std::string(40, 'x'));
  EXPECT_TRUE(absl::StartsWith(Line("."), "552 5.3.4"));
}

}  // namespace
}  // namespace pullmail
