// Inverse-transform sampling for the scenario's distributions.
#include "sim/distribution.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace pullmail::sim {

Distribution Distribution::Fixed(double value) { return Distribution(Kind::kFixed, value, 0); }
Distribution Distribution::Uniform(double min, double max) {
  return Distribution(Kind::kUniform, min, max);
}
Distribution Distribution::Exponential(double mean) {
  return Distribution(Kind::kExponential, mean, 0);
}
Distribution Distribution::LogNormal(double median, double sigma) {
  return Distribution(Kind::kLogNormal, median, sigma);
}
Distribution Distribution::Pareto(double min, double alpha) {
  return Distribution(Kind::kPareto, min, alpha);
}

Distribution& Distribution::Clamp(double floor, double cap) {
  floor_ = floor;
  cap_ = cap;
  return *this;
}

double NormalQuantile(double p) {
  // Acklam's algorithm: rational approximations in the central region and
  // the two tails.
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                             -2.759285104469687e+02, 1.383577518672690e+02,
                             -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                             -1.556989798598866e+02, 6.680131188771972e+01,
                             -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                             -2.400758277161838e+00, -2.549732539343734e+00,
                             4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                             2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425, kHigh = 1 - kLow;
  p = std::clamp(p, 1e-300, 1 - 1e-16);
  if (p < kLow) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p <= kHigh) {
    double q = p - 0.5, r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
           (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  double q = std::sqrt(-2 * std::log(1 - p));
  return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
         ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
}

double Distribution::Quantile(double u) const {
  u = std::clamp(u, 0.0, std::nextafter(1.0, 0.0));
  double v = 0;
  switch (kind_) {
    case Kind::kFixed: v = a_; break;
    case Kind::kUniform: v = a_ + (b_ - a_) * u; break;
    case Kind::kExponential: v = -a_ * std::log1p(-u); break;
    case Kind::kLogNormal: v = a_ * std::exp(b_ * NormalQuantile(u)); break;
    case Kind::kPareto: v = a_ / std::pow(1 - u, 1 / b_); break;
  }
  return std::clamp(v, floor_, cap_);
}

double Distribution::Mean() const {
  switch (kind_) {
    case Kind::kFixed: return a_;
    case Kind::kUniform: return (a_ + b_) / 2;
    case Kind::kExponential: return a_;
    case Kind::kLogNormal: return a_ * std::exp(b_ * b_ / 2);
    case Kind::kPareto:
      return b_ > 1 ? b_ * a_ / (b_ - 1) : std::numeric_limits<double>::infinity();
  }
  return 0;
}

std::string Distribution::Describe() const {
  std::string s;
  switch (kind_) {
    case Kind::kFixed: s = absl::StrCat(a_); break;
    case Kind::kUniform: s = absl::StrCat("uniform(", a_, "..", b_, ")"); break;
    case Kind::kExponential: s = absl::StrCat("exponential(mean=", a_, ")"); break;
    case Kind::kLogNormal: s = absl::StrCat("lognormal(median=", a_, ", sigma=", b_, ")"); break;
    case Kind::kPareto: s = absl::StrCat("pareto(min=", a_, ", alpha=", b_, ")"); break;
  }
  if (std::isfinite(cap_)) absl::StrAppend(&s, " max ", cap_);
  return s;
}

}  // namespace pullmail::sim
