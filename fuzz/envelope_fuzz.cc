// libFuzzer harness: the signed objects a hostile domain sends
// (core/envelope/envelope.h): notifications, spam reports and revocations.
// The first byte picks the object and the mode; the rest is either
//   - the whole signed object on the wire (a serialized Signed* message), or
//   - a payload that the harness signs with a listed domain's real key, so
//     that parsing and every field check past the signature are reached, as
//     they are for a rogue node holding a real key.
// Verified notifications are also signed again (SignNotification's checks).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "core/crypto/ed25519.h"
#include "core/directory/memory_directory.h"
#include "core/envelope/envelope.h"
#include "fuzz/fuzz_util.h"
#include "pullmail/v1/pullmail.pb.h"

namespace pullmail {
namespace {

struct World {
  SigningKey key = *SigningKey::FromSeed(std::string(32, '\x11'));
  MemoryDirectory directory;
  World() {
    DomainEntry a;
    a.domain = "a.example";
    a.recipient_endpoint = "127.0.0.1:7001";
    a.sender_endpoint = "127.0.0.1:7002";
    a.keys["k1"] = key.PublicKey();
    directory.Add(a);
    DomainEntry b;
    b.domain = "b.example";
    b.keys["k1"] = std::string(32, '\x01');
    directory.Add(b);
    DomainEntry l;
    l.domain = "legacy.example";
    l.legacy = true;
    directory.Add(l);
  }
};

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

template <typename Signed>
void FillSigned(Signed* s, std::string_view payload, std::string_view context, const World& w) {
  s->set_payload(std::string(payload));
  s->set_signing_domain("a.example");
  s->set_key_id("k1");
  s->set_signature(w.key.Sign(context, payload));
}

}  // namespace
}  // namespace pullmail

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pullmail;
  static const World* world = new World;
  const World& w = *world;
  std::string_view in = fuzz::AsView(data, size);
  uint8_t sel = fuzz::TakeSelector(&in);
  bool wire = (sel & 4) != 0;
  Rejection reason;
  switch (sel % 4) {
    case 0:
    case 3: {
      v1::SignedNotification s;
      if (wire) {
        if (!s.ParseFromArray(in.data(), static_cast<int>(in.size()))) return 0;
      } else {
        FillSigned(&s, in, kNotificationContext, w);
      }
      VerifyOptions opt{.now = kNow, .expected_recipient_domain = (sel & 8) ? "b.example" : ""};
      auto n = VerifyNotification(s, w.directory, opt, &reason);
      (void)RejectionName(reason);
      (void)RejectionCode(reason);
      if (n.ok()) (void)SignNotification(*n, "a.example", "k1", w.key, &w.directory);
      if (!wire) {
        v1::Notification raw;
        if (raw.ParseFromArray(in.data(), static_cast<int>(in.size()))) {
          (void)SignNotification(raw, "a.example", "k1", w.key, &w.directory);
        }
      }
      break;
    }
    case 1: {
      v1::SignedSpamReport s;
      if (wire) {
        if (!s.ParseFromArray(in.data(), static_cast<int>(in.size()))) return 0;
      } else {
        FillSigned(&s, in, kSpamReportContext, w);
      }
      auto r = VerifySpamReport(s, w.directory, kNow, &reason);
      if (r.ok()) (void)SignSpamReport(*r, "a.example", "k1", w.key);
      break;
    }
    case 2: {
      v1::SignedRevocation s;
      if (wire) {
        if (!s.ParseFromArray(in.data(), static_cast<int>(in.size()))) return 0;
      } else {
        FillSigned(&s, in, kRevocationContext, w);
      }
      auto r = VerifyRevocation(s, w.directory, kNow, &reason);
      if (r.ok()) (void)SignRevocation(*r, "a.example", "k1", w.key);
      break;
    }
  }
  return 0;
}
