// Projections of a few rows (decode at small batch): every weight byte is read once per step
// and the time is all memory bandwidth, where a GEMM library's tiles for large matrices leave a
// share of it unused. Each block streams one weight row with 16-byte loads, many in flight.
#pragma once

#include <cuda_runtime.h>

#include "engine/cuda/bf16.h"
#include "engine/cuda/kv_layout.h"

namespace yardstick::cuda {

// Rows of x re-read from L1 for every weight row: beyond a few rows that traffic, not the
// weights, would set the pace.
inline constexpr int kGemvMaxRows = 4;

// Whether gemv can run this shape: rows <= kGemvMaxRows, in a multiple of 8, x and w 16-byte
// aligned.
bool gemv_supports(const void* x, const void* w, int rows, int in);

// y = x w^T (as Gemm::linear), y bf16 or fp32. Each block computes features_per_block (1, 2
// or 4; 1 when out is not a multiple) consecutive output features: the same sums either way.
void gemv(const bf16* x,   // [rows, in]
          const bf16* w,   // [out, in]
          void* y,         // [rows, out]
          bool y_f32, int rows, int out, int in, cudaStream_t stream, int features_per_block = 1);

// The input rows of a fused gemv: bf16 rows, or (normed.x set) RMSNorm of the fp32 residual
// stream computed on the fly from the sums of squares gemv_residual_add left. normed rows are
// rounded to bf16 exactly as add_rmsnorm stores them; their inverse RMS adds the squares in
// another order than add_rmsnorm, so it may differ from it in the last bit.
struct GemvNormedInput {
  const float* x = nullptr;          // [rows, in] the residual stream
  const bf16* weight = nullptr;      // [in] the norm's weight
  const float* partials = nullptr;   // [rows, parts] from gemv_residual_add
  int parts = 0;
  float eps = 0.f;
};
struct GemvInput {
  const bf16* bf16_rows = nullptr;   // [rows, in]
  GemvNormedInput normed;
};

// y = gemv(x, w) added into the residual stream (y rounded to bf16 first, as add_rmsnorm adds
// a stored projection), leaving per-block sums of squares of the new stream for a GemvNormedInput:
// o_proj / down_proj and the first half of the RMSNorm after them, with no kernel between.
void gemv_residual_add(const bf16* x,        // [rows, in]
                       const bf16* w,        // [hidden, in]
                       float* resid,         // [rows, hidden] += x w^T
                       float* partials,      // [rows, gemv_residual_parts(hidden, features_per_block)]
                       int rows, int hidden, int in, cudaStream_t stream, int features_per_block);
int gemv_residual_parts(int hidden, int features_per_block);

// Decode-step projections with the element-wise kernel that follows them fused into their
// epilogue (one launch and one activation round trip fewer per layer). Both compute exactly
// what the unfused pair computes, bit for bit.

// gemv(x, wqkv) into qkv, then rope_and_store_kv (rope.h) on the result.
void gemv_qkv_rope(const GemvInput& x,    // [rows, in]
                   const bf16* wqkv,      // [(NH + 2 NKV) HD, in]
                   bf16* qkv,             // [rows, (NH + 2 NKV) HD]
                   const float2* rope,    // [P, HD/2] (cos, sin), from rope_table
                   const int32_t* pos,    // [rows]
                   const int32_t* tok_seq,// [rows]
                   const KvLayerView& kv, int rows, int num_heads, int in, cudaStream_t stream,
                   int pairs_per_block = 1);   // 1 or 2 (1 when HD/2 is odd)

// gemv(x, w_gate_up), then silu_mul (swiglu.h) into act.
void gemv_gate_up_silu(const GemvInput& x,     // [rows, in]
                       const bf16* w_gate_up,  // [2 FF, in]: gate rows, then up rows
                       bf16* act,              // [rows, FF]
                       int rows, int ff, int in, cudaStream_t stream,
                       int features_per_block = 1);   // 1 or 2 (1 when FF is odd)

}  // namespace yardstick::cuda
