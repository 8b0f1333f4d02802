// The SenderStore contract, run against every back end; plus SQLite-only
// durability checks (close and reopen; a process killed right after an
// acknowledged write).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/storage/memory_store.h"
#include "core/storage/pg_store.h"
#include "core/storage/sqlite_db.h"  // kStoredBodyChunkSize: where the edges are
#include "core/storage/sqlite_store.h"
#include "core/storage/storage_test_util.h"

namespace pullmail {
namespace {

using ::pullmail::testing::Backend;
using ::pullmail::testing::TempDir;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// A body whose every byte depends on its position, so a wrong slice shows.
std::string PatternBody(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 251) & 0xff);
  return s;
}

OutboundMessage MakeMessage(const std::string& id, const std::string& sender, size_t size,
                            absl::Time created) {
  OutboundMessage m;
  m.message_id = id;
  m.sender = sender;
  m.body_sha256 = std::string(32, static_cast<char>(id.size()));
  m.body_size = size;
  m.summary = std::string("\x0a\x03" "abc", 5);
  m.created = created;
  m.expires = created + absl::Hours(24 * 7);
  return m;
}

Delivery MakeDelivery(const std::string& id, const std::string& domain, absl::Time next) {
  Delivery d;
  d.message_id = id;
  d.domain = domain;
  d.recipients = {"a@" + domain, "b@" + domain};
  d.fetch_token = std::string(32, '\x7f');
  d.signed_notification = std::string("\x00\x01signed\xff", 9);
  d.next_attempt = next;
  return d;
}

class SenderStoreContract : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kMemory) {
      store_ = NewMemorySenderStore();
    } else if (GetParam() == Backend::kPostgres) {
      pg_ = std::make_unique<::pullmail::testing::PgTestSchema>();
      if (!pg_->ok()) GTEST_SKIP() << pg_->skip_reason();
      auto db = OpenPgDb(pg_->url());
      PM_ASSERT_OK(db);
      store_ = NewPgSenderStore(*std::move(db));
    } else {
      auto s = OpenSqliteSenderStore(dir_.File("sender.db"));
      PM_ASSERT_OK(s);
      store_ = *std::move(s);
    }
  }

  // Stores message `id` of `size` pattern bytes with deliveries to `domains`,
  // all due at `next`.
  void Put(const std::string& id, size_t size, absl::Time created,
           const std::vector<std::string>& domains, absl::Time next,
           const std::string& sender = "alice@s.example") {
    std::vector<Delivery> ds;
    for (const std::string& d : domains) ds.push_back(MakeDelivery(id, d, next));
    PM_ASSERT_OK(store_->PutMessage(MakeMessage(id, sender, size, created), PatternBody(size), ds));
  }

  TempDir dir_;
  std::unique_ptr<::pullmail::testing::PgTestSchema> pg_;  // outlives store_
  std::unique_ptr<SenderStore> store_;
};

TEST_P(SenderStoreContract, PutAndGetRoundTrip) {
  OutboundMessage m = MakeMessage("m1", "alice@s.example", 10, kT0 + absl::Nanoseconds(1500));
  Delivery d = MakeDelivery("m1", "r.example", kT0);
  d.attempts = 2;
  d.last_error = "earlier";
  PM_ASSERT_OK(store_->PutMessage(m, PatternBody(10), {d}));

  auto got = store_->GetMessage("m1");
  PM_ASSERT_OK(got);
  EXPECT_EQ(got->message_id, "m1");
  EXPECT_EQ(got->sender, "alice@s.example");
  EXPECT_EQ(got->body_sha256, m.body_sha256);
  EXPECT_EQ(got->body_size, 10u);
  EXPECT_EQ(got->summary, m.summary);
  EXPECT_EQ(got->created, kT0 + absl::Microseconds(1));  // truncated to microseconds
  EXPECT_EQ(got->expires, TruncateToMicros(m.expires));
  EXPECT_FALSE(got->revoked);
  EXPECT_FALSE(got->body_deleted);

  auto gd = store_->GetDelivery("m1", "r.example");
  PM_ASSERT_OK(gd);
  EXPECT_EQ(gd->recipients, d.recipients);
  EXPECT_EQ(gd->fetch_token, d.fetch_token);
  EXPECT_EQ(gd->signed_notification, d.signed_notification);
  EXPECT_EQ(gd->state, DeliveryState::kQueued);
  EXPECT_EQ(gd->attempts, 2u);
  EXPECT_EQ(gd->next_attempt, kT0);
  EXPECT_EQ(gd->last_error, "earlier");
  EXPECT_EQ(gd->bytes_served, 0u);

  PM_EXPECT_CODE(store_->GetMessage("nope"), kNotFound);
  PM_EXPECT_CODE(store_->GetDelivery("m1", "other.example"), kNotFound);
}

TEST_P(SenderStoreContract, DuplicateMessageIdIsRejectedAndOriginalKept) {
  Put("m1", 10, kT0, {"r.example"}, kT0);
  OutboundMessage other = MakeMessage("m1", "mallory@s.example", 3, kT0);
  PM_EXPECT_CODE(store_->PutMessage(other, "xyz", {}), kAlreadyExists);
  EXPECT_EQ(store_->GetMessage("m1")->sender, "alice@s.example");
  EXPECT_EQ(*store_->ReadBody("m1", 0, 100), PatternBody(10));
}

TEST_P(SenderStoreContract, InvalidPutStoresNothing) {
  OutboundMessage m = MakeMessage("m1", "alice@s.example", 10, kT0);
  PM_EXPECT_CODE(store_->PutMessage(m, "short", {}), kInvalidArgument);
  PM_EXPECT_CODE(store_->PutMessage(m, PatternBody(10), {MakeDelivery("m2", "r.example", kT0)}),
                 kInvalidArgument);
  PM_EXPECT_CODE(store_->PutMessage(m, PatternBody(10),
                                    {MakeDelivery("m1", "r.example", kT0),
                                     MakeDelivery("m1", "r.example", kT0)}),
                 kInvalidArgument);
  PM_EXPECT_CODE(store_->GetMessage("m1"), kNotFound);
  EXPECT_TRUE(store_->DueDeliveries(kT0 + absl::Hours(1), 0)->empty());
}

TEST_P(SenderStoreContract, BodySlicesAtOffsets) {
  const size_t kSize = 200'000;
  Put("big", kSize, kT0, {}, kT0);
  const std::string body = PatternBody(kSize);
  for (uint64_t offset : {uint64_t{0}, uint64_t{1}, uint64_t{65'536}, uint64_t{131'071}}) {
    auto slice = store_->ReadBody("big", offset, 65'536);
    PM_ASSERT_OK(slice);
    EXPECT_EQ(*slice, body.substr(offset, 65'536)) << "offset " << offset;
  }
  EXPECT_EQ(*store_->ReadBody("big", kSize - 10, 65'536), body.substr(kSize - 10));  // short tail
  EXPECT_EQ(*store_->ReadBody("big", kSize, 65'536), "");  // exactly at the end
  PM_EXPECT_CODE(store_->ReadBody("big", kSize + 1, 10), kOutOfRange);
  PM_EXPECT_CODE(store_->ReadBody("nope", 0, 10), kNotFound);

  Put("empty", 0, kT0, {}, kT0);
  EXPECT_EQ(*store_->ReadBody("empty", 0, 10), "");
}

// Sizes and slices around the SQLite back end's chunk edges (kStoredBodyChunkSize):
// exactly one chunk, one byte more, several chunks; slices that end on,
// start on and straddle an edge, span three chunks, or start at the end.
TEST_P(SenderStoreContract, BodySlicesAcrossChunkEdges) {
  constexpr uint64_t kC = kStoredBodyChunkSize;
  for (uint64_t size : {kC, kC + 1, 3 * kC + 17}) {
    const std::string id = absl::StrCat("m", size);
    Put(id, size, kT0, {}, kT0);
    const std::string body = PatternBody(size);
    EXPECT_EQ(*store_->ReadBody(id, 0, size), body) << size;
    EXPECT_EQ(*store_->ReadBody(id, 0, size + 1000), body) << size;
    struct Slice {
      uint64_t offset;
      size_t len;
    };
    for (Slice sl : {Slice{0, kC}, Slice{kC - 1, 1}, Slice{kC - 1, 2}, Slice{kC - 10, 20},
                     Slice{kC, 1}, Slice{kC - 5, kC + 10}, Slice{size - 1, 5},
                     Slice{1, size - 1}}) {
      if (sl.offset > size) continue;
      auto got = store_->ReadBody(id, sl.offset, sl.len);
      PM_ASSERT_OK(got);
      EXPECT_EQ(*got, body.substr(sl.offset, sl.len))
          << "size " << size << " offset " << sl.offset << " len " << sl.len;
    }
    EXPECT_EQ(*store_->ReadBody(id, size, 65'536), "") << size;
    EXPECT_EQ(*store_->ReadBody(id, 0, 0), "") << size;
    PM_EXPECT_CODE(store_->ReadBody(id, size + 1, 1), kOutOfRange);
    // Reading a whole body in wire-sized slices gives it back byte-exact.
    std::string joined;
    for (uint64_t off = 0; off < size; off += 65'536) joined += *store_->ReadBody(id, off, 65'536);
    EXPECT_EQ(joined, body) << size;
  }
  // A body deleted after being stored in chunks reads as deleted, not as a
  // torn body, and a new message stores afresh.
  PM_ASSERT_OK(store_->DeleteBody(absl::StrCat("m", 3 * kC + 17)));
  PM_EXPECT_CODE(store_->ReadBody(absl::StrCat("m", 3 * kC + 17), 0, 10), kFailedPrecondition);
  EXPECT_EQ(*store_->ReadBody(absl::StrCat("m", kC + 1), kC, 10), PatternBody(kC + 1).substr(kC));
}

TEST_P(SenderStoreContract, DeleteBodyKeepsMetadata) {
  Put("m1", 100, kT0, {"r.example"}, kT0);
  PM_ASSERT_OK(store_->DeleteBody("m1"));
  PM_ASSERT_OK(store_->DeleteBody("m1"));  // idempotent
  auto m = store_->GetMessage("m1");
  PM_ASSERT_OK(m);
  EXPECT_TRUE(m->body_deleted);
  EXPECT_EQ(m->body_size, 100u);
  PM_EXPECT_CODE(store_->ReadBody("m1", 0, 10), kFailedPrecondition);
  PM_EXPECT_OK(store_->GetDelivery("m1", "r.example"));
  PM_EXPECT_CODE(store_->DeleteBody("nope"), kNotFound);
}

TEST_P(SenderStoreContract, MarkRevoked) {
  Put("m1", 10, kT0, {}, kT0);
  EXPECT_FALSE(store_->GetMessage("m1")->revoked);
  PM_ASSERT_OK(store_->MarkRevoked("m1"));
  PM_ASSERT_OK(store_->MarkRevoked("m1"));
  EXPECT_TRUE(store_->GetMessage("m1")->revoked);
  PM_EXPECT_CODE(store_->MarkRevoked("nope"), kNotFound);
}

TEST_P(SenderStoreContract, ListMessagesNewestFirst) {
  Put("m1", 1, kT0, {}, kT0);
  Put("m3", 1, kT0 + absl::Seconds(2), {}, kT0);
  Put("m2", 1, kT0 + absl::Seconds(1), {}, kT0);
  Put("m2b", 1, kT0 + absl::Seconds(1), {}, kT0);  // tie with m2: id descending
  Put("x1", 1, kT0 + absl::Seconds(5), {}, kT0, "bob@s.example");
  auto all = store_->ListMessages("alice@s.example", 0);
  PM_ASSERT_OK(all);
  std::vector<std::string> ids;
  for (const auto& m : *all) ids.push_back(m.message_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"m3", "m2b", "m2", "m1"}));
  EXPECT_EQ(store_->ListMessages("alice@s.example", 2)->size(), 2u);
  EXPECT_TRUE(store_->ListMessages("nobody@s.example", 0)->empty());
}

TEST_P(SenderStoreContract, DueDeliveriesOldestFirst) {
  Put("m1", 1, kT0, {"b.example", "a.example"}, kT0 + absl::Seconds(10));
  Put("m2", 1, kT0, {"c.example"}, kT0 + absl::Seconds(5));
  Put("m3", 1, kT0, {"d.example"}, kT0 + absl::Seconds(100));

  EXPECT_TRUE(store_->DueDeliveries(kT0, 0)->empty());
  auto due = store_->DueDeliveries(kT0 + absl::Seconds(10), 0);
  PM_ASSERT_OK(due);
  std::vector<std::string> got;
  for (const auto& d : *due) got.push_back(d.message_id + "/" + d.domain);
  EXPECT_EQ(got, (std::vector<std::string>{"m2/c.example", "m1/a.example", "m1/b.example"}));
  EXPECT_EQ(store_->DueDeliveries(kT0 + absl::Seconds(10), 1)->front().domain, "c.example");
  EXPECT_EQ(**store_->NextDueTime(), kT0 + absl::Seconds(5));

  // Delivered: no longer due. Retried later: due at its new time.
  Delivery c = *store_->GetDelivery("m2", "c.example");
  c.state = DeliveryState::kDelivered;
  PM_ASSERT_OK(store_->UpdateDelivery(c));
  Delivery a = *store_->GetDelivery("m1", "a.example");
  a.attempts = 1;
  a.next_attempt = kT0 + absl::Seconds(50);
  a.last_error = "unavailable";
  PM_ASSERT_OK(store_->UpdateDelivery(a));
  got.clear();
  auto due_later = store_->DueDeliveries(kT0 + absl::Seconds(60), 0);  // (keep the StatusOr alive)
  PM_ASSERT_OK(due_later);
  for (const auto& d : *due_later) got.push_back(d.message_id + "/" + d.domain);
  EXPECT_EQ(got, (std::vector<std::string>{"m1/b.example", "m1/a.example"}));
  EXPECT_EQ(**store_->NextDueTime(), kT0 + absl::Seconds(10));

  auto a2 = store_->GetDelivery("m1", "a.example");
  EXPECT_EQ(a2->attempts, 1u);
  EXPECT_EQ(a2->last_error, "unavailable");
  EXPECT_EQ(store_->GetDelivery("m2", "c.example")->state, DeliveryState::kDelivered);
}

TEST_P(SenderStoreContract, NextDueTimeEmptyWhenNothingQueued) {
  auto none = store_->NextDueTime();
  PM_ASSERT_OK(none);
  EXPECT_FALSE(none->has_value());
  Put("m1", 1, kT0, {"a.example"}, kT0);
  Delivery d = *store_->GetDelivery("m1", "a.example");
  d.state = DeliveryState::kBounced;
  PM_ASSERT_OK(store_->UpdateDelivery(d));
  EXPECT_FALSE(store_->NextDueTime()->has_value());
}

TEST_P(SenderStoreContract, UpdateDeliveryChangesOnlyMutableFields) {
  Put("m1", 1, kT0, {"a.example"}, kT0);
  PM_ASSERT_OK(store_->AddBytesServed("m1", "a.example", 7));
  Delivery d = *store_->GetDelivery("m1", "a.example");
  d.recipients = {"changed@a.example"};
  d.fetch_token = "changed";
  d.bytes_served = 1000;
  d.state = DeliveryState::kFetched;
  PM_ASSERT_OK(store_->UpdateDelivery(d));
  Delivery got = *store_->GetDelivery("m1", "a.example");
  EXPECT_EQ(got.state, DeliveryState::kFetched);
  EXPECT_EQ(got.recipients, MakeDelivery("m1", "a.example", kT0).recipients);
  EXPECT_EQ(got.fetch_token, std::string(32, '\x7f'));
  EXPECT_EQ(got.bytes_served, 7u);
  d.domain = "missing.example";
  PM_EXPECT_CODE(store_->UpdateDelivery(d), kNotFound);
}

TEST_P(SenderStoreContract, PutMessagesStoresEachWholeOrNotAtAll) {
  Put("taken", 3, kT0, {"a.example"}, kT0);
  OutboundMessage m1 = MakeMessage("m1", "alice@s.example", 10, kT0);
  OutboundMessage dup = MakeMessage("taken", "alice@s.example", 4, kT0);
  OutboundMessage bad = MakeMessage("bad", "alice@s.example", 5, kT0);
  OutboundMessage m2 = MakeMessage("m2", "alice@s.example", 7, kT0);
  std::vector<Delivery> d1 = {MakeDelivery("m1", "a.example", kT0),
                              MakeDelivery("m1", "b.example", kT0)};
  std::vector<Delivery> ddup = {MakeDelivery("taken", "c.example", kT0)};
  std::vector<Delivery> dbad = {MakeDelivery("bad", "a.example", kT0)};
  std::vector<Delivery> d2 = {MakeDelivery("m2", "a.example", kT0)};
  const std::string b1 = PatternBody(10), bdup = PatternBody(4), b2 = PatternBody(7);
  std::vector<absl::Status> r = store_->PutMessages({{&m1, b1, &d1},
                                                     {&dup, bdup, &ddup},
                                                     {&bad, "wrong size", &dbad},
                                                     {&m2, b2, &d2}});
  ASSERT_EQ(r.size(), 4u);
  PM_EXPECT_OK(r[0]);
  EXPECT_EQ(r[1].code(), absl::StatusCode::kAlreadyExists) << r[1];
  EXPECT_EQ(r[2].code(), absl::StatusCode::kInvalidArgument) << r[2];
  PM_EXPECT_OK(r[3]);
  EXPECT_EQ(*store_->ReadBody("m1", 0, 100), b1);
  EXPECT_EQ(*store_->ReadBody("m2", 0, 100), b2);
  EXPECT_EQ(store_->ListDeliveries("m1")->size(), 2u);
  // The refused duplicate left nothing behind: "taken" keeps its one delivery.
  EXPECT_EQ(store_->ListDeliveries("taken")->size(), 1u);
  PM_EXPECT_CODE(store_->GetMessage("bad").status(), kNotFound);
  EXPECT_TRUE(store_->PutMessages({}).empty());
}

TEST_P(SenderStoreContract, UpdateDeliveriesWritesEveryOne) {
  Put("m1", 1, kT0, {"a.example", "b.example"}, kT0);
  Delivery a = *store_->GetDelivery("m1", "a.example");
  Delivery b = *store_->GetDelivery("m1", "b.example");
  a.state = DeliveryState::kDelivered;
  b.attempts = 3;
  b.last_error = "unreachable";
  PM_ASSERT_OK(store_->UpdateDeliveries({a, b}));
  EXPECT_EQ(store_->GetDelivery("m1", "a.example")->state, DeliveryState::kDelivered);
  EXPECT_EQ(store_->GetDelivery("m1", "b.example")->attempts, 3);
  EXPECT_EQ(store_->GetDelivery("m1", "b.example")->last_error, "unreachable");
  PM_ASSERT_OK(store_->UpdateDeliveries({}));
  Delivery missing = a;
  missing.domain = "missing.example";
  PM_EXPECT_CODE(store_->UpdateDeliveries({a, missing}), kNotFound);
}

TEST_P(SenderStoreContract, BytesServedAccumulate) {
  Put("m1", 1, kT0, {"a.example", "b.example"}, kT0);
  PM_ASSERT_OK(store_->AddBytesServed("m1", "a.example", 65'536));
  PM_ASSERT_OK(store_->AddBytesServed("m1", "a.example", 100));
  EXPECT_EQ(store_->GetDelivery("m1", "a.example")->bytes_served, 65'636u);
  EXPECT_EQ(store_->GetDelivery("m1", "b.example")->bytes_served, 0u);
  PM_EXPECT_CODE(store_->AddBytesServed("m1", "c.example", 1), kNotFound);
}

// A served fetch's bookkeeping: bytes add up; only a complete fetch of a
// delivered message marks it fetched; other states stay as they are.
TEST_P(SenderStoreContract, RecordServedCountsBytesAndMarksACompleteFetch) {
  Put("m1", 1, kT0, {"a.example", "b.example", "c.example"}, kT0);
  for (const char* d : {"a.example", "b.example"}) {
    Delivery x = *store_->GetDelivery("m1", d);
    x.state = DeliveryState::kDelivered;
    PM_ASSERT_OK(store_->UpdateDelivery(x));
  }
  PM_ASSERT_OK(store_->RecordServed("m1", "a.example", 1000, false));  // broke off
  EXPECT_EQ(store_->GetDelivery("m1", "a.example")->state, DeliveryState::kDelivered);
  PM_ASSERT_OK(store_->RecordServed("m1", "a.example", 24, true));  // resumed to the end
  EXPECT_EQ(store_->GetDelivery("m1", "a.example")->state, DeliveryState::kFetched);
  EXPECT_EQ(store_->GetDelivery("m1", "a.example")->bytes_served, 1024u);
  PM_ASSERT_OK(store_->RecordServed("m1", "a.example", 1024, true));  // read again
  EXPECT_EQ(store_->GetDelivery("m1", "a.example")->state, DeliveryState::kFetched);
  EXPECT_EQ(store_->GetDelivery("m1", "a.example")->bytes_served, 2048u);
  EXPECT_EQ(store_->GetDelivery("m1", "b.example")->state, DeliveryState::kDelivered);
  PM_ASSERT_OK(store_->RecordServed("m1", "c.example", 5, true));  // still queued: stays
  EXPECT_EQ(store_->GetDelivery("m1", "c.example")->state, DeliveryState::kQueued);
  EXPECT_EQ(store_->GetDelivery("m1", "c.example")->bytes_served, 5u);
  PM_EXPECT_CODE(store_->RecordServed("m1", "d.example", 1, true), kNotFound);
}

// A FetchBodies call's bookkeeping in one write: each record counts as
// RecordServed would; a record whose delivery is gone is skipped, and the
// records after it are still written.
TEST_P(SenderStoreContract, RecordServedManyWritesEachAndSkipsAGoneDelivery) {
  Put("m1", 1, kT0, {"a.example", "b.example"}, kT0);
  Put("m2", 2, kT0, {"a.example"}, kT0);
  for (auto [m, d] : {std::pair{"m1", "a.example"}, std::pair{"m1", "b.example"},
                      std::pair{"m2", "a.example"}}) {
    Delivery x = *store_->GetDelivery(m, d);
    x.state = DeliveryState::kDelivered;
    PM_ASSERT_OK(store_->UpdateDelivery(x));
  }
  PM_ASSERT_OK(store_->RecordServedMany({
      {"m1", "a.example", 1000, true},
      {"m1", "d.example", 7, true},   // no such delivery: skipped
      {"m2", "a.example", 300, false},  // broke off: still delivered
      {"m1", "b.example", 10, true},
      {"m1", "a.example", 1000, true},  // read again
  }));
  EXPECT_EQ(store_->GetDelivery("m1", "a.example")->bytes_served, 2000u);
  EXPECT_EQ(store_->GetDelivery("m1", "a.example")->state, DeliveryState::kFetched);
  EXPECT_EQ(store_->GetDelivery("m1", "b.example")->bytes_served, 10u);
  EXPECT_EQ(store_->GetDelivery("m1", "b.example")->state, DeliveryState::kFetched);
  EXPECT_EQ(store_->GetDelivery("m2", "a.example")->bytes_served, 300u);
  EXPECT_EQ(store_->GetDelivery("m2", "a.example")->state, DeliveryState::kDelivered);
  PM_EXPECT_OK(store_->RecordServedMany({}));
}

TEST_P(SenderStoreContract, ListDeliveriesByDomain) {
  Put("m1", 1, kT0, {"c.example", "a.example", "b.example"}, kT0);
  auto ds = store_->ListDeliveries("m1");
  PM_ASSERT_OK(ds);
  ASSERT_EQ(ds->size(), 3u);
  EXPECT_EQ((*ds)[0].domain, "a.example");
  EXPECT_EQ((*ds)[2].domain, "c.example");
  EXPECT_TRUE(store_->ListDeliveries("nope")->empty());
}

TEST_P(SenderStoreContract, ExpiredMessages) {
  Put("m1", 1, kT0, {}, kT0);                     // expires kT0 + 7d
  Put("m2", 1, kT0 - absl::Hours(24), {}, kT0);   // expires kT0 + 6d
  Put("m3", 1, kT0 + absl::Hours(24), {}, kT0);   // expires kT0 + 8d
  const absl::Time day7 = kT0 + absl::Hours(24 * 7);
  auto expired = store_->ExpiredMessages(day7, 0);
  PM_ASSERT_OK(expired);
  ASSERT_EQ(expired->size(), 2u);
  EXPECT_EQ((*expired)[0].message_id, "m2");
  EXPECT_EQ((*expired)[1].message_id, "m1");
  EXPECT_EQ(store_->ExpiredMessages(day7, 1)->size(), 1u);
  PM_ASSERT_OK(store_->DeleteBody("m2"));
  expired = store_->ExpiredMessages(day7, 0);
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].message_id, "m1");
}

TEST_P(SenderStoreContract, AbuseReportsDeduplicatedByReporterAndId) {
  EXPECT_TRUE(*store_->RecordAbuseReport("alice@s.example", "r.example", "rep1", 1, kT0));
  EXPECT_FALSE(*store_->RecordAbuseReport("alice@s.example", "r.example", "rep1", 1, kT0));
  EXPECT_TRUE(*store_->RecordAbuseReport("alice@s.example", "q.example", "rep1", 1, kT0));
  EXPECT_TRUE(*store_->RecordAbuseReport("alice@s.example", "r.example", "rep2", 2, kT0));
  EXPECT_TRUE(*store_->RecordAbuseReport("bob@s.example", "r.example", "rep3", 1, kT0));
  EXPECT_EQ(*store_->AbuseCount("alice@s.example"), 2u);  // the not-spam one does not count
  EXPECT_EQ(*store_->AbuseCount("bob@s.example"), 1u);
  EXPECT_EQ(*store_->AbuseCount("carol@s.example"), 0u);
}

TEST_P(SenderStoreContract, ClaimDueDeliveriesLeasesThem) {
  Put("a", 3, kT0, {"r.example"}, kT0);
  Put("b", 3, kT0, {"r.example"}, kT0 + absl::Seconds(1));
  Put("c", 3, kT0, {"r.example"}, kT0 + absl::Hours(1));
  const absl::Time now = kT0 + absl::Seconds(2);
  auto claimed = store_->ClaimDueDeliveries(now, 0, absl::Seconds(60));
  PM_ASSERT_OK(claimed);
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].message_id, "a");
  EXPECT_EQ((*claimed)[1].message_id, "b");
  // Leased: nobody else gets them, nor sees them due, until the lease ends.
  EXPECT_TRUE(store_->ClaimDueDeliveries(now, 0, absl::Seconds(60))->empty());
  EXPECT_TRUE(store_->DueDeliveries(now, 0)->empty());
  EXPECT_EQ(*store_->NextDueTime(), now + absl::Seconds(60));
  // The claimer records its attempt for a, then dies before b's: b comes
  // due again after the lease.
  Delivery a = (*claimed)[0];
  a.state = DeliveryState::kDelivered;
  a.attempts = 1;
  PM_ASSERT_OK(store_->UpdateDelivery(a));
  auto again = store_->ClaimDueDeliveries(now + absl::Seconds(61), 5, absl::Seconds(60));
  PM_ASSERT_OK(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].message_id, "b");
  EXPECT_EQ(store_->GetDelivery("a", "r.example")->state, DeliveryState::kDelivered);
}

TEST_P(SenderStoreContract, ClaimWithoutALeaseLeavesThemDue) {
  Put("a", 3, kT0, {"r.example"}, kT0);
  const absl::Time now = kT0 + absl::Seconds(2);
  auto claimed = store_->ClaimDueDeliveries(now, 0, absl::ZeroDuration());
  PM_ASSERT_OK(claimed);
  ASSERT_EQ(claimed->size(), 1u);
  // A claimer killed now leaves nothing to wait out: it is due at once.
  auto due = store_->DueDeliveries(now, 0);
  PM_ASSERT_OK(due);
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].message_id, "a");
}

TEST_P(SenderStoreContract, ConcurrentWritersAllLand) {
  constexpr int kThreads = 4, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = absl::StrCat("t", t, "-", i);
        EXPECT_TRUE(store_->PutMessage(MakeMessage(id, "alice@s.example", 3, kT0), "abc",
                                       {MakeDelivery(id, "r.example", kT0)})
                        .ok());
        EXPECT_TRUE(store_->AddBytesServed(id, "r.example", 1).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store_->ListMessages("alice@s.example", 0)->size(), size_t{kThreads * kEach});
  EXPECT_EQ(store_->DueDeliveries(kT0, 0)->size(), size_t{kThreads * kEach});
}

// SubmitRequest.idempotency_key: one message per (sender, key); the key is
// found again; another sender may use the same key; a second message under
// a used key is refused whole (nothing of it stored).
TEST_P(SenderStoreContract, IdempotencyKeyStoresOneMessagePerSenderAndKey) {
  OutboundMessage m1 = MakeMessage("m1", "alice@s.example", 3, kT0);
  m1.idempotency_key = "k-1";
  PM_ASSERT_OK(store_->PutMessage(m1, "abc", {MakeDelivery("m1", "r.example", kT0)}));
  auto found = store_->FindByIdempotencyKey("alice@s.example", "k-1");
  PM_ASSERT_OK(found);
  EXPECT_EQ(*found, "m1");

  OutboundMessage again = MakeMessage("m2", "alice@s.example", 3, kT0);
  again.idempotency_key = "k-1";
  EXPECT_EQ(store_->PutMessage(again, "abc", {MakeDelivery("m2", "r.example", kT0)}).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->GetMessage("m2").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListDeliveries("m2")->empty());
  EXPECT_EQ(store_->DueDeliveries(kT0, 0)->size(), 1u);

  OutboundMessage other = MakeMessage("m3", "bob@s.example", 3, kT0);
  other.idempotency_key = "k-1";
  PM_ASSERT_OK(store_->PutMessage(other, "abc", {}));
  EXPECT_EQ(*store_->FindByIdempotencyKey("bob@s.example", "k-1"), "m3");
  EXPECT_EQ(*store_->FindByIdempotencyKey("alice@s.example", "k-1"), "m1");

  EXPECT_EQ(store_->FindByIdempotencyKey("alice@s.example", "k-2").status().code(),
            absl::StatusCode::kNotFound);
  // Messages without a key never collide.
  PM_ASSERT_OK(store_->PutMessage(MakeMessage("m4", "alice@s.example", 3, kT0), "abc", {}));
  PM_ASSERT_OK(store_->PutMessage(MakeMessage("m5", "alice@s.example", 3, kT0), "abc", {}));
  EXPECT_EQ(store_->FindByIdempotencyKey("alice@s.example", "").status().code(),
            absl::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, SenderStoreContract,
                         ::testing::Values(Backend::kMemory, Backend::kSqlite, Backend::kPostgres),
                         ::pullmail::testing::BackendName);

// --- SQLite only ---------------------------------------------------------------

TEST(SqliteSenderStore, SurvivesCloseAndReopen) {
  TempDir dir;
  const std::string body = PatternBody(100'000);
  {
    auto store = OpenSqliteSenderStore(dir.File("s.db"));
    PM_ASSERT_OK(store);
    PM_ASSERT_OK((*store)->PutMessage(MakeMessage("m1", "alice@s.example", body.size(), kT0), body,
                                      {MakeDelivery("m1", "a.example", kT0),
                                       MakeDelivery("m1", "b.example", kT0)}));
    OutboundMessage m2 = MakeMessage("m2", "alice@s.example", 3, kT0);
    m2.idempotency_key = "retry-key";
    PM_ASSERT_OK((*store)->PutMessage(m2, "xyz", {}));
    Delivery d = *(*store)->GetDelivery("m1", "b.example");
    d.state = DeliveryState::kDelivered;
    d.attempts = 3;
    PM_ASSERT_OK((*store)->UpdateDelivery(d));
    PM_ASSERT_OK((*store)->AddBytesServed("m1", "b.example", 42));
    PM_ASSERT_OK((*store)->MarkRevoked("m2"));
    PM_ASSERT_OK((*store)->DeleteBody("m2"));
    ASSERT_TRUE(*(*store)->RecordAbuseReport("alice@s.example", "r.example", "rep1", 1, kT0));
  }
  auto store = OpenSqliteSenderStore(dir.File("s.db"));
  PM_ASSERT_OK(store);
  EXPECT_EQ(*(*store)->ReadBody("m1", 0, body.size()), body);
  auto b = (*store)->GetDelivery("m1", "b.example");
  PM_ASSERT_OK(b);
  EXPECT_EQ(b->state, DeliveryState::kDelivered);
  EXPECT_EQ(b->attempts, 3u);
  EXPECT_EQ(b->bytes_served, 42u);
  EXPECT_EQ((*store)->DueDeliveries(kT0, 0)->size(), 1u);
  auto m2 = (*store)->GetMessage("m2");
  EXPECT_TRUE(m2->revoked);
  EXPECT_TRUE(m2->body_deleted);
  EXPECT_FALSE(*(*store)->RecordAbuseReport("alice@s.example", "r.example", "rep1", 1, kT0));
  EXPECT_EQ(*(*store)->AbuseCount("alice@s.example"), 1u);
  EXPECT_EQ(*(*store)->FindByIdempotencyKey("alice@s.example", "retry-key"), "m2");
}

// DESIGN: "a killed process loses nothing that it acknowledged". A child
// process stores messages, and SIGKILLs itself right after the last OK,
// without closing the database; the parent then finds every one.
TEST(SqliteSenderStore, KilledProcessLosesNothingAcknowledged) {
  TempDir dir;
  const std::string path = dir.File("killed.db");
  constexpr int kMessages = 50;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto store = OpenSqliteSenderStore(path);
    if (!store.ok()) _exit(2);
    for (int i = 0; i < kMessages; ++i) {
      std::string id = absl::StrCat("k", i);
      if (!(*store)
               ->PutMessage(MakeMessage(id, "alice@s.example", 4, kT0), "body",
                            {MakeDelivery(id, "r.example", kT0)})
               .ok()) {
        _exit(3);
      }
    }
    kill(getpid(), SIGKILL);
    _exit(4);  // not reached
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);
  auto store = OpenSqliteSenderStore(path);
  PM_ASSERT_OK(store);
  EXPECT_EQ((*store)->ListMessages("alice@s.example", 0)->size(), size_t{kMessages});
  EXPECT_EQ((*store)->DueDeliveries(kT0, 0)->size(), size_t{kMessages});
  EXPECT_EQ(*(*store)->ReadBody(absl::StrCat("k", kMessages - 1), 0, 10), "body");
}

}  // namespace
}  // namespace pullmail
