// Greedy choice, seeded sampling and log-softmax, as pure functions of the logits.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "engine/sampler.h"

namespace yardstick {
namespace {

SamplingParams temp(float t, int top_k = 0, float top_p = 1.0f) {
  SamplingParams p;
  p.temperature = t;
  p.top_k = top_k;
  p.top_p = top_p;
  return p;
}

TEST(Sampler, ArgmaxTiesGoToTheLowestId) {
  EXPECT_EQ(argmax(std::vector<float>{1, 3, 3, 2}), 1);
  EXPECT_EQ(argmax(std::vector<float>{5, 5}), 0);
  EXPECT_EQ(argmax(std::vector<float>{NAN, -1, 4, NAN}), 2);
}

TEST(Sampler, LogsumexpIsStableForLargeLogits) {
  std::vector<float> big{1000.0f, 1000.0f};
  EXPECT_NEAR(logsumexp(big), 1000.0 + std::log(2.0), 1e-9);
  std::vector<float> small{-1000.0f, -1000.0f - std::log(3.0f)};
  EXPECT_NEAR(logsumexp(small), -1000.0 + std::log(1.0 + 1.0 / 3.0), 1e-4);
}

TEST(Sampler, CounterUniformIsAFunctionOfStreamAndStep) {
  EXPECT_EQ(counter_uniform(3, 9), counter_uniform(3, 9));
  EXPECT_NE(counter_uniform(3, 9), counter_uniform(3, 10));
  EXPECT_NE(counter_uniform(3, 9), counter_uniform(4, 9));
  double sum = 0;
  for (uint64_t i = 0; i < 10000; ++i) {
    const double u = counter_uniform(77, i);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

TEST(Sampler, TemperatureZeroAndTopKOneAreGreedy) {
  const std::vector<float> logits{0.5f, 2.0f, 2.0f, -1.0f};
  for (uint64_t step = 0; step < 50; ++step) {
    EXPECT_EQ(sample_token(logits, temp(0.0f), 1, step), 1);
    EXPECT_EQ(sample_token(logits, temp(1.5f, 1), 1, step), 1);
  }
}

// Frequencies of 20000 draws over consecutive steps (deterministic: the generator is
// counter-based).
std::map<int32_t, double> frequencies(const std::vector<float>& logits, const SamplingParams& p) {
  std::map<int32_t, double> f;
  const int n = 20000;
  for (int i = 0; i < n; ++i) f[sample_token(logits, p, 12345, uint64_t(i))] += 1.0 / n;
  return f;
}

TEST(Sampler, DrawsFollowTheSoftmaxAtTheTemperature) {
  const std::vector<float> logits{std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  auto f = frequencies(logits, temp(1.0f));
  EXPECT_NEAR(f[0], 0.5, 0.02);
  EXPECT_NEAR(f[1], 0.3, 0.02);
  EXPECT_NEAR(f[2], 0.2, 0.02);
  // T = 0.5 squares the probabilities before renormalising: 25:9:4.
  auto g = frequencies(logits, temp(0.5f));
  EXPECT_NEAR(g[0], 25.0 / 38, 0.02);
  EXPECT_NEAR(g[2], 4.0 / 38, 0.02);
}

TEST(Sampler, TopKAndTopPCutTheTail) {
  const std::vector<float> logits{std::log(0.1f), std::log(0.4f), std::log(0.3f), std::log(0.2f)};
  auto k2 = frequencies(logits, temp(1.0f, 2));
  EXPECT_EQ(k2.count(0) + k2.count(3), 0u);
  EXPECT_NEAR(k2[1], 4.0 / 7, 0.02);
  // top_p 0.6: {0.4, 0.3} is the smallest most-probable set reaching it.
  auto p = frequencies(logits, temp(1.0f, 0, 0.6f));
  EXPECT_EQ(p.size(), 2u);
  EXPECT_NEAR(p[2], 3.0 / 7, 0.02);
  // A tiny top_p leaves only the most probable token.
  auto tiny = frequencies(logits, temp(1.0f, 0, 1e-6f));
  EXPECT_EQ(tiny.size(), 1u);
  EXPECT_EQ(tiny.begin()->first, 1);
}

}  // namespace
}  // namespace yardstick
