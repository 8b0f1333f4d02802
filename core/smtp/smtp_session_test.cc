// Tests for the submission dialogue (core/smtp/smtp_session.h): every
// command in every state, AUTH PLAIN/LOGIN, the transaction, pipelined
// sequences, limits, the node's answers, and the headers added on submit.
#include "core/smtp/smtp_session.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "core/crypto/encoding.h"
#include "core/util/strings.h"
#include "gtest/gtest.h"

namespace pullmail {
namespace {

std::string B64(std::string_view s) { return Base64Encode(s); }
std::string Plain(std::string_view authz, std::string_view user, std::string_view pw) {
  std::string m(authz);
  m += '\0';
  m += user;
  m += '\0';
  m += pw;
  return B64(m);
}

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() : random_(7) { Reset(); }

  void Reset(size_t max_message = 1000, size_t max_rcpt = 5) {
    SmtpSessionOptions o;
    o.hostname = "a.example";
    o.domain = "a.example";
    o.client = "127.0.0.1:40000";
    o.max_message_bytes = max_message;
    o.max_recipients = max_rcpt;
    o.max_data_line_bytes = 8192;
    o.clock = &clock_;
    o.random = &random_;
    s_ = std::make_unique<SmtpSession>(o);
    s_->SetTransport(/*tls_available=*/true, /*tls_active=*/false, /*auth_allowed=*/false);
  }

  // Feeds one line and returns the reply; the action goes to last_action_.
  std::string Line(std::string_view line) {
    SmtpStep st = s_->OnLine(line);
    last_action_ = st.action;
    return st.reply;
  }

  // Brings the session to "TLS active, EHLO done".
  void Tls() {
    Line("EHLO client.example");
    EXPECT_EQ(Line("STARTTLS"), "220 2.0.0 Ready to start TLS\r\n");
    EXPECT_EQ(last_action_, SmtpAction::kStartTls);
    s_->OnTlsStarted(/*auth_allowed=*/true);
    ASSERT_TRUE(absl::StartsWith(Line("EHLO client.example"), "250-"));
  }

  // ... and authenticated as alice.
  void Login() {
    Tls();
    EXPECT_EQ(Line("AUTH PLAIN " + Plain("", "alice", "pw")), "");
    ASSERT_EQ(last_action_, SmtpAction::kAuthenticate);
    EXPECT_EQ(s_->credentials().authcid, "alice");
    EXPECT_EQ(s_->credentials().password, "pw");
    EXPECT_EQ(s_->OnAuthResult(absl::OkStatus(), "alice@a.example").reply,
              "235 2.7.0 Authentication successful\r\n");
  }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};  // Tue, 14 Nov 2023 22:13:20 UTC
  SeededRandom random_;
  std::unique_ptr<SmtpSession> s_;
  SmtpAction last_action_ = SmtpAction::kNone;
};

TEST_F(SessionTest, GreetingAndEhloBeforeTls) {
  EXPECT_EQ(s_->Greeting(), "220 a.example ESMTP pullmail submission\r\n");
  EXPECT_EQ(Line("EHLO client.example"),
            "250-a.example Hello client.example\r\n"
            "250-PIPELINING\r\n"
            "250-SIZE 1000\r\n"
            "250-STARTTLS\r\n"
            "250-ENHANCEDSTATUSCODES\r\n"
            "250 8BITMIME\r\n");  // no AUTH: not allowed in the clear
  EXPECT_EQ(Line("AUTH PLAIN " + Plain("", "alice", "pw")),
            "538 5.7.11 Encryption required for requested authentication mechanism\r\n");
  EXPECT_EQ(last_action_, SmtpAction::kNone);
  EXPECT_EQ(Line("MAIL FROM:<alice@a.example>"), "530 5.7.0 Authentication required\r\n");
  EXPECT_EQ(Line("RCPT TO:<bob@b.example>"), "530 5.7.0 Authentication required\r\n");
  EXPECT_EQ(Line("DATA"), "530 5.7.0 Authentication required\r\n");
}

TEST_F(SessionTest, EhloAfterTlsOffersAuthNotStarttls) {
  Tls();
  std::string ehlo = Line("EHLO client.example");
  EXPECT_TRUE(absl::StrContains(ehlo, "250-AUTH PLAIN LOGIN\r\n")) << ehlo;
  EXPECT_FALSE(absl::StrContains(ehlo, "STARTTLS")) << ehlo;
  EXPECT_EQ(Line("STARTTLS"), "503 5.5.1 TLS already active\r\n");
}

TEST_F(SessionTest, NoTlsAvailable) {
  s_->SetTransport(false, false, false);
  std::string ehlo = Line("EHLO c");
  EXPECT_FALSE(absl::StrContains(ehlo, "STARTTLS"));
  EXPECT_FALSE(absl::StrContains(ehlo, "AUTH"));
  EXPECT_EQ(Line("STARTTLS"), "502 5.5.1 STARTTLS not available\r\n");
}

TEST_F(SessionTest, PlaintextAuthWhenAllowed) {
  s_->SetTransport(false, false, /*auth_allowed=*/true);
  EXPECT_TRUE(absl::StrContains(Line("EHLO c"), "AUTH PLAIN LOGIN"));
  Line("AUTH PLAIN " + Plain("", "alice", "pw"));
  EXPECT_EQ(last_action_, SmtpAction::kAuthenticate);
}

TEST_F(SessionTest, StarttlsForgetsEhloAndTransaction) {
  s_->SetTransport(true, false, true);  // plaintext auth allowed (loopback)
  Line("EHLO c");
  Line("AUTH PLAIN " + Plain("", "alice", "pw"));
  s_->OnAuthResult(absl::OkStatus(), "alice@a.example");
  EXPECT_EQ(Line("MAIL FROM:<alice@a.example>"), "250 2.1.0 Ok\r\n");
  Line("STARTTLS");
  ASSERT_EQ(last_action_, SmtpAction::kStartTls);
  s_->OnTlsStarted(true);
  EXPECT_EQ(Line("RCPT TO:<bob@b.example>"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(Line("MAIL FROM:<alice@a.example>"), "503 5.5.1 Error: send EHLO first\r\n");
}

TEST_F(SessionTest, CommandsBeforeEhlo) {
  EXPECT_EQ(Line("NOOP"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(Line("RSET"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(Line("VRFY bob"), "252 2.5.0 Cannot VRFY user; try RCPT to attempt delivery\r\n");
  EXPECT_TRUE(absl::StartsWith(Line("HELP"), "214 2.0.0 "));
  EXPECT_EQ(Line("MAIL FROM:<alice@a.example>"), "503 5.5.1 Error: send EHLO first\r\n");
  EXPECT_EQ(Line("AUTH PLAIN"), "503 5.5.1 Error: send EHLO first\r\n");
  EXPECT_EQ(Line("HELO c"), "250 a.example\r\n");
  // HELO has no extensions: no AUTH, so no submission (RFC 6409 4.3).
  EXPECT_EQ(Line("AUTH PLAIN"), "503 5.5.1 Error: send EHLO first\r\n");
  EXPECT_EQ(Line("QUIT"), "221 2.0.0 Bye\r\n");
  EXPECT_EQ(last_action_, SmtpAction::kClose);
}

TEST_F(SessionTest, AuthPlainWithoutInitialResponse) {
  Tls();
  EXPECT_EQ(Line("AUTH PLAIN"), "334 \r\n");
  EXPECT_EQ(Line(Plain("", "alice", "pw")), "");
  EXPECT_EQ(last_action_, SmtpAction::kAuthenticate);
  EXPECT_EQ(s_->credentials().authcid, "alice");
}

TEST_F(SessionTest, AuthLogin) {
  Tls();
  EXPECT_EQ(Line("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");  // "Username:"
  EXPECT_EQ(Line(B64("alice")), "334 UGFzc3dvcmQ6\r\n");  // "Password:"
  EXPECT_EQ(Line(B64("s3cret pw")), "");
  ASSERT_EQ(last_action_, SmtpAction::kAuthenticate);
  EXPECT_EQ(s_->credentials().authcid, "alice");
  EXPECT_EQ(s_->credentials().password, "s3cret pw");
  EXPECT_EQ(s_->OnAuthResult(absl::OkStatus(), "alice@a.example").reply,
            "235 2.7.0 Authentication successful\r\n");
  EXPECT_TRUE(s_->authenticated());
  EXPECT_TRUE(s_->credentials().password.empty());  // dropped
}

TEST_F(SessionTest, AuthLoginWithInitialUser) {
  Tls();
  EXPECT_EQ(Line("AUTH LOGIN " + B64("alice")), "334 UGFzc3dvcmQ6\r\n");
  Line(B64("pw"));
  EXPECT_EQ(last_action_, SmtpAction::kAuthenticate);
}

TEST_F(SessionTest, AuthErrors) {
  Tls();
  EXPECT_EQ(Line("AUTH CRAM-MD5"), "504 5.5.4 Unrecognized authentication type\r\n");
  EXPECT_EQ(Line("AUTH PLAIN"), "334 \r\n");
  EXPECT_EQ(Line("*"), "501 5.0.0 Authentication cancelled\r\n");
  EXPECT_EQ(Line("AUTH PLAIN"), "334 \r\n");
  EXPECT_EQ(Line("not base64!"), "501 5.5.2 Cannot decode the base64 response\r\n");
  EXPECT_EQ(Line("AUTH PLAIN " + B64("alice pw")),
            "501 5.5.2 Malformed PLAIN response: PLAIN: missing NUL\r\n");
  EXPECT_EQ(Line("AUTH PLAIN ="), "501 5.5.2 Malformed PLAIN response: PLAIN: missing NUL\r\n");
  EXPECT_EQ(Line("AUTH LOGIN"), "334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(Line("="), "501 5.5.2 Malformed user name\r\n");
  // An over-long SASL line: RFC 4954's 5.5.6, back to commands.
  EXPECT_EQ(Line("AUTH PLAIN"), "334 \r\n");
  EXPECT_EQ(s_->OnLineTooLong().reply, "500 5.5.6 Authentication exchange line is too long\r\n");
  EXPECT_EQ(Line("NOOP"), "250 2.0.0 Ok\r\n");
  EXPECT_FALSE(s_->authenticated());
}

TEST_F(SessionTest, BadCredentialsThenTooMany) {
  Tls();
  for (int i = 0; i < 2; ++i) {
    Line("AUTH PLAIN " + Plain("", "alice", "wrong"));
    SmtpStep st = s_->OnAuthResult(absl::UnauthenticatedError("bad password"), "");
    EXPECT_EQ(st.reply, "535 5.7.8 Authentication credentials invalid\r\n");
    EXPECT_EQ(st.action, SmtpAction::kNone);
  }
  Line("AUTH PLAIN " + Plain("", "alice", "wrong"));
  SmtpStep st = s_->OnAuthResult(absl::UnauthenticatedError("bad password"), "");
  EXPECT_EQ(st.reply,
            "535 5.7.8 Authentication credentials invalid\r\n"
            "421 4.7.0 a.example Error: too many failed authentications\r\n");
  EXPECT_EQ(st.action, SmtpAction::kClose);
}

TEST_F(SessionTest, NodeDownAtAuth) {
  Tls();
  Line("AUTH PLAIN " + Plain("", "alice", "pw"));
  EXPECT_EQ(s_->OnAuthResult(absl::UnavailableError("down"), "").reply,
            "454 4.7.0 Temporary authentication failure; try again later\r\n");
  EXPECT_FALSE(s_->authenticated());
  Line("AUTH PLAIN " + Plain("", "alice", "pw"));  // may retry
  EXPECT_EQ(last_action_, SmtpAction::kAuthenticate);
}

TEST_F(SessionTest, AuthzidMustBeTheUser) {
  Tls();
  Line("AUTH PLAIN " + Plain("alice@A.example", "alice", "pw"));
  EXPECT_EQ(s_->OnAuthResult(absl::OkStatus(), "alice@a.example").reply,
            "235 2.7.0 Authentication successful\r\n");
  Reset();
  Tls();
  Line("AUTH PLAIN " + Plain("bob@a.example", "alice", "pw"));
  EXPECT_EQ(s_->OnAuthResult(absl::OkStatus(), "alice@a.example").reply,
            "535 5.7.8 Authentication credentials invalid (authzid)\r\n");
  EXPECT_FALSE(s_->authenticated());
}

TEST_F(SessionTest, AuthTwiceAndDuringTransaction) {
  Login();
  EXPECT_EQ(Line("AUTH PLAIN " + Plain("", "alice", "pw")),
            "503 5.5.1 Error: already authenticated\r\n");
  Reset();
  Tls();
  // (A transaction cannot start unauthenticated, so only the first check
  // is reachable in submission; covered above.)
}

TEST_F(SessionTest, FullTransaction) {
  Login();
  EXPECT_EQ(Line("MAIL FROM:<alice@a.example> SIZE=100 BODY=8BITMIME"), "250 2.1.0 Ok\r\n");
  EXPECT_EQ(Line("MAIL FROM:<alice@a.example>"), "503 5.5.1 Error: nested MAIL command\r\n");
  EXPECT_EQ(Line("RCPT TO:<bob@B.Example>"), "250 2.1.5 Ok\r\n");
  EXPECT_EQ(Line("RCPT TO:<carol@c.example>"), "250 2.1.5 Ok\r\n");
  EXPECT_EQ(Line("RCPT TO:<bob@b.example>"), "250 2.1.5 Ok\r\n");  // duplicate, once
  EXPECT_EQ(s_->line_limit(), kSmtpMaxAuthLine);
  EXPECT_EQ(Line("DATA"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(s_->line_limit(), 8192u);
  EXPECT_EQ(Line("From: alice@a.example"), "");
  EXPECT_EQ(Line("Subject: hi"), "");
  EXPECT_EQ(Line(""), "");
  EXPECT_EQ(Line("..dotted"), "");
  EXPECT_EQ(Line("QUIT"), "");  // data, not a command
  EXPECT_EQ(Line("."), "");
  ASSERT_EQ(last_action_, SmtpAction::kSubmit);
  const SmtpEnvelope& e = s_->envelope();
  EXPECT_EQ(e.from, "alice@a.example");
  EXPECT_EQ(e.to, (std::vector<std::string>{"bob@b.example", "carol@c.example"}));
  EXPECT_TRUE(absl::StartsWith(e.message,
                               "Received: from client.example ([127.0.0.1])\r\n"
                               "\tby a.example (pullmail submission) with ESMTPSA\r\n"
                               "\t(authenticated user alice@a.example); "
                               "Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                               "From: alice@a.example\r\nSubject: hi\r\n"
                               "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <"))
      << e.message;
  EXPECT_TRUE(absl::EndsWith(e.message, "@a.example>\r\n\r\n.dotted\r\nQUIT\r\n")) << e.message;
  EXPECT_EQ(s_->OnSubmitResult(std::string("m-123")).reply, "250 2.0.0 Ok: queued as m-123\r\n");
  // The transaction is over; a new one can start.
  EXPECT_EQ(Line("RCPT TO:<bob@b.example>"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_EQ(Line("MAIL FROM:<alice@a.example>"), "250 2.1.0 Ok\r\n");
}

TEST_F(SessionTest, SenderMustBeTheUser) {
  Login();
  EXPECT_EQ(Line("MAIL FROM:<bob@a.example>"),
            "553 5.7.1 Sender address rejected: not owned by user alice@a.example\r\n");
  EXPECT_EQ(Line("MAIL FROM:<alice@b.example>"),
            "553 5.7.1 Sender address rejected: not owned by user alice@a.example\r\n");
  EXPECT_EQ(Line("MAIL FROM:<>"),
            "553 5.7.1 Sender address rejected: pullmail has no null sender; use "
            "<alice@a.example>\r\n");
  EXPECT_EQ(Line("MAIL FROM:<alice@A.EXAMPLE>"), "250 2.1.0 Ok\r\n");  // domain case
}

TEST_F(SessionTest, SizeDeclaredTooBig) {
  Login();
  EXPECT_EQ(Line("MAIL FROM:<alice@a.example> SIZE=1001"),
            "552 5.3.4 Message size exceeds fixed maximum message size (1000 bytes)\r\n");
  EXPECT_EQ(Line("MAIL FROM:<alice@a.example> SIZE=1000"), "250 2.1.0 Ok\r\n");
}

TEST_F(SessionTest, MessageTooBigAndSessionGoesOn) {
  Reset(/*max_message=*/50);
  Login();
  Line("MAIL FROM:<alice@a.example>");
  Line("RCPT TO:<bob@b.example>");
  Line("DATA");
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Line("0123456789"), "");
  EXPECT_EQ(Line("."), "552 5.3.4 Message size exceeds fixed maximum message size (50 bytes)\r\n");
  EXPECT_EQ(last_action_, SmtpAction::kNone);
  EXPECT_EQ(Line("NOOP"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(Line("MAIL FROM:<alice@a.example>"), "250 2.1.0 Ok\r\n");
}

TEST_F(SessionTest, OverlongLines) {
  EXPECT_EQ(s_->OnLineTooLong().reply, "500 5.5.2 Line too long\r\n");
  EXPECT_EQ(Line("NOOP " + std::string(600, 'x')), "500 5.5.2 Line too long\r\n");
  Login();
  Line("MAIL FROM:<alice@a.example>");
  Line("RCPT TO:<bob@b.example>");
  Line("DATA");
  EXPECT_EQ(s_->OnLineTooLong().reply, "");
  EXPECT_EQ(Line("."), "554 5.6.0 Message contains an over-long line (RFC 5321 4.5.3.1.6)\r\n");
}

TEST_F(SessionTest, RecipientsLimitAndBadRecipients) {
  Login();
  Line("MAIL FROM:<alice@a.example>");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Line("RCPT TO:<u" + std::to_string(i) + "@b.example>"), "250 2.1.5 Ok\r\n");
  }
  EXPECT_EQ(Line("RCPT TO:<u9@b.example>"), "452 4.5.3 Error: too many recipients\r\n");
  EXPECT_EQ(Line("RCPT TO:<\"two words\"@b.example>").substr(0, 10), "553 5.1.3 ");
  EXPECT_EQ(Line("RCPT TO:<Postmaster>"), "452 4.5.3 Error: too many recipients\r\n");
  Line("DATA");
  Line("Subject: x");
  Line(".");
  ASSERT_EQ(last_action_, SmtpAction::kSubmit);
  EXPECT_EQ(s_->envelope().to.size(), 5u);
}

TEST_F(SessionTest, PostmasterIsTheDomains) {
  Login();
  Line("MAIL FROM:<alice@a.example>");
  EXPECT_EQ(Line("RCPT TO:<Postmaster>"), "250 2.1.5 Ok\r\n");
  Line("DATA");
  Line(".");
  ASSERT_EQ(last_action_, SmtpAction::kSubmit);
  EXPECT_EQ(s_->envelope().to, std::vector<std::string>{"postmaster@a.example"});
  // One recipient: Received: says for whom.
  EXPECT_TRUE(absl::StrContains(s_->envelope().message, "\tfor <postmaster@a.example>; "));
}

TEST_F(SessionTest, DataSequenceErrors) {
  Login();
  EXPECT_EQ(Line("DATA"), "503 5.5.1 Error: need MAIL command\r\n");
  Line("MAIL FROM:<alice@a.example>");
  EXPECT_EQ(Line("DATA"), "554 5.5.1 Error: no valid recipients\r\n");
  EXPECT_EQ(Line("RSET"), "250 2.0.0 Ok\r\n");
  EXPECT_EQ(Line("RCPT TO:<bob@b.example>"), "503 5.5.1 Error: need MAIL command\r\n");
  // EHLO resets a transaction too (RFC 5321 4.1.4).
  Line("MAIL FROM:<alice@a.example>");
  Line("EHLO again");
  EXPECT_EQ(Line("RCPT TO:<bob@b.example>"), "503 5.5.1 Error: need MAIL command\r\n");
  EXPECT_TRUE(s_->authenticated());  // but not authentication
}

TEST_F(SessionTest, PipelinedGroup) {
  // RFC 2920: the client sends MAIL, RCPT, RCPT, DATA without waiting; the
  // replies come back in order, one per command.
  Login();
  std::string replies;
  for (const char* l : {"MAIL FROM:<alice@a.example>", "RCPT TO:<bob@b.example>", "RCPT TO:<bad>",
                        "RCPT TO:<carol@c.example>", "DATA"}) {
    replies += Line(l);
  }
  EXPECT_EQ(replies,
            "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n501 5.1.3 Bad recipient address syntax\r\n"
            "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  Line("Subject: p");
  Line(".");
  EXPECT_EQ(last_action_, SmtpAction::kSubmit);
  EXPECT_EQ(s_->envelope().to.size(), 2u);
}

TEST_F(SessionTest, PipelinedGroupWhoseMailFails) {
  Login();
  std::string replies;
  for (const char* l : {"MAIL FROM:<mallory@a.example>", "RCPT TO:<bob@b.example>", "DATA"}) {
    replies += Line(l);
  }
  EXPECT_EQ(replies,
            "553 5.7.1 Sender address rejected: not owned by user alice@a.example\r\n"
            "503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need MAIL command\r\n");
}

TEST_F(SessionTest, SubmitErrorsMapToReplies) {
  struct Case {
    absl::Status status;
    std::string reply;
  } cases[] = {
      {absl::UnavailableError("sender node down"),
       "451 4.3.0 Temporary failure, try again later: sender node down\r\n"},
      {absl::DeadlineExceededError("slow"),
       "451 4.3.0 Temporary failure, try again later: slow\r\n"},
      {absl::PermissionDeniedError("not yours"), "553 5.7.1 Rejected: not yours\r\n"},
      {absl::InvalidArgumentError("no header\r\n250 fake"),
       "554 5.6.0 Message rejected: no header??250 fake\r\n"},
      {absl::ResourceExhaustedError("big"), "552 5.3.4 Message too big: big\r\n"},
      {absl::FailedPreconditionError("no endpoint for z.example"),
       "554 5.1.2 Rejected: no endpoint for z.example\r\n"},
      {absl::UnauthenticatedError("token expired"),
       "451 4.7.0 Session expired, authenticate again: token expired\r\n"},
      {absl::AlreadyExistsError("dup"), "554 5.0.0 Rejected: dup\r\n"},
  };
  for (const Case& c : cases) {
    Login();
    Line("MAIL FROM:<alice@a.example>");
    Line("RCPT TO:<bob@b.example>");
    Line("DATA");
    Line(".");
    ASSERT_EQ(last_action_, SmtpAction::kSubmit);
    EXPECT_EQ(s_->OnSubmitResult(c.status).reply, c.reply);
    EXPECT_EQ(Line("RCPT TO:<bob@b.example>"), "503 5.5.1 Error: need MAIL command\r\n");
    Reset();
  }
}

TEST_F(SessionTest, TooManyErrorsCloses) {
  std::string last;
  for (int i = 0; i < 19; ++i) {
    last = Line("BOGUS");
    EXPECT_EQ(last_action_, SmtpAction::kNone);
  }
  last = Line("BOGUS");
  EXPECT_EQ(last,
            "500 5.5.2 Command unrecognized\r\n421 4.7.0 a.example Error: too many errors; "
            "closing\r\n");
  EXPECT_EQ(last_action_, SmtpAction::kClose);
  EXPECT_EQ(Line("NOOP"), "");
  EXPECT_EQ(last_action_, SmtpAction::kClose);
}

TEST_F(SessionTest, Timeout) {
  SmtpStep st = s_->OnTimeout();
  EXPECT_EQ(st.reply, "421 4.4.2 a.example Error: timeout exceeded\r\n");
  EXPECT_EQ(st.action, SmtpAction::kClose);
}

TEST_F(SessionTest, LineWhileActionPendingCloses) {
  Tls();
  Line("AUTH PLAIN " + Plain("", "alice", "pw"));
  ASSERT_EQ(last_action_, SmtpAction::kAuthenticate);
  EXPECT_EQ(Line("NOOP"), "421 4.3.0 Internal error; closing\r\n");
  EXPECT_EQ(last_action_, SmtpAction::kClose);
}

TEST_F(SessionTest, ByteAtATimeIsNotASessionConcern) {
  // The session is fed whole lines; a line that is a prefix of a command is
  // just a bad command (the transport assembles lines, gateway/conn.h).
  EXPECT_EQ(Line("EH"), "500 5.5.2 Command unrecognized\r\n");
}

// A cheap fuzzer: random command-ish lines and random outcomes never break
// the session's invariants: every reply line is "ddd" + ' ' or '-', ends
// with CRLF, and has no other CR or LF; an action comes only with the state
// that allows it.
TEST_F(SessionTest, RandomDialoguesKeepRepliesWellFormed) {
  SeededRandom rnd(42);
  const std::vector<std::string> pieces = {"EHLO x",
                                           "HELO y",
                                           "MAIL FROM:<alice@a.example>",
                                           "MAIL FROM:<>",
                                           "RCPT TO:<b@b.example>",
                                           "RCPT TO:<Postmaster>",
                                           "DATA",
                                           "RSET",
                                           "NOOP",
                                           "QUIT",
                                           "VRFY a",
                                           "HELP",
                                           "STARTTLS",
                                           "AUTH PLAIN",
                                           "AUTH LOGIN",
                                           "AUTH PLAIN " + Plain("", "alice", "pw"),
                                           "*",
                                           "=",
                                           ".",
                                           "..",
                                           "",
                                           "Subject: x",
                                           B64("alice"),
                                           "MAIL FROM:<alice@a.example> SIZE=99999",
                                           "\r\n",
                                           std::string("\0\x01\xff", 3),
                                           "AUTH X"};
  for (int round = 0; round < 300; ++round) {
    Reset(/*max_message=*/200, /*max_rcpt=*/3);
    s_->SetTransport(true, rnd.Uniform(2) == 0, rnd.Uniform(2) == 0);
    for (int i = 0; i < 60; ++i) {
      SmtpStep st;
      switch (rnd.Uniform(10)) {
        case 0:
          st = s_->OnLineTooLong();
          break;
        case 1: {
          std::string junk = rnd.Bytes(rnd.Uniform(40));
          st = s_->OnLine(junk);
          break;
        }
        default:
          st = s_->OnLine(pieces[rnd.Uniform(pieces.size())]);
      }
      for (int hop = 0;
           hop < 3 && st.action != SmtpAction::kNone && st.action != SmtpAction::kClose; ++hop) {
        std::string before = st.reply;
        switch (st.action) {
          case SmtpAction::kStartTls:
            st = s_->OnTlsStarted(true);
            break;
          case SmtpAction::kAuthenticate:
            st = s_->OnAuthResult(
                rnd.Uniform(2) ? absl::OkStatus() : absl::UnauthenticatedError("no"),
                "alice@a.example");
            break;
          case SmtpAction::kSubmit:
            EXPECT_FALSE(s_->envelope().to.empty());
            EXPECT_LE(s_->envelope().to.size(), 3u);
            st = s_->OnSubmitResult(rnd.Uniform(2) ? absl::StatusOr<std::string>("id")
                                                   : absl::UnavailableError("down"));
            break;
          default:
            break;
        }
        st.reply = before + st.reply;
      }
      std::string_view r = st.reply;
      while (!r.empty()) {
        size_t eol = r.find("\r\n");
        ASSERT_NE(eol, std::string_view::npos) << st.reply;
        std::string_view l = r.substr(0, eol);
        ASSERT_GE(l.size(), 4u) << st.reply;
        EXPECT_TRUE(l[0] >= '2' && l[0] <= '5' && (l[3] == ' ' || l[3] == '-')) << st.reply;
        EXPECT_EQ(l.find_first_of("\r\n"), std::string_view::npos) << st.reply;
        r.remove_prefix(eol + 2);
      }
      if (st.action == SmtpAction::kClose) break;
    }
  }
}

TEST(SubmissionHeaders, KeepsExistingDateAndMessageId) {
  SmtpTraceInfo t;
  t.helo = "c";
  t.client = "[::1]:5000";
  t.hostname = "a.example";
  t.protocol = "ESMTPSA";
  t.now = absl::FromUnixSeconds(0);
  t.message_id_local = "x";
  std::string out = AddSubmissionHeaders(
      "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nmessage-id: <a@b>\r\n\r\nbody\r\n", t);
  EXPECT_EQ(out,
            "Received: from c ([IPv6:::1])\r\n\tby a.example (pullmail submission) with "
            "ESMTPSA; Thu, 01 Jan 1970 00:00:00 +0000\r\n"
            "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nmessage-id: <a@b>\r\n\r\nbody\r\n");
}

TEST(SubmissionHeaders, FoldedHeadersAndOddMessages) {
  SmtpTraceInfo t;
  t.helo = "c";
  t.client = "127.0.0.1:1";
  t.hostname = "h";
  t.protocol = "ESMTPA";
  t.now = absl::FromUnixSeconds(0);
  t.message_id_local = "id";
  const std::string rcv =
      "Received: from c ([127.0.0.1])\r\n\tby h (pullmail submission) with ESMTPA; Thu, 01 Jan "
      "1970 00:00:00 +0000\r\n";
  const std::string added = "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\nMessage-ID: <id@h>\r\n";
  // A folded Subject stays in the header block; the fields go after it.
  EXPECT_EQ(AddSubmissionHeaders("Subject: a\r\n b\r\n\r\nx\r\n", t),
            rcv + "Subject: a\r\n b\r\n" + added + "\r\nx\r\n");
  // No header block at all: the body gets a separating blank line.
  EXPECT_EQ(AddSubmissionHeaders("just text\r\n", t), rcv + added + "\r\njust text\r\n");
  // Empty message.
  EXPECT_EQ(AddSubmissionHeaders("", t), rcv + added);
  // All header, no body.
  EXPECT_EQ(AddSubmissionHeaders("Subject: s\r\n", t), rcv + "Subject: s\r\n" + added);
  // A message that starts with a blank line has an empty header block.
  EXPECT_EQ(AddSubmissionHeaders("\r\nbody\r\n", t), rcv + added + "\r\nbody\r\n");
}

}  // namespace
}  // namespace pullmail
