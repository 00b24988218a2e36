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

// Decode-step projections with the element-wise kernel that follows them fused into their
// epilogue (one launch and one activation round trip fewer per layer). Both compute exactly
// what the unfused pair computes, bit for bit.

// gemv(x, wqkv) into qkv, then rope_and_store_kv (rope.h) on the result.
void gemv_qkv_rope(const bf16* x,         // [rows, in]
                   const bf16* wqkv,      // [(NH + 2 NKV) HD, in]
                   bf16* qkv,             // [rows, (NH + 2 NKV) HD]
                   const float2* rope,    // [P, HD/2] (cos, sin), from rope_table
                   const int32_t* pos,    // [rows]
                   const int32_t* tok_seq,// [rows]
                   const KvLayerView& kv, int rows, int num_heads, int in, cudaStream_t stream,
                   int pairs_per_block = 1);   // 1 or 2 (1 when HD/2 is odd)

// gemv(x, w_gate_up), then silu_mul (swiglu.h) into act.
void gemv_gate_up_silu(const bf16* x,          // [rows, in]
                       const bf16* w_gate_up,  // [2 FF, in]: gate rows, then up rows
                       bf16* act,              // [rows, FF]
                       int rows, int ff, int in, cudaStream_t stream,
                       int features_per_block = 1);   // 1 or 2 (1 when FF is odd)

}  // namespace yardstick::cuda
