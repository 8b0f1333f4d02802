#include "core/logic/mailbox_rules.h"

#include "gtest/gtest.h"

namespace pullmail {
namespace {

CopyFacts Copy(EntryState s, bool seen = false, bool junk = false, bool local = false) {
  CopyFacts c;
  c.state = s;
  c.seen = seen;
  c.in_junk = junk;
  c.local = local;
  return c;
}

TEST(MailboxRulesTest, CopyOfReadsSeenCaseInsensitivelyAndTheJunkFolder) {
  MailboxEntry e;
  e.folder = "Junk";
  e.flags = {"\\SEEN"};
  e.state = EntryState::kSuppressed;
  CopyFacts c = CopyOf(e, /*local=*/true);
  EXPECT_TRUE(c.seen);
  EXPECT_TRUE(c.in_junk);
  EXPECT_TRUE(c.local);
  EXPECT_EQ(c.state, EntryState::kSuppressed);
  e.folder = "INBOX";
  e.flags = {"\\Flagged"};
  c = CopyOf(e, false);
  EXPECT_FALSE(c.seen);
  EXPECT_FALSE(c.in_junk);
}

TEST(MailboxRulesTest, PlacementFollowsTheDecision) {
  Decision d;
  d.visibility = Visibility::kShown;
  Placement p = PlacementFor(d);
  EXPECT_EQ(p.folder, "INBOX");
  EXPECT_EQ(p.state, EntryState::kShown);
  EXPECT_EQ(p.reason, "");
  d.visibility = Visibility::kHeld;
  d.rule = "new_domain";
  d.explanation = "first mail";
  p = PlacementFor(d);
  EXPECT_EQ(p.folder, "INBOX");
  EXPECT_EQ(p.state, EntryState::kHeld);
  EXPECT_EQ(p.reason, "new_domain: first mail");
  d.visibility = Visibility::kSuppressed;
  p = PlacementFor(d);
  EXPECT_EQ(p.folder, "Junk");
  EXPECT_EQ(p.state, EntryState::kSuppressed);
}

TEST(MailboxRulesTest, SuppressionMovesOnlyUnreadIncomingCopiesOutsideJunk) {
  EXPECT_TRUE(SuppressionMoves(Copy(EntryState::kShown)));
  EXPECT_TRUE(SuppressionMoves(Copy(EntryState::kHeld)));  // held copies too
  EXPECT_FALSE(SuppressionMoves(Copy(EntryState::kShown, /*seen=*/true)));
  EXPECT_FALSE(SuppressionMoves(Copy(EntryState::kSuppressed, false, /*junk=*/true)));
  EXPECT_FALSE(SuppressionMoves(Copy(EntryState::kRevoked)));
  EXPECT_FALSE(SuppressionMoves(Copy(EntryState::kShown, false, false, /*local=*/true)));
}

TEST(MailboxRulesTest, SuppressionRepairMovesOnlyShownUnreadCopiesOfASuppressedBody) {
  EXPECT_TRUE(SuppressionRepairMoves(Copy(EntryState::kShown), /*body_suppressed=*/true));
  EXPECT_FALSE(SuppressionRepairMoves(Copy(EntryState::kShown), /*body_suppressed=*/false));
  EXPECT_FALSE(SuppressionRepairMoves(Copy(EntryState::kShown, /*seen=*/true), true));
  // Held copies are the held review's (ReviewHeld suppresses them itself).
  EXPECT_FALSE(SuppressionRepairMoves(Copy(EntryState::kHeld), true));
  // Moved back out of Junk by its user: stays.
  EXPECT_FALSE(SuppressionRepairMoves(Copy(EntryState::kSuppressed), true));
  EXPECT_FALSE(SuppressionRepairMoves(Copy(EntryState::kRevoked), true));
  EXPECT_FALSE(SuppressionRepairMoves(Copy(EntryState::kShown, false, false, /*local=*/true), true));
}

TEST(MailboxRulesTest, RevocationHidesUnreadCopiesOnce) {
  EXPECT_TRUE(RevocationHides(Copy(EntryState::kShown)));
  EXPECT_TRUE(RevocationHides(Copy(EntryState::kHeld)));
  EXPECT_TRUE(RevocationHides(Copy(EntryState::kSuppressed, false, true)));
  EXPECT_FALSE(RevocationHides(Copy(EntryState::kShown, /*seen=*/true)));
  EXPECT_FALSE(RevocationHides(Copy(EntryState::kRevoked)));  // a replay hides nothing
  EXPECT_FALSE(RevocationHides(Copy(EntryState::kShown, false, false, /*local=*/true)));
}

TEST(MailboxRulesTest, OnlyAnUnreadIncomingCopysReadMayCount) {
  EXPECT_TRUE(ReadMayCount(Copy(EntryState::kShown)));
  EXPECT_TRUE(ReadMayCount(Copy(EntryState::kSuppressed, false, true)));  // read in Junk
  EXPECT_FALSE(ReadMayCount(Copy(EntryState::kShown, /*seen=*/true)));
  EXPECT_FALSE(ReadMayCount(Copy(EntryState::kShown, false, false, /*local=*/true)));
}

TEST(MailboxRulesTest, HeldAndRevokedCopiesAreInvisible) {
  EXPECT_TRUE(VisibleToUser(EntryState::kShown));
  EXPECT_TRUE(VisibleToUser(EntryState::kSuppressed));
  EXPECT_FALSE(VisibleToUser(EntryState::kHeld));
  EXPECT_FALSE(VisibleToUser(EntryState::kRevoked));
}

TEST(MailboxRulesTest, TheReportersCopyGoesWhereTheVerdictSays) {
  auto p = OwnCopyAfterVerdict("INBOX", /*spam=*/true, /*local=*/false);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->folder, "Junk");
  EXPECT_EQ(p->state, EntryState::kSuppressed);
  EXPECT_EQ(p->reason, "you reported it as spam");
  EXPECT_EQ(OwnCopyAfterVerdict("Archive", true, true)->reason, "you marked it as spam");
  EXPECT_FALSE(OwnCopyAfterVerdict("Junk", true, false).has_value());
  p = OwnCopyAfterVerdict("Junk", /*spam=*/false, false);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->folder, "INBOX");
  EXPECT_EQ(p->state, EntryState::kShown);
  EXPECT_FALSE(OwnCopyAfterVerdict("INBOX", false, false).has_value());
}

TEST(MailboxRulesTest, PrefetchPinsShownUnreadCopiesNearExpiryOnly) {
  const absl::Time now = absl::FromUnixSeconds(1'000'000);
  const absl::Duration margin = absl::Hours(24);
  const absl::Time soon = now + absl::Hours(2);
  EXPECT_TRUE(ShouldPrefetch(Copy(EntryState::kShown), false, soon, now, margin, false));
  // Not yet within the margin, already expired, or cached: no.
  EXPECT_FALSE(ShouldPrefetch(Copy(EntryState::kShown), false, now + absl::Hours(25), now,
                              margin, false));
  EXPECT_FALSE(ShouldPrefetch(Copy(EntryState::kShown), false, now, now, margin, false));
  EXPECT_FALSE(ShouldPrefetch(Copy(EntryState::kShown), false, soon, now, margin, true));
  // Held copies are not fetched before their user may see them; read,
  // revoked and local copies need no pin.
  EXPECT_FALSE(ShouldPrefetch(Copy(EntryState::kHeld), false, soon, now, margin, false));
  EXPECT_FALSE(ShouldPrefetch(Copy(EntryState::kShown, true), false, soon, now, margin, false));
  EXPECT_FALSE(ShouldPrefetch(Copy(EntryState::kShown), true, soon, now, margin, false));
  EXPECT_FALSE(
      ShouldPrefetch(Copy(EntryState::kShown, false, false, true), false, soon, now, margin, false));
  EXPECT_FALSE(ShouldPrefetch(Copy(EntryState::kSuppressed, false, true), false, soon, now,
                              margin, false));
}

TEST(MailboxRulesTest, AReportGoesToTrustedPeersAndTheSignersNode) {
  std::map<std::string, double> peers = {{"a.example", 1}, {"here.example", 1}, {"b.example", 0.5}};
  ReportFanOut f = FanOutReport(peers, "here.example", "spam.example");
  EXPECT_EQ(f.peers, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(f.abuse_domain, "spam.example");
  EXPECT_EQ(FanOutReport({}, "here.example", "here.example").abuse_domain, "");
}

}  // namespace
}  // namespace pullmail
