// Row gathers: the token embedding lookup (into the fp32 residual stream) and the selection of
// the hidden rows that need logits.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "engine/cuda/bf16.h"

namespace yardstick::cuda {

// out[t, :] = float(table[ids[t], :]). Ids must already be checked to lie in [0, rows of table).
void embedding_gather(const bf16* table,     // [V, C]
                      const int32_t* ids,    // [T]
                      float* out,            // [T, C]
                      int T, int C, cudaStream_t stream);

// out[r, :] = in[rows[r], :]
void gather_rows(const bf16* in,           // [*, C]
                 const int32_t* rows,      // [R]
                 bf16* out,                // [R, C]
                 int R, int C, cudaStream_t stream);

}  // namespace yardstick::cuda
