// Core crypto and envelope costs, to set beside docs/TOOLCHAIN.md's ceilings
// (Ed25519 ~35k sign/s and ~13.6k verify/s per core; SHA-256 ~1.7 GB/s).
// VerifyNotification is what bounds a recipient node's notification rate:
// one signature check plus one parse per notification.
//
//   build/bench/core_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <string>

#include "core/crypto/ed25519.h"
#include "core/crypto/sha256.h"
#include "core/directory/memory_directory.h"
#include "core/envelope/envelope.h"
#include "core/util/clock.h"
#include "core/util/logging.h"
#include "core/util/random.h"

namespace pullmail {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

SigningKey BenchKey() {
  absl::StatusOr<SigningKey> key = SigningKey::FromSeed(std::string(32, '\x5a'));
  PM_CHECK(key.ok()) << key.status();
  return std::move(*key);
}

// A notification as a sender node makes one for a typical message: two
// recipients and a header summary; about 480 bytes serialized.
v1::Notification RealisticNotification() {
  SeededRandom random(1);
  v1::Notification n;
  n.set_version(1);
  n.set_message_id("q4k7m2x6w3e5r6t7y2u3b4n5pa@alpha.example");
  n.set_envelope_sender("ann.example-sender@alpha.example");
  n.add_recipients("bob@beta.example");
  n.add_recipients("carol.longername@beta.example");
  n.set_recipient_domain("beta.example");
  n.set_sender_endpoint("pm.alpha.example:7443");
  n.set_created_unix_ms(ToUnixMs(kNow));
  n.set_expires_unix_ms(ToUnixMs(kNow + absl::Hours(24 * 30)));
  n.set_body_size(48'213);
  n.set_body_sha256(random.Bytes(32));
  n.set_fetch_token(random.Bytes(32));
  n.set_origin(v1::ORIGIN_NATIVE);
  v1::HeaderSummary* s = n.mutable_summary();
  s->set_from("Ann Example <ann.example-sender@alpha.example>");
  s->add_to("bob@beta.example");
  s->add_to("carol.longername@beta.example");
  s->set_subject("Re: quarterly planning notes");
  s->set_date("Tue, 14 Nov 2023 22:13:20 +0000");
  s->set_message_id("<q4k7m2x6w3e5r6t7y2u3b4n5pa@alpha.example>");
  s->set_in_reply_to("<20231114101500.abcdef@beta.example>");
  return n;
}

void BM_Ed25519Sign(benchmark::State& state) {
  SigningKey key = BenchKey();
  std::string message = RealisticNotification().SerializeAsString();
  for (auto _ : state) {
    benchmark::DoNotOptimize(key.Sign(kNotificationContext, message));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Sign);

void BM_Ed25519Verify(benchmark::State& state) {
  SigningKey key = BenchKey();
  std::string public_key = key.PublicKey();
  std::string message = RealisticNotification().SerializeAsString();
  std::string signature = key.Sign(kNotificationContext, message);
  for (auto _ : state) {
    bool ok = VerifySignature(public_key, kNotificationContext, message, signature);
    PM_CHECK(ok);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Ed25519Verify);

void BM_SignNotification(benchmark::State& state) {
  SigningKey key = BenchKey();
  v1::Notification n = RealisticNotification();
  for (auto _ : state) {
    absl::StatusOr<v1::SignedNotification> s = SignNotification(n, "alpha.example", "k1", key);
    PM_CHECK(s.ok()) << s.status();
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignNotification);

// A recipient's view: a directory listing the signer's key, and one signed
// notification from it.
struct Received {
  MemoryDirectory directory;
  v1::SignedNotification signed_n;
};

Received MakeReceived() {
  SigningKey key = BenchKey();
  Received r;
  DomainEntry entry;
  entry.domain = "alpha.example";
  entry.keys["k1"] = key.PublicKey();
  r.directory.Add(entry);
  absl::StatusOr<v1::SignedNotification> s =
      SignNotification(RealisticNotification(), "alpha.example", "k1", key);
  PM_CHECK(s.ok()) << s.status();
  r.signed_n = std::move(*s);
  return r;
}

// The recipient's per-notification work: directory lookup, signature
// check, parse and field checks.
void BM_VerifyNotification(benchmark::State& state) {
  Received r = MakeReceived();
  VerifyOptions options{kNow, "beta.example"};
  for (auto _ : state) {
    absl::StatusOr<v1::Notification> n =
        VerifyNotification(r.signed_n, r.directory, options, nullptr);
    PM_CHECK(n.ok()) << n.status();
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["payload_bytes"] = static_cast<double>(r.signed_n.payload().size());
}
BENCHMARK(BM_VerifyNotification);

// A forged signature costs the receiver a verify but never a parse.
void BM_VerifyNotificationBadSignature(benchmark::State& state) {
  Received r = MakeReceived();
  (*r.signed_n.mutable_signature())[5] ^= 1;
  VerifyOptions options{kNow, "beta.example"};
  for (auto _ : state) {
    absl::StatusOr<v1::Notification> n =
        VerifyNotification(r.signed_n, r.directory, options, nullptr);
    PM_CHECK(!n.ok());
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyNotificationBadSignature);

void BM_Sha256(benchmark::State& state) {
  SeededRandom random(2);
  std::string data = random.Bytes(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(Sha256(data));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Sha256)->Arg(4 << 10)->Arg(1 << 20);

// A body hashed as it arrives in 64 KiB chunks, as a recipient node does.
void BM_Sha256Chunked(benchmark::State& state) {
  SeededRandom random(3);
  std::string data = random.Bytes(1 << 20);
  for (auto _ : state) {
    Sha256Hasher hasher;
    for (size_t off = 0; off < data.size(); off += 64 << 10) {
      hasher.Update(std::string_view(data).substr(off, 64 << 10));
    }
    benchmark::DoNotOptimize(hasher.Finish());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(data.size()));
}
BENCHMARK(BM_Sha256Chunked);

}  // namespace
}  // namespace pullmail

BENCHMARK_MAIN();
