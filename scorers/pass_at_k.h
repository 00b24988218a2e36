// pass@k for code benchmarks: the chance that at least one of k samples passes, estimated
// without bias from n >= k samples per problem (Chen et al. 2021, "Evaluating Large Language
// Models Trained on Code", eq. 1). The benchmark's pass@k is the mean over problems; its
// confidence interval comes from reports/stats.h (mean_estimate over the per-problem values).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace yardstick {

// The k values reported where the samples allow them (k <= n for every problem).
inline constexpr std::array<int, 3> kPassAtKs = {1, 10, 100};

// 1 - C(n-c, k) / C(n, k): n samples of which c passed. Computed as a running product, which
// stays exact enough for n in the thousands where the binomials themselves overflow. Throws
// InputError unless 0 <= c <= n and 1 <= k <= n.
double pass_at_k(int64_t n, int64_t c, int64_t k);

// One problem's samples.
struct SampleCounts {
  int64_t n = 0;         // samples generated
  int64_t correct = 0;   // samples that passed
};

// pass@k of every problem, in order (throws as pass_at_k does when a problem has fewer than k).
std::vector<double> pass_at_k_per_problem(std::span<const SampleCounts> problems, int64_t k);

// The ks of kPassAtKs that every problem has enough samples for (at least 1 <= min n).
std::vector<int> reportable_ks(std::span<const SampleCounts> problems);

}  // namespace yardstick
