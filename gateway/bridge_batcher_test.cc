// BridgeBatcher: messages handed over at the same moment go in one call,
// each gets its own answer, a lone message goes at once, the caps hold, and
// a node without BridgeBatch gets one Bridge per message. The transport
// here is a function (the batching is what is under test; the e2e SMTP-in
// tests run it against a real sender node).
#include "gateway/bridge_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace pullmail::gateway {
namespace {

v1::BridgeRequest Request(const std::string& to, size_t bytes = 10) {
  v1::BridgeRequest r;
  r.add_to(to);
  r.set_message(std::string(bytes, 'x'));
  return r;
}

v1::SubmitResponse IdFor(const v1::BridgeRequest& r) {
  v1::SubmitResponse resp;
  resp.set_message_id("id-" + r.to(0));
  return resp;
}

// A node that answers each request by its recipient ("bad..." is refused),
// and records the size of every call. The first call blocks until `release`
// so that the test can make others queue behind it.
struct FakeNode {
  absl::Mutex mu;
  std::vector<size_t> batch_sizes ABSL_GUARDED_BY(mu);
  size_t singles ABSL_GUARDED_BY(mu) = 0;
  absl::Notification first_call_started, release;
  std::atomic<bool> first{true};
  bool knows_batch = true;

  BridgeBatcher::Transport Transport() {
    BridgeBatcher::Transport t;
    t.batch = [this](const v1::BridgeBatchRequest& req)
        -> absl::StatusOr<std::vector<absl::StatusOr<v1::SubmitResponse>>> {
      Hold();
      if (!knows_batch) return absl::UnimplementedError("unknown method BridgeBatch");
      {
        absl::MutexLock lock(&mu);
        batch_sizes.push_back(static_cast<size_t>(req.requests_size()));
      }
      std::vector<absl::StatusOr<v1::SubmitResponse>> out;
      for (const v1::BridgeRequest& r : req.requests()) out.push_back(Answer(r));
      return out;
    };
    t.single = [this](const v1::BridgeRequest& r) -> absl::StatusOr<v1::SubmitResponse> {
      Hold();
      {
        absl::MutexLock lock(&mu);
        ++singles;
      }
      return Answer(r);
    };
    return t;
  }

  void Hold() {
    if (first.exchange(false)) {
      first_call_started.Notify();
      release.WaitForNotification();
    }
  }

  static absl::StatusOr<v1::SubmitResponse> Answer(const v1::BridgeRequest& r) {
    if (r.to(0).rfind("bad", 0) == 0) return absl::NotFoundError("no such user: " + r.to(0));
    return IdFor(r);
  }
};

// Until `n` messages wait for a call (bounded: fails the test after 30 s).
void WaitForQueued(const BridgeBatcher& b, size_t n) {
  for (int i = 0; i < 30000 && b.waiting() < n; ++i) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(b.waiting(), n);
}

TEST(BridgeBatcher, ALoneMessageGoesAtOnceInACallOfItsOwn) {
  FakeNode node;
  node.first = false;  // nothing blocks
  BridgeBatcher b(node.Transport(), BridgeBatcher::Options());
  auto r = b.Bridge(Request("ann"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->message_id(), "id-ann");
  EXPECT_EQ(b.calls(), 1u);
  absl::MutexLock lock(&node.mu);
  EXPECT_EQ(node.singles, 1u);  // one message: plain Bridge
  EXPECT_TRUE(node.batch_sizes.empty());
}

// While the only call slot is busy, ten sessions hand over a message each:
// they go together in the next call, and each session gets its own answer.
TEST(BridgeBatcher, MessagesWaitingForACallGoTogetherEachWithItsOwnAnswer) {
  FakeNode node;
  BridgeBatcher::Options o;
  o.max_calls = 1;
  BridgeBatcher b(node.Transport(), o);
  std::thread first([&] { EXPECT_TRUE(b.Bridge(Request("first")).ok()); });
  node.first_call_started.WaitForNotification();
  constexpr int kSessions = 10;
  std::vector<absl::StatusOr<v1::SubmitResponse>> results(kSessions);
  std::vector<std::thread> sessions;
  for (int i = 0; i < kSessions; ++i) {
    std::string to = i % 3 == 1 ? absl::StrCat("bad", i) : absl::StrCat("user", i);
    sessions.emplace_back([&, i, to] { results[i] = b.Bridge(Request(to)); });
  }
  // All ten are queued behind the blocked call before it is released.
  WaitForQueued(b, kSessions);
  node.release.Notify();
  first.join();
  for (std::thread& t : sessions) t.join();
  for (int i = 0; i < kSessions; ++i) {
    if (i % 3 == 1) {
      EXPECT_TRUE(absl::IsNotFound(results[i].status())) << i << ": " << results[i].status();
      EXPECT_EQ(results[i].status().message(), absl::StrCat("no such user: bad", i));
    } else {
      ASSERT_TRUE(results[i].ok()) << i << ": " << results[i].status();
      EXPECT_EQ(results[i]->message_id(), absl::StrCat("id-user", i));
    }
  }
  EXPECT_EQ(b.messages(), 1u + kSessions);
  EXPECT_EQ(b.calls(), 2u);  // the first alone, then the ten together
  absl::MutexLock lock(&node.mu);
  EXPECT_EQ(node.batch_sizes, std::vector<size_t>{kSessions});
}

TEST(BridgeBatcher, ACallTakesNoMoreThanTheCaps) {
  for (bool by_bytes : {false, true}) {
    FakeNode node;
    BridgeBatcher::Options o;
    o.max_calls = 1;
    o.max_messages = by_bytes ? 100 : 3;
    o.max_bytes = by_bytes ? 250 : 1 << 20;
    BridgeBatcher b(node.Transport(), o);
    std::thread first([&] { EXPECT_TRUE(b.Bridge(Request("first")).ok()); });
    node.first_call_started.WaitForNotification();
    std::vector<std::thread> sessions;
    for (int i = 0; i < 9; ++i) {
      sessions.emplace_back([&, i] { EXPECT_TRUE(b.Bridge(Request(absl::StrCat("u", i), 100)).ok()); });
    }
    WaitForQueued(b, 9);
    node.release.Notify();
    first.join();
    for (std::thread& t : sessions) t.join();
    absl::MutexLock lock(&node.mu);
    size_t sent = node.singles;
    for (size_t n : node.batch_sizes) {
      EXPECT_LE(n, by_bytes ? 2u : 3u);
      sent += n;
    }
    EXPECT_EQ(sent, 10u);
    EXPECT_EQ(b.messages(), 10u);
  }
}

TEST(BridgeBatcher, ANodeWithoutBridgeBatchGetsOneBridgePerMessage) {
  FakeNode node;
  node.knows_batch = false;
  BridgeBatcher::Options o;
  o.max_calls = 1;
  BridgeBatcher b(node.Transport(), o);
  std::thread first([&] { EXPECT_TRUE(b.Bridge(Request("first")).ok()); });
  node.first_call_started.WaitForNotification();
  std::vector<absl::StatusOr<v1::SubmitResponse>> results(4);
  std::vector<std::thread> sessions;
  for (int i = 0; i < 4; ++i) {
    sessions.emplace_back([&, i] { results[i] = b.Bridge(Request(absl::StrCat("u", i))); });
  }
  WaitForQueued(b, 4);
  node.release.Notify();
  first.join();
  for (std::thread& t : sessions) t.join();
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].status();
    EXPECT_EQ(results[i]->message_id(), absl::StrCat("id-u", i));
  }
  absl::MutexLock lock(&node.mu);
  EXPECT_EQ(node.singles, 5u);
  EXPECT_TRUE(node.batch_sizes.empty());
}

}  // namespace
}  // namespace pullmail::gateway
