// Statistics against values computed by hand (and checked against published tables).
#include "reports/stats.h"

#include <vector>

#include <gtest/gtest.h>

#include "engine/error.h"

namespace yardstick {
namespace {

TEST(Quantiles, NormalMatchesTheTable) {
  EXPECT_NEAR(normal_quantile(0.975), 1.959964, 1e-6);
  EXPECT_NEAR(normal_quantile(0.95), 1.644854, 1e-6);
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-12);
  EXPECT_NEAR(normal_quantile(0.025), -1.959964, 1e-6);
}

TEST(Quantiles, StudentTMatchesTheTable) {
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.706205, 1e-5);
  EXPECT_NEAR(student_t_quantile(0.975, 7), 2.364624, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.975, 9), 2.262157, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.975, 30), 2.042272, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.995, 4), 4.604095, 1e-6);
  EXPECT_NEAR(student_t_quantile(0.025, 9), -2.262157, 1e-6);
  // Many degrees of freedom: the normal distribution.
  EXPECT_NEAR(student_t_quantile(0.975, 1e6), 1.959966, 1e-5);
}

TEST(Quantiles, RejectProbabilitiesOutsideTheOpenInterval) {
  EXPECT_THROW(normal_quantile(0.0), InputError);
  EXPECT_THROW(normal_quantile(1.0), InputError);
  EXPECT_THROW(student_t_quantile(0.5, 0), InputError);
}

// Wilson 95% for 8/10: p = 0.8, z^2 = 3.841459, centre = (0.8 + 0.192073) / 1.384146 = 0.716740,
// half-width = 1.959964 / 1.384146 * sqrt(0.016 + 0.009604) = 0.226578.
TEST(ProportionEstimate, WilsonIntervalForEightOfTen) {
  Estimate e = proportion_estimate(8, 10);
  EXPECT_DOUBLE_EQ(e.mean, 0.8);
  EXPECT_NEAR(e.std_error, 0.126491, 1e-6);   // sqrt(0.8 * 0.2 / 10)
  EXPECT_NEAR(e.ci_low, 0.490162, 1e-6);
  EXPECT_NEAR(e.ci_high, 0.943318, 1e-6);
  EXPECT_EQ(e.n, 10u);
}

TEST(ProportionEstimate, StaysInsideZeroOneAtTheEdges) {
  Estimate none = proportion_estimate(0, 20);
  EXPECT_DOUBLE_EQ(none.ci_low, 0.0);
  EXPECT_NEAR(none.ci_high, 0.161125, 1e-6);   // z^2 / (n + z^2) = 3.841459 / 23.841459
  Estimate all = proportion_estimate(20, 20);
  EXPECT_DOUBLE_EQ(all.ci_high, 1.0);
  EXPECT_NEAR(all.ci_low, 1 - 0.161125, 1e-6);
}

TEST(ProportionEstimate, GsmSizedRun) {
  // 230 of 1319 (17.4%, the published 7B base GSM8K score): Wilson [15.49%, 19.58%].
  Estimate e = proportion_estimate(230, 1319);
  EXPECT_NEAR(e.mean, 0.174375, 1e-6);
  EXPECT_NEAR(e.ci_low, 0.154851, 1e-6);
  EXPECT_NEAR(e.ci_high, 0.195789, 1e-6);
}

TEST(ProportionEstimate, FromOutcomesCountsTheTrueOnes) {
  std::vector<bool> outcomes = {true, false, true, true, false, true, true, true, true, true};
  Estimate a = proportion_estimate(outcomes), b = proportion_estimate(8, 10);
  EXPECT_DOUBLE_EQ(a.mean, b.mean);
  EXPECT_DOUBLE_EQ(a.ci_low, b.ci_low);
  EXPECT_DOUBLE_EQ(a.ci_high, b.ci_high);
}

TEST(ProportionEstimate, EmptyAndImpossibleCounts) {
  Estimate e = proportion_estimate(0, 0);
  EXPECT_EQ(e.n, 0u);
  EXPECT_DOUBLE_EQ(e.mean, 0.0);
  EXPECT_THROW(proportion_estimate(3, 2), InputError);
}

TEST(ProportionEstimate, NarrowerAtLowerConfidence) {
  Estimate e95 = proportion_estimate(50, 100), e80 = proportion_estimate(50, 100, 0.80);
  EXPECT_LT(e80.ci_high - e80.ci_low, e95.ci_high - e95.ci_low);
}

// {2,4,4,4,5,5,7,9}: mean 5, squared deviations 32, sd = sqrt(32/7) = 2.138090,
// se = 0.755929, t(0.975, 7) = 2.364624, half-width 1.787488.
TEST(MeanEstimate, StudentTInterval) {
  std::vector<double> v = {2, 4, 4, 4, 5, 5, 7, 9};
  Estimate e = mean_estimate(v);
  EXPECT_DOUBLE_EQ(e.mean, 5.0);
  EXPECT_NEAR(e.std_error, 0.755929, 1e-6);
  EXPECT_NEAR(e.ci_low, 3.212512, 1e-6);
  EXPECT_NEAR(e.ci_high, 6.787488, 1e-6);
  EXPECT_EQ(e.n, 8u);
}

TEST(MeanEstimate, OneValueHasNoSpread) {
  std::vector<double> v = {0.7};
  Estimate e = mean_estimate(v);
  EXPECT_DOUBLE_EQ(e.mean, 0.7);
  EXPECT_DOUBLE_EQ(e.ci_low, 0.7);
  EXPECT_DOUBLE_EQ(e.ci_high, 0.7);
  EXPECT_EQ(mean_estimate(std::vector<double>{}).n, 0u);
}

TEST(CompareToPublished, InsideTheIntervalIsWithinNoise) {
  Estimate e = proportion_estimate(8, 10);   // [0.490, 0.943]
  PublishedComparison c = compare_to_published(e, 0.6);
  EXPECT_TRUE(c.within_noise);
  EXPECT_NEAR(c.difference, 0.2, 1e-12);
  EXPECT_DOUBLE_EQ(c.ours, 0.8);
  EXPECT_DOUBLE_EQ(c.published, 0.6);
}

TEST(CompareToPublished, OutsideTheIntervalIsNot) {
  Estimate e = proportion_estimate(8, 10);
  PublishedComparison c = compare_to_published(e, 0.45);
  EXPECT_FALSE(c.within_noise);
  EXPECT_NEAR(c.difference, 0.35, 1e-12);
  EXPECT_FALSE(compare_to_published(proportion_estimate(0, 0), 0.0).within_noise);   // nothing measured
}

std::vector<bool> outcomes(const std::string& s) {
  std::vector<bool> v;
  for (char c : s) v.push_back(c == '1');
  return v;
}

// a right and b wrong on 9 docs, the reverse on 1: discordant 10, P(X <= 1 | Bin(10, 1/2)) =
// 11/1024, two-sided p = 22/1024 = 0.021484.
TEST(ComparePaired, McNemarExactOnDiscordantDocs) {
  auto a = outcomes("1111111110" "1111100000");
  auto b = outcomes("0000000001" "1111100000");
  PairedComparison c = compare_paired(a, b);
  EXPECT_EQ(c.n, 20u);
  EXPECT_EQ(c.only_a, 9u);
  EXPECT_EQ(c.only_b, 1u);
  EXPECT_NEAR(c.difference, 0.4, 1e-12);
  EXPECT_NEAR(c.mcnemar_p, 22.0 / 1024.0, 1e-12);
  EXPECT_TRUE(c.significant);
  EXPECT_LT(c.ci_low, c.difference);
  EXPECT_GT(c.ci_high, c.difference);
  EXPECT_GT(c.ci_low, 0.0);   // every resample has more docs only a got right
}

TEST(ComparePaired, IdenticalRunsDoNotDiffer) {
  auto a = outcomes("1010110011");
  PairedComparison c = compare_paired(a, a);
  EXPECT_DOUBLE_EQ(c.mcnemar_p, 1.0);
  EXPECT_FALSE(c.significant);
  EXPECT_DOUBLE_EQ(c.ci_low, 0.0);
  EXPECT_DOUBLE_EQ(c.ci_high, 0.0);
}

TEST(ComparePaired, BalancedDisagreementIsNotSignificant) {
  // 3 and 3 discordant: p = 1 (capped); 4 and 1: P(X <= 1 | Bin(5, 1/2)) = 6/32, p = 0.375.
  EXPECT_DOUBLE_EQ(compare_paired(outcomes("111000"), outcomes("000111")).mcnemar_p, 1.0);
  PairedComparison c = compare_paired(outcomes("11110"), outcomes("00001"));
  EXPECT_NEAR(c.mcnemar_p, 0.375, 1e-12);
  EXPECT_FALSE(c.significant);
}

TEST(ComparePaired, BootstrapIsReproducibleFromItsSeed) {
  auto a = outcomes("1101011101" "0110111010");
  auto b = outcomes("1001010101" "0110101011");
  PairedComparison x = compare_paired(a, b, 0.95, 7), y = compare_paired(a, b, 0.95, 7);
  EXPECT_DOUBLE_EQ(x.ci_low, y.ci_low);
  EXPECT_DOUBLE_EQ(x.ci_high, y.ci_high);
}

TEST(ComparePaired, DifferentDocCountsAreAnError) {
  EXPECT_THROW(compare_paired(outcomes("101"), outcomes("10")), InputError);
}

}  // namespace
}  // namespace yardstick
