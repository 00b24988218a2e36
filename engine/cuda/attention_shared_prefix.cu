// The shared pass of shared-prefix ("cascade") decode attention (attention.h): for each group of
// sequences whose block tables start with the same physical blocks, the softmax partials of all
// the members' queries against those blocks. A block takes one work item (a tile of up to
// kSharedPrefixRows query rows: members x the query heads of one kv head, against one chunk of
// the shared blocks), stages the chunk's keys and values through shared memory 32 keys at a
// time (cp.async, double buffered), and has each warp compute S = q k^T and O += P v for its 16
// rows with mma.sync m16n8k16 (bf16 in, f32 accumulators), the softmax online in between
// (FlashAttention-2's register layout: a score tile's accumulators are the next mma's A operand).
// Each K/V tile is read from memory once per item and used by every row of the item.
#include "engine/cuda/attention.h"

#include <algorithm>
#include <string>

#include "engine/cuda/attention_common.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/launch.cuh"
#include "engine/error.h"

namespace yardstick::cuda {

namespace {

constexpr int kWarps = kSharedPrefixRows / 16;   // one 16-row mma tile per warp
constexpr int kStageKeys = 32;                   // keys per shared-memory stage: two k16 steps of P v

// The dims q k^T runs over: a head narrower than one mma k step (HD 8) is zero-padded to 16.
template <int HD>
inline constexpr int kQkDims = HD < 16 ? 16 : HD;
// Row stride of the staged keys and values (bf16): 16 bytes of padding put the 8 rows a fragment
// load touches in different banks (HD 128: rows 68 words apart, 4 banks apart mod 32).
template <int HD>
inline constexpr int kStride = kQkDims<HD> + 8;

__device__ inline void mma_bf16_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two 8x8 bf16 matrices, transposed: lanes 0-7 give the row addresses of the first, 8-15 of the
// second; lane l gets (row 2 (l % 4), col l / 4) and (row 2 (l % 4) + 1, col l / 4) of each.
__device__ inline void ldmatrix_x2_trans(uint32_t& r0, uint32_t& r1, const bf16* row) {
  const unsigned addr = unsigned(__cvta_generic_to_shared(row));
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];"
               : "=r"(r0), "=r"(r1)
               : "r"(addr)
               : "memory");
}

// 16 bytes global -> shared without passing through registers; zeros when !valid.
__device__ inline void cp_async_16(bf16* dst, const bf16* src, bool valid) {
  const unsigned addr = unsigned(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(addr), "l"(src), "r"(valid ? 16 : 0)
               : "memory");
}
__device__ inline void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N>
__device__ inline void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

__device__ inline uint32_t pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);   // .x (lo) in the low half
  return *reinterpret_cast<const uint32_t*>(&v);
}

__device__ inline uint32_t load_u32(const bf16* p) { return *reinterpret_cast<const uint32_t*>(p); }

}  // namespace

// ---------------------------------------------------------------- kernels

// Block (x, kvh) takes items x, x + gridDim.x, ... of the step, for kv head kvh. Tile row r is
// query head kvh * G + r % G of member r / G (G = NH / NKV). Lane l of warp w holds rows
// 16 w + l / 4 and 16 w + l / 4 + 8 in the mma fragment layout (PTX ISA, mma.m16n8k16).
template <int HD>
__global__ void __launch_bounds__(kWarps * 32)
    attention_shared_prefix_kernel(const bf16* __restrict__ qkv, AttentionShape shape, KvLayerView kv,
                                   BatchView batch, SharedPrefixView prefix) {
  pdl_launch_dependents();
  pdl_wait();   // q, the cache and the partials' readers are all earlier kernels'
  constexpr int D = kQkDims<HD>, S = kStride<HD>;
  constexpr int kSteps = D / 16;   // k16 steps of q k^T
  constexpr int kOutTiles = HD / 8;   // n8 tiles of the output
  constexpr int kPieces = kStageKeys * HD / 8;   // 16-byte pieces of a stage's keys (and of its values)
  __shared__ __align__(16) bf16 k_s[2][kStageKeys * S];   // [stage buffer][key][dim]
  __shared__ __align__(16) bf16 v_s[2][kStageKeys * S];

  const int kvh = blockIdx.y;
  const int NH = shape.num_heads, NKV = kv.num_kv_heads, G = NH / NKV, BS = kv.block_size;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
  const size_t qkv_stride = size_t(NH + 2 * NKV) * HD;
  const float qk_scale = shape.scale * kLog2e;   // scores in base 2, as attention_decode's

  if constexpr (HD < D) {   // the padded key dims stay zero: cp.async writes dims < HD only
    for (int i = threadIdx.x; i < 2 * kStageKeys; i += blockDim.x)
      for (int d = HD; d < D; ++d) k_s[i / kStageKeys][(i % kStageKeys) * S + d] = __float2bfloat16(0.f);
  }

  const int num_items = *prefix.num_items;
  for (int item = blockIdx.x; item < num_items; item += gridDim.x) {
    const SharedPrefixItem it = prefix.items[item];
    const int rows = it.num_members * G;
    // Every member's table holds the same ids for the chunk's blocks: read the first one's.
    const int32_t* table = kv.block_tables + size_t(prefix.members[it.member_begin]) * kv.max_blocks;
    const int key_begin = it.block_begin * BS, key_end = it.block_end * BS;
    const int stages = (key_end - key_begin + kStageKeys - 1) / kStageKeys;

    // Stage s: keys key_begin + 32 s + j into row j of buffer buf; rows past the chunk are zeros
    // (their weights are 0, and 0 * a stale NaN would not be).
    auto load_stage = [&](int s, int buf) {
      for (int p = threadIdx.x; p < kPieces; p += blockDim.x) {
        const int j = p / (HD / 8), c = p % (HD / 8);
        const int key = key_begin + s * kStageKeys + j;
        const bool valid = key < key_end;
        const int at = valid ? key : key_begin;   // a valid address either way
        const size_t off = ((size_t(table[at / BS]) * NKV + kvh) * BS + size_t(at % BS)) * HD + size_t(c) * 8;
        cp_async_16(&k_s[buf][j * S + c * 8], kv.k + off, valid);
        cp_async_16(&v_s[buf][j * S + c * 8], kv.v + off, valid);
      }
      cp_async_commit();
    };
    load_stage(0, 0);

    // This lane's two rows and their queries as mma A fragments: register 0 holds (row g, dims
    // 2t, 2t+1) of a k16 step, 1 (row g + 8, same dims), 2 and 3 the same 8 dims further on.
    const int r_lo = warp * 16 + g, r_hi = r_lo + 8;
    auto q_row = [&](int r) -> const bf16* {
      if (r >= rows) return nullptr;
      const int b = prefix.members[it.member_begin + r / G];
      return qkv + size_t(batch.q_start[b]) * qkv_stride + size_t(kvh * G + r % G) * HD;
    };
    const bf16* q_lo = q_row(r_lo);
    const bf16* q_hi = q_row(r_hi);
    uint32_t qf[kSteps][4];
#pragma unroll
    for (int ks = 0; ks < kSteps; ++ks) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int dim = ks * 16 + half * 8 + 2 * t;
        qf[ks][2 * half] = q_lo && dim < HD ? load_u32(q_lo + dim) : 0u;
        qf[ks][2 * half + 1] = q_hi && dim < HD ? load_u32(q_hi + dim) : 0u;
      }
    }
    const bool active = warp * 16 < rows;   // warp-uniform: a warp past the tile's rows only loads

    // Online softmax per row: max m (base 2), this lane's share of the sum l (its 8 keys of each
    // stage; the quad's shares are added at the end), unnormalised output o.
    float m_lo = -INFINITY, m_hi = -INFINITY, l_lo = 0.f, l_hi = 0.f;
    float o[kOutTiles][4];
#pragma unroll
    for (int n = 0; n < kOutTiles; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;

    for (int s = 0; s < stages; ++s) {
      const int buf = s & 1;
      if (s + 1 < stages) {
        load_stage(s + 1, buf ^ 1);
        cp_async_wait<1>();   // stage s is in; s + 1 may still be on its way
      } else {
        cp_async_wait<0>();
      }
      __syncthreads();
      if (active) {
        const bf16* ks_ = k_s[buf];
        const bf16* vs_ = v_s[buf];
        // S = q k^T over the stage's 32 keys: 4 n8 tiles; B fragment (k = dims 2t, 2t+1 and
        // 2t+8, 2t+9; n = key g) is two 32-bit words of key g's row.
        float sc[4][4];
#pragma unroll
        for (int nt = 0; nt < 4; ++nt) {
          sc[nt][0] = sc[nt][1] = sc[nt][2] = sc[nt][3] = 0.f;
#pragma unroll
          for (int ks = 0; ks < kSteps; ++ks) {
            const bf16* kp = ks_ + (nt * 8 + g) * S + ks * 16 + 2 * t;
            mma_bf16_16816(sc[nt], qf[ks], load_u32(kp), load_u32(kp + 8));
          }
        }
        // Accumulator (nt, c) is key 8 nt + 2t + (c & 1) of row lo (c < 2) or hi (c >= 2).
        const int key0 = key_begin + s * kStageKeys;
        float mx_lo = -INFINITY, mx_hi = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < 4; ++nt) {
#pragma unroll
          for (int c = 0; c < 4; ++c) {
            const bool valid = key0 + nt * 8 + 2 * t + (c & 1) < key_end;
            sc[nt][c] = valid ? sc[nt][c] * qk_scale : -INFINITY;
          }
          mx_lo = fmaxf(mx_lo, fmaxf(sc[nt][0], sc[nt][1]));
          mx_hi = fmaxf(mx_hi, fmaxf(sc[nt][2], sc[nt][3]));
        }
        // A row's 32 scores are spread over the 4 lanes of a quad.
        mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 1));
        mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 2));
        mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 1));
        mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 2));
        const float mn_lo = fmaxf(m_lo, mx_lo), mn_hi = fmaxf(m_hi, mx_hi);   // finite: key0 < key_end
        const float a_lo = exp2f(m_lo - mn_lo), a_hi = exp2f(m_hi - mn_hi);
        m_lo = mn_lo;
        m_hi = mn_hi;
        float sum_lo = 0.f, sum_hi = 0.f;
#pragma unroll
        for (int nt = 0; nt < 4; ++nt) {
          sc[nt][0] = exp2f(sc[nt][0] - mn_lo);
          sc[nt][1] = exp2f(sc[nt][1] - mn_lo);
          sc[nt][2] = exp2f(sc[nt][2] - mn_hi);
          sc[nt][3] = exp2f(sc[nt][3] - mn_hi);
          sum_lo += sc[nt][0] + sc[nt][1];
          sum_hi += sc[nt][2] + sc[nt][3];
        }
        l_lo = l_lo * a_lo + sum_lo;
        l_hi = l_hi * a_hi + sum_hi;
#pragma unroll
        for (int n = 0; n < kOutTiles; ++n) {
          o[n][0] *= a_lo;
          o[n][1] *= a_lo;
          o[n][2] *= a_hi;
          o[n][3] *= a_hi;
        }
        // O += P v, 16 keys a step: score tiles 2j and 2j+1 are exactly the A fragment of keys
        // 16j..16j+15; v's B fragment (k = keys 2t, 2t+1 and +8, n = dim g) by transposing loads.
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          const uint32_t pa[4] = {pack_bf16x2(sc[2 * j][0], sc[2 * j][1]), pack_bf16x2(sc[2 * j][2], sc[2 * j][3]),
                                  pack_bf16x2(sc[2 * j + 1][0], sc[2 * j + 1][1]),
                                  pack_bf16x2(sc[2 * j + 1][2], sc[2 * j + 1][3])};
          const bf16* vrow = vs_ + (j * 16 + (lane & 15)) * S;
#pragma unroll
          for (int n = 0; n < kOutTiles; ++n) {
            uint32_t b0, b1;
            ldmatrix_x2_trans(b0, b1, vrow + n * 8);
            mma_bf16_16816(o[n], pa, b0, b1);
          }
        }
      }
      __syncthreads();   // the next stage's load refills this buffer
    }

    if (active) {
      l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 1);
      l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 2);
      l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 1);
      l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 2);
      // Output accumulator (n, c): dim 8n + 2t + (c & 1) of row lo (c < 2) or hi.
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int r = half ? r_hi : r_lo;
        if (r >= rows) continue;
        const int b = prefix.members[it.member_begin + r / G], h = kvh * G + r % G;
        float* part =
            prefix.partials + ((size_t(b) * NH + h) * kMaxSharedPrefixChunks + size_t(it.chunk)) * (HD + 2);
        if (t == 0) {
          part[0] = half ? m_hi : m_lo;
          part[1] = half ? l_hi : l_lo;
        }
#pragma unroll
        for (int n = 0; n < kOutTiles; ++n) {
          part[2 + n * 8 + 2 * t] = o[n][2 * half];
          part[2 + n * 8 + 2 * t + 1] = o[n][2 * half + 1];
        }
      }
    }
  }
}

// ---------------------------------------------------------------- launchers

bool attention_shared_prefix_supports(int head_dim, int heads_per_kv_head) {
  return attention_supports_head_dim(head_dim) && heads_per_kv_head >= 1 &&
         heads_per_kv_head <= kSharedPrefixRows;
}

int attention_shared_prefix_blocks(int num_kv_heads, int num_seqs, int sm_count) {
  // Four blocks of 128 threads per SM keep the tensor cores and the loads of several items in
  // flight; items past the grid are taken by the blocks that finish first.
  const int want = (4 * sm_count + num_kv_heads - 1) / std::max(num_kv_heads, 1);
  return std::clamp(want, 1, std::max(1, attention_shared_prefix_items(num_seqs)));
}

void attention_shared_prefix(const bf16* qkv, const AttentionShape& shape, const KvLayerView& kv,
                             const BatchView& batch, const SharedPrefixView& prefix, cudaStream_t stream) {
  if (batch.num_seqs == 0) return;
  if (!prefix.skip_blocks || !prefix.num_partials || !prefix.partials || !prefix.members || !prefix.items ||
      !prefix.num_items || prefix.blocks_x < 1) {
    throw Error("attention_shared_prefix: the shared-prefix view is incomplete");
  }
  if (!attention_shared_prefix_supports(kv.head_dim, shape.num_heads / kv.num_kv_heads)) {
    throw Error("attention_shared_prefix: head_dim " + std::to_string(kv.head_dim) + " with " +
                std::to_string(shape.num_heads / kv.num_kv_heads) + " query heads per kv head is not compiled in");
  }
  const dim3 grid(unsigned(prefix.blocks_x), unsigned(kv.num_kv_heads));
  const int threads = kWarps * 32;
  const char* what = "attention_shared_prefix";
  switch (kv.head_dim) {
    case 8: launch(attention_shared_prefix_kernel<8>, grid, threads, 0, stream, what, qkv, shape, kv, batch, prefix); break;
    case 16: launch(attention_shared_prefix_kernel<16>, grid, threads, 0, stream, what, qkv, shape, kv, batch, prefix); break;
    case 32: launch(attention_shared_prefix_kernel<32>, grid, threads, 0, stream, what, qkv, shape, kv, batch, prefix); break;
    case 64: launch(attention_shared_prefix_kernel<64>, grid, threads, 0, stream, what, qkv, shape, kv, batch, prefix); break;
    case 128: launch(attention_shared_prefix_kernel<128>, grid, threads, 0, stream, what, qkv, shape, kv, batch, prefix); break;
    default: throw Error("attention_shared_prefix: head_dim " + std::to_string(kv.head_dim) + " is not compiled in");
  }
}

}  // namespace yardstick::cuda
