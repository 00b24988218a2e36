// The SwiGLU activation of the Llama MLP: silu(gate) * up.
#pragma once

#include <cuda_runtime.h>

#include "engine/cuda/bf16.h"

namespace yardstick::cuda {

// out[t, i] = silu(gate_up[t, i]) * gate_up[t, FF + i], computed in fp32. gate_up is the output
// of the fused [gate; up] projection.
void silu_mul(const bf16* gate_up,   // [T, 2 FF]
              bf16* out,             // [T, FF]
              int T, int FF, cudaStream_t stream);

}  // namespace yardstick::cuda
