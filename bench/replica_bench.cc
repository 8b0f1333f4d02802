// replica_bench: a domain's two nodes on SQLite and on PostgreSQL replicas,
// one run per configuration, figures side by side (docs/SCALE-OUT.md):
//   recipient side: verified, committed notifications/s into the receiving
//     domain's recipient node, over several concurrent NotifyStreams, to one
//     endpoint or to a comma-separated list of replicas (spread round-robin,
//     as a sender node's channel does);
//   sender side: Submits/s into the sending domain's sender node(s) (a
//     campaign to the readers, several calls in flight, round-robin over the
//     replicas), and the same messages end to end: signed, delivered by the
//     sender replicas' delivery workers (the shared queue) and listed in the
//     readers' INBOXes.
// Notifications and messages go to the --reader users in turn: with one
// reader every commit takes that INBOX's row lock (its next UID), so the
// replicas take turns; a domain's many users spread the locks.
// bench/replica_bench.sh runs it for SQLite, one PostgreSQL replica of each
// node and two of each, and prints the table. Besides the human line, each
// run prints "RESULT label notify/s submit/s end-to-end/s load" for it.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/config/node_config.h"
#include "core/crypto/ed25519.h"
#include "core/crypto/token.h"
#include "core/envelope/envelope.h"
#include "core/util/clock.h"
#include "core/util/random.h"
#include "pullmail/v1/pullmail.grpc.pb.h"
#include "rpc/tls.h"

ABSL_FLAG(std::string, from, "", "node.toml of the sending domain (its key signs)");
ABSL_FLAG(std::string, to, "", "node.toml of the receiving domain");
ABSL_FLAG(std::string, endpoint, "",
          "recipient endpoint(s) to stream to (default: the --to config's [recipient] listen); "
          "a comma-separated list spreads the streams over replicas");
ABSL_FLAG(std::vector<std::string>, reader, {},
          "users at the receiving domain (comma-separated), each sent to in turn");
ABSL_FLAG(std::string, label, "", "what to call this run in the output line");
ABSL_FLAG(int, n, 8000, "notifications in all");
ABSL_FLAG(int, streams, 4, "concurrent NotifyStreams (each its own call)");
ABSL_FLAG(std::string, sender_user, "",
          "user at the sending domain; with --submits > 0, the sender side is measured");
ABSL_FLAG(std::string, password, "bench", "password of --sender_user and --reader");
ABSL_FLAG(std::string, submit_endpoint, "",
          "sender endpoint(s) to submit to (default: the --from config's [sender] listen)");
ABSL_FLAG(int, submits, 2000, "Submits in the sender-side campaign (0: skip it)");
ABSL_FLAG(int, inflight, 8, "Submit calls in flight");

namespace pullmail {
namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "replica_bench: %s\n", why.c_str());
  std::exit(1);
}

using SteadyClock = std::chrono::steady_clock;
double Seconds(SteadyClock::time_point a) {
  return std::chrono::duration<double>(SteadyClock::now() - a).count();
}

double Load() {
  double l[1] = {0};
  (void)getloadavg(l, 1);
  return l[0];
}

// Logs in once and returns "Bearer <token>" (Basic would spend a password
// hash per call).
template <typename Stub>
std::string Bearer(Stub& stub, const std::string& user, const std::string& password) {
  grpc::ClientContext c;
  c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::LoginRequest req;
  req.set_user(user);
  req.set_password(password);
  v1::LoginResponse resp;
  grpc::Status s = stub.Login(&c, req, &resp);
  if (!s.ok()) Die("login of " + user + " failed: " + s.error_message());
  return "Bearer " + resp.token();
}

uint32_t InboxUidNext(v1::MailboxService::Stub& mailbox, const std::string& auth) {
  grpc::ClientContext c;
  c.AddMetadata("authorization", auth);
  c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  v1::ListMessagesRequest req;
  req.set_folder("INBOX");
  req.set_limit(1);
  v1::ListMessagesResponse resp;
  grpc::Status s = mailbox.ListMessages(&c, req, &resp);
  if (!s.ok()) Die("ListMessages: " + s.error_message());
  return resp.folder().uid_next();
}

struct SendFigures {
  double submit_per_s = 0;
  double end_to_end_per_s = 0;
};

// The sender side: `submits` Submits of a 1 KiB message, to the readers in
// turn, `inflight` calls at a time over the sender endpoint(s); then waits
// until the readers' INBOXes list them all (at most 10 minutes).
SendFigures BenchSubmit(const NodeConfig& from, const NodeConfig& to, const std::string& recipient,
                        int submits) {
  const std::string user = absl::GetFlag(FLAGS_sender_user);
  const std::vector<std::string> readers = absl::GetFlag(FLAGS_reader);
  const std::string password = absl::GetFlag(FLAGS_password);
  std::string endpoint = absl::GetFlag(FLAGS_submit_endpoint);
  if (endpoint.empty()) endpoint = from.sender_listen;
  auto sch = Dial(from.tls, endpoint, from.domain);
  if (!sch.ok()) Die(std::string(sch.status().message()));
  auto submit = v1::SubmitService::NewStub(*sch);
  auto mch = Dial(to.tls, recipient, to.domain);
  if (!mch.ok()) Die(std::string(mch.status().message()));
  auto mailbox = v1::MailboxService::NewStub(*mch);
  const std::string send_auth = Bearer(*submit, user, password);
  std::vector<std::string> read_auth;
  uint32_t before = 0;
  for (const std::string& r : readers) {
    read_auth.push_back(Bearer(*mailbox, r, password));
    before += InboxUidNext(*mailbox, read_auth.back());
  }
  auto listed_now = [&] {
    uint32_t sum = 0;
    for (const std::string& auth : read_auth) sum += InboxUidNext(*mailbox, auth);
    return sum - before;
  };

  std::atomic<int> next{0};
  auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, absl::GetFlag(FLAGS_inflight)); ++t) {
    threads.emplace_back([&] {
      for (int i; (i = next++) < submits;) {
        grpc::ClientContext c;
        c.AddMetadata("authorization", send_auth);
        c.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
        v1::SubmitRequest req;
        req.set_from(user);
        const std::string& reader = readers[i % readers.size()];
        req.add_to(reader);
        req.set_message(absl::StrCat("From: ", user, "\r\nTo: ", reader,
                                     "\r\nSubject: replica bench ", i, "\r\n\r\n",
                                     std::string(1024, 'x'), "\r\n"));
        v1::SubmitResponse resp;
        grpc::Status st = submit->Submit(&c, req, &resp);
        if (!st.ok()) Die("Submit: " + st.error_message());
      }
    });
  }
  for (auto& th : threads) th.join();
  SendFigures f;
  f.submit_per_s = submits / Seconds(t0);
  uint32_t listed = 0;
  while ((listed = listed_now()) < static_cast<uint32_t>(submits) && Seconds(t0) < 600) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (listed < static_cast<uint32_t>(submits)) {
    Die(absl::StrCat("only ", listed, " of ", submits, " submitted messages arrived in 10 min"));
  }
  f.end_to_end_per_s = submits / Seconds(t0);
  return f;
}

int Main() {
  auto from = LoadNodeConfig(absl::GetFlag(FLAGS_from));
  auto to = LoadNodeConfig(absl::GetFlag(FLAGS_to));
  if (!from.ok() || !to.ok()) Die("--from and --to must be node.toml files");
  auto key = SigningKey::LoadPem(from->signing_key);
  if (!key.ok()) Die(std::string(key.status().message()));
  std::string endpoint = absl::GetFlag(FLAGS_endpoint);
  if (endpoint.empty()) endpoint = to->recipient_listen;
  auto channel = Dial(to->tls, endpoint, to->domain);
  if (!channel.ok()) Die(std::string(channel.status().message()));
  auto stub = v1::RecipientService::NewStub(*channel);

  const int n = absl::GetFlag(FLAGS_n);
  const int streams = std::max(1, absl::GetFlag(FLAGS_streams));
  SeededRandom rng(static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
  v1::Notification t;
  t.set_version(1);
  t.set_envelope_sender(absl::StrCat("bench@", from->domain));
  const std::vector<std::string> readers = absl::GetFlag(FLAGS_reader);
  if (readers.empty()) Die("--reader is required");
  t.add_recipients(readers.front());
  t.set_recipient_domain(to->domain);
  t.set_sender_endpoint(from->sender_listen);
  int64_t now = ToUnixMs(absl::Now());
  t.set_created_unix_ms(now);
  t.set_expires_unix_ms(now + 3600'000);
  t.set_body_size(4096);
  t.set_body_sha256(std::string(32, 'h'));
  t.mutable_summary()->set_from(absl::StrCat("Bench <bench@", from->domain, ">"));
  t.mutable_summary()->add_to(readers.front());
  t.mutable_summary()->set_subject("replica benchmark");
  t.set_origin(v1::ORIGIN_NATIVE);
  std::vector<v1::SignedNotification> all;
  all.reserve(n);
  for (int i = 0; i < n; ++i) {
    const std::string& reader = readers[i % readers.size()];
    t.set_recipients(0, reader);
    t.mutable_summary()->set_to(0, reader);
    t.set_message_id(NewMessageId(rng, from->domain));
    t.set_fetch_token(NewToken(rng));
    auto s = SignNotification(t, from->domain, from->key_id, *key);
    if (!s.ok()) Die(std::string(s.status().message()));
    all.push_back(*std::move(s));
  }

  std::atomic<int> stored{0};
  auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int k = 0; k < streams; ++k) {
    threads.emplace_back([&, k] {
      grpc::ClientContext ctx;
      auto stream = stub->NotifyStream(&ctx);
      std::thread rd([&] {
        v1::NotifyResult r;
        while (stream->Read(&r)) {
          if (r.code() == 0 && !r.duplicate()) ++stored;
        }
      });
      grpc::WriteOptions hint;
      hint.set_buffer_hint();
      for (int i = k; i < n; i += streams) stream->Write(all[i], i + streams < n ? hint : grpc::WriteOptions());
      stream->WritesDone();
      rd.join();
      grpc::Status st = stream->Finish();
      if (!st.ok()) Die("NotifyStream: " + st.error_message());
    });
  }
  for (auto& th : threads) th.join();
  const double notify_per_s = n / Seconds(t0);
  const std::string label = absl::GetFlag(FLAGS_label);
  std::printf("%-16s recipient: %d sent, %d stored, %7.0f notifications/s  [%d streams, load "
              "%.2f]\n",
              label.c_str(), n, stored.load(), notify_per_s, streams, Load());
  std::fflush(stdout);
  if (stored.load() != n) return 1;

  SendFigures send;
  const int submits = absl::GetFlag(FLAGS_submits);
  if (submits > 0 && !absl::GetFlag(FLAGS_sender_user).empty()) {
    send = BenchSubmit(*from, *to, endpoint, submits);
    std::printf("%-16s sender:    %d Submits, %7.0f Submits/s, %7.0f/s end to end (listed in "
                "the reader's INBOX)  [%d in flight, load %.2f]\n",
                label.c_str(), submits, send.submit_per_s, send.end_to_end_per_s,
                absl::GetFlag(FLAGS_inflight), Load());
  }
  std::printf("RESULT %s %.0f %.0f %.0f %.2f\n", label.c_str(), notify_per_s, send.submit_per_s,
              send.end_to_end_per_s, Load());
  return 0;
}

}  // namespace
}  // namespace pullmail

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return pullmail::Main();
}
