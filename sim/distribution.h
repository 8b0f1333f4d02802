// Probability distributions of the scenario (body sizes, recipients per
// message, read delays). Each is sampled by inverse transform from one
// uniform number, so a draw is a pure function of that number: the simulator
// derives the number from a hash of (seed, message, user) and both the pull
// and the push world see the same reader behaviour.
#ifndef PULLMAIL_SIM_DISTRIBUTION_H_
#define PULLMAIL_SIM_DISTRIBUTION_H_

#include <limits>
#include <string>

#include "core/util/random.h"

namespace pullmail::sim {

class Distribution {
 public:
  enum class Kind { kFixed, kUniform, kExponential, kLogNormal, kPareto };

  static Distribution Fixed(double value);
  static Distribution Uniform(double min, double max);
  static Distribution Exponential(double mean);
  // median = e^mu; sigma is the standard deviation of the underlying normal.
  static Distribution LogNormal(double median, double sigma);
  // P(X > x) = (min / x)^alpha for x >= min.
  static Distribution Pareto(double min, double alpha);

  // Draws are clamped to [floor, cap].
  Distribution& Clamp(double floor, double cap);

  // The value at cumulative probability u in [0, 1) (clamped). Pure.
  double Quantile(double u) const;
  // One draw from `rng`.
  double Sample(Random& rng) const { return Quantile(rng.UniformDouble()); }
  // The mean before clamping (infinite for Pareto with alpha <= 1).
  double Mean() const;

  Kind kind() const { return kind_; }
  double a() const { return a_; }
  double b() const { return b_; }
  double floor() const { return floor_; }
  double cap() const { return cap_; }
  // e.g. "lognormal(median=7200, sigma=1.5)".
  std::string Describe() const;

 private:
  Distribution(Kind kind, double a, double b) : kind_(kind), a_(a), b_(b) {}
  Kind kind_;
  double a_, b_;
  double floor_ = -std::numeric_limits<double>::infinity();
  double cap_ = std::numeric_limits<double>::infinity();
};

// The standard normal quantile (Acklam's rational approximation, relative
// error < 1.2e-9). u in (0, 1).
double NormalQuantile(double u);

// SplitMix64 finaliser: a well-mixed 64-bit hash of `x`.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
inline uint64_t Mix64(uint64_t a, uint64_t b) { return Mix64(Mix64(a) ^ (b * 0xD6E8FEB86659FD93ull)); }
inline uint64_t Mix64(uint64_t a, uint64_t b, uint64_t c) { return Mix64(Mix64(a, b), c); }
// A uniform double in [0, 1) from a hash.
inline double UnitFromHash(uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; }

}  // namespace pullmail::sim

#endif  // PULLMAIL_SIM_DISTRIBUTION_H_
