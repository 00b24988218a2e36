// Projections of a few rows (decode at small batch): every weight byte is read once per step
// and the time is all memory bandwidth, where a GEMM library's tiles for large matrices leave a
// share of it unused. Each block streams one weight row with 16-byte loads, many in flight.
#pragma once

#include <cuda_runtime.h>

#include "engine/cuda/bf16.h"

namespace yardstick::cuda {

// Rows of x re-read from L1 for every weight row: beyond a few rows that traffic, not the
// weights, would set the pace.
inline constexpr int kGemvMaxRows = 4;

// Whether gemv can run this shape: rows <= kGemvMaxRows, in a multiple of 8, x and w 16-byte
// aligned.
bool gemv_supports(const void* x, const void* w, int rows, int in);

// y = x w^T (as Gemm::linear), y bf16 or fp32.
void gemv(const bf16* x,   // [rows, in]
          const bf16* w,   // [out, in]
          void* y,         // [rows, out]
          bool y_f32, int rows, int out, int in, cudaStream_t stream);

}  // namespace yardstick::cuda
