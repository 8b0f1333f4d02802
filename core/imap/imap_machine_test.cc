// Golden transcripts for the IMAP session machine, organised by RFC section
// and extension. Every client line is fed one byte at a time (Dovecot's
// parser tests do the same), so every partial state of the framing, literal
// and command reader is reached; the server's bytes are compared exactly.
// The mailbox is TestMailbox (imap_test_mailbox.h); the gateway's e2e suite
// (tests/e2e/test_imap_conformance.py) runs the same kinds of cases against
// a real gateway and recipient node.
#include "core/imap/imap_machine.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "core/imap/imap_test_mailbox.h"

namespace pullmail {
namespace {

class StringOutput : public ImapOutput {
 public:
  bool Write(std::string_view bytes) override {
    data.append(bytes.data(), bytes.size());
    ++writes;
    return true;
  }
  std::string data;
  int writes = 0;
};

constexpr ImapTransport kLoopback{false, false, true};

class Imap : public ::testing::Test {
 protected:
  Imap() { Reset({}); }

  void Reset(ImapMachineOptions o) {
    o.max_line_bytes = o.max_line_bytes == 8192 ? 1000 : o.max_line_bytes;
    machine_ = std::make_unique<ImapMachine>(o, &mb_, &out_);
    EXPECT_EQ(machine_->Start(kLoopback), ImapNext::kRead);
    greeting_ = out_.data;
    out_.data.clear();
  }

  // Feeds `client` one byte at a time; returns what the machine wrote.
  std::string Say(std::string_view client, ImapNext* last = nullptr) {
    out_.data.clear();
    ImapNext n = ImapNext::kRead;
    for (char c : client) {
      n = machine_->Feed(std::string_view(&c, 1), kLoopback);
      if (n != ImapNext::kRead) break;
    }
    if (last) *last = n;
    return out_.data;
  }

  // A transcript: each client chunk and the exact server bytes it gets.
  void Transcript(const std::vector<std::pair<std::string, std::string>>& steps) {
    for (const auto& [client, server] : steps) {
      EXPECT_EQ(Say(client), server) << "after the client sent: " << client;
    }
  }

  void Login() { ASSERT_EQ(Say("l1 LOGIN ann secret\r\n").substr(0, 8), "l1 OK [C"); }
  void SelectInbox() {
    Login();
    std::string r = Say("s1 SELECT INBOX\r\n");
    ASSERT_NE(r.find("s1 OK [READ-WRITE]"), std::string::npos) << r;
  }

  TestMailbox mb_;
  StringOutput out_;
  std::unique_ptr<ImapMachine> machine_;
  std::string greeting_;
};

constexpr char kCaps[] =
    "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS MOVE UNSELECT NAMESPACE CHILDREN "
    "SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH CONDSTORE QRESYNC MULTIAPPEND SORT BINARY APPENDLIMIT=67108864";

const char kMsg[] =
    "From: Ann <ann@a.example>\r\nTo: bob@b.example\r\nBcc: carol@c.example\r\n"
    "Subject: lunch\r\n\r\nAt noon, by the river.\r\n";

// --- RFC 3501 7.1.1 / 6.1.1: greeting and CAPABILITY ---

TEST_F(Imap, Rfc3501_6_1_1_Capability) {
  EXPECT_EQ(greeting_,
            absl::StrCat("* OK [CAPABILITY ", kCaps, " AUTH=PLAIN] pullmail IMAP4rev1 ready\r\n"));
  Transcript({{"a1 CAPABILITY\r\n",
               absl::StrCat("* CAPABILITY ", kCaps, " AUTH=PLAIN\r\na1 OK CAPABILITY completed\r\n")},
              {"a2 noop\r\n", "a2 OK NOOP completed\r\n"}});
}

// --- RFC 3501 6.2.3 LOGIN, RFC 5530 codes ---

TEST_F(Imap, Rfc3501_6_2_3_LoginAndFailures) {
  Transcript({{"a1 SELECT INBOX\r\n", "a1 BAD SELECT needs a login first\r\n"},
              {"a2 LOGIN ann wrong\r\n", "a2 NO [AUTHENTICATIONFAILED] invalid credentials\r\n"},
              {"a3 LOGIN ann wrong\r\n", "a3 NO [AUTHENTICATIONFAILED] invalid credentials\r\n"}});
  ImapNext n;
  EXPECT_EQ(Say("a4 LOGIN ann wrong\r\n", &n),
            "a4 NO [AUTHENTICATIONFAILED] invalid credentials\r\n* BYE too many failed logins\r\n");
  EXPECT_EQ(n, ImapNext::kClose);
}

TEST_F(Imap, Rfc3501_6_2_3_LoginRefusedWithoutPrivacy) {
  out_.data.clear();
  machine_->Feed("a1 LOGIN ann secret\r\n", ImapTransport{true, false, false});
  EXPECT_EQ(out_.data, "a1 NO [PRIVACYREQUIRED] use STARTTLS before logging in\r\n");
  out_.data.clear();
  EXPECT_EQ(machine_->Feed("a2 STARTTLS\r\na3 NOOP\r\n", ImapTransport{true, false, false}),
            ImapNext::kStartTls);
  // The pipelined NOOP before the handshake is dropped (RFC 3501 6.2.1).
  EXPECT_EQ(out_.data, "a2 OK Begin TLS negotiation now\r\n");
}

// RFC 3501 6.2.2 AUTHENTICATE PLAIN, with a continuation and with SASL-IR.
TEST_F(Imap, Rfc3501_6_2_2_AuthenticatePlain) {
  Transcript({{"a1 AUTHENTICATE PLAIN\r\n", "+ \r\n"},
               {"AGFubgB3cm9uZw==\r\n", "a1 NO [AUTHENTICATIONFAILED] invalid credentials\r\n"}});
  std::string r = Say("a2 AUTHENTICATE PLAIN AGFubgBzZWNyZXQ=\r\n");
  EXPECT_EQ(r.substr(0, 19), "a2 OK [CAPABILITY I") << r;
  EXPECT_EQ(machine_->state(), ImapMachine::State::kAuthenticated);
}

// --- RFC 3501 6.3.1 SELECT; 7.2.6 FLAGS with the keywords in use ---

TEST_F(Imap, Rfc3501_6_3_1_SelectAnnouncesKeywords) {
  mb_.Add("INBOX", kMsg, {"\\Seen", "$Work"});
  mb_.Add("INBOX", kMsg, {"Later"});
  Login();
  Transcript({{"a1 SELECT INBOX\r\n",
               "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work Later)\r\n"
               "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work Later "
               "\\*)] flags the client can change\r\n"
               "* 2 EXISTS\r\n* 0 RECENT\r\n"
               "* OK [UNSEEN 2] first unseen message\r\n"
               "* OK [UIDVALIDITY 1] UIDs valid\r\n"
               "* OK [UIDNEXT 3] predicted next UID\r\n"
               "* OK [HIGHESTMODSEQ 3] Highest\r\n"
               "a1 OK [READ-WRITE] SELECT completed\r\n"},
              {"a2 EXAMINE nope\r\n", "a2 NO [NONEXISTENT] EXAMINE failed\r\n"},
              {"a3 FETCH 1 FLAGS\r\n", "a3 BAD FETCH needs a selected mailbox\r\n"}});
}

// --- RFC 3501 2.3.2: system flags in any letter case (issue 9 defect) ---

TEST_F(Imap, Rfc3501_2_3_2_SystemFlagsAnyCase) {
  for (int i = 0; i < 4; ++i) mb_.Add("INBOX", kMsg);
  SelectInbox();
  Transcript({{"a1 STORE 4 +FLAGS (\\deleted \\seen)\r\n",
               "* 4 FETCH (FLAGS (\\Deleted \\Seen))\r\na1 OK STORE completed\r\n"},
              {"a2 SEARCH DELETED\r\n", "* SEARCH 4\r\na2 OK SEARCH completed\r\n"},
              {"a3 STATUS INBOX (UNSEEN)\r\n",
               "* STATUS \"INBOX\" (UNSEEN 3)\r\na3 OK STATUS completed\r\n"},
              {"a4 EXPUNGE\r\n", "* 4 EXPUNGE\r\na4 OK EXPUNGE completed\r\n"}});
}

// --- RFC 3501 2.2.2 / 9: over-long lines get a tagged BAD (issue 9 defect) ---

TEST_F(Imap, Rfc3501_9_OverlongLineGetsTaggedBad) {
  Login();
  std::string line = "a1 NOOP " + std::string(9000, 'x') + "\r\n";
  Transcript({{line, "a1 BAD line too long (at most 1000 octets)\r\n"},
              {"a2 NOOP\r\n", "a2 OK NOOP completed\r\n"}});
  // No readable tag: untagged, and the session goes on.
  Transcript({{std::string(2000, '(') + "\r\na3 NOOP\r\n",
               "* BAD line too long (at most 1000 octets)\r\na3 OK NOOP completed\r\n"}});
}

// --- RFC 3501 4.3 literals, RFC 7888 LITERAL+ ---

TEST_F(Imap, Rfc3501_4_3_Literals) {
  Transcript({{"a1 LOGIN {3}\r\n", "+ Ready for literal data\r\n"},
              {"ann {6}\r\n", "+ Ready for literal data\r\n"},
              {"secret\r\n", absl::StrCat("a1 OK [CAPABILITY ", kCaps, "] logged in\r\n")}});
  EXPECT_EQ(machine_->state(), ImapMachine::State::kAuthenticated);
  // LITERAL+: no continuation request.
  std::string r = Say("a2 APPEND INBOX {9+}\r\nSubject:x\r\n");
  EXPECT_EQ(r, "a2 OK [APPENDUID 1 1] APPEND completed\r\n");
  // Before login a literal may not exceed a line.
  Reset({});
  Transcript({{"b1 LOGIN {5000}\r\n", "b1 BAD literal too large\r\n"}});
}

// RFC 7889: APPEND over APPENDLIMIT is refused before the literal is sent.
TEST_F(Imap, Rfc7889_AppendTooBig) {
  ImapMachineOptions o;
  o.max_message_bytes = 100;
  Reset(o);
  Login();
  Transcript({{"a1 APPEND INBOX {101}\r\n", "a1 NO [TOOBIG] message is larger than 100 bytes\r\n"}});
}

// --- pipelining (RFC 3501 5.5): one write for a burst ---

TEST_F(Imap, Rfc3501_5_5_PipelinedCommandsOneWrite) {
  Login();
  out_.writes = 0;
  out_.data.clear();
  machine_->Feed("p1 NOOP\r\np2 LIST \"\" INBOX\r\np3 NOOP\r\n", kLoopback);
  EXPECT_EQ(out_.data,
            "p1 OK NOOP completed\r\n* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
            "p2 OK LIST completed\r\np3 OK NOOP completed\r\n");
  EXPECT_EQ(out_.writes, 1);
}

// --- RFC 3501 6.4.5 FETCH: what needs a body, and \Seen ---

TEST_F(Imap, Rfc3501_6_4_5_FetchPeekAndSeen) {
  v1::HeaderSummary s;
  s.set_from("Ann <ann@a.example>");
  s.add_to("bob@b.example");
  s.set_subject("lunch");
  mb_.Add("INBOX", kMsg, {}, s);
  SelectInbox();
  // Header fields the summary holds: no read.
  Transcript({{"a1 FETCH 1 (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])\r\n",
               "* 1 FETCH (BODY[HEADER.FIELDS (FROM SUBJECT)] {45}\r\n"
               "From: Ann <ann@a.example>\r\nSubject: lunch\r\n\r\n)\r\na1 OK FETCH completed\r\n"}});
  EXPECT_EQ(mb_.reads, 0);
  const std::string body = kMsg;
  Transcript({{"a2 UID FETCH 1 BODY.PEEK[]\r\n",
               absl::StrCat("* 1 FETCH (UID 1 BODY[] {", body.size(), "}\r\n", body,
                            ")\r\na2 OK FETCH completed\r\n")},
              {"a3 FETCH 1 FLAGS\r\n", "* 1 FETCH (FLAGS ())\r\na3 OK FETCH completed\r\n"},
              {"a4 FETCH 1 BODY[TEXT]\r\n",
               "* 1 FETCH (FLAGS (\\Seen) BODY[TEXT] {24}\r\nAt noon, by the river.\r\n)\r\n"
               "a4 OK FETCH completed\r\n"}});
  // BODY[TEXT] moved only its section: the structure, then one range.
  EXPECT_EQ(mb_.reads, 1);
  EXPECT_EQ(mb_.structure_reads, 1);
  EXPECT_EQ(mb_.range_reads, 1);
}

// BODY[] goes to the client piece by piece as the node streams it
// (ImapMailbox::StreamBodies): the same bytes as a whole body gives.
TEST_F(Imap, FetchOfWholeBodiesIsWrittenAsItArrives) {
  const std::string other = "Subject: two\r\n\r\nsecond message, a little longer\r\n";
  mb_.Add("INBOX", kMsg);
  mb_.Add("INBOX", other);
  SelectInbox();
  const std::string want =
      absl::StrCat("* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE ", sizeof(kMsg) - 1, " BODY[] {",
                   sizeof(kMsg) - 1, "}\r\n", kMsg, ")\r\n* 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.SIZE ",
                   other.size(), " BODY[] {", other.size(), "}\r\n", other,
                   ")\r\na1 OK FETCH completed\r\n");
  mb_.piece_bytes = 7;
  EXPECT_EQ(Say("a1 UID FETCH 1:2 (RFC822.SIZE BODY[] FLAGS)\r\n"), want);
  EXPECT_GT(mb_.pieces, 10);
}

// A literal cannot be taken back: a body that breaks off after its size
// went out ends the connection, with no tagged reply after the partial
// literal; one that fails before its first byte is a clean NO.
TEST_F(Imap, BodyBrokenInsideItsLiteralClosesTheConnection) {
  mb_.Add("INBOX", kMsg);
  mb_.Add("INBOX", kMsg);
  SelectInbox();
  mb_.piece_bytes = 7;
  mb_.break_after = 3;
  ImapNext next;
  std::string out = Say("a1 FETCH 1:2 BODY.PEEK[]\r\n", &next);
  EXPECT_EQ(next, ImapNext::kClose);
  EXPECT_EQ(out.find("a1 "), std::string::npos) << out;
  EXPECT_EQ(out.find(")\r\n"), std::string::npos) << out;

  Reset({});
  SelectInbox();
  mb_.pieces = 0;
  mb_.break_after = (sizeof(kMsg) - 1 + 6) / 7;  // exactly message 1's pieces
  out = Say("a2 FETCH 1:2 BODY.PEEK[]\r\n", &next);
  EXPECT_EQ(next, ImapNext::kRead);
  EXPECT_EQ(out, absl::StrCat("* 1 FETCH (BODY[] {", sizeof(kMsg) - 1, "}\r\n", kMsg,
                              ")\r\na2 NO [UNAVAILABLE] the sender's node cannot be reached; "
                              "try again later\r\n"));
}

// A body the node cannot get: NO [UNAVAILABLE], no partial response.
TEST_F(Imap, Rfc5530_FetchUnavailable) {
  mb_.Add("INBOX", kMsg);
  SelectInbox();
  mb_.fail_reads = absl::UnavailableError("sender node down: 10.0.0.1 refused");
  Transcript({{"a1 FETCH 1 BODY[]\r\n",
               "a1 NO [UNAVAILABLE] the sender's node cannot be reached; try again later\r\n"}});
}

// 8-bit header text is never re-encoded: the real header is read (issue 9).
TEST_F(Imap, Rfc3501_6_4_5_HeaderFieldsOf8BitHeaderAreRaw) {
  v1::HeaderSummary s;
  s.set_subject("caf\xc3\xa9");
  s.set_from("ann@a.example");
  mb_.Add("INBOX", "From: ann@a.example\r\nSubject: caf\xc3\xa9\r\n\r\nx\r\n", {}, s);
  SelectInbox();
  Transcript({{"a1 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n",
               "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: caf\xc3\xa9\r\n\r\n)\r\n"
               "a1 OK FETCH completed\r\n"}});
  EXPECT_EQ(mb_.reads, 0);  // the header's range only
  EXPECT_EQ(mb_.range_reads, 1);
}

// --- RFC 3501 7.4.1: no EXPUNGE during FETCH by sequence number ---

TEST_F(Imap, Rfc3501_7_4_1_NoExpungeDuringFetch) {
  mb_.Add("INBOX", kMsg);
  mb_.Add("INBOX", kMsg);
  SelectInbox();
  mb_.boxes_["INBOX"].msgs.erase(1);  // another session expunged UID 1
  mb_.changed_ = true;
  Transcript({{"a1 FETCH 2 FLAGS\r\n", "* 2 FETCH (FLAGS ())\r\na1 OK FETCH completed\r\n"},
              {"a2 NOOP\r\n", "* 1 EXPUNGE\r\na2 OK NOOP completed\r\n"}});
}

// Another session's changes reach this one as what changed since the last
// listing (ListChanges), merged into the selected listing: the same
// responses as from a whole listing, which an older node gives instead. A
// delta that does not add up (UID 1 gone without a recorded expunge) falls
// back to listing the whole folder.
TEST_F(Imap, RefreshAsksOnlyForChanges) {
  for (bool whole : {false, true}) {
    SCOPED_TRACE(whole ? "a node without changed_since" : "changes only");
    mb_ = TestMailbox();
    mb_.whole_listings = whole;
    Reset({});
    for (int i = 0; i < 3; ++i) mb_.Add("INBOX", kMsg);
    SelectInbox();
    const int full_before = mb_.full_listings;
    mb_.ExpungeElsewhere("INBOX", 1);
    mb_.SetFlagsElsewhere("INBOX", 3, {"\\Flagged", "$Work"});
    mb_.Add("INBOX", kMsg);  // UID 4
    Transcript({{"a1 NOOP\r\n",
                 "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r\n"
                 "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] "
                 "flags the client can change\r\n* 1 EXPUNGE\r\n"
                 "* 2 FETCH (FLAGS (\\Flagged $Work) UID 3)\r\n* 3 EXISTS\r\n* 1 RECENT\r\n"
                 "a1 OK NOOP completed\r\n"},
                {"a2 UID FETCH 1:* FLAGS\r\n",
                 "* 1 FETCH (UID 2 FLAGS ())\r\n* 2 FETCH (UID 3 FLAGS (\\Flagged $Work))\r\n"
                 "* 3 FETCH (UID 4 FLAGS (\\Recent))\r\na2 OK FETCH completed\r\n"}});
    EXPECT_EQ(mb_.full_listings - full_before, whole ? 1 : 0);
    EXPECT_EQ(mb_.change_listings, whole ? 0 : 1);

    mb_.boxes_["INBOX"].msgs.erase(2);  // gone, and no expunge recorded for it
    mb_.SetFlagsElsewhere("INBOX", 4, {"\\Seen"});
    Transcript({{"a3 NOOP\r\n",
                 "* 1 EXPUNGE\r\n* 2 FETCH (FLAGS (\\Seen \\Recent) UID 4)\r\n"
                 "a3 OK NOOP completed\r\n"}});
    EXPECT_EQ(mb_.full_listings - full_before, whole ? 2 : 1);
  }
}

// --- RFC 6851 MOVE, into another folder and into the selected one ---

TEST_F(Imap, Rfc6851_Move) {
  mb_.Add("INBOX", kMsg);
  mb_.Add("INBOX", kMsg);
  mb_.BoxFor("Archive");
  SelectInbox();
  Transcript({{"a1 MOVE 1 Archive\r\n",
               "* OK [COPYUID 100 1 1] moved\r\n* 1 EXPUNGE\r\na1 OK MOVE completed\r\n"},
              {"a2 UID MOVE 2 INBOX\r\n",
               "* OK [COPYUID 1 2 3] moved\r\n* 1 EXPUNGE\r\n* 1 EXISTS\r\n* 1 RECENT\r\n"
               "a2 OK MOVE completed\r\n"},
              {"a3 COPY 1 Nope\r\n", "a3 NO [TRYCREATE] no such mailbox\r\n"}});
}

// --- RFC 3501 6.3.8 LIST, RFC 6154 SPECIAL-USE, RFC 5258, RFC 5819 ---

TEST_F(Imap, Rfc6154_ListShowsJunk) {
  mb_.BoxFor("Archive");
  mb_.BoxFor("Archive/2024");
  Login();
  Transcript({{"a1 LIST \"\" *\r\n",
               "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
               "* LIST (\\HasChildren) \"/\" \"Archive\"\r\n"
               "* LIST (\\HasNoChildren) \"/\" \"Archive/2024\"\r\n"
               "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"\r\n"
               "a1 OK LIST completed\r\n"},
              {"a2 LIST (SPECIAL-USE) \"\" *\r\n",
               "* LIST (\\HasNoChildren \\Subscribed \\Junk) \"/\" \"Junk\"\r\na2 OK LIST completed\r\n"},
              {"a3 LIST \"\" % RETURN (STATUS (MESSAGES UIDVALIDITY))\r\n",
               "* LIST (\\HasNoChildren \\Subscribed) \"/\" \"INBOX\"\r\n"
               "* STATUS \"INBOX\" (MESSAGES 0 UIDVALIDITY 1)\r\n"
               "* LIST (\\HasChildren \\Subscribed) \"/\" \"Archive\"\r\n"
               "* STATUS \"Archive\" (MESSAGES 0 UIDVALIDITY 100)\r\n"
               "* LIST (\\HasNoChildren \\Subscribed \\Junk) \"/\" \"Junk\"\r\n"
               "* STATUS \"Junk\" (MESSAGES 0 UIDVALIDITY 102)\r\n"
               "a3 OK LIST completed\r\n"},
              {"a4 LSUB \"\" Arch*\r\n",
               "* LSUB (\\HasChildren) \"/\" \"Archive\"\r\n"
               "* LSUB (\\HasNoChildren) \"/\" \"Archive/2024\"\r\na4 OK LSUB completed\r\n"}});
}

// --- RFC 2971 ID, RFC 5161 ENABLE, RFC 3691 UNSELECT ---

TEST_F(Imap, Rfc2971_Id_Rfc5161_Enable_Rfc3691_Unselect) {
  Transcript({{"a1 ID (\"name\" \"mutt\" \"version\" NIL)\r\n",
               "* ID (\"name\" \"pullmail\" \"vendor\" \"pullmail\" \"support-url\" NIL)\r\n"
               "a1 OK ID completed\r\n"},
              {"a2 ID NIL\r\n",
               "* ID (\"name\" \"pullmail\" \"vendor\" \"pullmail\" \"support-url\" NIL)\r\n"
               "a2 OK ID completed\r\n"},
              {"a3 ENABLE CONDSTORE\r\n", "a3 BAD ENABLE needs a login first\r\n"}});
  SelectInbox();
  Transcript({{"a4 ENABLE UTF8=ACCEPT\r\n", "* ENABLED\r\na4 OK ENABLE completed\r\n"},
              {"a5 UNSELECT\r\n", "a5 OK UNSELECT completed\r\n"},
              {"a6 FETCH 1 FLAGS\r\n", "a6 BAD FETCH needs a selected mailbox\r\n"}});
}

// --- RFC 3501 6.4.4 SEARCH; RFC 4731 ESEARCH ---

TEST_F(Imap, Rfc3501_6_4_4_SearchHeadersAndText) {
  v1::HeaderSummary s;
  s.set_from("Ann <ann@a.example>");
  s.add_to("bob@b.example");
  s.set_subject("lunch");
  mb_.Add("INBOX", kMsg, {}, s);
  v1::HeaderSummary s2;
  s2.set_from("dan@d.example");
  mb_.Add("INBOX", "From: dan@d.example\r\nTo: undisclosed-recipients:;\r\n\r\nriver\r\n", {}, s2);
  mb_.Add("INBOX", "From: eve@e.example\r\n\r\nnothing\r\n", {}, {});
  SelectInbox();
  Transcript({{"a1 SEARCH BCC carol\r\n", "* SEARCH 1\r\na1 OK SEARCH completed\r\n"},
              {"a2 SEARCH HEADER TO \"\"\r\n", "* SEARCH 1 2\r\na2 OK SEARCH completed\r\n"},
              {"a3 SEARCH BODY river\r\n", "* SEARCH 1 2\r\na3 OK SEARCH completed\r\n"},
              {"a4 SEARCH TEXT lunch\r\n", "* SEARCH 1\r\na4 OK SEARCH completed\r\n"},
              {"a5 UID SEARCH RETURN (MIN MAX COUNT) FROM a\r\n",
               "* ESEARCH (TAG \"a5\") UID MIN 1 MAX 2 COUNT 2\r\na5 OK SEARCH completed\r\n"},
              {"a6 SEARCH RETURN () ALL\r\n",
               "* ESEARCH (TAG \"a6\") ALL 1:3\r\na6 OK SEARCH completed\r\n"}});
  // Searching text reads bodies with peek: nothing became \Seen.
  EXPECT_EQ(Say("a7 SEARCH SEEN\r\n"), "* SEARCH\r\na7 OK SEARCH completed\r\n");
}

TEST_F(Imap, SearchTextIsBounded) {
  ImapMachineOptions o;
  o.search_max_bodies = 1;
  Reset(o);
  mb_.Add("INBOX", kMsg);
  mb_.Add("INBOX", kMsg);
  SelectInbox();
  Transcript({{"a1 SEARCH TEXT x\r\n",
               "a1 NO [LIMIT] searching message text is limited to 1 messages; narrow the "
               "search\r\n"}});
}

// --- RFC 3501 6.3.5 RENAME ---

TEST_F(Imap, Rfc3501_6_3_5_Rename) {
  mb_.Add("Old", kMsg);
  mb_.Add("Old/Sub", kMsg);
  Login();
  Transcript({{"a1 RENAME Old New\r\n", "a1 OK RENAME completed\r\n"},
              {"a2 LIST \"\" *\r\n",
               "* LIST (\\HasNoChildren) \"/\" \"INBOX\"\r\n"
               "* LIST (\\HasNoChildren \\Junk) \"/\" \"Junk\"\r\n"
               "* LIST (\\HasChildren) \"/\" \"New\"\r\n"
               "* LIST (\\HasNoChildren) \"/\" \"New/Sub\"\r\n"
               "a2 OK LIST completed\r\n"},
              {"a3 STATUS New/Sub (MESSAGES)\r\n",
               "* STATUS \"New/Sub\" (MESSAGES 1)\r\na3 OK STATUS completed\r\n"},
              {"a4 RENAME Nope X\r\n", "a4 NO [NONEXISTENT] no such mailbox\r\n"}});
}

// --- RFC 2177 IDLE ---

TEST_F(Imap, Rfc2177_Idle) {
  mb_.Add("INBOX", kMsg);
  SelectInbox();
  EXPECT_EQ(Say("a1 IDLE\r\n"), "+ idling\r\n");
  EXPECT_TRUE(machine_->idling());
  mb_.Add("INBOX", kMsg);
  out_.data.clear();
  EXPECT_EQ(machine_->OnIdleTick(), ImapNext::kRead);
  EXPECT_EQ(out_.data, "* 2 EXISTS\r\n* 1 RECENT\r\n");
  EXPECT_EQ(Say("DONE\r\n"), "a1 OK IDLE terminated\r\n");
  EXPECT_FALSE(machine_->idling());
}

// --- RFC 3501 6.1.3 LOGOUT and 5.4 autologout ---

TEST_F(Imap, Rfc3501_6_1_3_Logout) {
  ImapNext n;
  EXPECT_EQ(Say("a1 LOGOUT\r\n", &n), "* BYE pullmail IMAP4rev1 logging out\r\na1 OK LOGOUT completed\r\n");
  EXPECT_EQ(n, ImapNext::kClose);
}

// RFC 3502 MULTIAPPEND: several messages in one APPEND (LITERAL+ and
// synchronizing literals), APPENDUID with a uid-set (RFC 4315); a failure
// part-way stores none of them (the ones stored are undone, never
// announced).
TEST_F(Imap, Rfc3502_MultiAppend) {
  SelectInbox();
  Transcript({{"a1 APPEND INBOX {2+}\r\nm1 (\\Seen) \"1-Jan-2024 00:00:00 +0000\" {2+}\r\nm2\r\n",
               "* 2 EXISTS\r\n* 2 RECENT\r\na1 OK [APPENDUID 1 1:2] APPEND completed\r\n"}});
  EXPECT_EQ(mb_.boxes_["INBOX"].msgs[2].info.flags(0), "\\Seen");
  EXPECT_EQ(mb_.boxes_["INBOX"].msgs[2].info.received_unix_ms(), 1704067200000);
  mb_.fail_append_at = 2;
  std::string r = Say("a2 APPEND INBOX {2+}\r\nm3 {2+}\r\nm4\r\n");
  EXPECT_EQ(r.substr(0, 18), "a2 NO [UNAVAILABLE") << r;
  EXPECT_EQ(mb_.boxes_["INBOX"].msgs.size(), 2u);
  Transcript({{"a3 NOOP\r\n", "a3 OK NOOP completed\r\n"},
              {"a4 APPEND INBOX {2}\r\n", "+ Ready for literal data\r\n"},
              {"m5 {2}\r\n", "+ Ready for literal data\r\n"},
              {"m6\r\n", "* 4 EXISTS\r\n* 4 RECENT\r\na4 OK [APPENDUID 1 4:5] APPEND completed\r\n"},
              {"a5 APPEND INBOX {2+}\r\nm7 {0+}\r\n\r\n", "a5 NO [CANNOT] empty message\r\n"},
              {"a6 APPEND INBOX {2+}\r\nm7 \"bad\" {1+}\r\nx\r\n", "a6 BAD invalid date-time\r\n"}});
  EXPECT_EQ(mb_.boxes_["INBOX"].msgs.size(), 4u);
}

// RFC 5256 SORT and UID SORT: keys from the listing (no body read),
// REVERSE, ties by sequence number, the base subject (2.1), the first
// address's mailbox, DATE falling back to INTERNALDATE.
TEST_F(Imap, Rfc5256_Sort) {
  auto summary = [](std::string from, std::string subject, std::string date) {
    v1::HeaderSummary s;
    s.set_from(from);
    s.set_subject(subject);
    s.set_date(date);
    s.add_to("bob@b.example");
    return s;
  };
  mb_.Add("INBOX", "123456789", {}, summary("Zed <zed@z.example>", "Re: lunch", "Thu, 7 Mar 2024 08:15:02 +0100"));
  mb_.Add("INBOX", "1234", {"\\Seen"}, summary("ann@a.example", "Fwd: [x] beer", "7 Mar 2024 06:00 +0000"));
  mb_.Add("INBOX", "12", {}, summary("Mo <mo@m.example>", "lunch", ""));
  mb_.boxes_["INBOX"].msgs[3].info.set_received_unix_ms(1600000000000);  // 2020: DATE falls back to it
  SelectInbox();
  int reads = mb_.reads;
  Transcript({{"a1 SORT (SUBJECT) UTF-8 ALL\r\n", "* SORT 2 1 3\r\na1 OK SORT completed\r\n"},
              {"a2 SORT (DATE) UTF-8 ALL\r\n", "* SORT 3 2 1\r\na2 OK SORT completed\r\n"},
              {"a3 SORT (REVERSE SIZE) US-ASCII ALL\r\n", "* SORT 1 2 3\r\na3 OK SORT completed\r\n"},
              {"a4 UID SORT (FROM) UTF-8 UNSEEN\r\n", "* SORT 3 1\r\na4 OK SORT completed\r\n"},
              {"a5 SORT (TO ARRIVAL) UTF-8 1:2\r\n", "* SORT 1 2\r\na5 OK SORT completed\r\n"},
              {"a6 SORT (REVERSE ARRIVAL) UTF-8 ALL\r\n", "* SORT 1 2 3\r\na6 OK SORT completed\r\n"},
              {"a7 SORT (CC) UTF-8 ALL\r\n", "* SORT 1 2 3\r\na7 OK SORT completed\r\n"},
              {"a8 SORT (SUBJECT) KOI8-R ALL\r\n",
               "a8 NO [BADCHARSET (UTF-8 US-ASCII)] unsupported charset\r\n"},
              {"a9 SORT (COLOR) UTF-8 ALL\r\n", "a9 BAD unknown sort key COLOR\r\n"},
              {"b1 SORT SUBJECT UTF-8 ALL\r\n", "b1 BAD expected (sort criteria)\r\n"}});
  EXPECT_EQ(mb_.reads, reads);
}

// RFC 3516 BINARY: decoded parts (quoted-printable with a soft break,
// base64 with NULs as literal8), BINARY.SIZE, partials, a missing part
// (empty), an unknown encoding (NO [UNKNOWN-CTE]), \Seen from BINARY
// without PEEK, and APPEND of a literal8.
TEST_F(Imap, Rfc3516_Binary) {
  using namespace std::string_literals;
  mb_.Add("INBOX",
          "From: a@a.example\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
          "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nsoft\r\n"
          "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
          "\r\nAAEC/w==\r\n"
          "--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
          "begin\r\n--b--\r\n");
  SelectInbox();
  Transcript(
      {{"a1 FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[2])\r\n",
        "* 1 FETCH (BINARY[1] {10}\r\ncaf\xc3\xa9 soft BINARY.SIZE[2] 4)\r\na1 OK FETCH completed\r\n"},
       {"a2 FETCH 1 BINARY.PEEK[2]<0.2>\r\n",
        "* 1 FETCH (BINARY[2]<0> ~{2}\r\n\x00\x01)\r\na2 OK FETCH completed\r\n"s},
       {"a3 FETCH 1 BINARY.PEEK[3]\r\n",
        "a3 NO [UNKNOWN-CTE] a part has a Content-Transfer-Encoding this server cannot decode\r\n"},
       {"a4 FETCH 1 BINARY.PEEK[9]\r\n", "* 1 FETCH (BINARY[9] {0}\r\n)\r\na4 OK FETCH completed\r\n"},
       {"a5 FETCH 1 BINARY[1.MIME]\r\n", "a5 BAD a BINARY section is part numbers only\r\n"},
       {"a6 FETCH 1 (FLAGS BINARY[1])\r\n",
        "* 1 FETCH (FLAGS (\\Seen) BINARY[1] {10}\r\ncaf\xc3\xa9 soft)\r\na6 OK FETCH completed\r\n"},
       {"a7 APPEND INBOX ~{3+}\r\na\x00" "b\r\n"s,
        "* 2 EXISTS\r\n* 1 RECENT\r\na7 OK [APPENDUID 1 2] APPEND completed\r\n"},
       {"a8 UID FETCH 2 BINARY.PEEK[]\r\n",
        "* 2 FETCH (UID 2 BINARY[] ~{3}\r\na\x00" "b)\r\na8 OK FETCH completed\r\n"s}});
}

// Issue 9: BODYSTRUCTURE, BODY, sections with partials, BINARY and
// RFC822.HEADER/TEXT are answered from the message's structure and byte
// ranges, without its whole body: the same bytes as the whole-body path
// (the same FETCH with BODY.PEEK[] added, which parses the whole body),
// and only the ranges the attributes name move (a 300 KB attachment is not
// read for BODY[1] or BODYSTRUCTURE).
TEST_F(Imap, SectionFetchesMoveOnlyTheirRanges) {
  std::string attachment;
  for (int i = 0; i < 4000; ++i) attachment += "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwMTIzNDU2Nzg5MDEy\r\n";
  const std::string msg = absl::StrCat(
      "From: Ann <ann@a.example>\r\nTo: bob@b.example\r\nSubject: report\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
      "preamble\r\n--outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
      "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 at noon\r\n"
      "--alt\r\nContent-Type: text/html\r\n\r\n<p>at noon</p>\r\n--alt--\r\n"
      "--outer\r\nContent-Type: application/pdf; name=\"r.pdf\"\r\n"
      "Content-Disposition: attachment; filename=\"r.pdf\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n",
      attachment,
      "--outer\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@c.example\r\nSubject: fwd\r\n"
      "\r\nforwarded\r\n--outer--\r\n");
  v1::HeaderSummary s;
  s.set_from("Ann <ann@a.example>");
  s.set_subject("report");
  mb_.Add("INBOX", msg, {}, s);
  SelectInbox();
  const std::vector<std::string> atts = {
      "BODYSTRUCTURE", "BODY", "BODY.PEEK[1]", "BODY.PEEK[1.1]", "BODY.PEEK[1.2]<3.5>",
      "BODY.PEEK[2]<0.4096>", "BODY.PEEK[2]<1000000.10>", "BODY.PEEK[2.MIME]",
      "BODY.PEEK[3.HEADER]", "BODY.PEEK[3.TEXT]", "BODY.PEEK[3.HEADER.FIELDS (SUBJECT)]",
      "BODY.PEEK[HEADER]", "BODY.PEEK[HEADER.FIELDS.NOT (TO)]<2.7>", "BODY.PEEK[TEXT]<0.50>",
      "BODY.PEEK[]<10.20>", "BODY.PEEK[4]", "BODY.PEEK[1.3.MIME]", "BINARY.PEEK[1.1]",
      "BINARY.PEEK[2]<100.8>", "BINARY.SIZE[2]", "BINARY.PEEK[]<0.5>", "RFC822.HEADER",
      "BODY.PEEK[1] BODYSTRUCTURE BINARY.SIZE[1.2] RFC822.SIZE"};
  const std::string whole = absl::StrCat(" BODY[] {", msg.size(), "}\r\n", msg);
  int tag = 0;
  for (const std::string& a : atts) {
    SCOPED_TRACE(a);
    const int reads = mb_.reads;
    std::string old = Say(absl::StrCat("w", ++tag, " FETCH 1 (", a, " BODY.PEEK[])\r\n"));
    EXPECT_EQ(mb_.reads, reads + 1);  // the whole-body path
    size_t at = old.find(whole);
    ASSERT_NE(at, std::string::npos) << old;
    old.erase(at, whole.size());
    old.replace(old.find(absl::StrCat("w", tag, " OK")), 1 + std::to_string(tag).size(),
                absl::StrCat("r", tag));
    mb_.ranges_asked.clear();
    EXPECT_EQ(Say(absl::StrCat("r", tag, " FETCH 1 (", a, ")\r\n")), old);
    EXPECT_EQ(mb_.reads, reads + 1);  // no whole body for the sectioned FETCH
    uint64_t moved = 0;
    for (const auto& rs : mb_.ranges_asked) {
      for (const ByteRange& r : rs) moved += r.length;
    }
    if (a.find("[2]") == std::string::npos && a.find("[]") == std::string::npos &&
        a.find("BINARY.SIZE[2]") == std::string::npos) {
      EXPECT_LT(moved, 1000u);  // never the attachment
    }
  }
  // Without .PEEK a section sets \Seen, reported with the FETCH.
  EXPECT_EQ(Say("z1 FETCH 1 BODY[1.1]\r\n"),
            "* 1 FETCH (FLAGS (\\Seen) BODY[1.1] {17}\r\ncaf=C3=A9 at noon)\r\n"
            "z1 OK FETCH completed\r\n");
  // An older node (whole reads behind ReadStructures/ReadRanges): the same.
  mb_.sectioned_reads = false;
  EXPECT_EQ(Say("z2 FETCH 1 (BODY.PEEK[1.2] BINARY.SIZE[1.1])\r\n"),
            "* 1 FETCH (BODY[1.2] {14}\r\n<p>at noon</p> BINARY.SIZE[1.1] 13)\r\n"
            "z2 OK FETCH completed\r\n");
}

// The sectioned FETCH fails as the whole-body one does: a sender's node
// that cannot be reached is NO [UNAVAILABLE] (nothing of the message
// written); a message another session expunged is skipped and the FETCH
// ends NO [EXPUNGEISSUED] after answering the others.
TEST_F(Imap, SectionedFetchFailuresAsWholeReads) {
  mb_.Add("INBOX", kMsg);
  mb_.Add("INBOX", kMsg);
  mb_.Add("INBOX", kMsg);
  SelectInbox();
  mb_.fail_reads = absl::UnavailableError("sender node down");
  Transcript({{"a1 FETCH 1:3 (BODYSTRUCTURE)\r\n",
               "a1 NO [UNAVAILABLE] the sender's node cannot be reached; try again later\r\n"},
              {"a2 FETCH 2 BODY.PEEK[TEXT]<0.5>\r\n",
               "a2 NO [UNAVAILABLE] the sender's node cannot be reached; try again later\r\n"}});
  mb_.fail_reads = absl::OkStatus();
  mb_.ExpungeElsewhere("INBOX", 2);
  Transcript({{"a3 FETCH 1:3 (UID BODY.PEEK[TEXT]<0.6>)\r\n",
               "* 1 FETCH (UID 1 BODY[TEXT]<0> {6}\r\nAt noo)\r\n"
               "* 3 FETCH (UID 3 BODY[TEXT]<0> {6}\r\nAt noo)\r\n"
               "a3 NO [EXPUNGEISSUED] some messages were expunged\r\n"}});
  EXPECT_EQ(mb_.reads, 0);
}

// Golden BODYSTRUCTURE of a small multipart with an attachment and an
// encapsulated message, from its structure alone.
TEST_F(Imap, Rfc3501_7_4_2_BodystructureFromStructure) {
  mb_.Add("INBOX",
          "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
          "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhi\r\nthere\r\n"
          "--b\r\nContent-Type: image/png; name=x.png\r\nContent-ID: <x@y>\r\n"
          "Content-Disposition: inline; filename=x.png\r\nContent-Transfer-Encoding: base64\r\n"
          "\r\niVBORw0K\r\n"
          "--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@c.example\r\nSubject: in\r\n"
          "\r\nbody\r\n--b--\r\n");
  SelectInbox();
  Transcript({{"a1 FETCH 1 (BODYSTRUCTURE)\r\n",
               "* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL "
               "\"7BIT\" 9 2 NIL NIL NIL NIL)(\"IMAGE\" \"PNG\" (\"NAME\" \"x.png\") \"<x@y>\" NIL "
               "\"BASE64\" 8 NIL (\"INLINE\" (\"FILENAME\" \"x.png\")) NIL NIL)(\"MESSAGE\" "
               "\"RFC822\" NIL NIL NIL \"7BIT\" 38 (NIL \"in\" ((NIL NIL \"c\" \"c.example\")) "
               "((NIL NIL \"c\" \"c.example\")) ((NIL NIL \"c\" \"c.example\")) NIL NIL NIL NIL NIL) "
               "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" 4 1 NIL NIL NIL NIL) "
               "4 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL NIL))\r\n"
               "a1 OK FETCH completed\r\n"}});
  EXPECT_EQ(mb_.reads, 0);
  EXPECT_EQ(mb_.structure_reads, 1);
  EXPECT_EQ(mb_.range_reads, 0);
}

// --- RFC 7162 CONDSTORE and QRESYNC ---

// The SELECT / EXAMINE reply for a mailbox without keywords.
std::string SelectReply(const std::string& tag, int exists, int unseen, int validity, int next,
                        uint64_t modseq, const std::string& before_ok = "") {
  std::string r =
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
      "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] flags the client "
      "can change\r\n";
  absl::StrAppend(&r, "* ", exists, " EXISTS\r\n* 0 RECENT\r\n");
  if (unseen > 0) absl::StrAppend(&r, "* OK [UNSEEN ", unseen, "] first unseen message\r\n");
  absl::StrAppend(&r, "* OK [UIDVALIDITY ", validity, "] UIDs valid\r\n", "* OK [UIDNEXT ", next,
                  "] predicted next UID\r\n", "* OK [HIGHESTMODSEQ ", modseq, "] Highest\r\n",
                  before_ok, tag, " OK [READ-WRITE] SELECT completed\r\n");
  return r;
}

// RFC 7162 3.1.2.1 HIGHESTMODSEQ with SELECT (CONDSTORE), 3.1.4.1 FETCH
// MODSEQ and CHANGEDSINCE, 3.1.4 MODSEQ in the FETCH a STORE causes.
TEST_F(Imap, Rfc7162_3_1_2_SelectCondstoreFetchModseq) {
  for (int i = 0; i < 3; ++i) mb_.Add("INBOX", kMsg);  // modseqs 2, 3, 4
  Login();
  Transcript({{"a1 SELECT INBOX (CONDSTORE)\r\n", SelectReply("a1", 3, 1, 1, 4, 4)},
              {"a2 FETCH 1:3 (FLAGS MODSEQ)\r\n",
               "* 1 FETCH (FLAGS () MODSEQ (2))\r\n* 2 FETCH (FLAGS () MODSEQ (3))\r\n"
               "* 3 FETCH (FLAGS () MODSEQ (4))\r\na2 OK FETCH completed\r\n"},
              {"a3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 3)\r\n",
               "* 3 FETCH (UID 3 FLAGS () MODSEQ (4))\r\na3 OK FETCH completed\r\n"},
              {"a4 STORE 1 +FLAGS (\\Seen)\r\n",
               "* 1 FETCH (FLAGS (\\Seen) MODSEQ (5))\r\na4 OK STORE completed\r\n"},
              {"a5 FETCH 1 (MODSEQ) (CHANGEDSINCE 4)\r\n",
               "* 1 FETCH (MODSEQ (5))\r\na5 OK FETCH completed\r\n"},
              {"a6 FETCH 1 (FLAGS) (CHANGEDSINCE 5)\r\n", "a6 OK FETCH completed\r\n"},
              {"a7 FETCH 1 FLAGS (CHANGEDSINCE x)\r\n", "a7 BAD expected a mod-sequence\r\n"}});
}

// RFC 7162 3.1: a CONDSTORE enabling command with a mailbox selected
// announces HIGHESTMODSEQ once; 3.1.3 STORE UNCHANGEDSINCE and MODIFIED
// (sequence numbers for STORE, UIDs for UID STORE; .SILENT still reports
// the new MODSEQ).
TEST_F(Imap, Rfc7162_3_1_3_StoreUnchangedSince) {
  for (int i = 0; i < 3; ++i) mb_.Add("INBOX", kMsg);  // modseqs 2, 3, 4
  SelectInbox();
  Transcript({{"a1 STORE 2 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Flagged)\r\n",
               "* OK [HIGHESTMODSEQ 4] Highest\r\n* 2 FETCH (MODSEQ (5))\r\n"
               "a1 OK STORE completed\r\n"},
              {"a2 UID STORE 1:3 (UNCHANGEDSINCE 4) +FLAGS (\\Seen)\r\n",
               "* 1 FETCH (FLAGS (\\Seen) UID 1 MODSEQ (6))\r\n"
               "* 3 FETCH (FLAGS (\\Seen) UID 3 MODSEQ (7))\r\n"
               "a2 OK [MODIFIED 2] Conditional STORE failed\r\n"},
              {"a3 STORE 1:2 (UNCHANGEDSINCE 0) -FLAGS (\\Seen)\r\n",
               "a3 OK [MODIFIED 1:2] Conditional STORE failed\r\n"},
              {"a4 STORE 1 (UNCHANGEDSINCE 9\r\n",
               "a4 BAD unbalanced parentheses in store modifiers\r\n"}});
  EXPECT_EQ(mb_.boxes_["INBOX"].msgs[2].info.flags_size(), 1);  // \Flagged only
}

// RFC 7162 3.1.5 SEARCH MODSEQ (with the entry name and type accepted),
// the highest modseq of the hits; with ESEARCH (RFC 4731) too.
TEST_F(Imap, Rfc7162_3_1_5_SearchModseq) {
  for (int i = 0; i < 3; ++i) mb_.Add("INBOX", kMsg);  // modseqs 2, 3, 4
  SelectInbox();
  Transcript({{"a1 SEARCH MODSEQ 3\r\n",
               "* OK [HIGHESTMODSEQ 4] Highest\r\n* SEARCH 2 3 (MODSEQ 4)\r\n"
               "a1 OK SEARCH completed\r\n"},
              {"a2 UID SEARCH RETURN (ALL) MODSEQ \"/flags/\\\\draft\" all 4\r\n",
               "* ESEARCH (TAG \"a2\") UID ALL 3 MODSEQ 4\r\na2 OK SEARCH completed\r\n"},
              {"a3 SEARCH MODSEQ 99\r\n", "* SEARCH\r\na3 OK SEARCH completed\r\n"},
              {"a4 SEARCH MODSEQ \"/flags/\\\\draft\" none 4\r\n",
               "a4 BAD entry type must be priv, shared or all\r\n"}});
}

// RFC 7162 3.1.6 STATUS HIGHESTMODSEQ.
TEST_F(Imap, Rfc7162_3_1_6_StatusHighestModseq) {
  for (int i = 0; i < 3; ++i) mb_.Add("INBOX", kMsg);
  Login();
  Transcript({{"a1 STATUS INBOX (MESSAGES HIGHESTMODSEQ)\r\n",
               "* STATUS \"INBOX\" (MESSAGES 3 HIGHESTMODSEQ 4)\r\na1 OK STATUS completed\r\n"}});
}

// RFC 7162 3.2.3 ENABLE QRESYNC (CONDSTORE with it); 3.2.10 VANISHED
// instead of EXPUNGE, for this session's EXPUNGE (whose tagged OK carries
// the new HIGHESTMODSEQ, 3.1.10) and another session's; flag changes seen
// from elsewhere come with their MODSEQ.
TEST_F(Imap, Rfc7162_3_2_10_VanishedInsteadOfExpunge) {
  for (int i = 0; i < 4; ++i) mb_.Add("INBOX", kMsg);  // modseqs 2..5
  Login();
  Transcript({{"a1 ENABLE QRESYNC\r\n", "* ENABLED QRESYNC\r\na1 OK ENABLE completed\r\n"},
              {"a2 ENABLE CONDSTORE QRESYNC\r\n", "* ENABLED\r\na2 OK ENABLE completed\r\n"},
              {"a3 SELECT INBOX\r\n", SelectReply("a3", 4, 1, 1, 5, 5)},
              {"a4 STORE 2:3 +FLAGS.SILENT (\\Deleted)\r\n", "a4 OK STORE completed\r\n"},
              {"a5 EXPUNGE\r\n", "* VANISHED 2:3\r\na5 OK [HIGHESTMODSEQ 8] Expunged\r\n"}});
  mb_.ExpungeElsewhere("INBOX", 4);                    // modseq 9
  mb_.SetFlagsElsewhere("INBOX", 1, {"\\Flagged"});    // modseq 10
  Transcript({{"a6 NOOP\r\n",
               "* VANISHED 4\r\n* 1 FETCH (FLAGS (\\Flagged) UID 1 MODSEQ (10))\r\n"
               "a6 OK NOOP completed\r\n"},
              {"a7 UID MOVE 1 Junk\r\n",
               "* OK [COPYUID 100 1 1] moved\r\n* VANISHED 1\r\na7 OK MOVE completed\r\n"}});
}

// RFC 7162 3.2.5 SELECT (QRESYNC ...): refused before ENABLE QRESYNC; then
// the expunges since the client's modseq as VANISHED (EARLIER) and the
// changed messages as FETCH; [CLOSED] when another mailbox was selected
// (3.2.11); nothing extra when the UIDVALIDITY differs. 3.2.6 UID FETCH
// (CHANGEDSINCE n VANISHED).
TEST_F(Imap, Rfc7162_3_2_5_SelectQresyncAndFetchVanished) {
  for (int i = 0; i < 5; ++i) mb_.Add("INBOX", kMsg);  // modseqs 2..6
  mb_.SetFlagsElsewhere("INBOX", 2, {"\\Seen"});       // 7
  mb_.ExpungeElsewhere("INBOX", 3);                    // 8
  mb_.ExpungeElsewhere("INBOX", 4);                    // 9
  Login();
  Transcript(
      {{"a1 SELECT INBOX (QRESYNC (1 6))\r\n",
        "a1 BAD QRESYNC must be enabled first (ENABLE QRESYNC)\r\n"},
       {"a2 ENABLE QRESYNC\r\n", "* ENABLED QRESYNC\r\na2 OK ENABLE completed\r\n"},
       {"a3 SELECT INBOX (QRESYNC (1 6 1:5))\r\n",
        SelectReply("a3", 3, 1, 1, 6, 9,
                    "* VANISHED (EARLIER) 3:4\r\n* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (7))\r\n")},
       {"a4 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 6 VANISHED)\r\n",
        "* VANISHED (EARLIER) 3:4\r\n* 2 FETCH (UID 2 FLAGS (\\Seen) MODSEQ (7))\r\n"
        "a4 OK FETCH completed\r\n"},
       {"a5 UID FETCH 1:2 (FLAGS) (CHANGEDSINCE 8 VANISHED)\r\n", "a5 OK FETCH completed\r\n"},
       {"a6 FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)\r\n",
        "a6 BAD VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC\r\n"},
       {"a7 SELECT INBOX (QRESYNC (1 8 (1:3 1:3)))\r\n",
        "* OK [CLOSED] Previous mailbox closed\r\n" +
            SelectReply("a7", 3, 1, 1, 6, 9, "* VANISHED (EARLIER) 4\r\n")},
       {"a8 SELECT INBOX (QRESYNC (77 6))\r\n",
        "* OK [CLOSED] Previous mailbox closed\r\n" + SelectReply("a8", 3, 1, 1, 6, 9)},
       {"a9 SELECT INBOX (QRESYNC (1 0))\r\n", "a9 BAD the QRESYNC mod-sequence must not be 0\r\n"}});
}

TEST_F(Imap, ParseErrorsAreTaggedBad) {
  Transcript({{"a1 FROB\r\n", "a1 BAD unknown command FROB\r\n"},
              {"a2 UID NOOP\r\n", "a2 BAD UID NOOP is not a command\r\n"}});
}

}  // namespace
}  // namespace pullmail
