// replica_bench: verified, committed notifications/s into a domain's
// recipient node, over several concurrent NotifyStreams, to one endpoint or
// to a comma-separated list of replicas (spread round-robin, as a sender
// node's channel does). bench/replica_bench.sh runs it against SQLite, one
// PostgreSQL replica and two PostgreSQL replicas in one go, so that the
// figures sit side by side (docs/SCALE-OUT.md).
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
ABSL_FLAG(std::string, reader, "", "user at the receiving domain");
ABSL_FLAG(std::string, label, "", "what to call this run in the output line");
ABSL_FLAG(int, n, 8000, "notifications in all");
ABSL_FLAG(int, streams, 4, "concurrent NotifyStreams (each its own call)");

namespace pullmail {
namespace {

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "replica_bench: %s\n", why.c_str());
  std::exit(1);
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
  t.add_recipients(absl::GetFlag(FLAGS_reader));
  t.set_recipient_domain(to->domain);
  t.set_sender_endpoint(from->sender_listen);
  int64_t now = ToUnixMs(absl::Now());
  t.set_created_unix_ms(now);
  t.set_expires_unix_ms(now + 3600'000);
  t.set_body_size(4096);
  t.set_body_sha256(std::string(32, 'h'));
  t.mutable_summary()->set_from(absl::StrCat("Bench <bench@", from->domain, ">"));
  t.mutable_summary()->add_to(absl::GetFlag(FLAGS_reader));
  t.mutable_summary()->set_subject("replica benchmark");
  t.set_origin(v1::ORIGIN_NATIVE);
  std::vector<v1::SignedNotification> all;
  all.reserve(n);
  for (int i = 0; i < n; ++i) {
    t.set_message_id(NewMessageId(rng, from->domain));
    t.set_fetch_token(NewToken(rng));
    auto s = SignNotification(t, from->domain, from->key_id, *key);
    if (!s.ok()) Die(std::string(s.status().message()));
    all.push_back(*std::move(s));
  }

  std::atomic<int> stored{0};
  auto t0 = std::chrono::steady_clock::now();
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
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double l[1] = {0};
  (void)getloadavg(l, 1);
  std::printf("%-28s %d sent, %d stored, %7.0f notifications/s  [%d streams, load %.2f]\n",
              absl::GetFlag(FLAGS_label).c_str(), n, stored.load(), n / secs, streams, l[0]);
  return stored.load() == n ? 0 : 1;
}

}  // namespace
}  // namespace pullmail

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return pullmail::Main();
}
