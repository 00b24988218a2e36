// Causal prefill attention on the tensor cores (flash-attention 2 style): mma.sync m16n8k16 bf16
// products with fp32 accumulators, ldmatrix fragments, an online softmax in fp32 registers, and
// key/value tiles streamed from the paged cache by cp.async, double buffered. At 512-token
// prompts the SIMT kernel (attention_prefill.cu) spent about a quarter of a prefill step on ~1%
// of its FLOPs; this one runs them at matrix rate.
//
// Every query's result depends only on its own position and keys: key tiles start at absolute
// position 0 whatever the query tile or chunk, masked keys add exactly nothing, and rows never
// mix. So a token gets the same bits whether its prompt is prefilled at once or in chunks, and
// whatever else shares the step (the tests check this).
#include "engine/cuda/attention.h"

#include <string>

#include "engine/error.h"
#include "engine/cuda/attention_common.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/launch.cuh"

namespace yardstick::cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = 16;              // the m of m16n8k16: one warp's queries
constexpr int kQTile = kPrefillMmaQueryTile;  // queries per block
constexpr int kKTile = 64;                    // keys per pipeline stage
static_assert(kQTile == kWarps * kRowsPerWarp);

// Shared-memory rows are padded by 16 bytes: the 8 row addresses of an ldmatrix (and a warp's
// output stores) then fall on distinct banks.
template <int HD>
constexpr int kStride = HD + 8;
template <int HD>
constexpr int kTileElems = kKTile * kStride<HD>;
// Two stages of (K, V). The query tile is staged in the second stage's K buffer: it moves into
// registers before the first prefetch overwrites it.
template <int HD>
constexpr size_t kSmemBytes = size_t(4) * kTileElems<HD> * sizeof(bf16);
static_assert(kQTile <= kKTile, "the query tile is staged in a key buffer");

__device__ inline uint32_t smem_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, bypassing L1; zeros instead when !valid (src is then not read).
__device__ inline void cp_async_16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}
__device__ inline void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ inline void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }

// Four 8x8 bf16 matrices; lane i gives the address of row i % 8 of matrix i / 8.
__device__ inline void ldmatrix_x4(uint32_t address, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
}
__device__ inline void ldmatrix_x4_trans(uint32_t address, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(address));
}

// c += a b: a 16x16 (row), b 16x8 (col), c 16x8 fp32. Fragment layouts (g = lane / 4, t = lane % 4):
// a = {A[g][2t..], A[g+8][2t..], A[g][2t+8..], A[g+8][2t+8..]}, b = {B[2t..][g], B[2t+8..][g]},
// c = {C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1]}.
__device__ inline void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as a bf16x2 register, lo in the low half (the lower column of a fragment).
__device__ inline uint32_t pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

__device__ inline float quad_max(float v) {   // over the 4 lanes that share a fragment row
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ inline float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

}  // namespace

// ---------------------------------------------------------------- kernels

// Block (h, tile): up to kQTile new tokens of one sequence against query head h. Warp w owns
// queries 16w .. 16w + 15 of the tile: their q fragments stay in registers, and for each tile of
// kKTile keys the warp computes S = q k^T (16 x 64, fp32), the online softmax of its rows, and
// o += p v with p rounded to bf16 (as flash attention does). The next key tile's cp.async loads
// are in flight meanwhile; one barrier per tile.
template <int HD>
__global__ void __launch_bounds__(kWarps * 32, 2)
    attention_prefill_mma_kernel(const bf16* __restrict__ qkv, bf16* __restrict__ out,
                                 AttentionShape shape, KvLayerView kv, BatchView batch,
                                 const int32_t* __restrict__ tile_seq,
                                 const int32_t* __restrict__ tile_q0) {
  static_assert(HD % 16 == 0);
  constexpr int S = kStride<HD>;
  constexpr int kChunks = HD / 8;   // 16-byte chunks per row
  constexpr int kThreads = kWarps * 32;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16* const smem = reinterpret_cast<bf16*>(smem_raw);
  // Stage s: keys at smem + 2s tiles, values at smem + (2s + 1) tiles.
  auto k_tile = [&](int stage) { return smem + (2 * stage) * kTileElems<HD>; };
  auto v_tile = [&](int stage) { return smem + (2 * stage + 1) * kTileElems<HD>; };

  pdl_launch_dependents();
  pdl_wait();   // everything below reads what earlier kernels wrote

  const int h = blockIdx.x, tile = blockIdx.y;
  const int b = tile_seq[tile], q0 = tile_q0[tile];
  const int NH = shape.num_heads, NKV = kv.num_kv_heads, BS = kv.block_size;
  const int kvh = h / (NH / NKV);
  const int q_len = batch.q_len[b], kv_len = batch.kv_len[b], row0 = batch.q_start[b] + q0;
  const int first_pos = kv_len - q_len + q0;   // position of the tile's first query
  const int n_q = min(kQTile, q_len - q0);
  const int n_keys = first_pos + n_q;          // the tile's last query sees keys [0, n_keys)
  const int n_tiles = (n_keys + kKTile - 1) / kKTile;
  const size_t qkv_stride = size_t(NH + 2 * NKV) * HD;
  const int32_t* table = kv.block_tables + size_t(b) * kv.max_blocks;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;

  // Key tile kt into stage `stage`: rows past n_keys are zeros (scores masked, values weighed 0).
  auto load_kv = [&](int kt, int stage) {
    bf16* ks = k_tile(stage);
    bf16* vs = v_tile(stage);
    static_assert(kKTile * kChunks % kThreads == 0);
#pragma unroll
    for (int i = 0; i < kKTile * kChunks / kThreads; ++i) {
      const int c = tid + i * kThreads;
      const int j = c / kChunks, part = c % kChunks;
      const int kp = kt * kKTile + j;
      const bool valid = kp < n_keys;
      const int at = valid ? kp : n_keys - 1;   // a valid address either way
      const int block = table[at / BS];
      const size_t off = ((size_t(block) * NKV + kvh) * BS + size_t(at % BS)) * HD + size_t(part) * 8;
      cp_async_16(smem_address(ks + j * S + part * 8), kv.k + off, valid);
      cp_async_16(smem_address(vs + j * S + part * 8), kv.v + off, valid);
    }
  };

  // The query tile (rows past n_q zeros) into stage 1's key buffer, with key tile 0.
  {
    bf16* qs = k_tile(1);
#pragma unroll
    for (int n = 0; n < kQTile * kChunks / kThreads; ++n) {
      const int c = tid + n * kThreads;
      const int i = c / kChunks, part = c % kChunks;
      const bool valid = i < n_q;
      const bf16* src = qkv + size_t(row0 + (valid ? i : 0)) * qkv_stride + size_t(h) * HD + size_t(part) * 8;
      cp_async_16(smem_address(qs + i * S + part * 8), src, valid);
    }
  }
  load_kv(0, 0);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();

  // The warp's 16 queries as A fragments, one per 16 dims.
  uint32_t qf[HD / 16][4];
  {
    const bf16* qs = k_tile(1) + (warp * kRowsPerWarp + (lane & 7) + 8 * ((lane >> 3) & 1)) * S + 8 * (lane >> 4);
#pragma unroll
    for (int ks = 0; ks < HD / 16; ++ks) ldmatrix_x4(smem_address(qs + ks * 16), qf[ks]);
  }

  const int g = lane >> 2, t4 = lane & 3;
  const int warp_pos = first_pos + warp * kRowsPerWarp;   // position of the warp's first query
  const int pos_lo = warp_pos + g, pos_hi = pos_lo + 8;   // this lane's two rows
  const bool warp_active = warp * kRowsPerWarp < n_q;
  const float scale2 = shape.scale * kLog2e;

  float o[HD / 8][4];
#pragma unroll
  for (int n = 0; n < HD / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
  // Running max (base 2) and this lane's part of the running sum, for rows g and g + 8.
  float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.f, l_hi = 0.f;

  for (int kt = 0; kt < n_tiles; ++kt) {
    const int stage = kt & 1;
    cp_async_wait_all();
    __syncthreads();   // tile kt is in; every warp is done with the other stage (and the q tile)
    if (kt + 1 < n_tiles) load_kv(kt + 1, stage ^ 1);
    cp_async_commit();
    const int key0 = kt * kKTile;
    // A warp whose queries all precede the tile (past the end, or before it in causal order)
    // would add exactly nothing: skip it.
    if (!warp_active || key0 > warp_pos + kRowsPerWarp - 1) continue;

    // S = q k^T over the tile's 64 keys: 8 fragments of 8 keys.
    float s[kKTile / 8][4];
#pragma unroll
    for (int n = 0; n < kKTile / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
    {
      const bf16* ks = k_tile(stage) + ((lane & 7) + 8 * (lane >> 4)) * S + 8 * ((lane >> 3) & 1);
#pragma unroll
      for (int kd = 0; kd < HD / 16; ++kd) {
#pragma unroll
        for (int np = 0; np < kKTile / 16; ++np) {
          uint32_t kf[4];   // b fragments of keys 16np .. +7 and 16np + 8 .. +15
          ldmatrix_x4(smem_address(ks + np * 16 * S + kd * 16), kf);
          mma_bf16(s[2 * np], qf[kd], kf[0], kf[1]);
          mma_bf16(s[2 * np + 1], qf[kd], kf[2], kf[3]);
        }
      }
    }

    // Scale to base 2, mask keys after each row's position, and the online softmax update.
    const bool diagonal = key0 + kKTile - 1 > warp_pos;   // some key follows some row of the warp
    float mx_lo = m_lo, mx_hi = m_hi;
#pragma unroll
    for (int n = 0; n < kKTile / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float v = s[n][e] * scale2;
        if (diagonal) {
          const int key = key0 + n * 8 + 2 * t4 + (e & 1);
          if (key > (e < 2 ? pos_lo : pos_hi)) v = -INFINITY;
        }
        s[n][e] = v;
      }
      mx_lo = fmaxf(mx_lo, fmaxf(s[n][0], s[n][1]));
      mx_hi = fmaxf(mx_hi, fmaxf(s[n][2], s[n][3]));
    }
    // Finite: key 0 is visible to every row, and tile 0 comes first.
    mx_lo = quad_max(mx_lo);
    mx_hi = quad_max(mx_hi);
    const float alpha_lo = exp2f(m_lo - mx_lo), alpha_hi = exp2f(m_hi - mx_hi);
    m_lo = mx_lo;
    m_hi = mx_hi;
    float sum_lo = 0.f, sum_hi = 0.f;
#pragma unroll
    for (int n = 0; n < kKTile / 8; ++n) {
      s[n][0] = exp2f(s[n][0] - mx_lo);
      s[n][1] = exp2f(s[n][1] - mx_lo);
      s[n][2] = exp2f(s[n][2] - mx_hi);
      s[n][3] = exp2f(s[n][3] - mx_hi);
      sum_lo += s[n][0] + s[n][1];
      sum_hi += s[n][2] + s[n][3];
    }
    l_lo = l_lo * alpha_lo + sum_lo;
    l_hi = l_hi * alpha_hi + sum_hi;
#pragma unroll
    for (int n = 0; n < HD / 8; ++n) {
      o[n][0] *= alpha_lo;
      o[n][1] *= alpha_lo;
      o[n][2] *= alpha_hi;
      o[n][3] *= alpha_hi;
    }

    // o += p v: p's accumulator fragments are already laid out as A fragments (16 keys each).
    {
      const bf16* vs = v_tile(stage) + ((lane & 7) + 8 * ((lane >> 3) & 1)) * S + 8 * (lane >> 4);
#pragma unroll
      for (int kk = 0; kk < kKTile / 16; ++kk) {
        const uint32_t pa[4] = {pack_bf16x2(s[2 * kk][0], s[2 * kk][1]), pack_bf16x2(s[2 * kk][2], s[2 * kk][3]),
                                pack_bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                                pack_bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
        for (int dp = 0; dp < HD / 16; ++dp) {
          uint32_t vf[4];   // b fragments of dims 16dp .. +7 and 16dp + 8 .. +15
          ldmatrix_x4_trans(smem_address(vs + kk * 16 * S + dp * 16), vf);
          mma_bf16(o[2 * dp], pa, vf[0], vf[1]);
          mma_bf16(o[2 * dp + 1], pa, vf[2], vf[3]);
        }
      }
    }
  }
  cp_async_wait_all();   // the last group is empty; nothing may be in flight at exit

  if (!warp_active) return;
  // Normalise, stage the warp's rows in the stage the last tile did not use (every warp passed
  // the last barrier after reading it), and store them 16 bytes at a time.
  const float inv_lo = 1.f / quad_sum(l_lo), inv_hi = 1.f / quad_sum(l_hi);
  bf16* staged = k_tile(n_tiles & 1) + warp * kRowsPerWarp * S;
#pragma unroll
  for (int n = 0; n < HD / 8; ++n) {
    const int d = n * 8 + 2 * t4;
    *reinterpret_cast<__nv_bfloat162*>(staged + g * S + d) = __floats2bfloat162_rn(o[n][0] * inv_lo, o[n][1] * inv_lo);
    *reinterpret_cast<__nv_bfloat162*>(staged + (g + 8) * S + d) =
        __floats2bfloat162_rn(o[n][2] * inv_hi, o[n][3] * inv_hi);
  }
  __syncwarp();
  const int rows = min(kRowsPerWarp, n_q - warp * kRowsPerWarp);
  for (int c = lane; c < kRowsPerWarp * kChunks; c += 32) {
    const int r = c / kChunks, part = c % kChunks;
    if (r >= rows) break;   // c grows with r
    const size_t row = size_t(row0 + warp * kRowsPerWarp + r);
    *reinterpret_cast<uint4*>(out + row * NH * HD + size_t(h) * HD + part * 8) =
        *reinterpret_cast<const uint4*>(staged + r * S + part * 8);
  }
}

// ---------------------------------------------------------------- launchers

bool attention_prefill_mma_supports(int head_dim) { return head_dim == 64 || head_dim == 128; }

namespace {

template <int HD>
void launch_prefill_mma(const bf16* qkv, bf16* out, const AttentionShape& shape, const KvLayerView& kv,
                        const BatchView& batch, const int32_t* tile_seq, const int32_t* tile_q0, int num_tiles,
                        cudaStream_t stream) {
  // Above the default 48 KB of dynamic shared memory; set each launch (per device, and cheap).
  check(cudaFuncSetAttribute(attention_prefill_mma_kernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             int(kSmemBytes<HD>)),
        "attention_prefill_mma: allowing its shared memory");
  const dim3 grid(unsigned(shape.num_heads), unsigned(num_tiles));
  launch(attention_prefill_mma_kernel<HD>, grid, kWarps * 32, kSmemBytes<HD>, stream, "attention_prefill_mma", qkv,
         out, shape, kv, batch, tile_seq, tile_q0);
}

}  // namespace

void attention_prefill_mma(const bf16* qkv, bf16* out, const AttentionShape& shape, const KvLayerView& kv,
                           const BatchView& batch, const int32_t* tile_seq, const int32_t* tile_q0, int num_tiles,
                           cudaStream_t stream) {
  if (num_tiles == 0) return;
  if (num_tiles > 65535) {
    throw Error("attention_prefill_mma: " + std::to_string(num_tiles) + " query tiles (at most 65535)");
  }
  switch (kv.head_dim) {
    case 64: launch_prefill_mma<64>(qkv, out, shape, kv, batch, tile_seq, tile_q0, num_tiles, stream); break;
    case 128: launch_prefill_mma<128>(qkv, out, shape, kv, batch, tile_seq, tile_q0, num_tiles, stream); break;
    default:
      throw Error("attention_prefill_mma: head_dim " + std::to_string(kv.head_dim) + " is not compiled in (64, 128)");
  }
}

}  // namespace yardstick::cuda
