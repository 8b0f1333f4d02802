// Randomness as core's logic sees it: injected, so that tests and the
// simulator are deterministic while real nodes use the OS CSPRNG.
#ifndef PULLMAIL_CORE_UTIL_RANDOM_H_
#define PULLMAIL_CORE_UTIL_RANDOM_H_

#include <cstdint>
#include <string>

namespace pullmail {

class Random {
 public:
  virtual ~Random() = default;
  // Fills `out[0, n)` with random bytes.
  virtual void Fill(uint8_t* out, size_t n) = 0;

  // `n` random bytes as a string.
  std::string Bytes(size_t n);
  // Uniform in [0, bound); bound > 0.
  uint64_t Uniform(uint64_t bound);
  // Uniform double in [0, 1).
  double UniformDouble();
};

// OpenSSL's CSPRNG (RAND_bytes). Thread-safe. Aborts if the OS has no
// entropy, which is a broken invariant rather than a peer's doing.
Random& SecureRandom();

// A deterministic generator (SplitMix64) for tests and the simulator. Not
// cryptographically secure; never use it for tokens or keys in a real node.
class SeededRandom : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  void Fill(uint8_t* out, size_t n) override;
  uint64_t Next();

 private:
  uint64_t state_;
};

}  // namespace pullmail

#endif  // PULLMAIL_CORE_UTIL_RANDOM_H_
