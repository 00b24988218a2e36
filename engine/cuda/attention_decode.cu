// Attention for decode steps: one new token per sequence, so each block is one (query head,
// sequence) pair and its warps split the sequence's keys; the partial softmaxes are merged at
// the end. Memory-bound: every key and value of the sequence is read once.
#include "engine/cuda/attention.h"

#include <string>

#include "engine/cuda/attention_common.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/kv_layout.cuh"
#include "engine/cuda/reduce.cuh"
#include "engine/error.h"

namespace yardstick::cuda {

namespace {

constexpr int kWarps = 8;

}  // namespace

// ---------------------------------------------------------------- kernels

// Block (h, b). Warp w takes key tiles w, w + kWarps, ... of 32 keys: lane j scores key j (its
// whole row, 16 bytes at a time), then every lane accumulates its own output dims over the tile.
template <int HD>
__global__ void __launch_bounds__(kWarps * 32)
    attention_decode_kernel(const bf16* __restrict__ qkv, bf16* __restrict__ out,
                            AttentionShape shape, KvLayerView kv, BatchView batch) {
  constexpr int kDpl = kDimsPerLane<HD>;
  __shared__ __align__(16) float q_s[HD];
  __shared__ __align__(16) float p_s[kWarps][32];
  __shared__ float m_s[kWarps], l_s[kWarps];
  __shared__ float acc_s[kWarps][HD];

  const int h = blockIdx.x, b = blockIdx.y;
  const int NH = shape.num_heads, NKV = kv.num_kv_heads;
  const int kvh = h / (NH / NKV);
  const int kv_len = batch.kv_len[b], row = batch.q_start[b];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const size_t qkv_stride = size_t(NH + 2 * NKV) * HD;

  for (int d = threadIdx.x; d < HD; d += blockDim.x)
    q_s[d] = __bfloat162float(qkv[size_t(row) * qkv_stride + size_t(h) * HD + d]) * shape.scale * kLog2e;
  __syncthreads();

  float m = -INFINITY, l = 0.f, acc[kDpl];
#pragma unroll
  for (int i = 0; i < kDpl; ++i) acc[i] = 0.f;

  for (int kt0 = warp * 32; kt0 < kv_len; kt0 += kWarps * 32) {
    const int kp = kt0 + lane;
    float s = -INFINITY;
    if (kp < kv_len) {
      const bf16* krow = kv.k + kv_offset(kv, b, kp, kvh);
      float dot = 0.f;
#pragma unroll
      for (int d0 = 0; d0 < HD; d0 += 8) {
        float kf[8];
        load_bf16<8>(krow + d0, kf);
        const float4 qa = *reinterpret_cast<const float4*>(&q_s[d0]);
        const float4 qb = *reinterpret_cast<const float4*>(&q_s[d0 + 4]);
        dot += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] +
               qb.y * kf[5] + qb.z * kf[6] + qb.w * kf[7];
      }
      s = dot;
    }
    const float m_new = fmaxf(m, warp_max(s));   // finite: key kt0 exists
    const float alpha = exp2f(m - m_new);
    const float p = kp < kv_len ? exp2f(s - m_new) : 0.f;
    l = l * alpha + warp_sum(p);
    m = m_new;
#pragma unroll
    for (int i = 0; i < kDpl; ++i) acc[i] *= alpha;
    p_s[warp][lane] = p;
    __syncwarp();
    if (lane_owns_dims<HD>(lane)) {
#pragma unroll 8
      for (int j = 0; j < 32; ++j) {
        // Past the end, reread the last key (a valid address) and weigh it 0.
        const int key = min(kt0 + j, kv_len - 1);
        float vf[kDpl];
        load_bf16<kDpl>(kv.v + kv_offset(kv, b, key, kvh) + lane * kDpl, vf);
        const float pj = p_s[warp][j];
#pragma unroll
        for (int i = 0; i < kDpl; ++i) acc[i] += pj * vf[i];
      }
    }
    __syncwarp();   // p_s is rewritten by the next tile
  }

  if (lane == 0) {
    m_s[warp] = m;
    l_s[warp] = l;
  }
  if (lane_owns_dims<HD>(lane)) {
#pragma unroll
    for (int i = 0; i < kDpl; ++i) acc_s[warp][lane * kDpl + i] = acc[i];
  }
  __syncthreads();
  for (int d = threadIdx.x; d < HD; d += blockDim.x) {
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) M = fmaxf(M, m_s[w]);
    float L = 0.f, o = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      if (m_s[w] == -INFINITY) continue;   // this warp had no keys
      const float f = exp2f(m_s[w] - M);
      L += l_s[w] * f;
      o += acc_s[w][d] * f;
    }
    out[size_t(row) * NH * HD + size_t(h) * HD + d] = __float2bfloat16(o / L);
  }
}

// ---------------------------------------------------------------- launchers

void attention_decode(const bf16* qkv, bf16* out, const AttentionShape& shape,
                      const KvLayerView& kv, const BatchView& batch, cudaStream_t stream) {
  if (batch.num_seqs == 0) return;
  const dim3 grid(unsigned(shape.num_heads), unsigned(batch.num_seqs));
  const int threads = kWarps * 32;
  switch (kv.head_dim) {
    case 8: attention_decode_kernel<8><<<grid, threads, 0, stream>>>(qkv, out, shape, kv, batch); break;
    case 16: attention_decode_kernel<16><<<grid, threads, 0, stream>>>(qkv, out, shape, kv, batch); break;
    case 32: attention_decode_kernel<32><<<grid, threads, 0, stream>>>(qkv, out, shape, kv, batch); break;
    case 64: attention_decode_kernel<64><<<grid, threads, 0, stream>>>(qkv, out, shape, kv, batch); break;
    case 128: attention_decode_kernel<128><<<grid, threads, 0, stream>>>(qkv, out, shape, kv, batch); break;
    default: throw Error("attention_decode: head_dim " + std::to_string(kv.head_dim) + " is not compiled in");
  }
  check_launch("attention_decode");
}

}  // namespace yardstick::cuda
