// Statistics for reports: a metric's value with its uncertainty, whether a published number is
// within that uncertainty, and whether two runs on the same docs differ. Pure functions; values
// are on the scale they are given in (fractions for 0/1 outcomes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace yardstick {

inline constexpr double kDefaultConfidence = 0.95;

// A metric's value over n docs with a two-sided confidence interval.
struct Estimate {
  double mean = 0.0;
  double std_error = 0.0;   // standard error of the mean
  double ci_low = 0.0;
  double ci_high = 0.0;
  size_t n = 0;
};

// The quantile functions behind the intervals (p in (0, 1); throws InputError otherwise).
double normal_quantile(double p);
double student_t_quantile(double p, double degrees_of_freedom);

// Mean of 0/1 outcomes (accuracy). The interval is the Wilson score interval, which stays
// inside [0, 1] and keeps its coverage near 0 and 1 and for small n where the normal
// approximation does not; std_error is sqrt(p(1-p)/n). n == 0 gives all zeros.
Estimate proportion_estimate(size_t successes, size_t n, double confidence = kDefaultConfidence);
Estimate proportion_estimate(const std::vector<bool>& outcomes, double confidence = kDefaultConfidence);

// Mean of real values: sample standard deviation (n-1), interval mean +- t(n-1) * std_error.
// n == 1 gives a zero-width interval at the value (nothing is known of the spread); n == 0 zeros.
Estimate mean_estimate(std::span<const double> values, double confidence = kDefaultConfidence);

// Our estimate against a published value on the same scale.
struct PublishedComparison {
  double ours = 0.0;
  double published = 0.0;
  double difference = 0.0;    // ours - published
  bool within_noise = false;  // the published value lies inside our interval (ends included)
};
PublishedComparison compare_to_published(const Estimate& ours, double published);

// Two runs graded on the same docs, outcome i of both runs belonging to doc i.
struct PairedComparison {
  size_t n = 0;
  size_t only_a = 0;             // docs a got right and b got wrong
  size_t only_b = 0;             // docs b got right and a got wrong
  double difference = 0.0;       // mean(a) - mean(b)
  double mcnemar_p = 1.0;        // exact two-sided McNemar (binomial on the discordant docs)
  double ci_low = 0.0;           // bootstrap percentile interval of the difference
  double ci_high = 0.0;
  bool significant = false;      // mcnemar_p < 1 - confidence
};
// Throws InputError when a and b differ in length. The bootstrap resamples docs with a
// deterministic generator seeded by `seed`, so a report is reproducible.
PairedComparison compare_paired(const std::vector<bool>& a, const std::vector<bool>& b,
                                double confidence = kDefaultConfidence, uint64_t seed = 0,
                                int resamples = 10000);

// --- Bootstrap intervals, for metrics that are not a single proportion: pass@k (the mean of
// per-problem values in [0, 1]) and averages over subjects. Percentile intervals from
// `resamples` resamples drawn with a generator seeded by `seed`, so a report is reproducible.

// Mean of per-doc values, docs resampled with replacement; std_error is the bootstrap standard
// deviation. n == 0 gives all zeros.
Estimate bootstrap_mean_estimate(std::span<const double> values, double confidence = kDefaultConfidence,
                                 uint64_t seed = 0, int resamples = 2000);

// The unweighted mean over groups (subjects) of each group's mean of per-doc values: the "average
// over subjects" of C-Eval/CMMLU-style tables. Resampling is stratified (docs within each group),
// so every resample has every group, as the real test set does. Empty groups are ignored.
Estimate bootstrap_group_average(const std::vector<std::vector<double>>& groups,
                                 double confidence = kDefaultConfidence, uint64_t seed = 0, int resamples = 2000);

// Two runs' per-doc values (e.g. pass@1 = c/n per problem) on the same docs: a paired bootstrap of
// mean(a) - mean(b). only_a/only_b count docs where a is higher/lower; mcnemar_p holds the
// two-sided bootstrap p-value (twice the smaller share of resampled differences on either side
// of 0, at least 1/resamples when there is any difference) and significant is p < 1 - confidence.
PairedComparison compare_paired_values(std::span<const double> a, std::span<const double> b,
                                       double confidence = kDefaultConfidence, uint64_t seed = 0,
                                       int resamples = 10000);

}  // namespace yardstick
