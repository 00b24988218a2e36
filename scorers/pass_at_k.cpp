#include "scorers/pass_at_k.h"

#include <algorithm>

#include <fmt/core.h>

#include "engine/error.h"

namespace yardstick {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n < 0 || c < 0 || c > n || k < 1 || k > n)
    throw InputError(fmt::format("pass@k: need 0 <= c <= n and 1 <= k <= n, got n={} c={} k={}", n, c, k));
  if (n - c < k) return 1.0;   // every choice of k samples includes a passing one
  // C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (1 - k / i)
  double all_fail = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) all_fail *= 1.0 - double(k) / double(i);
  return 1.0 - all_fail;
}

std::vector<double> pass_at_k_per_problem(std::span<const SampleCounts> problems, int64_t k) {
  std::vector<double> values;
  values.reserve(problems.size());
  for (const auto& p : problems) values.push_back(pass_at_k(p.n, p.correct, k));
  return values;
}

std::vector<int> reportable_ks(std::span<const SampleCounts> problems) {
  std::vector<int> ks;
  if (problems.empty()) return ks;
  int64_t min_n = problems.front().n;
  for (const auto& p : problems) min_n = std::min(min_n, p.n);
  for (int k : kPassAtKs)
    if (k <= min_n) ks.push_back(k);
  return ks;
}

}  // namespace yardstick
