// Attention for decode steps: one new token per sequence, so each block is one (query head,
// sequence) pair and its warps split the sequence's keys; the partial softmaxes are merged at
// the end. Memory-bound: every key and value of the sequence is read once.
#include "engine/cuda/attention.h"

#include <string>

#include "engine/cuda/attention_common.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/reduce.cuh"
#include "engine/error.h"

namespace yardstick::cuda {

namespace {

constexpr int kWarps = 8;

}  // namespace

// ---------------------------------------------------------------- kernels

// Block (h, b). Warp w takes key tiles w, w + kWarps, ... of 32 keys: lane j scores key j (its
// whole row, 16 bytes at a time), then every lane accumulates its own output dims over the tile.
// At decode sizes the kernel is a chain of dependent memory round trips, so it is written to
// have few: a tile costs one for its block ids, one for the keys, and two for the values (16
// rows in flight per lane), whatever the block size.
template <int HD>
__global__ void __launch_bounds__(kWarps * 32)
    attention_decode_kernel(const bf16* __restrict__ qkv, bf16* __restrict__ out,
                            AttentionShape shape, KvLayerView kv, BatchView batch) {
  pdl_launch_dependents();
  pdl_wait();   // everything below reads what earlier kernels wrote
  constexpr int kDpl = kDimsPerLane<HD>;
  constexpr int kBatch = 16;   // value rows loaded before the first multiply-add
  __shared__ __align__(16) float q_s[HD];
  __shared__ float m_s[kWarps], l_s[kWarps];
  __shared__ float acc_s[kWarps][HD];

  const int h = blockIdx.x, b = blockIdx.y;
  const int NH = shape.num_heads, NKV = kv.num_kv_heads, BS = kv.block_size;
  const int kvh = h / (NH / NKV);
  const int kv_len = batch.kv_len[b], row = batch.q_start[b];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const size_t qkv_stride = size_t(NH + 2 * NKV) * HD;
  const int32_t* table = kv.block_tables + size_t(b) * kv.max_blocks;

  for (int d = threadIdx.x; d < HD; d += blockDim.x)
    q_s[d] = __bfloat162float(qkv[size_t(row) * qkv_stride + size_t(h) * HD + d]) * shape.scale * kLog2e;
  // Past the end a lane stands on the last key (a valid address) and weighs it 0.
  int key = min(warp * 32 + lane, kv_len - 1);
  int block = table[key / BS];   // issued before the barrier: overlaps the q load
  __syncthreads();

  float m = -INFINITY, l = 0.f, acc[kDpl];
#pragma unroll
  for (int i = 0; i < kDpl; ++i) acc[i] = 0.f;

  for (int kt0 = warp * 32; kt0 < kv_len; kt0 += kWarps * 32) {
    const bool valid = kt0 + lane < kv_len;
    const size_t head_base = (size_t(block) * NKV + kvh) * BS;   // row of (block, kv head, slot 0)
    const bf16* krow = kv.k + (head_base + size_t(key % BS)) * HD;
    uint4 kraw[HD / 8];
#pragma unroll
    for (int i = 0; i < HD / 8; ++i) kraw[i] = reinterpret_cast<const uint4*>(krow)[i];
    float dot = 0.f;
#pragma unroll
    for (int i = 0; i < HD / 8; ++i) {
      float kf[8];
      load_bf16<8>(reinterpret_cast<const bf16*>(&kraw[i]), kf);
      const float4 qa = *reinterpret_cast<const float4*>(&q_s[8 * i]);
      const float4 qb = *reinterpret_cast<const float4*>(&q_s[8 * i + 4]);
      dot += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] + qb.y * kf[5] +
             qb.z * kf[6] + qb.w * kf[7];
    }
    const float s = valid ? dot : -INFINITY;
    const float m_new = fmaxf(m, warp_max(s));   // finite: key kt0 exists
    const float alpha = exp2f(m - m_new);
    const float p = valid ? exp2f(s - m_new) : 0.f;
    l = l * alpha + warp_sum(p);
    m = m_new;
#pragma unroll
    for (int i = 0; i < kDpl; ++i) acc[i] *= alpha;

    // Every lane needs the value rows of all 32 keys: their block ids travel by shuffle.
    const int tile_keys = min(32, kv_len - kt0);
#pragma unroll
    for (int j0 = 0; j0 < 32; j0 += kBatch) {
      if (j0 >= tile_keys) break;
      float vf[kBatch][kDpl] = {};
#pragma unroll
      for (int j = 0; j < kBatch; ++j) {
        const int jkey = min(kt0 + j0 + j, kv_len - 1);
        const int jblock = __shfl_sync(0xffffffffu, block, j0 + j);
        if (lane_owns_dims<HD>(lane)) {
          const bf16* vrow = kv.v + ((size_t(jblock) * NKV + kvh) * BS + size_t(jkey % BS)) * HD;
          load_bf16<kDpl>(vrow + lane * kDpl, vf[j]);
        }
      }
#pragma unroll
      for (int j = 0; j < kBatch; ++j) {
        const float pj = __shfl_sync(0xffffffffu, p, j0 + j);
#pragma unroll
        for (int i = 0; i < kDpl; ++i) acc[i] += pj * vf[j][i];
      }
    }
    // The next tile's block id.
    if (kt0 + kWarps * 32 < kv_len) {
      key = min(kt0 + kWarps * 32 + lane, kv_len - 1);
      block = table[key / BS];
    }
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
    case 8: launch(attention_decode_kernel<8>, grid, threads, 0, stream, "attention_decode", qkv, out, shape, kv, batch); break;
    case 16: launch(attention_decode_kernel<16>, grid, threads, 0, stream, "attention_decode", qkv, out, shape, kv, batch); break;
    case 32: launch(attention_decode_kernel<32>, grid, threads, 0, stream, "attention_decode", qkv, out, shape, kv, batch); break;
    case 64: launch(attention_decode_kernel<64>, grid, threads, 0, stream, "attention_decode", qkv, out, shape, kv, batch); break;
    case 128: launch(attention_decode_kernel<128>, grid, threads, 0, stream, "attention_decode", qkv, out, shape, kv, batch); break;
    default: throw Error("attention_decode: head_dim " + std::to_string(kv.head_dim) + " is not compiled in");
  }
}

}  // namespace yardstick::cuda
