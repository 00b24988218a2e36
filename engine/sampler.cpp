#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace yardstick {

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[size_t(best)] ||
        (std::isnan(logits[size_t(best)]) && !std::isnan(logits[i])))
      best = int32_t(i);
  return best;
}

double logsumexp(std::span<const float> logits) {
  float max = -INFINITY;
  for (float x : logits) max = std::max(max, x);
  if (!std::isfinite(max)) return double(max);
  double sum = 0.0;
  for (float x : logits) sum += std::exp(double(x) - double(max));
  return double(max) + std::log(sum);
}

namespace {

uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

double counter_uniform(uint64_t stream, uint64_t step) {
  const uint64_t bits = splitmix64(splitmix64(stream) ^ step);
  return double(bits >> 11) * 0x1.0p-53;   // 53 random bits -> [0, 1)
}

int32_t sample_token(std::span<const float> logits, const SamplingParams& params, uint64_t stream,
                     uint64_t step) {
  if (params.temperature <= 0.0f || params.top_k == 1) return argmax(logits);

  // Candidates by logit, largest first, ties to the lower id: the order greedy would pick them.
  std::vector<int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  auto by_logit = [&](int32_t a, int32_t b) {
    return logits[size_t(a)] > logits[size_t(b)] ||
           (logits[size_t(a)] == logits[size_t(b)] && a < b);
  };
  size_t keep = order.size();
  if (params.top_k > 0 && size_t(params.top_k) < keep) {
    keep = size_t(params.top_k);
    std::partial_sort(order.begin(), order.begin() + ptrdiff_t(keep), order.end(), by_logit);
  } else {
    std::sort(order.begin(), order.end(), by_logit);
  }

  // softmax(logits / temperature) over the kept candidates, in fp64.
  const double inv_t = 1.0 / double(params.temperature);
  const double top = double(logits[size_t(order[0])]) * inv_t;
  std::vector<double> p(keep);
  double total = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    p[i] = std::exp(double(logits[size_t(order[i])]) * inv_t - top);
    total += p[i];
  }
  // top-p: the smallest prefix whose probability reaches top_p (always at least one token).
  if (params.top_p < 1.0f) {
    const double target = double(params.top_p) * total;
    double cum = 0.0;
    size_t n = 0;
    while (n < keep) {
      cum += p[n++];
      if (cum >= target) break;
    }
    keep = n;
    total = cum;
  }

  const double u = counter_uniform(stream, step) * total;
  double cum = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    cum += p[i];
    if (u < cum) return order[i];
  }
  return order[keep - 1];   // u rounding up to the total
}

}  // namespace yardstick
