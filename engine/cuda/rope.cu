#include "engine/cuda/rope.h"

#include <algorithm>
#include <cmath>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/epilogue_math.cuh"
#include "engine/cuda/launch.cuh"

namespace yardstick::cuda {

std::vector<float> rope_table(int max_positions, int head_dim, double theta) {
  const int half = head_dim / 2;
  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i) {
    // torch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), all in fp32.
    const float exponent = float(2 * i) / float(head_dim);
    inv_freq[size_t(i)] = 1.0f / std::pow(float(theta), exponent);
  }
  std::vector<float> table(size_t(max_positions) * size_t(half) * 2);
  for (int p = 0; p < max_positions; ++p) {
    for (int i = 0; i < half; ++i) {
      const float angle = float(p) * inv_freq[size_t(i)];   // fp32 product, as HF's matmul
      const size_t at = (size_t(p) * half + size_t(i)) * 2;
      table[at] = float(std::cos(double(angle)));
      table[at + 1] = float(std::sin(double(angle)));
    }
  }
  return table;
}

// ---------------------------------------------------------------- kernels

// One block per token: first the rotation pairs of all q and k heads, then the v copy. The
// token's cache block is looked up once, alongside the loads of q and k.
__global__ void rope_and_store_kv_kernel(bf16* __restrict__ qkv, const float2* __restrict__ rope,
                                         const int32_t* __restrict__ pos,
                                         const int32_t* __restrict__ tok_seq, KvLayerView kv,
                                         int num_heads) {
  pdl_launch_dependents();
  pdl_wait();   // everything below reads what earlier kernels wrote
  const int t = blockIdx.x;
  const int HD = kv.head_dim, half = HD / 2, NKV = kv.num_kv_heads, BS = kv.block_size;
  const int p = pos[t], b = tok_seq[t];
  const int block = kv.block_tables[size_t(b) * kv.max_blocks + p / BS];
  // Element offset of kv head h at this token's slot.
  auto slot = [&](int h) { return ((size_t(block) * NKV + h) * BS + p % BS) * size_t(HD); };
  bf16* row = qkv + size_t(t) * (num_heads + 2 * NKV) * HD;
  const float2* cs = rope + size_t(p) * half;

  const int pairs = (num_heads + NKV) * half;   // q heads then k heads, contiguous in the row
  for (int i = threadIdx.x; i < pairs; i += blockDim.x) {
    const int head = i / half, d = i % half;
    bf16* x = row + head * HD;
    bf16 y1 = x[d], y2 = x[d + half];
    rope_rotate_pair(y1, y2, cs[d]);
    x[d] = y1;
    x[d + half] = y2;
    if (head >= num_heads) {
      bf16* dst = kv.k + slot(head - num_heads);
      dst[d] = y1;
      dst[d + half] = y2;
    }
  }
  const bf16* v = row + (num_heads + NKV) * HD;
  for (int i = threadIdx.x; i < NKV * HD; i += blockDim.x) kv.v[slot(i / HD) + i % HD] = v[i];
}

// ---------------------------------------------------------------- launchers

void rope_and_store_kv(bf16* qkv, const float2* rope, const int32_t* pos, const int32_t* tok_seq,
                       const KvLayerView& kv, int T, int num_heads, cudaStream_t stream) {
  if (T == 0) return;
  // About four rotation pairs a thread (see add_rmsnorm: decode steps are all latency).
  const int pairs = (num_heads + kv.num_kv_heads) * kv.head_dim / 2;
  const int threads = std::clamp((pairs / 4 + 31) / 32 * 32, 32, 1024);
  launch(rope_and_store_kv_kernel, T, threads, 0, stream, "rope_and_store_kv", qkv, rope, pos, tok_seq, kv, num_heads);
}

}  // namespace yardstick::cuda
