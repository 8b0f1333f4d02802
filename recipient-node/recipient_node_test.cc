// What stays in the recipient node around core's rules: storing accepted
// notifications, moving copies when core says so (suppression, revocation,
// held-copy release, the reporter's own copy) and refusing what a user may
// not see. Memory stores and a fake clock; no network (nothing here fetches).
#include "recipient-node/recipient_node.h"

#include <filesystem>
#include <thread>

#include "core/crypto/sha256.h"
#include "core/directory/memory_directory.h"
#include "core/envelope/envelope.h"
#include "core/logic/body_cache_key.h"
#include "core/logic/submission.h"
#include "core/storage/memory_store.h"
#include "core/storage/sqlite_db.h"
#include "core/storage/sqlite_store.h"
#include "core/util/clock.h"
#include "gtest/gtest.h"
#include "recipient-node/policy_state.h"

namespace pullmail {
namespace {

constexpr char kHere[] = "here.example";
constexpr char kGood[] = "good.example";
constexpr char kBad[] = "bad.example";

class RecipientNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("rn-" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    std::filesystem::create_directories(dir_);
    for (const char* d : {kHere, kGood, kBad}) {
      keys_[d] = std::make_unique<SigningKey>(*SigningKey::FromSeed(Sha256(d)));
      DomainEntry e;
      e.domain = d;
      e.recipient_endpoint = "127.0.0.1:1";
      e.sender_endpoint = "127.0.0.1:1";
      e.keys["k1"] = keys_[d]->PublicKey();
      directory_.Add(e);
    }
  }
  void TearDown() override {
    node_.reset();
    std::filesystem::remove_all(dir_);
  }

  // `store`: the node's store (a memory store if none).
  void Open(PolicyConfig policy, std::unique_ptr<RecipientStore> store = nullptr) {
    RecipientNode::Parts parts;
    parts.config.domain = kHere;
    parts.config.data_dir = dir_.string();
    parts.config.key_id = "k1";
    parts.base.users = NewMemoryUserStore();
    for (const char* u : {"ann", "bob", "cid"}) {
      ASSERT_TRUE(parts.base.users->AddUser(User{std::string(u) + "@" + kHere, "x", clock_.Now()})
                      .ok());
    }
    auto dir = std::make_unique<MemoryDirectory>();
    for (const DomainEntry& e : directory_.All()) dir->Add(e);
    parts.base.directory = std::move(dir);
    parts.base.key = std::make_unique<SigningKey>(*SigningKey::FromSeed(Sha256(kHere)));
    parts.store = store ? std::move(store) : NewMemoryRecipientStore();
    parts.clock = &clock_;
    parts.policy = std::move(policy);
    auto node = RecipientNode::FromParts(std::move(parts));
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = *std::move(node);
  }

  // A signed notification of `body` from `from` to the given users here.
  v1::SignedNotification Notification(const std::string& from, const std::string& id,
                                      const std::string& body,
                                      const std::vector<std::string>& users) {
    OutboundMessage m;
    m.message_id = id + "@" + from;
    m.sender = "someone@" + from;
    m.created = clock_.Now();
    m.expires = clock_.Now() + absl::Hours(24 * 7);
    m.body_size = body.size();
    m.body_sha256 = Sha256(body);
    Delivery d;
    d.domain = kHere;
    for (const std::string& u : users) d.recipients.push_back(u + "@" + kHere);
    d.fetch_token = std::string(32, 't');
    v1::HeaderSummary summary;
    summary.set_subject("hello");
    v1::Notification n = MakeNotification(m, d, summary, "127.0.0.1:1", v1::ORIGIN_NATIVE);
    auto signed_n = SignNotification(n, from, "k1", *keys_[from]);
    EXPECT_TRUE(signed_n.ok()) << signed_n.status();
    return *signed_n;
  }

  void Deliver(const v1::SignedNotification& n) {
    std::vector<v1::NotifyResult> r = node_->AcceptBatch({n});
    ASSERT_EQ(r.size(), 1u);
    ASSERT_EQ(r[0].code(), 0) << r[0].reason() << ": " << r[0].detail();
  }

  std::vector<v1::MessageInfo> List(const std::string& user, const std::string& folder) {
    v1::ListMessagesRequest req;
    req.set_folder(folder);
    auto r = node_->ListMessages(user + "@" + kHere, req);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    return {r->messages().begin(), r->messages().end()};
  }

  void MarkRead(const std::string& user, uint32_t uid) {
    v1::SetFlagsRequest req;
    req.add_uids(uid);
    req.set_op(v1::FLAG_OP_ADD);
    req.add_flags("\\Seen");
    ASSERT_TRUE(node_->SetFlags(user + "@" + kHere, req).ok());
  }

  absl::StatusOr<v1::ReportResponse> ReportSpam(const std::string& user, uint32_t uid,
                                                const std::string& folder = "INBOX") {
    v1::ReportRequest req;
    req.set_uid(uid);
    req.set_folder(folder);
    req.set_verdict(v1::VERDICT_SPAM);
    return node_->Report(user + "@" + kHere, req);
  }

  static PolicyConfig Open2() {
    PolicyConfig p;
    p.spam_threshold_k = 2;
    p.hold_new_domains = false;
    p.hold_bad_domains = false;
    return p;
  }

  std::filesystem::path dir_;
  FakeClock clock_;
  MemoryDirectory directory_;
  std::map<std::string, std::unique_ptr<SigningKey>> keys_;
  std::unique_ptr<RecipientNode> node_;
};

// The committer looks duplicates and users up once per commit group (one
// read of the store, each address once): every notification still gets its
// own answer, in order, as if each had come alone.
TEST_F(RecipientNodeTest, OneCommitGroupAnswersEachNotificationOnItsOwn) {
  Open(Open2());
  v1::SignedNotification earlier = Notification(kGood, "m0", "body 0", {"ann"});
  Deliver(earlier);
  v1::SignedNotification fresh = Notification(kGood, "m1", "body 1", {"ann", "bob"});
  v1::SignedNotification partly = Notification(kGood, "m2", "body 2", {"nobody", "cid"});
  v1::SignedNotification unknown = Notification(kGood, "m3", "body 3", {"nobody"});
  v1::SignedNotification forged = Notification(kGood, "m4", "body 4", {"ann"});
  forged.mutable_signature()->at(0) ^= 1;
  // A batch of three under one signature; the middle one's proof is bent.
  std::vector<v1::SignedNotification> singles = {Notification(kBad, "b0", "b0", {"ann"}),
                                                 Notification(kBad, "b1", "b1", {"ann"}),
                                                 Notification(kBad, "b2", "b2", {"ann"})};
  auto batch = BatchSign(singles, "k1", *keys_[kBad]);
  ASSERT_TRUE(batch.ok()) << batch.status();
  (*batch)[1].mutable_batch()->mutable_path(0)->at(0) ^= 1;

  std::vector<v1::NotifyResult> r = node_->AcceptBatch(
      {fresh, earlier, partly, fresh, unknown, forged, (*batch)[0], (*batch)[1], (*batch)[2]});
  ASSERT_EQ(r.size(), 9u);
  EXPECT_EQ(r[0].code(), 0);
  EXPECT_FALSE(r[0].duplicate());
  EXPECT_EQ(r[1].code(), 0);  // stored before this group
  EXPECT_TRUE(r[1].duplicate());
  EXPECT_EQ(r[2].code(), 0);  // cid only
  EXPECT_FALSE(r[2].duplicate());
  EXPECT_EQ(r[3].code(), 0);  // the same as r[0], in the same group: stored once
  EXPECT_TRUE(r[3].duplicate());
  EXPECT_EQ(r[4].reason(), "no_such_user");
  EXPECT_EQ(r[5].reason(), "bad_signature");
  EXPECT_EQ(r[6].code(), 0);
  EXPECT_EQ(r[7].reason(), "bad_signature");  // a bent path leads to another root
  EXPECT_EQ(r[8].code(), 0);
  for (size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i].sequence(), i);

  // ann: m0, m1, b0, b2 in order, with consecutive UIDs; bob: m1; cid: m2.
  std::vector<v1::MessageInfo> ann = List("ann", "INBOX");
  ASSERT_EQ(ann.size(), 4u);
  EXPECT_EQ(ann[1].message_id(), "m1@good.example");
  EXPECT_EQ(ann[2].message_id(), "b0@bad.example");
  EXPECT_EQ(ann[3].message_id(), "b2@bad.example");
  for (size_t i = 1; i < ann.size(); ++i) EXPECT_EQ(ann[i].uid(), ann[i - 1].uid() + 1);
  EXPECT_EQ(List("bob", "INBOX").size(), 1u);
  ASSERT_EQ(List("cid", "INBOX").size(), 1u);
  EXPECT_EQ(List("cid", "INBOX")[0].message_id(), "m2@good.example");

  // A retry of the whole group later: every stored one is a duplicate, the
  // others are refused again for the same reasons.
  r = node_->AcceptBatch({fresh, partly, unknown, (*batch)[1], (*batch)[2]});
  ASSERT_EQ(r.size(), 5u);
  EXPECT_TRUE(r[0].duplicate());
  EXPECT_TRUE(r[1].duplicate());
  EXPECT_EQ(r[2].reason(), "no_such_user");
  EXPECT_EQ(r[3].reason(), "bad_signature");
  EXPECT_TRUE(r[4].duplicate());
  EXPECT_EQ(List("ann", "INBOX").size(), 4u);
}

TEST_F(RecipientNodeTest, ReportsReachingTheThresholdMoveOnlyUnreadCopiesToJunk) {
  Open(Open2());
  Deliver(Notification(kBad, "m1", "buy now", {"ann", "bob", "cid"}));
  ASSERT_EQ(List("ann", "INBOX").size(), 1u);
  const uint32_t uid = List("ann", "INBOX")[0].uid();
  MarkRead("cid", uid);  // cid read it before anyone complained

  auto r1 = ReportSpam("ann", uid);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_EQ(r1->suppressed(), 0u);
  // The reporter's own copy went to Junk at once, counted or not.
  EXPECT_TRUE(List("ann", "INBOX").empty());
  EXPECT_EQ(List("ann", "Junk").size(), 1u);
  EXPECT_EQ(List("bob", "INBOX").size(), 1u);

  // The second report reaches k = 2: bob's unread copy moves, cid's read one
  // stays; ann's copy, already in Junk, is not counted again.
  ASSERT_TRUE(ReportSpam("bob", uid).ok());
  EXPECT_TRUE(List("bob", "INBOX").empty());
  ASSERT_EQ(List("bob", "Junk").size(), 1u);
  EXPECT_EQ(List("cid", "INBOX").size(), 1u);
  EXPECT_TRUE(List("cid", "Junk").empty());

  // A later copy of the same body goes straight to Junk.
  Deliver(Notification(kBad, "m2", "buy now", {"cid"}));
  EXPECT_EQ(List("cid", "Junk").size(), 1u);
}

TEST_F(RecipientNodeTest, TheMaintenancePassMovesShownCopiesOfASuppressedBodyTheMovesMissed) {
  Open(Open2());
  Deliver(Notification(kBad, "m1", "buy now", {"ann", "bob", "cid"}));
  const uint32_t uid = List("ann", "INBOX")[0].uid();
  ASSERT_TRUE(ReportSpam("ann", uid).ok());
  ASSERT_TRUE(ReportSpam("bob", uid).ok());  // k = 2: cid's unread copy moves
  ASSERT_TRUE(List("cid", "INBOX").empty());
  // As if the node had been killed between the second report's commit and
  // its moves: cid's copy is still shown in INBOX.
  const uint32_t junk_uid = List("cid", "Junk")[0].uid();
  ASSERT_TRUE(node_->store()
                  .MoveEntry("cid@" + std::string(kHere), "Junk", junk_uid, "INBOX",
                             EntryState::kShown, "")
                  .ok());
  ASSERT_EQ(List("cid", "INBOX").size(), 1u);
  node_->Maintain();
  EXPECT_TRUE(List("cid", "INBOX").empty());
  ASSERT_EQ(List("cid", "Junk").size(), 1u);

  // A copy its user moves back out of Junk stays where the user put it.
  auto moved = node_->store().CopyEntries("cid@" + std::string(kHere), "Junk",
                                          {List("cid", "Junk")[0].uid()}, "INBOX", /*move=*/true);
  ASSERT_TRUE(moved.ok()) << moved.status();
  node_->Maintain();
  EXPECT_EQ(List("cid", "INBOX").size(), 1u);
}

TEST_F(RecipientNodeTest, AReportCountsOncePerReader) {
  Open(Open2());
  Deliver(Notification(kBad, "m1", "buy now", {"ann", "bob"}));
  const uint32_t uid = List("ann", "INBOX")[0].uid();
  ASSERT_TRUE(ReportSpam("ann", uid).ok());
  const uint32_t junk_uid = List("ann", "Junk")[0].uid();
  auto again = ReportSpam("ann", junk_uid, "Junk");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->explanation(), "you had already reported this message; counted once");
  EXPECT_EQ(List("bob", "INBOX").size(), 1u);  // still below k = 2
}

TEST_F(RecipientNodeTest, RevocationHidesUnreadCopiesAndAReplayHidesNothing) {
  Open(Open2());
  Deliver(Notification(kGood, "m1", "hello", {"ann", "bob"}));
  MarkRead("ann", List("ann", "INBOX")[0].uid());
  v1::Revocation rev;
  rev.set_version(1);
  rev.set_message_id(std::string("m1@") + kGood);
  rev.set_signing_domain(kGood);
  rev.set_revoked_unix_ms(absl::ToUnixMillis(clock_.Now()));
  rev.set_reason("sent by mistake");
  auto signed_rev = SignRevocation(rev, kGood, "k1", *keys_[kGood]);
  ASSERT_TRUE(signed_rev.ok());
  auto hidden = node_->ApplyRevocation(*signed_rev);
  ASSERT_TRUE(hidden.ok()) << hidden.status();
  EXPECT_EQ(*hidden, 1u);
  EXPECT_EQ(List("ann", "INBOX").size(), 1u);  // read: kept
  EXPECT_TRUE(List("bob", "INBOX").empty());    // unread: hidden
  EXPECT_EQ(*node_->ApplyRevocation(*signed_rev), 0u);
  // A hidden copy cannot be reported either.
  v1::ReportRequest req;
  req.set_uid(1);
  req.set_verdict(v1::VERDICT_SPAM);
  EXPECT_TRUE(absl::IsNotFound(node_->Report(std::string("bob@") + kHere, req).status()));
}

// ReadSet's lookups: a set's messages found at once with whether each body
// is cached; a cached one is read (ReadPrepared) by Read's rules without a
// lookup of its own, and what a user may not see is NotFound, as for Read.
TEST_F(RecipientNodeTest, PreparedReadsFindASetAtOnceAndReadByReadsRules) {
  Open(Open2());
  for (const char* id : {"m1", "m2", "m3"}) {
    Deliver(Notification(kGood, id, std::string("body of ") + id, {"ann", "bob"}));
  }
  const std::string ann = std::string("ann@") + kHere;
  // m2's body is cached (under the key Read uses); m1 and m3 are not.
  auto n2 = node_->store().FindNotification(kGood, std::string("m2@") + kGood);
  ASSERT_TRUE(n2.ok()) << n2.status();
  ASSERT_TRUE(node_->store().PutBody(BodyCacheKey(*n2), "body of m2").ok());
  // m3 is hidden from ann (revoked while unread).
  v1::Revocation rev;
  rev.set_version(1);
  rev.set_message_id(std::string("m3@") + kGood);
  rev.set_signing_domain(kGood);
  rev.set_revoked_unix_ms(absl::ToUnixMillis(clock_.Now()));
  auto signed_rev = SignRevocation(rev, kGood, "k1", *keys_[kGood]);
  ASSERT_TRUE(signed_rev.ok());
  ASSERT_TRUE(node_->ApplyRevocation(*signed_rev).ok());

  auto prepared = node_->PrepareReads(ann, "INBOX", {2, 1, 3, 9, 2});
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  ASSERT_EQ(prepared->size(), 5u);
  const auto& p = *prepared;
  EXPECT_TRUE(p[0].status.ok());
  EXPECT_TRUE(p[0].cached);
  EXPECT_EQ(p[0].entry.uid, 2u);
  EXPECT_EQ(p[0].notification.message_id, std::string("m2@") + kGood);
  EXPECT_TRUE(p[1].status.ok());
  EXPECT_FALSE(p[1].cached);
  EXPECT_TRUE(absl::IsNotFound(p[2].status)) << p[2].status;  // hidden
  EXPECT_TRUE(absl::IsNotFound(p[3].status)) << p[3].status;  // never given
  EXPECT_TRUE(p[4].cached);
  EXPECT_TRUE(absl::IsNotFound(node_->PrepareReads(ann, "Nope", {1}).status()));

  // Read's rules: peek leaves \Seen alone, a read sets it.
  auto peeked = node_->ReadPrepared(ann, "INBOX", p[0], /*peek=*/true);
  ASSERT_TRUE(peeked.ok()) << peeked.status();
  EXPECT_TRUE(peeked->from_cache);
  EXPECT_EQ(peeked->stored_size, 10u);
  EXPECT_EQ(peeked->body_key, BodyCacheKey(*n2));
  EXPECT_EQ(peeked->info.flags_size(), 0);
  v1::ReadRequest one;
  one.set_uid(2);
  one.set_peek(true);
  auto by_read = node_->Read(ann, one);
  ASSERT_TRUE(by_read.ok()) << by_read.status();
  EXPECT_EQ(by_read->info.SerializeAsString(), peeked->info.SerializeAsString());
  EXPECT_EQ(by_read->prefix, peeked->prefix);
  // Brief (ReadSetRequest.brief_info): the same bytes to serve and the
  // fields a FETCH of them needs, without the summary and the rest.
  auto brief = node_->ReadPrepared(ann, "INBOX", p[0], /*peek=*/true, /*brief=*/true);
  ASSERT_TRUE(brief.ok()) << brief.status();
  EXPECT_EQ(brief->prefix, peeked->prefix);
  EXPECT_EQ(brief->stored_size, peeked->stored_size);
  EXPECT_EQ(brief->body_key, peeked->body_key);
  v1::MessageInfo want;
  want.set_uid(peeked->info.uid());
  want.set_body_size(peeked->info.body_size());
  want.set_sent_size(peeked->info.sent_size());
  *want.mutable_flags() = peeked->info.flags();
  want.set_modseq(peeked->info.modseq());
  EXPECT_EQ(brief->info.SerializeAsString(), want.SerializeAsString());
  EXPECT_FALSE(peeked->prefix.empty());
  EXPECT_EQ(brief->info.body_size(), 10u + brief->prefix.size());
  auto read = node_->ReadPrepared(ann, "INBOX", p[0], /*peek=*/false);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->info.flags_size(), 1);
  EXPECT_EQ(read->info.flags(0), "\\Seen");
  EXPECT_EQ(List("ann", "INBOX")[1].flags(0), "\\Seen");
  EXPECT_TRUE(List("bob", "INBOX")[1].flags().empty());
  EXPECT_TRUE(absl::IsNotFound(node_->ReadPrepared(ann, "INBOX", p[2], true).status()));
}

// With the SQLite store a set's lookups bring each small cached body's
// bytes and the user's read mark along (no statement per message when it
// streams); a big body is left to the slices, and a read mark found missing
// that a pass writes meanwhile still counts the read once.
TEST_F(RecipientNodeTest, PreparedReadsBringSmallBodiesAndReadMarksAlong) {
  auto db = OpenSqliteDb((dir_ / "node.db").string());
  ASSERT_TRUE(db.ok()) << db.status();
  Open(Open2(), NewSqliteRecipientStore(*db));
  const std::string small = "body of m1", big(RecipientNode::kPreparedBodyBytes + 1, 'b');
  Deliver(Notification(kGood, "m1", small, {"ann"}));
  Deliver(Notification(kGood, "m2", big, {"ann"}));
  Deliver(Notification(kGood, "m3", "body of m3", {"ann"}));
  for (const auto& [id, body] : {std::pair<std::string, std::string>{"m1", small}, {"m2", big}}) {
    auto n = node_->store().FindNotification(kGood, id + "@" + kGood);
    ASSERT_TRUE(n.ok()) << n.status();
    ASSERT_TRUE(node_->store().PutBody(BodyCacheKey(*n), body).ok());
  }
  const std::string ann = std::string("ann@") + kHere;
  auto prepared = node_->PrepareReads(ann, "INBOX", {1, 2, 3});
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  const auto& p = *prepared;
  ASSERT_TRUE(p[0].cached && p[1].cached && !p[2].cached);
  ASSERT_TRUE(p[0].body.has_value());
  EXPECT_EQ(*p[0].body, small);
  EXPECT_FALSE(p[1].body.has_value());  // above kPreparedBodyBytes: read in slices
  EXPECT_FALSE(p[2].body.has_value());
  for (const auto& r : p) EXPECT_EQ(r.read_counted, std::optional<bool>(false));

  auto stored_reads = [&] {
    node_->Maintain();  // the pending reads and their marks reach the store
    auto text = node_->store().GetPolicyState();
    auto snapshot = ParsePolicySnapshot(text.ok() ? *text : "", "test");
    double reads = -1;
    for (const PolicySnapshot::Domain& d : snapshot.ok() ? snapshot->domains
                                                         : std::vector<PolicySnapshot::Domain>{}) {
      if (d.domain == kGood) reads = d.reads;
    }
    return reads;
  };
  ASSERT_TRUE(node_->ReadPrepared(ann, "INBOX", p[0], /*peek=*/true).ok());
  EXPECT_EQ(stored_reads(), 1);
  // The lookup before the pass said "not counted": read by it now, after
  // the pass marked it, the read still counts once.
  ASSERT_TRUE(node_->ReadPrepared(ann, "INBOX", p[0], /*peek=*/true).ok());
  EXPECT_EQ(stored_reads(), 1);
  auto again = node_->PrepareReads(ann, "INBOX", {1});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].read_counted, std::optional<bool>(true));
  ASSERT_TRUE(node_->ReadPrepared(ann, "INBOX", (*again)[0], /*peek=*/true).ok());
  EXPECT_EQ(stored_reads(), 1);
}

// ListMessagesRequest.changed_since: only the messages whose modseq went
// up (a flag change, new mail), what left in `vanished`, counts of the whole
// folder; the gateway's IMAP refresh brings its listing up to date with it.
TEST_F(RecipientNodeTest, ListingChangedSinceHasOnlyTheChangesAndWholeCounts) {
  Open(Open2());
  for (const char* id : {"m1", "m2", "m3"}) Deliver(Notification(kGood, id, id, {"ann"}));
  v1::ListMessagesRequest whole;
  auto before = node_->ListMessages(std::string("ann@") + kHere, whole);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->messages_size(), 3);
  EXPECT_FALSE(before->changed_only());
  const uint64_t since = before->folder().highest_modseq();

  MarkRead("ann", before->messages(1).uid());
  v1::SetFlagsRequest del;
  del.add_uids(before->messages(0).uid());
  del.set_op(v1::FLAG_OP_ADD);
  del.add_flags("\\Deleted");
  ASSERT_TRUE(node_->SetFlags(std::string("ann@") + kHere, del).ok());
  ASSERT_TRUE(node_->Expunge(std::string("ann@") + kHere, v1::ExpungeRequest()).ok());
  Deliver(Notification(kGood, "m4", "m4", {"ann"}));

  v1::ListMessagesRequest req;
  req.set_changed_since(since);
  req.set_vanished_since(since);
  auto delta = node_->ListMessages(std::string("ann@") + kHere, req);
  ASSERT_TRUE(delta.ok()) << delta.status();
  EXPECT_TRUE(delta->changed_only());
  ASSERT_EQ(delta->messages_size(), 2);
  EXPECT_EQ(delta->messages(0).uid(), before->messages(1).uid());  // \Seen now
  EXPECT_GT(delta->messages(1).uid(), before->messages(2).uid());  // m4, new
  ASSERT_EQ(delta->vanished_size(), 1);
  EXPECT_EQ(delta->vanished(0), before->messages(0).uid());
  EXPECT_EQ(delta->folder().messages(), 3u);
  EXPECT_EQ(delta->folder().unseen(), 2u);
  EXPECT_GT(delta->folder().highest_modseq(), since);
}

TEST_F(RecipientNodeTest, AnotherDomainCannotRevokeAMessage) {
  Open(Open2());
  Deliver(Notification(kGood, "m1", "hello", {"bob"}));
  v1::Revocation rev;
  rev.set_version(1);
  rev.set_message_id(std::string("m1@") + kGood);
  rev.set_signing_domain(kBad);
  rev.set_revoked_unix_ms(absl::ToUnixMillis(clock_.Now()));
  auto signed_rev = SignRevocation(rev, kBad, "k1", *keys_[kBad]);
  ASSERT_TRUE(signed_rev.ok());
  EXPECT_EQ(*node_->ApplyRevocation(*signed_rev), 0u);
  EXPECT_EQ(List("bob", "INBOX").size(), 1u);
}

TEST_F(RecipientNodeTest, HeldCopiesAreInvisibleUntilTheHoldPeriodOnTheFakeClock) {
  PolicyConfig p = Open2();
  p.hold_new_domains = true;
  p.early_reader_fraction = 0;
  p.hold_period = absl::Hours(2);
  Open(p);
  Deliver(Notification(kGood, "m1", "hello", {"ann"}));
  EXPECT_TRUE(List("ann", "INBOX").empty());  // held: invisible
  node_->Maintain();
  EXPECT_TRUE(List("ann", "INBOX").empty());  // no time has passed
  clock_.Advance(absl::Hours(2) + absl::Seconds(1));
  node_->Maintain();
  EXPECT_EQ(List("ann", "INBOX").size(), 1u);  // released
}

TEST_F(RecipientNodeTest, ThePolicyForgetsBodiesUnusedForTheirTtlOnTheDailyPass) {
  PolicyConfig p = Open2();
  p.body_state_ttl = absl::Hours(24 * 3);
  Open(p);
  Deliver(Notification(kBad, "m1", "buy now", {"ann", "bob"}));
  const uint32_t uid = List("ann", "INBOX")[0].uid();
  ASSERT_TRUE(ReportSpam("ann", uid).ok());  // the body is tracked now
  node_->Maintain();
  const std::string hex = "B ";
  auto state = node_->store().GetPolicyState();
  ASSERT_TRUE(state.ok());
  ASSERT_NE(state->find(hex), std::string::npos) << *state;
  // Within the TTL the daily pass keeps it ...
  clock_.Advance(absl::Hours(25));
  node_->Maintain();
  state = node_->store().GetPolicyState();
  ASSERT_TRUE(state.ok());
  EXPECT_NE(state->find(hex), std::string::npos);
  // ... and past it the next daily pass forgets it (the stored state, which
  // every report rewrites, stops growing).
  clock_.Advance(absl::Hours(24 * 3));
  node_->Maintain();
  state = node_->store().GetPolicyState();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->find(hex), std::string::npos) << *state;
}

// A reader's read counts for the sender's reputation once per user and
// message: peeking at an unread copy again and again, or clearing \Seen and
// reading it again, must not raise the sender's read count (with enough reads
// a spamming domain's net spam / reads ratio would pass as good).
TEST_F(RecipientNodeTest, AReadCountsForTheSendersReputationOncePerUserAndMessage) {
  Open(Open2());
  const std::string body = "From: someone@" + std::string(kGood) + "\r\n\r\nhello\r\n";
  Deliver(Notification(kGood, "m1", body, {"ann", "bob"}));
  // The body is in this node's cache (as after a first fetch): no sender node needed.
  auto stored = node_->store().FindNotification(kGood, std::string("m1@") + kGood);
  ASSERT_TRUE(stored.ok()) << stored.status();
  ASSERT_TRUE(node_->store().PutBody(BodyCacheKey(*stored), body).ok());
  const uint32_t ann_uid = List("ann", "INBOX")[0].uid();
  auto read = [&](const std::string& user, uint32_t uid, bool peek) {
    v1::ReadRequest req;
    req.set_uid(uid);
    req.set_peek(peek);
    auto r = node_->Read(user + "@" + kHere, req);
    ASSERT_TRUE(r.ok()) << r.status();
  };
  for (int i = 0; i < 5; ++i) read("ann", ann_uid, /*peek=*/true);
  read("ann", ann_uid, /*peek=*/false);  // sets \Seen
  v1::SetFlagsRequest unseen;
  unseen.add_uids(ann_uid);
  unseen.set_op(v1::FLAG_OP_REMOVE);
  unseen.add_flags("\\Seen");
  ASSERT_TRUE(node_->SetFlags(std::string("ann@") + kHere, unseen).ok());
  read("ann", ann_uid, /*peek=*/false);  // read again after clearing \Seen
  read("bob", List("bob", "INBOX")[0].uid(), /*peek=*/true);  // another reader counts
  auto stored_reads = [&] {
    node_->Maintain();  // the pending reads and their marks reach the store
    auto text = node_->store().GetPolicyState();
    EXPECT_TRUE(text.ok()) << text.status();
    auto snapshot = ParsePolicySnapshot(text.ok() ? *text : "", "test");
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    double reads = -1;
    for (const PolicySnapshot::Domain& d : snapshot.ok() ? snapshot->domains
                                                         : std::vector<PolicySnapshot::Domain>{}) {
      if (d.domain == kGood) reads = d.reads;
    }
    return reads;
  };
  EXPECT_EQ(stored_reads(), 2);  // ann once, bob once
  // After the pass the store's marks say so: ann's copy, unread again, still
  // adds nothing.
  ASSERT_TRUE(node_->SetFlags(std::string("ann@") + kHere, unseen).ok());
  read("ann", ann_uid, /*peek=*/true);
  EXPECT_EQ(stored_reads(), 2);
  EXPECT_TRUE(*node_->store().IsReadCounted(std::string("ann@") + kHere, stored->id));
}

// Every IMAP refresh lists the selected folder. Listing INBOX, which exists
// after the first listing, is a read: it answers while another thread holds
// the SQLite writer in an open transaction (every other session's STORE and
// APPEND, their fsyncs). It took the writer to make sure INBOX existed.
TEST_F(RecipientNodeTest, ListingAnExistingInboxDoesNotWaitForTheWriter) {
  auto db = OpenSqliteDb((dir_ / "node.db").string());
  ASSERT_TRUE(db.ok()) << db.status();
  Open(Open2(), NewSqliteRecipientStore(*db));
  Deliver(Notification(kGood, "m1", "body one", {"ann"}));
  ASSERT_EQ(List("ann", "INBOX").size(), 1u);
  absl::Mutex mu;
  bool holding = false, listed = false, gave_up = false;
  std::thread writer([&] {
    absl::MutexLock db_lock(&(*db)->mu());
    Transaction txn(db->get());
    ASSERT_TRUE(txn.Begin().ok());
    absl::MutexLock lock(&mu);
    holding = true;
    // Bounded: a listing that waits for the writer ends the wait after 30 s
    // and the test fails on `listed` instead of hanging.
    gave_up = !mu.AwaitWithTimeout(absl::Condition(&listed), absl::Seconds(30));
  });
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(&holding));
  }
  v1::ListMessagesRequest req;
  req.set_changed_since(1);
  auto r = node_->ListMessages(std::string("ann@") + kHere, req);
  {
    absl::MutexLock lock(&mu);
    EXPECT_FALSE(gave_up) << "the listing waited for the writer";
    listed = true;
  }
  writer.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->folder().messages(), 1u);
}

}  // namespace
}  // namespace pullmail
