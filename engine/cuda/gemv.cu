#include "engine/cuda/gemv.h"

#include <cstdint>
#include <string>

#include "engine/cuda/attention_common.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/epilogue_math.cuh"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/reduce.cuh"
#include "engine/error.h"

namespace yardstick::cuda {

namespace {

constexpr int kWarps = 4;    // one output feature per block, its row split over the warps
constexpr int kUnroll = 8;   // 16-byte weight loads in flight per lane
// Eight resident blocks per multiprocessor (at most 64 registers): 1056 on an H200, so a
// 4096-feature projection runs in 3.9 waves rather than 4.4.
constexpr int kMinBlocks = 8;

// Weights are read once per step: keep them out of L1, where x is reused by every block.
__device__ inline uint4 load_streaming(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

}  // namespace

// What a block does with its results. An epilogue names the P weight rows block n computes
// (weight_row) and receives their P sums for each of the R input rows (store, called by one
// thread per input row).

// y[r, n] = sum: a plain projection, P consecutive output features per block.
template <class Out, int P>
struct StoreRows {
  Out* y;    // [R, out]
  int out;
  __device__ int weight_row(int n, int p) const { return n * P + p; }
  __device__ void store(int r, int n, const float* v) const {
#pragma unroll
    for (int p = 0; p < P; ++p) {
      if constexpr (sizeof(Out) == sizeof(float)) {
        y[size_t(r) * out + n * P + p] = v[p];
      } else {
        y[size_t(r) * out + n * P + p] = __float2bfloat16(v[p]);
      }
    }
  }
};

// The qkv projection followed by rope_and_store_kv (rope.h): block n computes G rotate_half
// pairs (d, d + HD/2) of one head (pairs nG .. nG + G - 1 of the row), so it can rotate them and
// put them where the attention reads them.
template <int G>
struct RopeKvStore {
  bf16* qkv;                // [R, (NH + 2 NKV) HD]
  const float2* rope;       // [P, HD/2]
  const int32_t* pos;       // [R]
  const int32_t* tok_seq;   // [R]
  KvLayerView kv;
  int num_heads;
  // Weight row p of block n: half p % 2 of pair nG + p / 2.
  __device__ int weight_row(int n, int p) const {
    const int half = kv.head_dim / 2, pair = n * G + p / 2;
    return (pair / half) * kv.head_dim + pair % half + (p % 2) * half;
  }
  __device__ void store(int r, int n, const float* v) const {
#pragma unroll
    for (int g = 0; g < G; ++g) store_pair(r, n * G + g, v[2 * g], v[2 * g + 1]);
  }
  __device__ void store_pair(int r, int pair, float v0, float v1) const {
    const int HD = kv.head_dim, half = HD / 2, NKV = kv.num_kv_heads, BS = kv.block_size;
    const int head = pair / half, d = pair % half;
    bf16 a = __float2bfloat16(v0), b = __float2bfloat16(v1);   // as the unfused gemv stores
    const int p = pos[r];
    if (head < num_heads + NKV) rope_rotate_pair(a, b, rope[size_t(p) * half + d]);
    bf16* row = qkv + size_t(r) * (num_heads + 2 * NKV) * HD + size_t(head) * HD;
    row[d] = a;
    row[d + half] = b;
    if (head < num_heads) return;
    const bool is_k = head < num_heads + NKV;
    const int kvh = head - num_heads - (is_k ? 0 : NKV);
    const int block = kv.block_tables[size_t(tok_seq[r]) * kv.max_blocks + p / BS];
    bf16* dst = (is_k ? kv.k : kv.v) + ((size_t(block) * NKV + kvh) * BS + p % BS) * size_t(HD);
    dst[d] = a;
    dst[d + half] = b;
  }
};

// The [gate; up] projection followed by silu_mul (swiglu.h): block n computes gate and up rows
// nG .. nG + G - 1.
template <int G>
struct SiluMulStore {
  bf16* act;   // [R, FF]
  int ff;
  // Weight row p of block n: gate (p even) or up (p odd) of feature nG + p / 2.
  __device__ int weight_row(int n, int p) const { return n * G + p / 2 + (p % 2) * ff; }
  __device__ void store(int r, int n, const float* v) const {
#pragma unroll
    for (int g = 0; g < G; ++g)
      act[size_t(r) * ff + n * G + g] = silu_mul_value(__float2bfloat16(v[2 * g]), __float2bfloat16(v[2 * g + 1]));
  }
};

// o_proj or down_proj followed by the residual add of add_rmsnorm (rmsnorm.h) and the first half
// of its norm: block n adds its P features (rounded to bf16, as the unfused projection stores
// them) into the residual stream and leaves their sum of squares in partials[r, n]. The next
// projection reads the stream through NormedInput, which finishes the norm.
template <int P>
struct ResidualStore {
  float* x;          // [R, C] the residual stream
  float* partials;   // [R, C / P]
  int C;
  __device__ int weight_row(int n, int p) const { return n * P + p; }
  __device__ void store(int r, int n, const float* v) const {
    float ss = 0.f;
#pragma unroll
    for (int p = 0; p < P; ++p) {
      float* at = x + size_t(r) * C + n * P + p;
      const float sum = *at + __bfloat162float(__float2bfloat16(v[p]));
      *at = sum;
      ss += sum * sum;
    }
    partials[size_t(r) * (C / P) + n] = ss;
  }
};

// Where a gemv block reads its input rows. Bf16Input: the rows as they are.
struct Bf16Input {
  const bf16* x;   // [R, K]
  template <int R>
  __device__ void prepare() {}
  __device__ void chunk(int r, int chunks, int c, float* xf) const {
    const uint4 raw = __ldg(reinterpret_cast<const uint4*>(x) + size_t(r) * chunks + c);
    load_bf16<8>(reinterpret_cast<const bf16*>(&raw), xf);
  }
};

// NormedInput: RMSNorm(x) * weight computed on the fly, from the fp32 residual stream and the
// per-block sums of squares a ResidualStore left (every block adds them in the same order, so
// all see the same inverse RMS). Each element is rounded to bf16 as add_rmsnorm stores it. The
// stream and the weight are read through L1: the blocks of one multiprocessor share them.
struct NormedInput {
  const float* x;          // [R, K]
  const bf16* weight;      // [K]
  const float* partials;   // [R, parts]
  int parts;
  float eps;
  int width;               // K
  float inv_rms[kGemvMaxRows];
  template <int R>
  __device__ void prepare() {
    __shared__ float sums[kWarps][R];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float s = 0.f;
      for (int i = threadIdx.x; i < parts; i += blockDim.x) s += __ldg(partials + size_t(r) * parts + i);
      s = warp_sum(s);
      if (lane == 0) sums[warp][r] = s;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float total = 0.f;
#pragma unroll
      for (int k = 0; k < kWarps; ++k) total += sums[k][r];
      inv_rms[r] = rsqrtf(total / float(width) + eps);
    }
  }
  __device__ void chunk(int r, int chunks, int c, float* xf) const {
    const float4* row = reinterpret_cast<const float4*>(x + size_t(r) * chunks * 8) + 2 * c;
    const float4 a = __ldg(row), b = __ldg(row + 1);
    const uint4 wraw = __ldg(reinterpret_cast<const uint4*>(weight) + c);
    float wf[8];
    load_bf16<8>(reinterpret_cast<const bf16*>(&wraw), wf);
    const float v[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
    for (int i = 0; i < 8; ++i) xf[i] = __bfloat162float(__float2bfloat16(v[i] * inv_rms[r] * wf[i]));
  }
};

// ---------------------------------------------------------------- kernels

// Block n computes P weight rows (epi.weight_row(n, p)) for all R rows of x. Thread t of the
// block takes the 16-byte chunks t, t + 128, ... of each weight row (each block-wide load is
// 2 KB contiguous); the four warps' partial sums are added in a fixed order. A weight row's sum
// is the same whatever P is, so a fused epilogue sees exactly what the plain projection would
// have stored. Small blocks keep the last wave of a projection short (4096-feature projections
// are ~4 waves, not 1.3).
template <int R, int P, class Epi, class In>
__global__ void __launch_bounds__(kWarps * 32, kMinBlocks)
    gemv_kernel(In input, const bf16* __restrict__ w, int in, Epi epi) {
  static_assert(kUnroll % P == 0);
  constexpr int kRowUnroll = kUnroll / P;   // chunks of each weight row in flight per lane
  __shared__ float partial[kWarps][R][P];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int n = blockIdx.x;
  const int chunks = in / 8;
  const uint4* wrow[P];
#pragma unroll
  for (int p = 0; p < P; ++p) wrow[p] = reinterpret_cast<const uint4*>(w + size_t(epi.weight_row(n, p)) * in);
  float acc[R][P];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int p = 0; p < P; ++p) acc[r][p] = 0.f;

  constexpr int kStride = kWarps * 32;
  uint4 wv[kRowUnroll][P];
  auto load_weights = [&](int c0) {
#pragma unroll
    for (int u = 0; u < kRowUnroll; ++u) {
      const int c = c0 + kStride * u;
#pragma unroll
      for (int p = 0; p < P; ++p) wv[u][p] = c < chunks ? load_streaming(wrow[p] + c) : make_uint4(0, 0, 0, 0);
    }
  };
  // The weights depend on no earlier kernel: the first batch is in flight while the previous
  // kernel finishes (a whole 4096-wide row: 4 chunks a thread).
  pdl_launch_dependents();
  load_weights(threadIdx.x);
  pdl_wait();
  input.template prepare<R>();
  for (int c0 = threadIdx.x; c0 < chunks; c0 += kStride * kRowUnroll) {
    if (c0 != int(threadIdx.x)) load_weights(c0);
#pragma unroll
    for (int u = 0; u < kRowUnroll; ++u) {
      const int c = c0 + kStride * u;
      if (c >= chunks) break;
      float wf[P][8];
#pragma unroll
      for (int p = 0; p < P; ++p) load_bf16<8>(reinterpret_cast<const bf16*>(&wv[u][p]), wf[p]);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float xf[8];
        input.chunk(r, chunks, c, xf);
#pragma unroll
        for (int p = 0; p < P; ++p)
#pragma unroll
          for (int i = 0; i < 8; ++i) acc[r][p] += wf[p][i] * xf[i];
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int p = 0; p < P; ++p) {
      const float v = warp_sum(acc[r][p]);
      if (lane == 0) partial[warp][r][p] = v;
    }
  __syncthreads();
  if (threadIdx.x < R) {
    const int r = threadIdx.x;
    float v[P];
#pragma unroll
    for (int p = 0; p < P; ++p) {
      v[p] = 0.f;
#pragma unroll
      for (int k = 0; k < kWarps; ++k) v[p] += partial[k][r][p];
    }
    epi.store(r, n, v);
  }
}

// ---------------------------------------------------------------- launchers

bool gemv_supports(const void* x, const void* w, int rows, int in) {
  return rows >= 1 && rows <= kGemvMaxRows && in % 8 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
         reinterpret_cast<uintptr_t>(w) % 16 == 0;
}

namespace {

// One block per epilogue index n < blocks, the row count a template argument.
template <int P, class Epi, class In>
void launch_gemv(const char* what, const In& input, const void* x, const bf16* w, int rows, int blocks, int in,
                 const Epi& epi, cudaStream_t stream) {
  if (!gemv_supports(x, w, rows, in))
    throw Error(std::string(what) + ": " + std::to_string(rows) + " rows of " + std::to_string(in) +
                " is not a gemv shape (at most kGemvMaxRows rows, a multiple of 8 wide, 16-byte aligned)");
  const dim3 grid(static_cast<unsigned>(blocks));
  switch (rows) {
    case 1: launch(gemv_kernel<1, P, Epi, In>, grid, kWarps * 32, 0, stream, what, input, w, in, epi); break;
    case 2: launch(gemv_kernel<2, P, Epi, In>, grid, kWarps * 32, 0, stream, what, input, w, in, epi); break;
    case 3: launch(gemv_kernel<3, P, Epi, In>, grid, kWarps * 32, 0, stream, what, input, w, in, epi); break;
    case 4: launch(gemv_kernel<4, P, Epi, In>, grid, kWarps * 32, 0, stream, what, input, w, in, epi); break;
    default: throw Error(std::string(what) + ": " + std::to_string(rows) + " rows, more than kGemvMaxRows");
  }
}

// Runs launch_gemv with the input a GemvInput names.
template <int P, class Epi>
void launch_gemv(const char* what, const GemvInput& x, const bf16* w, int rows, int blocks, int in, const Epi& epi,
                 cudaStream_t stream) {
  if (x.normed.x) {
    const GemvNormedInput& n = x.normed;
    if (reinterpret_cast<uintptr_t>(n.weight) % 16 != 0) throw Error(std::string(what) + ": the norm weight is not 16-byte aligned");
    launch_gemv<P>(what, NormedInput{n.x, n.weight, n.partials, n.parts, n.eps, in, {}}, n.x, w, rows, blocks, in, epi,
                   stream);
  } else {
    launch_gemv<P>(what, Bf16Input{x.bf16_rows}, x.bf16_rows, w, rows, blocks, in, epi, stream);
  }
}

}  // namespace

namespace {

template <int P>
void launch_plain_gemv(const bf16* x, const bf16* w, void* y, bool y_f32, int rows, int out, int in,
                       cudaStream_t stream) {
  if (y_f32) {
    launch_gemv<P>("gemv", Bf16Input{x}, x, w, rows, out / P, in, StoreRows<float, P>{static_cast<float*>(y), out}, stream);
  } else {
    launch_gemv<P>("gemv", Bf16Input{x}, x, w, rows, out / P, in, StoreRows<bf16, P>{static_cast<bf16*>(y), out}, stream);
  }
}

}  // namespace

void gemv(const bf16* x, const bf16* w, void* y, bool y_f32, int rows, int out, int in, cudaStream_t stream,
          int features_per_block) {
  if (features_per_block == 4 && out % 4 == 0) {
    launch_plain_gemv<4>(x, w, y, y_f32, rows, out, in, stream);
  } else if (features_per_block == 2 && out % 2 == 0) {
    launch_plain_gemv<2>(x, w, y, y_f32, rows, out, in, stream);
  } else {
    launch_plain_gemv<1>(x, w, y, y_f32, rows, out, in, stream);
  }
}

void gemv_residual_add(const bf16* x, const bf16* w, float* resid, float* partials, int rows, int hidden, int in,
                       cudaStream_t stream, int features_per_block) {
  if (features_per_block == 4 && hidden % 4 == 0) {
    launch_gemv<4>("gemv_residual_add", Bf16Input{x}, x, w, rows, hidden / 4, in, ResidualStore<4>{resid, partials, hidden},
                   stream);
  } else if (features_per_block == 2 && hidden % 2 == 0) {
    launch_gemv<2>("gemv_residual_add", Bf16Input{x}, x, w, rows, hidden / 2, in, ResidualStore<2>{resid, partials, hidden},
                   stream);
  } else {
    launch_gemv<1>("gemv_residual_add", Bf16Input{x}, x, w, rows, hidden, in, ResidualStore<1>{resid, partials, hidden},
                   stream);
  }
}

int gemv_residual_parts(int hidden, int features_per_block) {
  return (features_per_block == 4 || features_per_block == 2) && hidden % features_per_block == 0
             ? hidden / features_per_block
             : hidden;
}

void gemv_qkv_rope(const GemvInput& x, const bf16* wqkv, bf16* qkv, const float2* rope, const int32_t* pos,
                   const int32_t* tok_seq, const KvLayerView& kv, int rows, int num_heads, int in,
                   cudaStream_t stream, int pairs_per_block) {
  if (kv.head_dim % 2 != 0) throw Error("gemv_qkv_rope: head_dim " + std::to_string(kv.head_dim) + " is odd");
  const int pairs = (num_heads + 2 * kv.num_kv_heads) * (kv.head_dim / 2);
  if (pairs_per_block == 2 && (kv.head_dim / 2) % 2 == 0) {
    launch_gemv<4>("gemv_qkv_rope", x, wqkv, rows, pairs / 2, in, RopeKvStore<2>{qkv, rope, pos, tok_seq, kv, num_heads},
                   stream);
  } else {
    launch_gemv<2>("gemv_qkv_rope", x, wqkv, rows, pairs, in, RopeKvStore<1>{qkv, rope, pos, tok_seq, kv, num_heads},
                   stream);
  }
}

void gemv_gate_up_silu(const GemvInput& x, const bf16* w_gate_up, bf16* act, int rows, int ff, int in,
                       cudaStream_t stream, int features_per_block) {
  if (features_per_block == 2 && ff % 2 == 0) {
    launch_gemv<4>("gemv_gate_up_silu", x, w_gate_up, rows, ff / 2, in, SiluMulStore<2>{act, ff}, stream);
  } else {
    launch_gemv<2>("gemv_gate_up_silu", x, w_gate_up, rows, ff, in, SiluMulStore<1>{act, ff}, stream);
  }
}

}  // namespace yardstick::cuda
