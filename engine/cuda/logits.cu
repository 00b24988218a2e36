#include "engine/cuda/logits.h"

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/reduce.cuh"

namespace yardstick::cuda {

namespace {

constexpr int kThreads = 1024;
constexpr int kInFlight = 16;   // logits each thread loads before using the first

// fn(z[i], i) for this thread's share of a row, kInFlight independent loads at a time: a pass
// over a row is a handful of memory round trips rather than one per element.
template <class Fn>
__device__ inline void for_each_logit(const float* __restrict__ z, int V, Fn&& fn) {
  for (int base = threadIdx.x; base < V; base += kInFlight * blockDim.x) {
    float v[kInFlight];
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int i = base + u * blockDim.x;
      v[u] = i < V ? z[i] : 0.f;
    }
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int i = base + u * blockDim.x;
      if (i < V) fn(v[u], i);
    }
  }
}

// engine/sampler.cpp's counter_uniform, bit for bit, so host and device draw the same numbers.
__device__ inline uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

__device__ inline double counter_uniform(uint64_t stream, uint64_t step) {
  const uint64_t bits = splitmix64(splitmix64(stream) ^ step);
  return double(bits >> 11) * 0x1.0p-53;
}

// A rank key: larger logit first, ties to the lower id. Keys are distinct, so "the k-th largest
// key" and "every key >= t" are exact sets without any sort.
__device__ inline uint64_t rank_key(float z, int i) {
  uint32_t u = __float_as_uint(z);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);   // order-preserving float -> uint
  return (uint64_t(u) << 32) | uint64_t(0xffffffffu - uint32_t(i));
}

__device__ inline int key_id(uint64_t key) { return int(0xffffffffu - uint32_t(key)); }

__device__ inline unsigned long long block_min(unsigned long long v, unsigned long long* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int o = 16; o > 0; o >>= 1) v = min(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < warps ? scratch[lane] : ~0ull;
  for (int o = 16; o > 0; o >>= 1) v = min(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// The largest t such that pred(t) holds, for a predicate that is monotone (true up to some t):
// built bit by bit from the top, 64 block-wide passes.
template <class Pred>
__device__ uint64_t largest_key_where(Pred pred) {
  uint64_t t = 0;
  for (int bit = 63; bit >= 0; --bit) {
    const uint64_t cand = t | (uint64_t(1) << bit);
    if (pred(cand)) t = cand;
  }
  return t;
}

}  // namespace

// ---------------------------------------------------------------- kernels

// One block per row.
__global__ void __launch_bounds__(kThreads)
    pick_tokens_kernel(const float* __restrict__ logits, const PickRequest* __restrict__ requests,
                       PickResult* __restrict__ results, int V) {
  pdl_launch_dependents();
  pdl_wait();   // everything below reads what earlier kernels wrote
  __shared__ ArgMax am_scratch[32];
  __shared__ double d_scratch[32];
  __shared__ unsigned long long n_scratch[32];
  const float* z = logits + size_t(blockIdx.x) * V;
  const PickRequest req = requests[blockIdx.x];

  ArgMax best{-INFINITY, 0x7fffffff};
  for_each_logit(z, V, [&](float v, int i) { best = better(best, ArgMax{v, i}); });
  best = block_argmax(best, am_scratch);
  if (best.index == 0x7fffffff) best.index = 0;   // every logit NaN: nothing is better than id 0
  const float zmax = best.value;

  double sum = 0.0;
  for_each_logit(z, V, [&](float v, int) { sum += double(expf(v - zmax)); });
  const float lse = zmax + float(log(block_sum(sum, d_scratch)));

  int token = best.index;
  // As sample_token: no temperature, top_k 1 or top_p 0 all keep only the argmax.
  if (req.temperature > 0.f && req.top_k != 1 && req.top_p > 0.f) {
    const float inv_t = 1.f / req.temperature;
    auto count_at_least = [&](uint64_t t) {
      unsigned long long n = 0;
      for_each_logit(z, V, [&](float v, int i) { n += rank_key(v, i) >= t; });
      return block_sum(n, n_scratch);
    };
    auto mass_at_least = [&](uint64_t t) {
      double mass = 0.0;
      for_each_logit(z, V, [&](float v, int i) {
        if (rank_key(v, i) >= t) mass += double(expf((v - zmax) * inv_t));
      });
      return block_sum(mass, d_scratch);
    };
    // top-k: keys from the k-th largest up; without it, every key (from the smallest up).
    uint64_t keep_from = 0;
    if (req.top_k > 0 && req.top_k < V) {
      const unsigned long long k = unsigned(req.top_k);
      keep_from = largest_key_where([&](uint64_t t) { return count_at_least(t) >= k; });
    } else {
      unsigned long long smallest = ~0ull;
      for_each_logit(z, V, [&](float v, int i) { smallest = min(smallest, (unsigned long long)rank_key(v, i)); });
      keep_from = block_min(smallest, n_scratch);
    }
    // From here on "t <= keep_from" stands for "every kept token", and keep_from is a real key.
    double total = mass_at_least(keep_from);
    // top-p: the shortest prefix (in rank order) whose mass reaches top_p of the kept mass.
    if (req.top_p < 1.f) {
      const double target = double(req.top_p) * total;
      keep_from = largest_key_where([&](uint64_t t) {
        return t <= keep_from || mass_at_least(t) >= target;
      });
      total = mass_at_least(keep_from);
    }
    // The draw: the first token in rank order whose cumulative mass exceeds u * total (the
    // last kept one if u rounds up to the total).
    const double u = counter_uniform(req.stream, req.step) * total;
    token = key_id(largest_key_where([&](uint64_t t) {
      return t <= keep_from || mass_at_least(t) > u;
    }));
  }

  if (threadIdx.x == 0) {
    PickResult r;
    r.token = token;
    r.argmax = best.index;
    r.token_logprob = z[token] - lse;
    r.target_logprob = req.target >= 0 && req.target < V ? z[req.target] - lse : 0.f;
    results[blockIdx.x] = r;
  }
}

// ---------------------------------------------------------------- launchers

void pick_tokens(const float* logits, const PickRequest* requests, PickResult* results, int R, int V,
                 cudaStream_t stream) {
  if (R == 0) return;
  launch(pick_tokens_kernel, R, kThreads, 0, stream, "pick_tokens", logits, requests, results, V);
}

}  // namespace yardstick::cuda
