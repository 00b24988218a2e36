// Tiled causal attention for steps with several new tokens per sequence (flash-attention style:
// an online softmax over key tiles, so no [T, T] score matrix is ever stored). CUDA cores, fp32
// arithmetic: at the prompt lengths of evaluation the attention FLOPs are a few percent of the
// projections', which run on the tensor cores through cuBLASLt.
#include "engine/cuda/attention.h"

#include <string>

#include "engine/error.h"
#include "engine/cuda/attention_common.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/kv_layout.cuh"
#include "engine/cuda/reduce.cuh"

namespace yardstick::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kQueriesPerWarp = kPrefillQueryTile / kWarps;
constexpr int kKeys = 32;   // keys per tile: one per lane when scoring

}  // namespace

// ---------------------------------------------------------------- kernels

// Block (tile, h): up to kPrefillQueryTile new tokens of one sequence, one query head. Each warp
// owns kQueriesPerWarp queries; lane j scores key j of the current tile against all of them, then
// every lane accumulates its own output dims over the tile's keys.
template <int HD>
__global__ void __launch_bounds__(kWarps * 32)
    attention_prefill_kernel(const bf16* __restrict__ qkv, bf16* __restrict__ out,
                             AttentionShape shape, KvLayerView kv, BatchView batch,
                             const int32_t* __restrict__ tile_seq,
                             const int32_t* __restrict__ tile_q0) {
  pdl_launch_dependents();
  pdl_wait();   // everything below reads what earlier kernels wrote
  constexpr int kDpl = kDimsPerLane<HD>;
  constexpr int kKStride = HD + 8;   // padded rows: lanes' 16-byte reads of k_s hit distinct banks
  constexpr int kChunks = HD / 8;    // 16-byte chunks per key row
  __shared__ __align__(16) float q_s[kPrefillQueryTile][HD];
  __shared__ __align__(16) bf16 k_s[kKeys][kKStride];
  __shared__ __align__(16) bf16 v_s[kKeys][HD];
  __shared__ __align__(16) float p_s[kWarps][kQueriesPerWarp][kKeys];

  const int tile = blockIdx.x, h = blockIdx.y;
  const int b = tile_seq[tile], q0 = tile_q0[tile];
  const int NH = shape.num_heads, NKV = kv.num_kv_heads;
  const int kvh = h / (NH / NKV);
  const int q_len = batch.q_len[b], kv_len = batch.kv_len[b], row0 = batch.q_start[b] + q0;
  const int first_pos = kv_len - q_len + q0;   // position of the tile's first query
  const int n_q = min(kPrefillQueryTile, q_len - q0);
  const size_t qkv_stride = size_t(NH + 2 * NKV) * HD;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float scale2 = shape.scale * kLog2e;

  for (int i = threadIdx.x; i < kPrefillQueryTile * HD; i += blockDim.x) {
    const int qi = i / HD, d = i % HD;
    q_s[qi][d] = qi < n_q ? __bfloat162float(qkv[size_t(row0 + qi) * qkv_stride + size_t(h) * HD + d]) * scale2
                          : 0.f;
  }

  float m[kQueriesPerWarp], l[kQueriesPerWarp], acc[kQueriesPerWarp][kDpl];
  int qpos[kQueriesPerWarp];   // -1: no query in this slot (past the end of the sequence)
#pragma unroll
  for (int qi = 0; qi < kQueriesPerWarp; ++qi) {
    m[qi] = -INFINITY;
    l[qi] = 0.f;
#pragma unroll
    for (int i = 0; i < kDpl; ++i) acc[qi][i] = 0.f;
    const int q = warp * kQueriesPerWarp + qi;
    qpos[qi] = q < n_q ? first_pos + q : -1;
  }

  const int n_keys = first_pos + n_q;   // the tile's last query sees keys [0, n_keys)
  for (int kt0 = 0; kt0 < n_keys; kt0 += kKeys) {
    __syncthreads();   // the previous tile's k_s / v_s are no longer read (q_s is written)
    for (int c = threadIdx.x; c < kKeys * kChunks; c += blockDim.x) {
      const int j = c / kChunks, part = c % kChunks;
      const int kp = kt0 + j;
      uint4 kval = make_uint4(0, 0, 0, 0), vval = make_uint4(0, 0, 0, 0);   // zeros: p * v stays 0
      if (kp < n_keys) {
        const size_t off = kv_offset(kv, b, kp, kvh) + size_t(part) * 8;
        kval = *reinterpret_cast<const uint4*>(kv.k + off);
        vval = *reinterpret_cast<const uint4*>(kv.v + off);
      }
      *reinterpret_cast<uint4*>(&k_s[j][part * 8]) = kval;
      *reinterpret_cast<uint4*>(&v_s[j][part * 8]) = vval;
    }
    __syncthreads();

    float s[kQueriesPerWarp];
#pragma unroll
    for (int qi = 0; qi < kQueriesPerWarp; ++qi) s[qi] = 0.f;
#pragma unroll 4
    for (int d0 = 0; d0 < HD; d0 += 8) {
      float kf[8];
      load_bf16<8>(&k_s[lane][d0], kf);
#pragma unroll
      for (int qi = 0; qi < kQueriesPerWarp; ++qi) {
        const float* q = &q_s[warp * kQueriesPerWarp + qi][d0];
        const float4 qa = *reinterpret_cast<const float4*>(q);
        const float4 qb = *reinterpret_cast<const float4*>(q + 4);
        s[qi] += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3] + qb.x * kf[4] +
                 qb.y * kf[5] + qb.z * kf[6] + qb.w * kf[7];
      }
    }

    const int kp = kt0 + lane;
#pragma unroll
    for (int qi = 0; qi < kQueriesPerWarp; ++qi) {
      const float sc = kp <= qpos[qi] ? s[qi] : -INFINITY;   // causal (and past-the-end) mask
      const float m_new = fmaxf(m[qi], warp_max(sc));
      const float alpha = m_new == -INFINITY ? 1.f : exp2f(m[qi] - m_new);
      const float p = sc == -INFINITY ? 0.f : exp2f(sc - m_new);
      l[qi] = l[qi] * alpha + warp_sum(p);
      m[qi] = m_new;
#pragma unroll
      for (int i = 0; i < kDpl; ++i) acc[qi][i] *= alpha;
      p_s[warp][qi][lane] = p;
    }
    __syncwarp();
    if (lane_owns_dims<HD>(lane)) {
#pragma unroll 2
      for (int j0 = 0; j0 < kKeys; j0 += 4) {
        float vf[4][kDpl];
#pragma unroll
        for (int jj = 0; jj < 4; ++jj) load_bf16<kDpl>(&v_s[j0 + jj][lane * kDpl], vf[jj]);
#pragma unroll
        for (int qi = 0; qi < kQueriesPerWarp; ++qi) {
          const float4 p4 = *reinterpret_cast<const float4*>(&p_s[warp][qi][j0]);
#pragma unroll
          for (int i = 0; i < kDpl; ++i)
            acc[qi][i] += p4.x * vf[0][i] + p4.y * vf[1][i] + p4.z * vf[2][i] + p4.w * vf[3][i];
        }
      }
    }
    __syncwarp();   // p_s is rewritten by the next tile
  }

  if (!lane_owns_dims<HD>(lane)) return;
#pragma unroll
  for (int qi = 0; qi < kQueriesPerWarp; ++qi) {
    if (qpos[qi] < 0) continue;
    const float inv = 1.f / l[qi];
    bf16* dst = out + size_t(row0 + warp * kQueriesPerWarp + qi) * NH * HD + size_t(h) * HD + lane * kDpl;
#pragma unroll
    for (int i = 0; i < kDpl; ++i) dst[i] = __float2bfloat16(acc[qi][i] * inv);
  }
}

// ---------------------------------------------------------------- launchers

bool attention_supports_head_dim(int head_dim) {
  return head_dim == 8 || head_dim == 16 || head_dim == 32 || head_dim == 64 || head_dim == 128;
}

void attention_prefill(const bf16* qkv, bf16* out, const AttentionShape& shape,
                       const KvLayerView& kv, const BatchView& batch, const int32_t* tile_seq,
                       const int32_t* tile_q0, int num_tiles, cudaStream_t stream) {
  if (num_tiles == 0) return;
  const dim3 grid(unsigned(num_tiles), unsigned(shape.num_heads));
  const int threads = kWarps * 32;
  switch (kv.head_dim) {
    case 8: launch(attention_prefill_kernel<8>, grid, threads, 0, stream, "attention_prefill", qkv, out, shape, kv, batch, tile_seq, tile_q0); break;
    case 16: launch(attention_prefill_kernel<16>, grid, threads, 0, stream, "attention_prefill", qkv, out, shape, kv, batch, tile_seq, tile_q0); break;
    case 32: launch(attention_prefill_kernel<32>, grid, threads, 0, stream, "attention_prefill", qkv, out, shape, kv, batch, tile_seq, tile_q0); break;
    case 64: launch(attention_prefill_kernel<64>, grid, threads, 0, stream, "attention_prefill", qkv, out, shape, kv, batch, tile_seq, tile_q0); break;
    case 128: launch(attention_prefill_kernel<128>, grid, threads, 0, stream, "attention_prefill", qkv, out, shape, kv, batch, tile_seq, tile_q0); break;
    default: throw Error("attention_prefill: head_dim " + std::to_string(kv.head_dim) + " is not compiled in");
  }
}

}  // namespace yardstick::cuda
