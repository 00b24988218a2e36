#include "reports/stats.h"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "engine/error.h"

namespace yardstick {
namespace {

void check_probability(double p, const char* what) {
  if (!(p > 0.0 && p < 1.0)) throw InputError(fmt::format("{}: probability {} is not in (0, 1)", what, p));
}

// The x where the increasing function cdf(x) crosses p, by bisection: slow but simple, and
// exact to double precision, which a report needs more than speed.
template <typename Cdf>
double invert_cdf(Cdf cdf, double p, double lo, double hi) {
  while (cdf(lo) > p) lo *= 2;
  while (cdf(hi) < p) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-15 * std::max(1.0, std::fabs(lo)); ++i) {
    double mid = 0.5 * (lo + hi);
    (cdf(mid) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Continued fraction of the regularized incomplete beta function I_x(a, b), evaluated by the
// modified Lentz method; converges fast for x < (a + 1) / (a + b + 2).
double incomplete_beta_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1.0 / d;
  double f = d;
  for (int m = 1; m <= 10000; ++m) {
    for (int half = 0; half < 2; ++half) {
      // Even terms m(b-m)x / ((a+2m-1)(a+2m)); odd terms -(a+m)(a+b+m)x / ((a+2m)(a+2m+1)).
      double num = half == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                             : -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
      d = 1.0 + num * d;
      if (std::fabs(d) < tiny) d = tiny;
      c = 1.0 + num / c;
      if (std::fabs(c) < tiny) c = tiny;
      d = 1.0 / d;
      f *= c * d;
      if (half == 1 && std::fabs(c * d - 1.0) < 1e-16) return f;
    }
  }
  return f;
}

double regularized_incomplete_beta(double a, double b, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1.0) / (a + b + 2.0)) return std::exp(log_front) * incomplete_beta_fraction(a, b, x) / a;
  return 1.0 - std::exp(log_front) * incomplete_beta_fraction(b, a, 1.0 - x) / b;
}

double student_t_cdf(double t, double df) {
  double tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t));
  return t >= 0 ? 1.0 - tail : tail;
}

// P(X <= k) for X ~ Binomial(n, 1/2), summed in log space so large n doesn't underflow.
double binomial_half_cdf(size_t k, size_t n) {
  double log_half_n = -static_cast<double>(n) * std::log(2.0);
  double max_log = -INFINITY;
  std::vector<double> logs;
  for (size_t i = 0; i <= k; ++i) {
    double l = std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + log_half_n;
    logs.push_back(l);
    max_log = std::max(max_log, l);
  }
  double sum = 0.0;
  for (double l : logs) sum += std::exp(l - max_log);
  return std::exp(max_log) * sum;
}

// SplitMix64: a small generator whose stream is the same on every platform, unlike the
// standard distributions, so a bootstrap interval is reproducible from its seed.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }
};

// Linear interpolation between order statistics of sorted values.
double percentile(const std::vector<double>& sorted, double q) {
  double pos = q * static_cast<double>(sorted.size() - 1);
  size_t i = static_cast<size_t>(pos);
  if (i + 1 >= sorted.size()) return sorted.back();
  return sorted[i] + (pos - static_cast<double>(i)) * (sorted[i + 1] - sorted[i]);
}

double two_sided_quantile_level(double confidence) {
  check_probability(confidence, "confidence");
  return 1.0 - (1.0 - confidence) / 2.0;
}

}  // namespace

double normal_quantile(double p) {
  check_probability(p, "normal_quantile");
  return invert_cdf(normal_cdf, p, -1.0, 1.0);
}

double student_t_quantile(double p, double degrees_of_freedom) {
  check_probability(p, "student_t_quantile");
  if (!(degrees_of_freedom > 0))
    throw InputError(fmt::format("student_t_quantile: {} degrees of freedom", degrees_of_freedom));
  return invert_cdf([&](double t) { return student_t_cdf(t, degrees_of_freedom); }, p, -1.0, 1.0);
}

Estimate proportion_estimate(size_t successes, size_t n, double confidence) {
  if (successes > n)
    throw InputError(fmt::format("proportion_estimate: {} successes out of {}", successes, n));
  Estimate e;
  e.n = n;
  if (n == 0) return e;
  double z = normal_quantile(two_sided_quantile_level(confidence));
  double nn = static_cast<double>(n), p = static_cast<double>(successes) / nn, z2 = z * z;
  double denom = 1.0 + z2 / nn;
  double center = (p + z2 / (2.0 * nn)) / denom;
  double half = z / denom * std::sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
  e.mean = p;
  e.std_error = std::sqrt(p * (1.0 - p) / nn);
  e.ci_low = std::max(0.0, center - half);
  e.ci_high = std::min(1.0, center + half);
  return e;
}

Estimate proportion_estimate(const std::vector<bool>& outcomes, double confidence) {
  return proportion_estimate(static_cast<size_t>(std::count(outcomes.begin(), outcomes.end(), true)),
                             outcomes.size(), confidence);
}

Estimate mean_estimate(std::span<const double> values, double confidence) {
  Estimate e;
  e.n = values.size();
  if (values.empty()) return e;
  double level = two_sided_quantile_level(confidence);
  double nn = static_cast<double>(values.size()), sum = 0.0;
  for (double v : values) sum += v;
  e.mean = sum / nn;
  e.ci_low = e.ci_high = e.mean;
  if (values.size() < 2) return e;
  double squares = 0.0;
  for (double v : values) squares += (v - e.mean) * (v - e.mean);
  e.std_error = std::sqrt(squares / (nn - 1.0)) / std::sqrt(nn);
  double t = student_t_quantile(level, nn - 1.0);
  e.ci_low = e.mean - t * e.std_error;
  e.ci_high = e.mean + t * e.std_error;
  return e;
}

PublishedComparison compare_to_published(const Estimate& ours, double published) {
  PublishedComparison c;
  c.ours = ours.mean;
  c.published = published;
  c.difference = ours.mean - published;
  c.within_noise = ours.n > 0 && published >= ours.ci_low && published <= ours.ci_high;
  return c;
}

namespace {

// The percentile interval and standard deviation of bootstrap statistics around `mean`.
Estimate bootstrap_estimate(double mean, std::vector<double> boot, size_t n, double confidence) {
  double level = two_sided_quantile_level(confidence);
  Estimate e;
  e.mean = mean;
  e.n = n;
  std::sort(boot.begin(), boot.end());
  double sum = 0.0, sq = 0.0;
  for (double b : boot) sum += b;
  double m = sum / static_cast<double>(boot.size());
  for (double b : boot) sq += (b - m) * (b - m);
  e.std_error = boot.size() > 1 ? std::sqrt(sq / static_cast<double>(boot.size() - 1)) : 0.0;
  e.ci_low = percentile(boot, 1.0 - level);
  e.ci_high = percentile(boot, level);
  return e;
}

double mean_of(std::span<const double> v) {
  double sum = 0.0;
  for (double x : v) sum += x;
  return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
}

// The paired differences' mean, the docs on either side, and a bootstrap over docs: the percentile
// interval of the mean difference and a two-sided p-value (twice the smaller share of resampled
// means on either side of 0, at least 1/resamples when any doc differs).
PairedComparison paired_bootstrap(const std::vector<double>& diff, double confidence, uint64_t seed, int resamples) {
  double level = two_sided_quantile_level(confidence);
  PairedComparison c;
  c.n = diff.size();
  if (c.n == 0) return c;
  for (double d : diff) {
    c.only_a += d > 0;
    c.only_b += d < 0;
  }
  c.difference = mean_of(diff);
  SplitMix64 rng{seed};
  std::vector<double> boot(static_cast<size_t>(std::max(resamples, 1)));
  size_t at_or_below = 0, at_or_above = 0;
  for (auto& m : boot) {
    double total = 0.0;
    for (size_t i = 0; i < c.n; ++i) total += diff[rng.below(c.n)];
    m = total / static_cast<double>(c.n);
    at_or_below += m <= 0.0;
    at_or_above += m >= 0.0;
  }
  double r = static_cast<double>(boot.size());
  if (c.only_a + c.only_b > 0)
    c.mcnemar_p = std::min(1.0, std::max(2.0 * static_cast<double>(std::min(at_or_below, at_or_above)) / r, 1.0 / r));
  c.significant = c.mcnemar_p < 1.0 - confidence;
  std::sort(boot.begin(), boot.end());
  c.ci_low = percentile(boot, 1.0 - level);
  c.ci_high = percentile(boot, level);
  return c;
}

}  // namespace

Estimate bootstrap_mean_estimate(std::span<const double> values, double confidence, uint64_t seed, int resamples) {
  if (values.empty()) return {};
  SplitMix64 rng{seed};
  size_t n = values.size();
  std::vector<double> boot(static_cast<size_t>(std::max(resamples, 1)));
  for (auto& b : boot) {
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) total += values[rng.below(n)];
    b = total / static_cast<double>(n);
  }
  return bootstrap_estimate(mean_of(values), std::move(boot), n, confidence);
}

Estimate bootstrap_group_average(const std::vector<std::vector<double>>& groups, double confidence, uint64_t seed,
                                 int resamples) {
  std::vector<const std::vector<double>*> present;
  size_t n = 0;
  for (const auto& g : groups)
    if (!g.empty()) {
      present.push_back(&g);
      n += g.size();
    }
  if (present.empty()) return {};
  auto average = [&](auto&& group_mean) {
    double sum = 0.0;
    for (const auto* g : present) sum += group_mean(*g);
    return sum / static_cast<double>(present.size());
  };
  SplitMix64 rng{seed};
  std::vector<double> boot(static_cast<size_t>(std::max(resamples, 1)));
  for (auto& b : boot)
    b = average([&](const std::vector<double>& g) {
      double total = 0.0;
      for (size_t i = 0; i < g.size(); ++i) total += g[rng.below(g.size())];
      return total / static_cast<double>(g.size());
    });
  return bootstrap_estimate(average([](const std::vector<double>& g) { return mean_of(g); }), std::move(boot), n,
                            confidence);
}

PairedComparison compare_paired_values(std::span<const double> a, std::span<const double> b, double confidence,
                                       uint64_t seed, int resamples) {
  if (a.size() != b.size())
    throw InputError(fmt::format("compare_paired_values: {} values against {}; pairs need the same docs",
                                 a.size(), b.size()));
  std::vector<double> diff(a.size());
  for (size_t i = 0; i < a.size(); ++i) diff[i] = a[i] - b[i];
  return paired_bootstrap(diff, confidence, seed, resamples);
}

PairedComparison compare_paired(const std::vector<bool>& a, const std::vector<bool>& b, double confidence,
                                uint64_t seed, int resamples) {
  if (a.size() != b.size())
    throw InputError(fmt::format("compare_paired: {} outcomes against {}; pairs need the same docs",
                                 a.size(), b.size()));
  std::vector<double> diff(a.size());   // per doc: +1 only a right, -1 only b right, 0 agree
  for (size_t i = 0; i < a.size(); ++i) diff[i] = double(a[i]) - double(b[i]);
  PairedComparison c = paired_bootstrap(diff, confidence, seed, resamples);
  size_t discordant = c.only_a + c.only_b;
  c.mcnemar_p = discordant == 0 ? 1.0
                                : std::min(1.0, 2.0 * binomial_half_cdf(std::min(c.only_a, c.only_b), discordant));
  c.significant = c.mcnemar_p < 1.0 - confidence;
  return c;
}

}  // namespace yardstick
