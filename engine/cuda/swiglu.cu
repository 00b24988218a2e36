#include "engine/cuda/swiglu.h"

#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/epilogue_math.cuh"
#include "engine/cuda/launch.cuh"

namespace yardstick::cuda {

// ---------------------------------------------------------------- kernels

__global__ void silu_mul_kernel(const bf16* __restrict__ gate_up, bf16* __restrict__ out, int T,
                                int FF) {
  pdl_launch_dependents();
  pdl_wait();   // everything below reads what earlier kernels wrote
  const size_t n = size_t(T) * FF;
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x) {
    const size_t t = i / FF, f = i % FF;
    out[i] = silu_mul_value(gate_up[t * 2 * FF + f], gate_up[t * 2 * FF + FF + f]);
  }
}

// ---------------------------------------------------------------- launchers

void silu_mul(const bf16* gate_up, bf16* out, int T, int FF, cudaStream_t stream) {
  const size_t n = size_t(T) * FF;
  if (n == 0) return;
  const int threads = 256;
  // Enough blocks to fill the GPU several times over; the grid-stride loop covers the rest.
  const int blocks = int(std::min<size_t>((n + threads - 1) / threads, 132 * 16));
  launch(silu_mul_kernel, blocks, threads, 0, stream, "silu_mul", gate_up, out, T, FF);
}

}  // namespace yardstick::cuda
