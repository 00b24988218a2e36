// The CPU backend's arithmetic helpers on small hand-checkable inputs, and their independence
// from the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/cpu_ops.h"
#include "engine/thread_pool.h"

namespace yardstick {
namespace {

std::vector<float> random_vector(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

TEST(CpuOps, MatmulEqualsTheDoubleReferenceAndIgnoresThreadCount) {
  const int T = 5, n_in = 37, n_out = 29;
  const auto x = random_vector(size_t(T * n_in), 1);
  const auto w = random_vector(size_t(n_out * n_in), 2);
  ThreadPool one(1), four(4);
  std::vector<float> a(size_t(T * n_out)), b(a.size());
  cpu::matmul(a.data(), x.data(), w.data(), T, n_in, n_out, one);
  cpu::matmul(b.data(), x.data(), w.data(), T, n_in, n_out, four);
  EXPECT_EQ(a, b);
  for (int t = 0; t < T; ++t)
    for (int o = 0; o < n_out; ++o) {
      double ref = 0;
      for (int i = 0; i < n_in; ++i)
        ref += double(x[size_t(t * n_in + i)]) * w[size_t(o * n_in + i)];
      EXPECT_NEAR(a[size_t(t * n_out + o)], ref, 1e-4);
    }
}

TEST(CpuOps, MatmulGivesEveryElementExactlyAsDotDoesWhateverT) {
  // Tokens are tiled four at a time inside matmul; no tiling may change a single bit.
  const int n_in = 45, n_out = 11;
  const auto w = random_vector(size_t(n_out * n_in), 3);
  ThreadPool pool(2);
  for (int T : {1, 3, 4, 7, 9}) {
    const auto x = random_vector(size_t(T * n_in), 4);
    std::vector<float> out(size_t(T * n_out));
    cpu::matmul(out.data(), x.data(), w.data(), T, n_in, n_out, pool);
    for (int t = 0; t < T; ++t)
      for (int o = 0; o < n_out; ++o)
        ASSERT_EQ(out[size_t(t * n_out + o)],
                  cpu::dot(x.data() + t * n_in, w.data() + o * n_in, n_in))
            << "T " << T << " t " << t << " o " << o;
  }
}

TEST(CpuOps, RmsnormScalesToUnitRootMeanSquare) {
  const std::vector<float> x{3.0f, 4.0f};   // mean square 12.5
  const std::vector<float> w{1.0f, 2.0f};
  std::vector<float> out(2);
  cpu::rmsnorm(out.data(), x.data(), w.data(), 1, 2, 0.0f);
  EXPECT_NEAR(out[0], 3.0 / std::sqrt(12.5), 1e-6);
  EXPECT_NEAR(out[1], 2.0 * 4.0 / std::sqrt(12.5), 1e-6);
}

TEST(CpuOps, RopeRotatesHalvesByPositionTimesFrequency) {
  const int HD = 4;
  const auto inv = cpu::rope_inv_freq(HD, 10000.0);
  ASSERT_EQ(inv.size(), 2u);
  EXPECT_FLOAT_EQ(inv[0], 1.0f);
  EXPECT_FLOAT_EQ(inv[1], 0.01f);
  std::vector<float> x{1.0f, 2.0f, 3.0f, 4.0f};   // pairs (x0, x2) and (x1, x3)
  const int32_t pos = 3;
  cpu::rope(x.data(), &pos, inv.data(), 1, 1, HD);
  EXPECT_NEAR(x[0], 1 * std::cos(3.0) - 3 * std::sin(3.0), 1e-5);
  EXPECT_NEAR(x[2], 3 * std::cos(3.0) + 1 * std::sin(3.0), 1e-5);
  EXPECT_NEAR(x[1], 2 * std::cos(0.03) - 4 * std::sin(0.03), 1e-5);
  EXPECT_NEAR(x[3], 4 * std::cos(0.03) + 2 * std::sin(0.03), 1e-5);
  // Position 0 is the identity.
  std::vector<float> y{1.0f, 2.0f, 3.0f, 4.0f};
  const int32_t zero = 0;
  cpu::rope(y.data(), &zero, inv.data(), 1, 1, HD);
  EXPECT_EQ(y, (std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f}));
}

TEST(CpuOps, AttentionWeightsValuesBySoftmaxOfScaledScores) {
  const int HD = 2, S = 2, stride = 4;   // the head's K/V sit at the start of 4-wide rows
  const std::vector<float> q{1.0f, 0.0f};
  const std::vector<float> k{1.0f, 0.0f, 9, 9, -1.0f, 0.0f, 9, 9};
  const std::vector<float> v{10.0f, 0.0f, 9, 9, 0.0f, 10.0f, 9, 9};
  std::vector<float> out(2), scores(2);
  cpu::attention_head(out.data(), q.data(), k.data(), v.data(), S, HD, stride, scores.data());
  const double a = std::exp(1 / std::sqrt(2.0)), b = std::exp(-1 / std::sqrt(2.0));
  EXPECT_NEAR(out[0], 10 * a / (a + b), 1e-5);
  EXPECT_NEAR(out[1], 10 * b / (a + b), 1e-5);
  // One position: the output is its value.
  cpu::attention_head(out.data(), q.data(), k.data(), v.data(), 1, HD, stride, scores.data());
  EXPECT_FLOAT_EQ(out[0], 10.0f);
  EXPECT_FLOAT_EQ(out[1], 0.0f);
}

TEST(CpuOps, SiluMulIsGateTimesSigmoidTimesUp) {
  std::vector<float> gate{0.0f, 2.0f, -3.0f};
  const std::vector<float> up{5.0f, 1.5f, 2.0f};
  cpu::silu_mul(gate.data(), up.data(), 3);
  EXPECT_FLOAT_EQ(gate[0], 0.0f);
  EXPECT_NEAR(gate[1], 2.0 / (1 + std::exp(-2.0)) * 1.5, 1e-6);
  EXPECT_NEAR(gate[2], -3.0 / (1 + std::exp(3.0)) * 2.0, 1e-6);
}

TEST(ThreadPool, CoversTheRangeOnceAndRethrows) {
  ThreadPool pool(3);
  std::vector<int> hits(100, 0);
  pool.parallel_for(100, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ++hits[size_t(i)];
  });
  EXPECT_EQ(hits, std::vector<int>(100, 1));
  EXPECT_THROW(pool.parallel_for(10,
                                 [](int64_t b, int64_t) {
                                   if (b > 0) throw std::runtime_error("x");
                                 }),
               std::runtime_error);
  pool.parallel_for(2, [](int64_t, int64_t) {});   // still usable after an exception
}

}  // namespace
}  // namespace yardstick
