// The system clock and the two random sources.
#include <openssl/rand.h>

#include <cstring>

#include "absl/time/clock.h"
#include "core/util/clock.h"
#include "core/util/logging.h"
#include "core/util/random.h"

namespace pullmail {
namespace {

class SystemClockImpl : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

class SecureRandomImpl : public Random {
 public:
  void Fill(uint8_t* out, size_t n) override {
    PM_CHECK(RAND_bytes(out, static_cast<int>(n)) == 1) << "RAND_bytes failed";
  }
};

}  // namespace

Clock& SystemClock() {
  static SystemClockImpl* clock = new SystemClockImpl();
  return *clock;
}

Random& SecureRandom() {
  static SecureRandomImpl* random = new SecureRandomImpl();
  return *random;
}

std::string Random::Bytes(size_t n) {
  std::string out(n, '\0');
  Fill(reinterpret_cast<uint8_t*>(out.data()), n);
  return out;
}

uint64_t Random::Uniform(uint64_t bound) {
  // Rejection sampling removes modulo bias.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t v;
  do {
    Fill(reinterpret_cast<uint8_t*>(&v), sizeof(v));
  } while (v >= limit);
  return v % bound;
}

double Random::UniformDouble() {
  uint64_t v;
  Fill(reinterpret_cast<uint8_t*>(&v), sizeof(v));
  return static_cast<double>(v >> 11) * 0x1.0p-53;
}

uint64_t SeededRandom::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void SeededRandom::Fill(uint8_t* out, size_t n) {
  while (n > 0) {
    uint64_t v = Next();
    size_t k = n < sizeof(v) ? n : sizeof(v);
    std::memcpy(out, &v, k);
    out += k;
    n -= k;
  }
}

}  // namespace pullmail
