#include "engine/cuda/rope.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

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

// Where block blockIdx.x's token reads and writes.
struct RopeToken {
  bf16* row;          // [(NH + 2 NKV) HD] its q, k and v heads
  const float2* cs;   // [HD/2] its (cos, sin)
  size_t slot0;       // element offset of (its cache slot, kv head 0) in kv.k and kv.v
  size_t head_step;   // elements from one kv head of a slot to the next
};

__device__ inline RopeToken rope_token(bf16* qkv, const float2* rope, const int32_t* pos, const int32_t* tok_seq,
                                       const KvLayerView& kv, int num_heads) {
  const int t = blockIdx.x;
  const int HD = kv.head_dim, NKV = kv.num_kv_heads, BS = kv.block_size;
  const int p = pos[t], b = tok_seq[t];
  const int block = kv.block_tables[size_t(b) * kv.max_blocks + p / BS];
  return {qkv + size_t(t) * (num_heads + 2 * NKV) * HD, rope + size_t(p) * (HD / 2),
          (size_t(block) * NKV * BS + p % BS) * size_t(HD), size_t(BS) * HD};
}

// One block per token: first the rotation pairs of all q and k heads, kPairs consecutive pairs a
// thread, then the v copy. With kPairs 4 (HD a multiple of 8; prefill steps move all of
// [T, (NH + 2 NKV) HD] through here) each half-head's four elements are one 8-byte access and
// values move 16 bytes at a time; rope_rotate_pair per pair either way, so the same bits. The
// token's cache block is looked up once, alongside the loads of q and k.
template <int kPairs>
__global__ void rope_and_store_kv_kernel(bf16* __restrict__ qkv, const float2* __restrict__ rope,
                                         const int32_t* __restrict__ pos,
                                         const int32_t* __restrict__ tok_seq, KvLayerView kv,
                                         int num_heads) {
  static_assert(kPairs == 1 || kPairs == 4);
  using Raw = std::conditional_t<kPairs == 1, bf16, uint2>;           // kPairs elements
  using ValueRaw = std::conditional_t<kPairs == 1, bf16, uint4>;      // kValues elements
  constexpr int kValues = kPairs == 1 ? 1 : 8;
  pdl_launch_dependents();
  pdl_wait();   // everything below reads what earlier kernels wrote
  const int HD = kv.head_dim, half = HD / 2, NKV = kv.num_kv_heads;
  const RopeToken tok = rope_token(qkv, rope, pos, tok_seq, kv, num_heads);
  auto slot = [&](int h) { return tok.slot0 + size_t(h) * tok.head_step; };

  const int groups = (num_heads + NKV) * half / kPairs;   // q heads then k heads, contiguous in the row
  for (int i = threadIdx.x; i < groups; i += blockDim.x) {
    const int head = kPairs * i / half, d = kPairs * i % half;
    bf16* x = tok.row + head * HD;
    Raw lo = *reinterpret_cast<const Raw*>(x + d), hi = *reinterpret_cast<const Raw*>(x + d + half);
    bf16* l = reinterpret_cast<bf16*>(&lo);
    bf16* u = reinterpret_cast<bf16*>(&hi);
#pragma unroll
    for (int j = 0; j < kPairs; ++j) rope_rotate_pair(l[j], u[j], tok.cs[d + j]);
    *reinterpret_cast<Raw*>(x + d) = lo;
    *reinterpret_cast<Raw*>(x + d + half) = hi;
    if (head >= num_heads) {
      bf16* dst = kv.k + slot(head - num_heads);
      *reinterpret_cast<Raw*>(dst + d) = lo;
      *reinterpret_cast<Raw*>(dst + d + half) = hi;
    }
  }
  const bf16* v = tok.row + (num_heads + NKV) * HD;
  for (int i = threadIdx.x; i < NKV * HD / kValues; i += blockDim.x) {
    const int e = kValues * i;
    *reinterpret_cast<ValueRaw*>(kv.v + slot(e / HD) + e % HD) = *reinterpret_cast<const ValueRaw*>(v + e);
  }
}

// ---------------------------------------------------------------- launchers

void rope_and_store_kv(bf16* qkv, const float2* rope, const int32_t* pos, const int32_t* tok_seq,
                       const KvLayerView& kv, int T, int num_heads, cudaStream_t stream) {
  if (T == 0) return;
  // About four rotation pairs a thread (see add_rmsnorm: decode steps are all latency).
  const int pairs = (num_heads + kv.num_kv_heads) * kv.head_dim / 2;
  const int threads = std::clamp((pairs / 4 + 31) / 32 * 32, 32, 1024);
  // 8- and 16-byte accesses: rows, heads and cache slots are multiples of HD elements apart.
  const bool aligned = reinterpret_cast<uintptr_t>(qkv) % 16 == 0 && reinterpret_cast<uintptr_t>(rope) % 16 == 0 &&
                       reinterpret_cast<uintptr_t>(kv.k) % 16 == 0 && reinterpret_cast<uintptr_t>(kv.v) % 16 == 0;
  if (kv.head_dim % 8 == 0 && aligned) {
    launch(rope_and_store_kv_kernel<4>, T, threads, 0, stream, "rope_and_store_kv", qkv, rope, pos, tok_seq, kv,
           num_heads);
    return;
  }
  launch(rope_and_store_kv_kernel<1>, T, threads, 0, stream, "rope_and_store_kv", qkv, rope, pos, tok_seq, kv, num_heads);
}

}  // namespace yardstick::cuda
