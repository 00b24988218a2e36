// RMSNorm with the residual add fused in front of it (HF LlamaRMSNorm, computed in fp32).
#pragma once

#include <cuda_runtime.h>

#include "engine/cuda/bf16.h"

namespace yardstick::cuda {

// For each row t:  x[t] += y[t] (skipped when y is null);
//                  out[t] = bf16(x[t] * rsqrt(mean(x[t]^2) + eps) * weight)
// The residual stream x stays fp32 so that 30-95 layers of adds don't accumulate bf16 rounding.
void add_rmsnorm(float* x,              // [T, C] residual stream, updated in place
                 const bf16* y,         // [T, C] the sublayer's output, or null
                 const bf16* weight,    // [C]
                 bf16* out,             // [T, C]
                 int T, int C, float eps, cudaStream_t stream);

}  // namespace yardstick::cuda
