// What the PostgreSQL back end adds to the store contract (which
// *_contract_test.cc runs on it): several processes ("replicas") sharing one
// database. Each replica here is its own PgDb (its own connections), as two
// node processes would be.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/storage/pg_store.h"
#include "core/storage/storage_test_util.h"
#include "core/util/strings.h"

namespace pullmail {
namespace {

using ::pullmail::testing::PgTestSchema;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
constexpr char kAlice[] = "alice@r.example";

StoredNotification MakeNotification(const std::string& id) {
  StoredNotification n;
  n.signing_domain = "s.example";
  n.message_id = id;
  n.envelope_sender = "bob@s.example";
  n.signed_bytes = "signed";
  n.body_sha256 = std::string(32, 'h');
  n.body_size = 10;
  n.fetch_token = std::string(32, 't');
  n.created = n.received = kT0;
  n.expires = kT0 + absl::Hours(1);
  return n;
}

class PgReplicas : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!schema_.ok()) GTEST_SKIP() << schema_.skip_reason();
    for (int i = 0; i < 2; ++i) {
      auto db = OpenPgDb(schema_.url());  // the second open finds the schema made
      PM_ASSERT_OK(db);
      dbs_.push_back(*db);
    }
  }
  PgTestSchema schema_;
  std::vector<std::shared_ptr<PgDb>> dbs_;
};

TEST_F(PgReplicas, ConcurrentInsertsFromTwoReplicasGetDistinctUidsAndDedupe) {
  auto r1 = NewPgRecipientStore(dbs_[0]);
  auto r2 = NewPgRecipientStore(dbs_[1]);
  constexpr int kEach = 40;
  std::atomic<int> duplicates{0};
  // Both replicas take the same 40 notifications (a sender retried against
  // the other replica) plus 40 of their own.
  auto work = [&](RecipientStore* s, const std::string& own) {
    for (int i = 0; i < kEach; ++i) {
      for (const std::string& id : {absl::StrCat("shared-", i), absl::StrCat(own, i)}) {
        auto r = s->InsertNotification(MakeNotification(id), {kAlice}, EntryState::kShown, "");
        ASSERT_TRUE(r.ok()) << r.status();
        if (r->duplicate) ++duplicates;
      }
    }
  };
  std::thread t1(work, r1.get(), "one-");
  std::thread t2(work, r2.get(), "two-");
  t1.join();
  t2.join();
  EXPECT_EQ(duplicates.load(), kEach);
  auto entries = r1->ListEntries(kAlice, "INBOX", 0, 0);
  PM_ASSERT_OK(entries);
  ASSERT_EQ(entries->size(), size_t{3 * kEach});
  for (size_t i = 0; i < entries->size(); ++i) EXPECT_EQ((*entries)[i].uid, i + 1);
  EXPECT_EQ(r2->GetFolder(kAlice, "INBOX")->uid_next, uint32_t{3 * kEach + 1});
}

TEST_F(PgReplicas, AFlagSetOnOneReplicaIsSeenOnTheOtherAndNotified) {
  auto r1 = NewPgRecipientStore(dbs_[0]);
  auto r2 = NewPgRecipientStore(dbs_[1]);
  auto listener = PgChangeListener::Open(schema_.url());
  PM_ASSERT_OK(listener);
  PM_ASSERT_OK(r1->InsertNotification(MakeNotification("m1"), {kAlice}, EntryState::kShown, ""));
  PM_ASSERT_OK(r2->SetFlags(kAlice, "INBOX", {1}, FlagOp::kAdd, {"\\Seen"}));
  EXPECT_EQ(r1->GetEntry(kAlice, "INBOX", 1)->flags, std::vector<std::string>{"\\Seen"});
  EXPECT_EQ(r1->GetFolder(kAlice, "INBOX")->unseen, 0u);
  // Both changes were announced to every listener (in commit order).
  std::vector<std::string> users;
  for (int i = 0; i < 50 && users.size() < 2; ++i) {
    auto got = (*listener)->Wait(absl::Milliseconds(200));
    PM_ASSERT_OK(got);
    users.insert(users.end(), got->begin(), got->end());
  }
  EXPECT_EQ(users, (std::vector<std::string>{kAlice, kAlice}));
  // Nothing else is pending.
  EXPECT_TRUE((*listener)->Wait(absl::Milliseconds(50))->empty());
}

TEST_F(PgReplicas, TwoSenderReplicasNeverClaimTheSameDelivery) {
  auto s1 = NewPgSenderStore(dbs_[0]);
  auto s2 = NewPgSenderStore(dbs_[1]);
  constexpr int kMessages = 120;
  for (int i = 0; i < kMessages; ++i) {
    OutboundMessage m;
    m.message_id = absl::StrCat("m", i);
    m.sender = "bob@s.example";
    m.body_sha256 = std::string(32, 'b');
    m.body_size = 1;
    m.created = kT0;
    m.expires = kT0 + absl::Hours(1);
    Delivery d;
    d.message_id = m.message_id;
    d.domain = "r.example";
    d.next_attempt = kT0;
    PM_ASSERT_OK(s1->PutMessage(m, "x", {d}));
  }
  std::vector<std::string> got1, got2;
  auto work = [](SenderStore* s, std::vector<std::string>* got) {
    while (true) {
      auto c = s->ClaimDueDeliveries(kT0 + absl::Seconds(1), 7, absl::Minutes(5));
      ASSERT_TRUE(c.ok()) << c.status();
      if (c->empty()) break;
      for (const Delivery& d : *c) got->push_back(d.message_id);
    }
  };
  std::thread t1(work, s1.get(), &got1);
  std::thread t2(work, s2.get(), &got2);
  t1.join();
  t2.join();
  std::set<std::string> all(got1.begin(), got1.end());
  for (const std::string& id : got2) EXPECT_TRUE(all.insert(id).second) << id << " claimed twice";
  EXPECT_EQ(all.size(), size_t{kMessages});
  EXPECT_EQ(got1.size() + got2.size(), size_t{kMessages});
}

TEST_F(PgReplicas, TwoReplicasShareOnePolicyStateAndTakeTurns) {
  // Each report's update adds one to the stored count: two replicas
  // reporting at once must see each other's counts (the row lock), so the
  // final count is every report, and each report's record went with it.
  auto r1 = NewPgRecipientStore(dbs_[0]);
  auto r2 = NewPgRecipientStore(dbs_[1]);
  auto n = r1->InsertNotification(MakeNotification("spam"), {kAlice}, EntryState::kShown, "");
  PM_ASSERT_OK(n);
  constexpr int kEach = 30;
  auto count = [](std::string_view old) -> absl::StatusOr<std::string> {
    int v = 0;
    if (!old.empty() && !absl::SimpleAtoi(AV(old), &v)) return absl::InternalError("bad state");
    return absl::StrCat(v + 1);
  };
  auto work = [&](RecipientStore* s, const std::string& who) {
    for (int i = 0; i < kEach; ++i) {
      auto fresh = s->RecordReportWithPolicy(absl::StrCat(who, i, "@r.example"),
                                             n->notification_id, 1, kT0, count);
      ASSERT_TRUE(fresh.ok() && *fresh) << fresh.status();
      // A peer report through the other path, too.
      PeerReport pr{"p.example", absl::StrCat(who, i), std::string(32, 'h'), 1, 1, kT0};
      fresh = s->RecordPeerReportWithPolicy(pr, count);
      ASSERT_TRUE(fresh.ok() && *fresh) << fresh.status();
    }
  };
  std::thread t1(work, r1.get(), "one-");
  std::thread t2(work, r2.get(), "two-");
  t1.join();
  t2.join();
  EXPECT_EQ(*r1->GetPolicyState(), absl::StrCat(4 * kEach));
  EXPECT_EQ(*r2->GetPolicyState(), absl::StrCat(4 * kEach));
  EXPECT_EQ(r2->ReportsForBodyHash(std::string(32, 'h'))->size(), size_t{2 * kEach});
  EXPECT_EQ(r1->PeerReportsForBodyHash(std::string(32, 'h'))->size(), size_t{2 * kEach});
}

TEST(PgStore, UnreachableServerIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  auto db = OpenPgDb("postgresql://pm@127.0.0.1:1/postgres?connect_timeout=2");
  EXPECT_EQ(db.status().code(), absl::StatusCode::kUnavailable) << db.status();
  EXPECT_TRUE(IsPostgresUrl("postgresql://x@h/db"));
  EXPECT_TRUE(IsPostgresUrl("postgres://h"));
  EXPECT_FALSE(IsPostgresUrl("/var/lib/pullmail/recipient.db"));
}

}  // namespace
}  // namespace pullmail
