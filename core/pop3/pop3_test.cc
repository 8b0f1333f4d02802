// Tests of core/pop3: the command parser, the maildrop snapshot, the
// multi-line encoder and the session state machine (every command in every
// state, the error paths, the UPDATE decision), and golden transcripts by
// RFC section (1939, 2449, 3206, 5034) at the end.
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/crypto/encoding.h"
#include "core/pop3/pop3_command.h"
#include "core/pop3/pop3_machine.h"
#include "core/pop3/pop3_maildrop.h"
#include "core/pop3/pop3_reply.h"
#include "gtest/gtest.h"

namespace pullmail::pop3 {
namespace {

using Action = Step::Action;

// ---------------------------------------------------------------- parser

TEST(Pop3ParseCommand, KeywordsAreCaseInsensitiveAndArgumentsSplitOnSpace) {
  auto c = ParseCommand("top 3 10");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->verb, Verb::kTop);
  EXPECT_EQ(c->args, (std::vector<std::string>{"3", "10"}));
  c = ParseCommand("Stat");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->verb, Verb::kStat);
  EXPECT_TRUE(c->args.empty());
}

TEST(Pop3ParseCommand, EveryVerbHasItsName) {
  for (std::string_view name : {"USER a", "PASS a", "APOP a b", "AUTH", "STLS", "CAPA", "STAT",
                                "LIST", "UIDL", "RETR 1", "TOP 1 2", "DELE 1", "NOOP", "RSET",
                                "QUIT"}) {
    auto c = ParseCommand(name);
    ASSERT_TRUE(c.ok()) << name << ": " << c.status();
    EXPECT_EQ(VerbName(c->verb), name.substr(0, name.find(' ')));
  }
}

TEST(Pop3ParseCommand, UnknownCommandIsNotFound) {
  auto c = ParseCommand("XYZZY 1");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(c.status().message(), "unknown command 'XYZZY'");
  EXPECT_EQ(ParseCommand("").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ParseCommand(" STAT").status().code(), absl::StatusCode::kNotFound);
  // Control bytes are not echoed.
  EXPECT_EQ(ParseCommand(std::string("X\x01\x7f", 3)).status().message(), "unknown command 'X?" "?'");
}

TEST(Pop3ParseCommand, WrongArityIsInvalidArgument) {
  EXPECT_EQ(ParseCommand("RETR").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCommand("RETR 1 2").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCommand("TOP 1").status().message(), "TOP takes 2 arguments");
  EXPECT_EQ(ParseCommand("STAT 1").status().message(), "STAT takes 0 arguments");
  EXPECT_EQ(ParseCommand("LIST 1 2").status().message(), "LIST takes 0 to 1 arguments");
  EXPECT_EQ(ParseCommand("USER").status().code(), absl::StatusCode::kInvalidArgument);
  // Two spaces make an empty argument.
  EXPECT_EQ(ParseCommand("TOP 1  2").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseCommand("RETR 1 ").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Pop3ParseCommand, PassTakesTheRestOfTheLine) {
  auto c = ParseCommand("PASS correct horse  battery ");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->args, (std::vector<std::string>{"correct horse  battery "}));
  // A password may be longer than 40 octets (the line limit still holds).
  c = ParseCommand("PASS " + std::string(100, 'p'));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->args[0].size(), 100u);
}

TEST(Pop3ParseCommand, LineLimitIs255OctetsWithCrlf) {
  std::string ok = "USER " + std::string(kMaxArgument, 'u');
  EXPECT_TRUE(ParseCommand(ok).ok());
  std::string pass = "PASS " + std::string(kMaxCommandLine - 5, 'p');
  ASSERT_EQ(pass.size(), kMaxCommandLine);
  EXPECT_TRUE(ParseCommand(pass).ok());
  EXPECT_EQ(ParseCommand(pass + "p").status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ParseCommand(pass + "p").status().message(),
            "command line too long (at most 255 octets with CRLF)");
}

TEST(Pop3ParseCommand, ArgumentLimitIs40Octets) {
  EXPECT_TRUE(ParseCommand("USER " + std::string(40, 'u')).ok());
  auto c = ParseCommand("USER " + std::string(41, 'u'));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(c.status().message(), "USER: argument too long (at most 40 octets)");
  EXPECT_EQ(ParseCommand("RETR " + std::string(41, '1')).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(Pop3ParseCommand, AuthInitialResponseMayUseTheLongerLimit) {
  Limits limits;
  limits.max_auth_line = 1000;
  std::string ir(900, 'A');
  auto c = ParseCommand("AUTH PLAIN " + ir, limits);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->args[1], ir);
  EXPECT_EQ(ParseCommand("AUTH PLAIN " + std::string(990, 'A'), limits).status().code(),
            absl::StatusCode::kResourceExhausted);
  // The mechanism name itself is still an ordinary argument.
  EXPECT_EQ(ParseCommand("AUTH " + std::string(41, 'M'), limits).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(Pop3ParseMessageNumber, DigitsOnlyFromOne) {
  EXPECT_EQ(*ParseMessageNumber("1"), 1u);
  EXPECT_EQ(*ParseMessageNumber("007"), 7u);
  EXPECT_EQ(*ParseMessageNumber("2147483647"), 2147483647u);
  for (std::string_view bad : {"0", "", "-1", "+1", "1a", " 1", "2147483648", "99999999999"}) {
    EXPECT_EQ(ParseMessageNumber(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(*ParseLineCount("0"), 0u);
  EXPECT_FALSE(ParseLineCount("-1").ok());
}

TEST(Pop3DecodeAuthPlain, Rfc4616Forms) {
  auto c = DecodeAuthPlain(Base64Encode(std::string("\0alice\0secret", 13)));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->user, "alice");
  EXPECT_EQ(c->password, "secret");
  c = DecodeAuthPlain(Base64Encode(std::string("alice\0alice\0pw", 14)));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->authzid, "alice");
  EXPECT_EQ(DecodeAuthPlain(Base64Encode(std::string("bob\0alice\0pw", 12))).status().message(),
            "AUTH PLAIN: cannot act as another user");
  EXPECT_FALSE(DecodeAuthPlain("not base64!").ok());
  EXPECT_FALSE(DecodeAuthPlain("=").ok());  // empty: no user
  EXPECT_FALSE(DecodeAuthPlain(Base64Encode(std::string("\0alice\0", 7))).ok());
  EXPECT_FALSE(DecodeAuthPlain(Base64Encode("alice")).ok());
  EXPECT_FALSE(DecodeAuthPlain(Base64Encode(std::string("\0a\0b\0c", 6))).ok());
}

// -------------------------------------------------------------- maildrop

Maildrop ThreeMessages() {
  return Maildrop({{10, 100, UniqueId(7, 10)}, {11, 200, UniqueId(7, 11)},
                   {15, 300, UniqueId(7, 15)}});
}

TEST(Pop3Maildrop, UniqueIdIsStableAndWithinRfc1939) {
  EXPECT_EQ(UniqueId(7, 10), "7.10");
  std::string max = UniqueId(4294967295u, 4294967295u);
  EXPECT_LE(max.size(), 70u);
  for (char c : max) EXPECT_TRUE(c >= 0x21 && c <= 0x7e);
  EXPECT_NE(UniqueId(1, 23), UniqueId(12, 3));
}

TEST(Pop3Maildrop, DeleteResetAndTheUpdateDecision) {
  Maildrop m = ThreeMessages();
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.live_count(), 3u);
  EXPECT_EQ(m.live_octets(), 600u);
  EXPECT_TRUE(m.UidsToExpunge().empty());
  ASSERT_TRUE(m.MarkDeleted(3).ok());
  ASSERT_TRUE(m.MarkDeleted(1).ok());
  EXPECT_EQ(m.MarkDeleted(1).message(), "message 1 already deleted");
  EXPECT_EQ(m.MarkDeleted(4).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m.MarkDeleted(0).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m.live_count(), 1u);
  EXPECT_EQ(m.live_octets(), 200u);
  EXPECT_EQ(m.UidsToExpunge(), (std::vector<uint32_t>{10, 15}));
  EXPECT_EQ(m.LiveNumbers(), (std::vector<uint32_t>{2}));
  EXPECT_EQ(m.Get(1).status().code(), absl::StatusCode::kFailedPrecondition);
  m.Reset();
  EXPECT_TRUE(m.UidsToExpunge().empty());
  EXPECT_EQ(m.live_count(), 3u);
}

// --------------------------------------------------------------- encoder

TEST(Pop3MultilineEncoder, CrlfMessagePassesThrough) {
  EXPECT_EQ(EncodeMultiline("Subject: x\r\n\r\nhello\r\n"), "Subject: x\r\n\r\nhello\r\n.\r\n");
}

TEST(Pop3MultilineEncoder, LinesStartingWithDotAreStuffed) {
  EXPECT_EQ(EncodeMultiline("a\r\n.\r\n..b\r\n.c\r\nd.\r\n"),
            "a\r\n..\r\n...b\r\n..c\r\nd.\r\n.\r\n");
  EXPECT_EQ(EncodeMultiline(".\r\n"), "..\r\n.\r\n");
  EXPECT_EQ(EncodeMultiline("."), "..\r\n.\r\n");
}

TEST(Pop3MultilineEncoder, BodyWithoutFinalLineEndGetsOne) {
  EXPECT_EQ(EncodeMultiline("a\r\nlast"), "a\r\nlast\r\n.\r\n");
  EXPECT_EQ(EncodeMultiline("a\r\n.last"), "a\r\n..last\r\n.\r\n");
}

TEST(Pop3MultilineEncoder, EmptyBodyIsJustTheTerminator) { EXPECT_EQ(EncodeMultiline(""), ".\r\n"); }

TEST(Pop3MultilineEncoder, BareLfBecomesCrlfAndLoneCrIsData) {
  EXPECT_EQ(EncodeMultiline("a\nb\n.\n"), "a\r\nb\r\n..\r\n.\r\n");
  EXPECT_EQ(EncodeMultiline("a\rb\r\n"), "a\rb\r\n.\r\n");
  EXPECT_EQ(EncodeMultiline("a\r"), "a\r\n.\r\n");  // a final CR ends the last line
  EXPECT_EQ(EncodeMultiline("\r.x\r\n"), "\r.x\r\n.\r\n");  // "." not at a line start
  EXPECT_EQ(EncodeMultiline("\n\n"), "\r\n\r\n.\r\n");
}

TEST(Pop3MultilineEncoder, ByteAtATimeMatchesWhole) {
  const std::string inputs[] = {"H: v\r\n\r\n.\r\nbody\r\n..x\r\nend",
                                "a\nb\r\n.\n\r\r\n.",
                                "",
                                "\r",
                                ".\r\n.\r\n"};
  for (const std::string& in : inputs) {
    for (std::optional<uint32_t> top : {std::optional<uint32_t>(), std::optional<uint32_t>(0),
                                        std::optional<uint32_t>(1)}) {
      MultilineEncoder e(top);
      std::string out;
      for (char c : in) out += e.Feed(std::string_view(&c, 1));
      out += e.Finish();
      EXPECT_EQ(out, EncodeMultiline(in, top)) << in;
    }
  }
}

TEST(Pop3MultilineEncoder, TopSendsHeaderBlankLineAndNBodyLines) {
  const std::string msg = "From: a\r\nSubject: s\r\n\r\nline1\r\n.line2\r\nline3\r\n";
  EXPECT_EQ(EncodeMultiline(msg, 0), "From: a\r\nSubject: s\r\n\r\n.\r\n");
  EXPECT_EQ(EncodeMultiline(msg, 2), "From: a\r\nSubject: s\r\n\r\nline1\r\n..line2\r\n.\r\n");
  EXPECT_EQ(EncodeMultiline(msg, 3), EncodeMultiline(msg));
  EXPECT_EQ(EncodeMultiline(msg, 99), EncodeMultiline(msg));
  // No blank line: the whole message is header.
  EXPECT_EQ(EncodeMultiline("From: a\nX: y", 0), "From: a\r\nX: y\r\n.\r\n");
  // Bare-LF message.
  EXPECT_EQ(EncodeMultiline("A: b\n\nx\ny\n", 1), "A: b\r\n\r\nx\r\n.\r\n");
}

TEST(Pop3MultilineEncoder, TopIsDoneOnceTheLinesAreOut) {
  MultilineEncoder e(1);
  EXPECT_EQ(e.Feed("A: b\r\n\r\nfirst\r\nsecond"), "A: b\r\n\r\nfirst\r\n");
  EXPECT_TRUE(e.done());
  EXPECT_EQ(e.Feed("more\r\n"), "");
  EXPECT_EQ(e.Finish(), ".\r\n");
  MultilineEncoder r;
  r.Feed("x\r\n");
  EXPECT_FALSE(r.done());
}

TEST(Pop3Replies, StatusLinesAndCodes) {
  EXPECT_EQ(OkLine(""), "+OK\r\n");
  EXPECT_EQ(OkLine("a\r\nb"), "+OK a  b\r\n");
  EXPECT_EQ(ErrLine(Code::kNone, "x"), "-ERR x\r\n");
  EXPECT_EQ(ErrLine(Code::kAuth, "x"), "-ERR [AUTH] x\r\n");
  EXPECT_EQ(ErrLine(Code::kSysTemp, "x"), "-ERR [SYS/TEMP] x\r\n");
  EXPECT_EQ(ErrLine(Code::kSysPerm, "x"), "-ERR [SYS/PERM] x\r\n");
  EXPECT_EQ(ErrLine(Code::kInUse, "x"), "-ERR [IN-USE] x\r\n");
}

// --------------------------------------------------------------- machine

constexpr Transport kPlain{true, false, false};    // before STLS
constexpr Transport kTls{true, true, true};        // after STLS
constexpr Transport kNoTls{false, false, false};   // no TLS context at all

bool StartsWith(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

// A machine logged in over TLS with ThreeMessages().
SessionMachine LoggedIn() {
  SessionMachine m;
  EXPECT_EQ(m.OnLine("USER alice", kTls).reply, "+OK send PASS\r\n");
  Step s = m.OnLine("PASS pw", kTls);
  EXPECT_EQ(s.action, Action::kLogin);
  s = m.OnLoginResult(absl::OkStatus(), ThreeMessages());
  EXPECT_EQ(s.reply, "+OK alice's maildrop has 3 messages (600 octets)\r\n");
  EXPECT_EQ(m.state(), State::kTransaction);
  return m;
}

TEST(Pop3Machine, Greeting) {
  EXPECT_EQ(SessionMachine().Greeting(), "+OK pullmail POP3 ready\r\n");
}

TEST(Pop3Machine, CapaBeforeTlsOffersStlsButNoPassword) {
  SessionMachine m;
  Step s = m.OnLine("CAPA", kPlain);
  EXPECT_EQ(s.action, Action::kNone);
  EXPECT_EQ(s.reply,
            "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
            "PIPELINING\r\nSTLS\r\nIMPLEMENTATION pullmail\r\n.\r\n");
  s = m.OnLine("capa", kTls);
  EXPECT_EQ(s.reply,
            "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
            "PIPELINING\r\nUSER\r\nSASL PLAIN\r\nIMPLEMENTATION pullmail\r\n.\r\n");
  // Plaintext allowed on loopback, TLS available too: both offered.
  s = m.OnLine("CAPA", Transport{true, false, true});
  EXPECT_NE(s.reply.find("USER\r\n"), std::string::npos);
  EXPECT_NE(s.reply.find("STLS\r\n"), std::string::npos);
  s = m.OnLine("CAPA", kNoTls);
  EXPECT_EQ(s.reply.find("STLS"), std::string::npos);
}

TEST(Pop3Machine, CapaAfterLoginListsTransactionCapabilities) {
  SessionMachine m = LoggedIn();
  Step s = m.OnLine("CAPA", kTls);
  EXPECT_EQ(s.reply,
            "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
            "PIPELINING\r\nIMPLEMENTATION pullmail\r\n.\r\n");
}

TEST(Pop3Machine, StlsOnlyWhenAvailableAndNotActive) {
  SessionMachine m;
  Step s = m.OnLine("STLS", kPlain);
  EXPECT_EQ(s.action, Action::kStartTls);
  EXPECT_EQ(s.reply, "+OK Begin TLS negotiation\r\n");
  EXPECT_EQ(m.OnLine("STLS", kTls).reply, "-ERR TLS is already active\r\n");
  EXPECT_EQ(m.OnLine("STLS", kNoTls).reply, "-ERR STLS is not available\r\n");
  SessionMachine t = LoggedIn();
  EXPECT_EQ(t.OnLine("STLS", kPlain).reply, "-ERR STLS is not valid after login\r\n");
}

TEST(Pop3Machine, StlsForgetsAPendingUser) {
  SessionMachine m;
  Transport loopback{true, false, true};
  m.OnLine("USER alice", loopback);
  EXPECT_EQ(m.OnLine("STLS", loopback).action, Action::kStartTls);
  EXPECT_EQ(m.OnLine("PASS pw", kTls).reply, "-ERR send USER first\r\n");
}

TEST(Pop3Machine, PasswordRefusedWithoutTls) {
  SessionMachine m;
  const std::string refused =
      "-ERR [AUTH] a password is accepted only over TLS: issue STLS first\r\n";
  EXPECT_EQ(m.OnLine("USER alice", kPlain).reply, refused);
  EXPECT_EQ(m.OnLine("PASS pw", kPlain).reply, refused);
  EXPECT_EQ(m.OnLine("AUTH PLAIN", kPlain).reply, refused);
  EXPECT_EQ(m.OnLine("AUTH PLAIN AGFsaWNlAHB3", kPlain).reply, refused);
  EXPECT_EQ(m.state(), State::kAuthorization);
}

TEST(Pop3Machine, UserPassLogin) {
  SessionMachine m;
  EXPECT_EQ(m.OnLine("PASS pw", kTls).reply, "-ERR send USER first\r\n");
  m.OnLine("USER bob", kTls);
  m.OnLine("USER alice", kTls);  // a second USER replaces the first
  Step s = m.OnLine("PASS two words", kTls);
  EXPECT_EQ(s.action, Action::kLogin);
  EXPECT_TRUE(s.reply.empty());
  EXPECT_EQ(s.user, "alice");
  EXPECT_EQ(s.password, "two words");
  // PASS consumed the USER.
  s = m.OnLoginResult(absl::UnauthenticatedError("bad"), {});
  EXPECT_EQ(s.reply, "-ERR [AUTH] invalid user name or password\r\n");
  EXPECT_EQ(s.action, Action::kNone);
  EXPECT_EQ(m.OnLine("PASS pw", kTls).reply, "-ERR send USER first\r\n");
  EXPECT_EQ(m.state(), State::kAuthorization);
}

TEST(Pop3Machine, NodeDownAtLoginIsSysTemp) {
  SessionMachine m;
  m.OnLine("USER alice", kTls);
  m.OnLine("PASS pw", kTls);
  Step s = m.OnLoginResult(absl::UnavailableError("connect failed"), {});
  EXPECT_EQ(s.reply, "-ERR [SYS/TEMP] the mailbox service is unavailable; try again later\r\n");
  EXPECT_EQ(s.action, Action::kNone);
  EXPECT_EQ(m.state(), State::kAuthorization);
}

TEST(Pop3Machine, ThreeFailedLoginsClose) {
  SessionMachine m;
  for (int i = 0; i < 3; ++i) {
    m.OnLine("USER alice", kTls);
    ASSERT_EQ(m.OnLine("PASS wrong", kTls).action, Action::kLogin);
    Step s = m.OnLoginResult(absl::UnauthenticatedError("bad"), {});
    EXPECT_EQ(s.action, i < 2 ? Action::kNone : Action::kClose);
  }
  EXPECT_EQ(m.state(), State::kClosed);
  EXPECT_EQ(m.OnLine("NOOP", kTls).action, Action::kClose);
}

TEST(Pop3Machine, AuthPlainWithInitialResponse) {
  SessionMachine m;
  Step s = m.OnLine("AUTH PLAIN " + Base64Encode(std::string("\0alice\0pw", 9)), kTls);
  EXPECT_EQ(s.action, Action::kLogin);
  EXPECT_EQ(s.user, "alice");
  EXPECT_EQ(s.password, "pw");
  s = m.OnLoginResult(absl::OkStatus(), Maildrop());
  EXPECT_EQ(s.reply, "+OK alice's maildrop has 0 messages (0 octets)\r\n");
}

TEST(Pop3Machine, AuthPlainWithContinuation) {
  SessionMachine m;
  Step s = m.OnLine("auth plain", kTls);
  EXPECT_EQ(s.reply, "+ \r\n");
  // The next line is the response, not a command.
  s = m.OnLine(Base64Encode(std::string("\0alice\0pw", 9)), kTls);
  EXPECT_EQ(s.action, Action::kLogin);
  EXPECT_EQ(s.user, "alice");
}

TEST(Pop3Machine, AuthPlainCancelledMalformedOrTooLong) {
  SessionMachine m;
  m.OnLine("AUTH PLAIN", kTls);
  EXPECT_EQ(m.OnLine("*", kTls).reply, "-ERR authentication cancelled\r\n");
  m.OnLine("AUTH PLAIN", kTls);
  EXPECT_EQ(m.OnLine("!!!", kTls).reply, "-ERR AUTH PLAIN: invalid base64\r\n");
  m.OnLine("AUTH PLAIN", kTls);
  EXPECT_EQ(m.OnLineTooLong().reply, "-ERR AUTH response too long; authentication cancelled\r\n");
  // Back to commands.
  EXPECT_EQ(m.OnLine("NOOP", kTls).reply, "+OK\r\n");
  EXPECT_EQ(m.OnLine("AUTH CRAM-MD5", kTls).reply,
            "-ERR unsupported SASL mechanism; use PLAIN\r\n");
  EXPECT_EQ(m.OnLine("AUTH", kTls).reply, "+OK SASL mechanisms follow\r\nPLAIN\r\n.\r\n");
  EXPECT_EQ(m.OnLine("APOP alice 0123", kTls).reply,
            "-ERR APOP is not supported; use USER/PASS or AUTH PLAIN\r\n");
}

TEST(Pop3Machine, TransactionCommandsRefusedBeforeLogin) {
  SessionMachine m;
  for (std::string_view cmd : {"STAT", "LIST", "LIST 1", "UIDL", "RETR 1", "TOP 1 1", "DELE 1",
                               "RSET"}) {
    Step s = m.OnLine(cmd, kTls);
    EXPECT_EQ(s.action, Action::kNone) << cmd;
    EXPECT_TRUE(StartsWith(s.reply, "-ERR ")) << cmd;
    EXPECT_NE(s.reply.find("is not valid before login"), std::string::npos) << s.reply;
  }
  EXPECT_EQ(m.OnLine("NOOP", kTls).reply, "+OK\r\n");
}

TEST(Pop3Machine, AuthorizationCommandsRefusedAfterLogin) {
  SessionMachine m = LoggedIn();
  for (std::string_view cmd : {"USER alice", "PASS pw", "AUTH PLAIN", "APOP a b", "STLS"}) {
    Step s = m.OnLine(cmd, kTls);
    EXPECT_EQ(s.action, Action::kNone) << cmd;
    EXPECT_NE(s.reply.find("is not valid after login"), std::string::npos) << s.reply;
  }
}

TEST(Pop3Machine, QuitBeforeLoginClosesWithoutUpdate) {
  SessionMachine m;
  Step s = m.OnLine("QUIT", kPlain);
  EXPECT_EQ(s.action, Action::kClose);
  EXPECT_EQ(s.reply, "+OK pullmail POP3 signing off\r\n");
  EXPECT_EQ(m.state(), State::kClosed);
}

TEST(Pop3Machine, BadLinesGetErrAndTheSessionGoesOn) {
  SessionMachine m = LoggedIn();
  EXPECT_EQ(m.OnLine("FOO", kTls).reply, "-ERR unknown command 'FOO'\r\n");
  EXPECT_EQ(m.OnLine("RETR", kTls).reply, "-ERR RETR takes 1 argument\r\n");
  EXPECT_EQ(m.OnLineTooLong().reply, "-ERR line too long (at most 255 octets with CRLF)\r\n");
  EXPECT_EQ(m.OnLine("STAT", kTls).reply, "+OK 3 600\r\n");
}

TEST(Pop3Machine, StatListUidl) {
  SessionMachine m = LoggedIn();
  EXPECT_EQ(m.OnLine("STAT", kTls).reply, "+OK 3 600\r\n");
  EXPECT_EQ(m.OnLine("LIST", kTls).reply,
            "+OK 3 messages (600 octets)\r\n1 100\r\n2 200\r\n3 300\r\n.\r\n");
  EXPECT_EQ(m.OnLine("LIST 2", kTls).reply, "+OK 2 200\r\n");
  EXPECT_EQ(m.OnLine("LIST 4", kTls).reply, "-ERR no such message\r\n");
  EXPECT_EQ(m.OnLine("LIST 0", kTls).reply, "-ERR invalid message number '0'\r\n");
  EXPECT_EQ(m.OnLine("LIST x", kTls).reply, "-ERR invalid message number 'x'\r\n");
  EXPECT_EQ(m.OnLine("UIDL", kTls).reply,
            "+OK unique-id listing follows\r\n1 7.10\r\n2 7.11\r\n3 7.15\r\n.\r\n");
  EXPECT_EQ(m.OnLine("UIDL 3", kTls).reply, "+OK 3 7.15\r\n");
  EXPECT_EQ(m.OnLine("UIDL 9", kTls).reply, "-ERR no such message\r\n");
  EXPECT_EQ(m.OnLine("NOOP", kTls).reply, "+OK\r\n");
}

TEST(Pop3Machine, DeletedMessagesVanishFromListingsUntilRset) {
  SessionMachine m = LoggedIn();
  EXPECT_EQ(m.OnLine("DELE 2", kTls).reply, "+OK message 2 deleted\r\n");
  EXPECT_EQ(m.OnLine("DELE 2", kTls).reply, "-ERR message 2 already deleted\r\n");
  EXPECT_EQ(m.OnLine("DELE 4", kTls).reply, "-ERR no such message\r\n");
  EXPECT_EQ(m.OnLine("DELE abc", kTls).reply, "-ERR invalid message number 'abc'\r\n");
  EXPECT_EQ(m.OnLine("STAT", kTls).reply, "+OK 2 400\r\n");
  EXPECT_EQ(m.OnLine("LIST", kTls).reply,
            "+OK 2 messages (400 octets)\r\n1 100\r\n3 300\r\n.\r\n");
  EXPECT_EQ(m.OnLine("LIST 2", kTls).reply, "-ERR message 2 already deleted\r\n");
  EXPECT_EQ(m.OnLine("UIDL", kTls).reply,
            "+OK unique-id listing follows\r\n1 7.10\r\n3 7.15\r\n.\r\n");
  EXPECT_EQ(m.OnLine("UIDL 2", kTls).reply, "-ERR message 2 already deleted\r\n");
  EXPECT_EQ(m.OnLine("RETR 2", kTls).reply, "-ERR message 2 already deleted\r\n");
  EXPECT_EQ(m.OnLine("TOP 2 0", kTls).reply, "-ERR message 2 already deleted\r\n");
  EXPECT_EQ(m.OnLine("RSET", kTls).reply, "+OK maildrop has 3 messages (600 octets)\r\n");
  EXPECT_EQ(m.OnLine("STAT", kTls).reply, "+OK 3 600\r\n");
  EXPECT_TRUE(m.maildrop().UidsToExpunge().empty());
}

TEST(Pop3Machine, RetrAndTopAskForTheRightUid) {
  SessionMachine m = LoggedIn();
  Step s = m.OnLine("RETR 3", kTls);
  EXPECT_EQ(s.action, Action::kRetrieve);
  EXPECT_TRUE(s.reply.empty());
  EXPECT_EQ(s.uid, 15u);
  EXPECT_EQ(s.msg, 3u);
  EXPECT_FALSE(s.top_lines.has_value());
  EXPECT_EQ(m.RetrieveOkLine(s), "+OK 300 octets\r\n");
  s = m.OnLine("TOP 1 5", kTls);
  EXPECT_EQ(s.action, Action::kRetrieve);
  EXPECT_EQ(s.uid, 10u);
  EXPECT_EQ(s.top_lines, 5u);
  EXPECT_EQ(m.RetrieveOkLine(s), "+OK top of message follows\r\n");
  EXPECT_EQ(m.OnLine("TOP 1 -1", kTls).reply, "-ERR invalid line count '-1'\r\n");
  EXPECT_EQ(m.OnLine("RETR 4", kTls).reply, "-ERR no such message\r\n");
}

TEST(Pop3Machine, RetrieveErrorsKeepTheSession) {
  SessionMachine m = LoggedIn();
  Step s = m.OnLine("RETR 2", kTls);
  EXPECT_EQ(m.RetrieveErrLine(s, absl::UnavailableError("sender down")),
            "-ERR [SYS/TEMP] the sender's node cannot be reached; try again later\r\n");
  EXPECT_EQ(m.RetrieveErrLine(s, absl::NotFoundError("gone")),
            "-ERR message 2 is no longer in the mailbox\r\n");
  EXPECT_EQ(m.RetrieveErrLine(s, absl::InternalError("x")),
            "-ERR [SYS/TEMP] message 2 cannot be read now; try again later\r\n");
  EXPECT_EQ(m.state(), State::kTransaction);
  EXPECT_EQ(m.OnLine("RETR 2", kTls).action, Action::kRetrieve);
}

TEST(Pop3Machine, QuitExpungesExactlyTheMarkedUids) {
  SessionMachine m = LoggedIn();
  m.OnLine("DELE 3", kTls);
  m.OnLine("DELE 1", kTls);
  Step s = m.OnLine("QUIT", kTls);
  EXPECT_EQ(s.action, Action::kUpdate);
  EXPECT_EQ(s.uids, (std::vector<uint32_t>{10, 15}));
  s = m.OnUpdateResult(absl::OkStatus(), 2);
  EXPECT_EQ(s.action, Action::kClose);
  EXPECT_EQ(s.reply, "+OK pullmail POP3 signing off (2 messages deleted)\r\n");
  EXPECT_EQ(m.state(), State::kClosed);
}

TEST(Pop3Machine, QuitAfterRsetExpungesNothing) {
  SessionMachine m = LoggedIn();
  m.OnLine("DELE 1", kTls);
  m.OnLine("RSET", kTls);
  Step s = m.OnLine("QUIT", kTls);
  EXPECT_EQ(s.action, Action::kUpdate);
  EXPECT_TRUE(s.uids.empty());
  EXPECT_EQ(m.OnUpdateResult(absl::OkStatus(), 0).reply, "+OK pullmail POP3 signing off\r\n");
}

TEST(Pop3Machine, FailedUpdateSaysSoAndCloses) {
  SessionMachine m = LoggedIn();
  m.OnLine("DELE 1", kTls);
  m.OnLine("QUIT", kTls);
  Step s = m.OnUpdateResult(absl::UnavailableError("node down"), 0);
  EXPECT_EQ(s.action, Action::kClose);
  EXPECT_EQ(s.reply, "-ERR [SYS/TEMP] some deleted messages not removed; try again later\r\n");
}

TEST(Pop3Machine, PipelinedCommandsAnswerInOrder) {
  // RFC 2449 6.6: a client may send many commands at once; the machine is
  // fed them one line at a time and answers each in turn.
  SessionMachine m = LoggedIn();
  std::string replies;
  for (std::string_view line : {"STAT", "LIST 1", "DELE 1", "STAT", "RSET", "UIDL 1"}) {
    replies += m.OnLine(line, kTls).reply;
  }
  EXPECT_EQ(replies,
            "+OK 3 600\r\n+OK 1 100\r\n+OK message 1 deleted\r\n+OK 2 500\r\n"
            "+OK maildrop has 3 messages (600 octets)\r\n+OK 1 7.10\r\n");
}

// ------------------------------------------- golden transcripts by RFC section
// Each client line goes to the machine as the gateway's reader hands it
// over; a retrieval is answered as the gateway does (RetrieveOkLine, then
// the message through the multi-line encoder). The server's bytes are
// compared exactly.

class Pop3Transcript {
 public:
  explicit Pop3Transcript(Transport t = kTls) : t_(t) {}

  // Sends `line`; the bytes the server writes. `bodies` answers retrievals
  // (by UID), `login` the node's answer to a login.
  std::string Say(std::string_view line) {
    Step s = m_.OnLine(line, t_);
    return Answer(s);
  }
  std::string Answer(Step s) {
    std::string out = s.reply;
    if (s.action == Action::kLogin) {
      out += Answer(m_.OnLoginResult(login, drop));
    } else if (s.action == Action::kRetrieve) {
      auto it = bodies.find(s.uid);
      if (it == bodies.end()) return out + m_.RetrieveErrLine(s, absl::NotFoundError("gone"));
      out += m_.RetrieveOkLine(s) + EncodeMultiline(it->second, s.top_lines);
    } else if (s.action == Action::kUpdate) {
      out += Answer(m_.OnUpdateResult(absl::OkStatus(), static_cast<int>(s.uids.size())));
      expunged = s.uids;
    }
    return out;
  }
  void Run(const std::vector<std::pair<std::string, std::string>>& steps) {
    for (const auto& [client, server] : steps) {
      EXPECT_EQ(Say(client), server) << "after the client sent: " << client;
    }
  }

  SessionMachine m_;
  Transport t_;
  absl::Status login = absl::OkStatus();
  Maildrop drop = ThreeMessages();
  std::map<uint32_t, std::string> bodies;
  std::vector<uint32_t> expunged;
};

// RFC 1939 10: the example POP3 session (USER/PASS instead of APOP, which
// is not offered: docs/GATEWAY.md), with its sizes.
TEST(Pop3Golden, Rfc1939_10_ExampleSession) {
  Pop3Transcript c;
  c.drop = Maildrop({{1, 120, UniqueId(9, 1)}, {2, 200, UniqueId(9, 2)}});
  c.bodies[1] = "Subject: one\r\n\r\n.hidden dot\r\n";
  c.bodies[2] = "Subject: two\n\nbare LF\n";
  c.Run({{"USER mrose", "+OK send PASS\r\n"},
         {"PASS tanstaaf", "+OK mrose's maildrop has 2 messages (320 octets)\r\n"},
         {"STAT", "+OK 2 320\r\n"},
         {"LIST", "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"},
         {"RETR 1", "+OK 120 octets\r\nSubject: one\r\n\r\n..hidden dot\r\n.\r\n"},
         {"DELE 1", "+OK message 1 deleted\r\n"},
         {"RETR 2", "+OK 200 octets\r\nSubject: two\r\n\r\nbare LF\r\n.\r\n"},
         {"DELE 2", "+OK message 2 deleted\r\n"},
         {"QUIT", "+OK pullmail POP3 signing off (2 messages deleted)\r\n"}});
  EXPECT_EQ(c.expunged, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(c.m_.state(), State::kClosed);
}

// RFC 1939 4 and 7: the AUTHORIZATION state takes USER, PASS, APOP
// (refused), AUTH, STLS, CAPA, NOOP and QUIT; PASS needs a USER first; a second
// USER replaces the first.
TEST(Pop3Golden, Rfc1939_4_AuthorizationState) {
  Pop3Transcript c;
  c.Run({{"PASS early", "-ERR send USER first\r\n"},
         {"STAT", "-ERR STAT is not valid before login\r\n"},
         // RFC 1939 lists NOOP for TRANSACTION only; accepted before login as
         // Dovecot does (clients probe with it).
         {"NOOP", "+OK\r\n"},
         {"APOP mrose c4c9334bac560ecc979e58001b3e22fb",
          "-ERR APOP is not supported; use USER/PASS or AUTH PLAIN\r\n"},
         {"USER first", "+OK send PASS\r\n"},
         {"USER second", "+OK send PASS\r\n"},
         {"PASS pw", "+OK second's maildrop has 3 messages (600 octets)\r\n"},
         {"USER again", "-ERR USER is not valid after login\r\n"}});
}

// RFC 1939 5: an empty maildrop; RFC 1939 6: QUIT with nothing deleted.
TEST(Pop3Golden, Rfc1939_5_EmptyMaildrop) {
  Pop3Transcript c;
  c.drop = Maildrop(std::vector<MaildropMessage>{});
  c.Run({{"USER ann", "+OK send PASS\r\n"},
         {"PASS pw", "+OK ann's maildrop has 0 messages (0 octets)\r\n"},
         {"STAT", "+OK 0 0\r\n"},
         {"LIST", "+OK 0 messages (0 octets)\r\n.\r\n"},
         {"UIDL", "+OK unique-id listing follows\r\n.\r\n"},
         {"RETR 1", "-ERR no such message\r\n"},
         {"QUIT", "+OK pullmail POP3 signing off\r\n"}});
  EXPECT_TRUE(c.expunged.empty());
}

// RFC 1939 7 TOP: the header, the blank line and n body lines, dot-stuffed;
// n = 0 is the header alone; a message gone meanwhile is an -ERR and the
// session goes on.
TEST(Pop3Golden, Rfc1939_7_Top) {
  Pop3Transcript c;
  c.bodies[10] = "From: a\r\nSubject: s\r\n\r\nl1\r\n.l2\r\nl3\r\n";
  c.Run({{"USER ann", "+OK send PASS\r\n"},
         {"PASS pw", "+OK ann's maildrop has 3 messages (600 octets)\r\n"},
         {"TOP 1 0", "+OK top of message follows\r\nFrom: a\r\nSubject: s\r\n\r\n.\r\n"},
         {"TOP 1 2", "+OK top of message follows\r\nFrom: a\r\nSubject: s\r\n\r\nl1\r\n..l2\r\n.\r\n"},
         {"TOP 1", "-ERR TOP takes 2 arguments\r\n"},
         {"TOP 2 1", "-ERR message 2 is no longer in the mailbox\r\n"},
         {"NOOP", "+OK\r\n"}});
}

// RFC 2449 6.8 RESP-CODES / RFC 3206 AUTH-RESP-CODE: a refused password is
// [AUTH], the node down at login [SYS/TEMP]; the session survives either.
TEST(Pop3Golden, Rfc3206_ResponseCodes) {
  Pop3Transcript c;
  c.login = absl::UnauthenticatedError("bad password");
  c.Run({{"USER ann", "+OK send PASS\r\n"}, {"PASS nope", "-ERR [AUTH] invalid user name or password\r\n"}});
  c.login = absl::UnavailableError("node down");
  c.Run({{"USER ann", "+OK send PASS\r\n"},
         {"PASS pw", "-ERR [SYS/TEMP] the mailbox service is unavailable; try again later\r\n"}});
  c.login = absl::OkStatus();
  c.Run({{"USER ann", "+OK send PASS\r\n"},
         {"PASS pw", "+OK ann's maildrop has 3 messages (600 octets)\r\n"}});
}

// RFC 5034 4 AUTH: PLAIN only; other mechanisms refused; RFC 2595 4 STLS
// not after login.
TEST(Pop3Golden, Rfc5034_AuthMechanisms) {
  Pop3Transcript c;
  c.Run({{"AUTH CRAM-MD5", "-ERR unsupported SASL mechanism; use PLAIN\r\n"},
         {"AUTH PLAIN AGFubgBwdw==", "+OK ann's maildrop has 3 messages (600 octets)\r\n"},
         {"STLS", "-ERR STLS is not valid after login\r\n"}});
}

}  // namespace
}  // namespace pullmail::pop3
