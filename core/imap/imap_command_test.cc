// Tests for the IMAP command reader: whole and byte-split input, literals
// (synchronizing and LITERAL+), every argument type, and every error path.
#include "core/imap/imap_command.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace pullmail {
namespace {

ImapLimits Small() {
  ImapLimits l;
  l.max_line_bytes = 200;
  l.max_literal_bytes = 100;
  l.max_command_bytes = 1000;
  l.max_arguments = 20;
  l.max_depth = 4;
  l.max_set_items = 5;
  return l;
}

ImapCommand MustParse(std::string_view line, ImapLimits limits = ImapLimits()) {
  ImapCommandReader r(limits);
  ImapFeedResult res = r.Feed(line);
  if (auto* e = std::get_if<ImapParseError>(&res)) {
    ADD_FAILURE() << "parse error for '" << line << "': " << e->text;
    return {};
  }
  EXPECT_TRUE(std::holds_alternative<ImapCommand>(res)) << line;
  return std::holds_alternative<ImapCommand>(res) ? std::get<ImapCommand>(res) : ImapCommand{};
}

ImapParseError MustFail(std::string_view line, ImapLimits limits = ImapLimits()) {
  ImapCommandReader r(limits);
  ImapFeedResult res = r.Feed(line);
  EXPECT_TRUE(std::holds_alternative<ImapParseError>(res)) << "accepted: " << line;
  return std::holds_alternative<ImapParseError>(res) ? std::get<ImapParseError>(res)
                                                     : ImapParseError{};
}

TEST(ImapCommand, SimpleCommands) {
  for (const char* name : {"CAPABILITY", "noop", "Logout", "STARTTLS", "CHECK", "CLOSE",
                           "UNSELECT", "IDLE", "EXPUNGE"}) {
    ImapCommand c = MustParse(std::string("a1 ") + name);
    EXPECT_EQ(c.tag, "a1");
    std::string upper = name;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(ch));
    EXPECT_EQ(c.name, upper);
    EXPECT_FALSE(c.uid);
  }
}

TEST(ImapCommand, LoginQuotedAndAtom) {
  ImapCommand c = MustParse(R"(x LOGIN alice@a.example "pa ss\"w\\d")");
  EXPECT_EQ(c.name, "LOGIN");
  ASSERT_EQ(c.args.size(), 2u);
  EXPECT_EQ(c.args[0], "alice@a.example");
  EXPECT_EQ(c.args[1], "pa ss\"w\\d");
}

TEST(ImapCommand, SynchronizingLiteral) {
  ImapCommandReader r(ImapLimits{});
  ImapFeedResult res = r.Feed("a2 LOGIN {5}");
  ASSERT_TRUE(std::holds_alternative<ImapNeedLiteral>(res));
  auto need = std::get<ImapNeedLiteral>(res);
  EXPECT_EQ(need.size, 5u);
  EXPECT_TRUE(need.synchronizing);
  EXPECT_EQ(need.tag, "a2");
  EXPECT_EQ(need.name, "LOGIN");
  EXPECT_TRUE(r.in_command());
  res = r.FeedLiteral("al\r\nc");
  ASSERT_TRUE(std::holds_alternative<ImapNeedLine>(res));
  res = r.Feed(" {3+}");
  ASSERT_TRUE(std::holds_alternative<ImapNeedLiteral>(res));
  EXPECT_FALSE(std::get<ImapNeedLiteral>(res).synchronizing);
  ASSERT_TRUE(std::holds_alternative<ImapNeedLine>(r.FeedLiteral("p w")));
  res = r.Feed("");
  ASSERT_TRUE(std::holds_alternative<ImapCommand>(res));
  ImapCommand c = std::get<ImapCommand>(res);
  EXPECT_EQ(c.args, (std::vector<std::string>{"al\r\nc", "p w"}));
  EXPECT_FALSE(r.in_command());
}

TEST(ImapCommand, ByteSplitLiteralsGiveSameResult) {
  // A whole command with a literal, fed as the session would after reading
  // it in arbitrary pieces: lines are delimited by the session, so split
  // the literal bytes across FeedLiteral calls is not allowed; instead we
  // check every split point of the line text itself is rejected or parsed
  // consistently when rejoined.
  const std::string line = "t SEARCH CHARSET UTF-8 SUBJECT {4}";
  ImapCommandReader r(ImapLimits{});
  ASSERT_TRUE(std::holds_alternative<ImapNeedLiteral>(r.Feed(line)));
  ASSERT_TRUE(std::holds_alternative<ImapNeedLine>(r.FeedLiteral("caf\xc3")));
  ImapFeedResult res = r.Feed(" UNSEEN");
  ASSERT_TRUE(std::holds_alternative<ImapCommand>(res));
  const ImapCommand& c = std::get<ImapCommand>(res);
  EXPECT_EQ(c.charset, "UTF-8");
  ASSERT_EQ(c.search.children.size(), 2u);
  EXPECT_EQ(c.search.children[0].kind, SearchKey::Kind::kSubject);
  EXPECT_EQ(c.search.children[0].text, "caf\xc3");
  EXPECT_EQ(c.search.children[1].kind, SearchKey::Kind::kUnseen);
}

TEST(ImapCommand, EveryPrefixOfAValidCommandFailsCleanly) {
  // Feeding a truncated line (as if the client's line ended early) must
  // give an error or a complete command, never a crash or a hang.
  const std::string full =
      "a UID FETCH 1:*,7 (UID FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100> BODY[1.MIME])";
  for (size_t n = 0; n <= full.size(); ++n) {
    ImapCommandReader r(ImapLimits{});
    ImapFeedResult res = r.Feed(full.substr(0, n));
    EXPECT_FALSE(std::holds_alternative<ImapNeedLine>(res));
    if (n == full.size()) {
      EXPECT_TRUE(std::holds_alternative<ImapCommand>(res));
    }
    EXPECT_FALSE(r.in_command());
  }
}

TEST(ImapCommand, FetchMacrosAndItems) {
  ImapCommand c = MustParse("f FETCH 1 ALL");
  ASSERT_EQ(c.fetch.size(), 4u);
  EXPECT_EQ(c.fetch[3].kind, FetchAtt::Kind::kEnvelope);
  c = MustParse("f FETCH 1 FAST");
  EXPECT_EQ(c.fetch.size(), 3u);
  c = MustParse("f FETCH 1 full");
  ASSERT_EQ(c.fetch.size(), 5u);
  EXPECT_EQ(c.fetch[4].kind, FetchAtt::Kind::kBody);
  MustFail("f FETCH 1 (ALL)");  // macros only stand alone (RFC 3501 6.4.5)

  c = MustParse(
      "f UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (DATE FROM "
      "SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE IN-REPLY-TO)])");
  EXPECT_TRUE(c.uid);
  EXPECT_EQ(c.name, "FETCH");
  ASSERT_EQ(c.fetch.size(), 5u);
  const FetchAtt& h = c.fetch[4];
  EXPECT_EQ(h.kind, FetchAtt::Kind::kBodySection);
  EXPECT_TRUE(h.peek);
  EXPECT_EQ(h.section.text, FetchSection::Text::kHeaderFields);
  EXPECT_EQ(h.section.fields.size(), 9u);
  EXPECT_EQ(h.section.fields[5], "MESSAGE-ID");

  c = MustParse("f FETCH 2 (body[] BODY[TEXT]<10.20> BODY[1.2.MIME] BODY[3.HEADER.FIELDS.NOT (x)] "
                "RFC822 RFC822.HEADER RFC822.TEXT BODYSTRUCTURE ENVELOPE)");
  ASSERT_EQ(c.fetch.size(), 9u);
  EXPECT_EQ(c.fetch[0].kind, FetchAtt::Kind::kBodySection);
  EXPECT_FALSE(c.fetch[0].peek);
  EXPECT_TRUE(c.fetch[0].section.part.empty());
  EXPECT_EQ(c.fetch[0].section.text, FetchSection::Text::kNone);
  EXPECT_EQ(*c.fetch[1].partial_start, 10u);
  EXPECT_EQ(c.fetch[1].partial_length, 20u);
  EXPECT_EQ(c.fetch[2].section.part, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(c.fetch[2].section.text, FetchSection::Text::kMime);
  EXPECT_EQ(c.fetch[3].section.text, FetchSection::Text::kHeaderFieldsNot);
  EXPECT_EQ(c.fetch[4].kind, FetchAtt::Kind::kRfc822);
  EXPECT_EQ(c.fetch[7].kind, FetchAtt::Kind::kBodyStructure);
}

TEST(ImapCommand, FetchErrors) {
  EXPECT_EQ(MustFail("f FETCH 1 (FLAGS").text, "unbalanced parentheses in fetch attributes");
  MustFail("f FETCH 1 BODY.PEEK");
  MustFail("f FETCH 1 BODY[MIME]");  // MIME needs a part number
  MustFail("f FETCH 1 BODY[1.FOO]");
  MustFail("f FETCH 1 BODY[HEADER.FIELDS]");
  MustFail("f FETCH 1 BODY[HEADER.FIELDS (A]");
  MustFail("f FETCH 1 BODY[]<1>");
  MustFail("f FETCH 1 BODY[]<1.0>");
  MustFail("f FETCH 1 WHATEVER");
  MustFail("f FETCH 1 (FLAGS)extra");
}

TEST(ImapCommand, SequenceSets) {
  ImapCommand c = MustParse("s FETCH 1:3,5,7:*,* FLAGS");
  ASSERT_EQ(c.set.ranges.size(), 4u);
  EXPECT_TRUE(c.set.Contains(2, 10));
  EXPECT_FALSE(c.set.Contains(4, 10));
  EXPECT_TRUE(c.set.Contains(5, 10));
  EXPECT_TRUE(c.set.Contains(9, 10));
  EXPECT_TRUE(c.set.Contains(10, 10));
  c = MustParse("s FETCH 9:2 FLAGS");  // reversed range
  EXPECT_TRUE(c.set.Contains(5, 10));
  c = MustParse("s FETCH 4294967295 FLAGS");
  EXPECT_TRUE(c.set.Contains(4294967295u, 1));

  for (const char* bad : {"s FETCH 0 FLAGS", "s FETCH 1: FLAGS", "s FETCH :3 FLAGS",
                          "s FETCH 1,,2 FLAGS", "s FETCH 1:2:3 FLAGS", "s FETCH a FLAGS",
                          "s FETCH 4294967296 FLAGS", "s FETCH 1x FLAGS", "s FETCH -1 FLAGS"}) {
    ImapParseError e = MustFail(bad);
    EXPECT_EQ(e.tag, "s") << bad;
    EXPECT_EQ(e.text, "bad sequence set") << bad;
  }
  EXPECT_EQ(MustFail("s FETCH 1,2,3,4,5,6 FLAGS", Small()).text, "sequence set too long");
}

// Intervals gives the same numbers as Contains, sorted, merged and
// disjoint, for written sets and for random ones.
TEST(ImapCommand, SequenceSetIntervals) {
  using V = std::vector<std::pair<uint32_t, uint32_t>>;
  EXPECT_EQ(MustParse("s FETCH 7,1:3,2:4,5 FLAGS").set.Intervals(10), (V{{1, 5}, {7, 7}}));
  EXPECT_EQ(MustParse("s FETCH 9:2,* FLAGS").set.Intervals(10), (V{{2, 10}}));  // adjacent join
  EXPECT_EQ(MustParse("s FETCH 9:2,* FLAGS").set.Intervals(11), (V{{2, 9}, {11, 11}}));
  EXPECT_EQ(MustParse("s FETCH 5:* FLAGS").set.Intervals(3), (V{{3, 5}}));  // "*" below 5
  EXPECT_EQ(MustParse("s FETCH * FLAGS").set.Intervals(0), (V{{0, 0}}));     // empty mailbox
  EXPECT_EQ(MustParse("s FETCH 4294967295,1:4294967294 FLAGS").set.Intervals(1),
            (V{{1, 4294967295u}}));

  std::mt19937 rng(7);
  for (int round = 0; round < 500; ++round) {
    SequenceSet set;
    const int n = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < n; ++i) {
      uint32_t lo = rng() % 41, hi = rng() % 41;  // 0 = "*"
      set.ranges.push_back({lo, hi});
    }
    const uint32_t star = rng() % 41;
    const V iv = set.Intervals(star);
    for (size_t i = 0; i < iv.size(); ++i) {
      ASSERT_LE(iv[i].first, iv[i].second);
      if (i > 0) {
        ASSERT_GT(iv[i].first, iv[i - 1].second + 1);  // disjoint, not adjacent
      }
    }
    for (uint32_t x = 0; x <= 42; ++x) {
      bool in = false;
      for (const auto& [lo, hi] : iv) in = in || (x >= lo && x <= hi);
      ASSERT_EQ(in, set.Contains(x, star)) << "x=" << x << " star=" << star;
    }
  }
}

TEST(ImapCommand, Store) {
  ImapCommand c = MustParse(R"(s UID STORE 1:2 +FLAGS.SILENT (\Seen $Junk))");
  EXPECT_TRUE(c.uid);
  EXPECT_EQ(c.store_op, StoreOp::kAdd);
  EXPECT_TRUE(c.store_silent);
  EXPECT_EQ(c.flags, (std::vector<std::string>{"\\Seen", "$Junk"}));
  c = MustParse(R"(s STORE 1 -FLAGS \Flagged \Deleted)");
  EXPECT_EQ(c.store_op, StoreOp::kRemove);
  EXPECT_FALSE(c.store_silent);
  EXPECT_EQ(c.flags.size(), 2u);
  c = MustParse("s STORE 1 FLAGS ()");
  EXPECT_EQ(c.store_op, StoreOp::kReplace);
  EXPECT_TRUE(c.flags.empty());
  MustFail("s STORE 1 +LABELS (x)");
  MustFail("s STORE 1 FLAGS (\\Seen");
  MustFail("s STORE 1 FLAGS");
}

TEST(ImapCommand, SearchKeys) {
  ImapCommand c = MustParse(
      "s UID SEARCH OR (FROM ann SEEN) NOT UNSEEN SINCE 1-Feb-2024 BEFORE \"17-Jul-1996\" "
      "LARGER 100 UID 1:* 2,4 HEADER Message-ID \"<x@y>\" KEYWORD $Junk");
  EXPECT_TRUE(c.uid);
  using K = SearchKey::Kind;
  const auto& k = c.search.children;
  ASSERT_EQ(k.size(), 8u);
  EXPECT_EQ(k[0].kind, K::kOr);
  EXPECT_EQ(k[0].children[0].kind, K::kAnd);
  EXPECT_EQ(k[0].children[0].children[0].text, "ann");
  EXPECT_EQ(k[0].children[1].kind, K::kNot);
  EXPECT_EQ(k[1].kind, K::kSince);
  EXPECT_EQ(k[1].date, absl::CivilDay(2024, 2, 1));
  EXPECT_EQ(k[2].date, absl::CivilDay(1996, 7, 17));
  EXPECT_EQ(k[3].number, 100u);
  EXPECT_EQ(k[4].kind, K::kUid);
  EXPECT_EQ(k[5].kind, K::kSequence);
  EXPECT_EQ(k[6].field, "MESSAGE-ID");
  EXPECT_EQ(k[6].text, "<x@y>");
  EXPECT_EQ(k[7].kind, K::kKeyword);

  for (const char* bad : {"s SEARCH", "s SEARCH FOO", "s SEARCH (SEEN", "s SEARCH SEEN)",
                          "s SEARCH SINCE 31-Feb-2024", "s SEARCH SINCE 1-Foo-2024",
                          "s SEARCH OR SEEN", "s SEARCH NOT", "s SEARCH LARGER x",
                          "s SEARCH FROM", "s SEARCH CHARSET"}) {
    MustFail(bad);
  }
  EXPECT_EQ(MustFail("s SEARCH ((((((SEEN))))))", Small()).text, "search keys nested too deep");
}

TEST(ImapCommand, MailboxCommands) {
  ImapCommand c = MustParse("m SELECT inbox");
  EXPECT_EQ(c.args[0], "INBOX");
  c = MustParse("m EXAMINE \"Sent Items\"");
  EXPECT_EQ(c.args[0], "Sent Items");
  c = MustParse("m LIST \"\" *");
  EXPECT_EQ(c.args, (std::vector<std::string>{"", "*"}));
  c = MustParse("m LSUB \"\" %");
  EXPECT_EQ(c.args[1], "%");
  c = MustParse("m LIST \"\" Archive/%");
  EXPECT_EQ(c.args[1], "Archive/%");
  c = MustParse("m STATUS INBOX (MESSAGES UIDNEXT unseen)");
  EXPECT_EQ(c.items, (std::vector<std::string>{"MESSAGES", "UIDNEXT", "UNSEEN"}));
  MustFail("m STATUS INBOX (MESSAGES BOGUS)");
  MustFail("m STATUS INBOX MESSAGES");
  c = MustParse("m UID COPY 3:4 Archive");
  EXPECT_EQ(c.name, "COPY");
  EXPECT_EQ(c.args[0], "Archive");
  c = MustParse("m UID MOVE 3 &AOQ-rchiv");  // modified UTF-7 passes through
  EXPECT_EQ(c.args[0], "&AOQ-rchiv");
  c = MustParse("m UID EXPUNGE 3:5");
  EXPECT_TRUE(c.uid);
  EXPECT_EQ(c.name, "EXPUNGE");
  MustFail("m UID EXPUNGE");
  MustFail("m SELECT");
  MustFail("m SELECT a b");
  c = MustParse("m AUTHENTICATE plain AGFsaWNlAHNlY3JldA==");
  EXPECT_EQ(c.args, (std::vector<std::string>{"PLAIN", "AGFsaWNlAHNlY3JldA=="}));
}

TEST(ImapCommand, TagsAndNames) {
  EXPECT_EQ(MustFail("").tag, "*");
  EXPECT_EQ(MustFail("+a NOOP").tag, "*");
  EXPECT_EQ(MustFail("(a NOOP").tag, "*");
  EXPECT_EQ(MustFail("a\"b NOOP").tag, "*");
  EXPECT_EQ(MustFail("a1").tag, "a1");
  EXPECT_EQ(MustFail("a1 FROBNICATE").text, "unknown command FROBNICATE");
  EXPECT_EQ(MustFail("a1 UID NOOP").text, "UID NOOP is not a command");
  EXPECT_EQ(MustFail("a1 NOOP extra").tag, "a1");
  EXPECT_EQ(MustFail("a1  NOOP").tag, "a1");
}

TEST(ImapCommand, Limits) {
  ImapLimits l = Small();
  std::string long_line = "a NOOP " + std::string(300, 'x');
  EXPECT_EQ(MustFail(long_line, l).text, "line too long");

  ImapCommandReader r(l);
  ImapFeedResult res = r.Feed("a LOGIN {101}");
  ASSERT_TRUE(std::holds_alternative<ImapParseError>(res));
  EXPECT_EQ(std::get<ImapParseError>(res).text, "literal too large");
  EXPECT_FALSE(std::get<ImapParseError>(res).fatal);
  EXPECT_FALSE(r.in_command());
  EXPECT_TRUE(std::get<ImapParseError>(res).literal_too_large);
  EXPECT_EQ(std::get<ImapParseError>(res).name, "LOGIN");
  // APPEND over the limit: the session answers NO [TOOBIG] (RFC 7889).
  res = r.Feed("a2 APPEND Sent (\\Seen) {101}");
  ASSERT_TRUE(std::holds_alternative<ImapParseError>(res));
  EXPECT_EQ(std::get<ImapParseError>(res).tag, "a2");
  EXPECT_EQ(std::get<ImapParseError>(res).name, "APPEND");
  EXPECT_TRUE(std::get<ImapParseError>(res).literal_too_large);
  EXPECT_FALSE(std::get<ImapParseError>(res).fatal);
  EXPECT_FALSE(r.in_command());
  res = r.Feed("a LOGIN {101+}");
  ASSERT_TRUE(std::holds_alternative<ImapParseError>(res));
  EXPECT_TRUE(std::get<ImapParseError>(res).fatal);

  // Total command size across several literals.
  ImapCommandReader t(l);
  std::string lit(90, 'z');
  ASSERT_TRUE(std::holds_alternative<ImapNeedLiteral>(t.Feed("a SEARCH SUBJECT {90}")));
  bool failed = false;
  for (int i = 0; i < 20 && !failed; ++i) {
    ASSERT_TRUE(std::holds_alternative<ImapNeedLine>(t.FeedLiteral(lit)));
    ImapFeedResult more = t.Feed(" SUBJECT {90}");
    if (auto* e = std::get_if<ImapParseError>(&more)) {
      EXPECT_EQ(e->text, "command too long");
      failed = true;
    } else {
      ASSERT_TRUE(std::holds_alternative<ImapNeedLiteral>(more));
    }
  }
  EXPECT_TRUE(failed);

  std::string many = "a FETCH 1 (";
  for (int i = 0; i < 25; ++i) many += "FLAGS ";
  many.back() = ')';
  EXPECT_EQ(MustFail(many, l).text, "too many arguments");
}

TEST(ImapCommand, ProtocolMisuse) {
  ImapCommandReader r(ImapLimits{});
  ASSERT_TRUE(std::holds_alternative<ImapNeedLiteral>(r.Feed("a LOGIN {3}")));
  // A line where the literal should be.
  ImapFeedResult res = r.Feed("abc");
  ASSERT_TRUE(std::holds_alternative<ImapParseError>(res));
  EXPECT_EQ(std::get<ImapParseError>(res).tag, "a");
  EXPECT_FALSE(r.in_command());
  // A literal of the wrong size.
  ASSERT_TRUE(std::holds_alternative<ImapNeedLiteral>(r.Feed("a LOGIN {3}")));
  EXPECT_TRUE(std::holds_alternative<ImapParseError>(r.FeedLiteral("abcd")));
  // A literal nobody asked for.
  EXPECT_TRUE(std::holds_alternative<ImapParseError>(r.FeedLiteral("x")));
  // Quoted strings: bad escape, unterminated, CR inside.
  MustFail("a LOGIN \"a\\b\" c");
  MustFail("a LOGIN \"abc");
  MustFail("a LOGIN \"a\rb\" c");
}

TEST(ImapCommand, Append) {
  ImapCommandReader r(ImapLimits{});
  ImapFeedResult res = r.Feed("a APPEND Drafts (\\Draft) \"17-Jul-1996 02:44:25 -0700\" {5}");
  ASSERT_TRUE(std::holds_alternative<ImapNeedLiteral>(res));
  EXPECT_EQ(std::get<ImapNeedLiteral>(res).name, "APPEND");
  r.FeedLiteral("Hi\r\n.");
  res = r.Feed("");
  ASSERT_TRUE(std::holds_alternative<ImapCommand>(res));
  const ImapCommand& c = std::get<ImapCommand>(res);
  EXPECT_EQ(c.args, (std::vector<std::string>{"Drafts"}));
  ASSERT_EQ(c.appends.size(), 1u);
  EXPECT_EQ(c.appends[0].message, "Hi\r\n.");
  EXPECT_EQ(c.appends[0].date, "17-Jul-1996 02:44:25 -0700");
  EXPECT_EQ(c.appends[0].flags, (std::vector<std::string>{"\\Draft"}));
}

// RFC 3502 MULTIAPPEND: several messages, each with its own flags and date.
TEST(ImapCommand, MultiAppend) {
  ImapCommandReader r(ImapLimits{});
  ASSERT_TRUE(std::holds_alternative<ImapNeedLiteral>(r.Feed("a APPEND INBOX {2+}")));
  ASSERT_TRUE(std::holds_alternative<ImapNeedLine>(r.FeedLiteral("m1")));
  ASSERT_TRUE(std::holds_alternative<ImapNeedLiteral>(
      r.Feed(" (\\Seen $X) \"1-Jan-2024 00:00:00 +0000\" {2}")));
  ASSERT_TRUE(std::holds_alternative<ImapNeedLine>(r.FeedLiteral("m2")));
  ASSERT_TRUE(std::holds_alternative<ImapNeedLiteral>(r.Feed(" () {2+}")));
  ASSERT_TRUE(std::holds_alternative<ImapNeedLine>(r.FeedLiteral("m3")));
  ImapFeedResult res = r.Feed("");
  ASSERT_TRUE(std::holds_alternative<ImapCommand>(res));
  const ImapCommand& c = std::get<ImapCommand>(res);
  ASSERT_EQ(c.appends.size(), 3u);
  EXPECT_EQ(c.appends[0].message, "m1");
  EXPECT_TRUE(c.appends[0].flags.empty());
  EXPECT_EQ(c.appends[1].flags, (std::vector<std::string>{"\\Seen", "$X"}));
  EXPECT_EQ(c.appends[1].date, "1-Jan-2024 00:00:00 +0000");
  EXPECT_EQ(c.appends[2].message, "m3");
  MustFail("a APPEND INBOX {1+}\r\nx (\\Seen)");
  MustFail("a APPEND INBOX {1+}\r\nx {1+}\r\n");
}

TEST(ImapCommand, Rfc7162Modifiers) {
  ImapCommand sel = MustParse("a SELECT INBOX (CONDSTORE)");
  EXPECT_TRUE(sel.condstore);
  EXPECT_FALSE(sel.qresync.has_value());
  ImapCommand q = MustParse("a EXAMINE box (QRESYNC (67890007 90060115194045000 41:211,214:541 "
                            "(1:4 41:44)) CONDSTORE)");
  EXPECT_TRUE(q.condstore);
  ASSERT_TRUE(q.qresync.has_value());
  EXPECT_EQ(q.qresync->uid_validity, 67890007u);
  EXPECT_EQ(q.qresync->modseq, 90060115194045000ull);
  ASSERT_TRUE(q.qresync->known_uids.has_value());
  EXPECT_TRUE(q.qresync->known_uids->Contains(300, 0));
  EXPECT_FALSE(q.qresync->known_uids->Contains(212, 0));
  ASSERT_TRUE(q.qresync->match_uids.has_value());
  EXPECT_TRUE(q.qresync->match_uids->Contains(42, 0));
  ImapCommand q2 = MustParse("a SELECT INBOX (QRESYNC (1 2 (1 5)))");
  EXPECT_FALSE(q2.qresync->known_uids.has_value());
  EXPECT_TRUE(q2.qresync->match_seqs.has_value());

  ImapCommand f = MustParse("a UID FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 12345 VANISHED)");
  ASSERT_EQ(f.fetch.size(), 2u);
  EXPECT_EQ(f.fetch[1].kind, FetchAtt::Kind::kModseq);
  EXPECT_EQ(f.changed_since, 12345u);
  EXPECT_TRUE(f.vanished);
  ImapCommand st = MustParse("a STORE 1:3 (UNCHANGEDSINCE 9223372036854775807) +FLAGS.SILENT \\Seen");
  EXPECT_EQ(st.unchanged_since, 9223372036854775807ull);
  EXPECT_TRUE(st.store_silent);
  EXPECT_EQ(st.store_op, StoreOp::kAdd);
  ImapCommand se = MustParse("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 UNSEEN");
  ASSERT_EQ(se.search.children.size(), 2u);
  EXPECT_EQ(se.search.children[0].kind, SearchKey::Kind::kModseq);
  EXPECT_EQ(se.search.children[0].number, 620162338u);

  EXPECT_EQ(MustFail("a SELECT INBOX (FOO)").text, "unknown or repeated select parameter FOO");
  EXPECT_EQ(MustFail("a SELECT INBOX (CONDSTORE CONDSTORE)").text,
            "unknown or repeated select parameter CONDSTORE");
  MustFail("a SELECT INBOX (QRESYNC (0 5))");
  MustFail("a SELECT INBOX (QRESYNC (1))");
  MustFail("a FETCH 1 FLAGS (CHANGEDSINCE)");
  MustFail("a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)");
  MustFail("a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)");
  MustFail("a STORE 1 (UNCHANGEDSINCE 5)+FLAGS \\Seen");
  MustFail("a STORE 1 (FOO 5) +FLAGS \\Seen");
  MustFail("a SEARCH MODSEQ");
}

TEST(ImapCommand, Sort) {
  ImapCommand c = MustParse("a UID SORT (REVERSE DATE subject) utf-8 UNSEEN SINCE 1-Feb-2024");
  EXPECT_EQ(c.name, "SORT");
  EXPECT_TRUE(c.uid);
  ASSERT_EQ(c.sort.size(), 2u);
  EXPECT_EQ(c.sort[0].key, SortCriterion::Key::kDate);
  EXPECT_TRUE(c.sort[0].reverse);
  EXPECT_EQ(c.sort[1].key, SortCriterion::Key::kSubject);
  EXPECT_FALSE(c.sort[1].reverse);
  EXPECT_EQ(c.charset, "UTF-8");
  EXPECT_EQ(c.search.children.size(), 2u);
  MustFail("a SORT (DATE) ALL");      // the charset is required
  MustFail("a SORT () UTF-8 ALL");
  MustFail("a SORT (REVERSE) UTF-8 ALL");
  MustFail("a SORT (DATE UTF-8 ALL");
}

TEST(ImapCommand, Binary) {
  ImapCommand c = MustParse("a FETCH 1 (BINARY[1.2]<0.10> BINARY.PEEK[] BINARY.SIZE[3])");
  ASSERT_EQ(c.fetch.size(), 3u);
  EXPECT_EQ(c.fetch[0].kind, FetchAtt::Kind::kBinary);
  EXPECT_EQ(c.fetch[0].section.part, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(c.fetch[0].partial_start, 0u);
  EXPECT_EQ(c.fetch[0].partial_length, 10u);
  EXPECT_TRUE(c.fetch[1].peek);
  EXPECT_TRUE(c.fetch[1].section.part.empty());
  EXPECT_EQ(c.fetch[2].kind, FetchAtt::Kind::kBinarySize);
  MustFail("a FETCH 1 BINARY[HEADER]");
  MustFail("a FETCH 1 BINARY.SIZE[1]<0.1>");
  MustFail("a FETCH 1 BINARY");
  MustFail("a LOGIN ~{1}\r\nx y");  // literal8 only in APPEND
}

TEST(ImapCommand, IsAtom) {
  EXPECT_TRUE(IsImapAtom("INBOX"));
  EXPECT_FALSE(IsImapAtom(""));
  EXPECT_FALSE(IsImapAtom("a b"));
  EXPECT_FALSE(IsImapAtom("a]"));
  EXPECT_FALSE(IsImapAtom("caf\xc3\xa9"));
}

}  // namespace
}  // namespace pullmail
