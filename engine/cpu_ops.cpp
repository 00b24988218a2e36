#include "engine/cpu_ops.h"

#include <algorithm>
#include <cmath>

#include "engine/thread_pool.h"

namespace yardstick::cpu {

namespace {

// The final reduction of dot()'s eight partial sums, in a fixed order.
inline float sum8(const float* acc) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// out[t, o] for o in [o0, o1) and every t. Four token rows go against each weight row at once,
// so the weight row is loaded once for four tokens; each output is still computed exactly as
// dot() computes it (same partial sums, same order), so grouping never changes a result.
// Compiled twice (AVX2 and baseline x86-64, picked at load time): wider vectors, same
// arithmetic — AVX2 has no fused multiply-add, so nothing is contracted.
[[gnu::target_clones("avx2", "default")]] void matmul_rows(float* out, const float* x,
                                                            const float* w, int T, int n_in,
                                                            int n_out, int64_t o0, int64_t o1) {
  const int n8 = n_in & ~7;
  int t = 0;
  for (; t + 4 <= T; t += 4) {
    const float* x0 = x + int64_t(t) * n_in;
    for (int64_t o = o0; o < o1; ++o) {
      const float* wo = w + o * n_in;
      float acc[4][8] = {};
      for (int i = 0; i < n8; i += 8)
        for (int j = 0; j < 8; ++j) {
          const float wv = wo[i + j];
          for (int r = 0; r < 4; ++r) acc[r][j] += x0[int64_t(r) * n_in + i + j] * wv;
        }
      for (int i = n8; i < n_in; ++i)
        for (int r = 0; r < 4; ++r) acc[r][i & 7] += x0[int64_t(r) * n_in + i] * wo[i];
      for (int r = 0; r < 4; ++r) out[int64_t(t + r) * n_out + o] = sum8(acc[r]);
    }
  }
  for (; t < T; ++t)
    for (int64_t o = o0; o < o1; ++o)
      out[int64_t(t) * n_out + o] = dot(x + int64_t(t) * n_in, w + o * n_in, n_in);
}

}  // namespace

float dot(const float* a, const float* b, int n) {
  // Eight independent partial sums let the compiler use SIMD without -ffast-math, and fix the
  // summation order so the result is the same on every call.
  float acc[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  for (; i < n; ++i) acc[i & 7] += a[i] * b[i];
  return sum8(acc);
}

void matmul(float* out, const float* x, const float* w, int T, int n_in, int n_out,
            ThreadPool& pool) {
  // Blocks of a few weight rows stay in cache while every token row streams past them, so the
  // weights are read from memory once per call however many tokens there are.
  constexpr int kRowBlock = 8;
  // At least ~64K multiply-adds per thread: below that, waking workers costs more than it saves.
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / (int64_t(T) * n_in + 1));
  pool.parallel_for(n_out, [&](int64_t begin, int64_t end) {
    for (int64_t o0 = begin; o0 < end; o0 += kRowBlock)
      matmul_rows(out, x, w, T, n_in, n_out, o0, std::min<int64_t>(end, o0 + kRowBlock));
  }, grain);
}

void rmsnorm(float* out, const float* x, const float* weight, int T, int C, float eps) {
  for (int t = 0; t < T; ++t) {
    const float* xt = x + int64_t(t) * C;
    float* ot = out + int64_t(t) * C;
    double ss = 0.0;
    for (int i = 0; i < C; ++i) ss += double(xt[i]) * xt[i];
    const float inv = float(1.0 / std::sqrt(ss / C + double(eps)));
    for (int i = 0; i < C; ++i) ot[i] = weight[i] * (xt[i] * inv);
  }
}

std::vector<float> rope_inv_freq(int head_dim, double theta) {
  std::vector<float> inv(size_t(head_dim / 2));
  const float base = float(theta);
  for (int i = 0; i < head_dim / 2; ++i) {
    const float exponent = float(2 * i) / float(head_dim);
    inv[size_t(i)] = 1.0f / std::pow(base, exponent);
  }
  return inv;
}

void rope(float* x, const int32_t* positions, const float* inv_freq, int T, int n_heads,
          int head_dim) {
  const int half = head_dim / 2;
  std::vector<float> cos_a(static_cast<size_t>(half));   // [HD/2]
  std::vector<float> sin_a(static_cast<size_t>(half));   // [HD/2]
  for (int t = 0; t < T; ++t) {
    for (int i = 0; i < half; ++i) {
      const float a = float(positions[t]) * inv_freq[i];
      cos_a[size_t(i)] = std::cos(a);
      sin_a[size_t(i)] = std::sin(a);
    }
    for (int h = 0; h < n_heads; ++h) {
      float* xh = x + (int64_t(t) * n_heads + h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const float x1 = xh[i], x2 = xh[i + half];
        xh[i] = x1 * cos_a[size_t(i)] - x2 * sin_a[size_t(i)];
        xh[i + half] = x2 * cos_a[size_t(i)] + x1 * sin_a[size_t(i)];
      }
    }
  }
}

void attention_head(float* out, const float* q, const float* k, const float* v, int S, int head_dim,
                    int kv_stride, float* scores) {
  const float scale = 1.0f / std::sqrt(float(head_dim));
  float max_score = -INFINITY;
  for (int s = 0; s < S; ++s) {
    scores[s] = dot(q, k + int64_t(s) * kv_stride, head_dim) * scale;
    max_score = std::max(max_score, scores[s]);
  }
  float sum = 0.0f;
  for (int s = 0; s < S; ++s) {
    scores[s] = std::exp(scores[s] - max_score);
    sum += scores[s];
  }
  const float inv_sum = 1.0f / sum;
  std::fill(out, out + head_dim, 0.0f);
  for (int s = 0; s < S; ++s) {
    const float w = scores[s] * inv_sum;
    const float* vs = v + int64_t(s) * kv_stride;
    for (int d = 0; d < head_dim; ++d) out[d] += w * vs[d];
  }
}

void silu_mul(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

}  // namespace yardstick::cpu
