#include "engine/cuda/swiglu.h"

#include <algorithm>
#include <cstdint>

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

// Prefill-sized steps: 8 features a thread, 16-byte loads and stores, a row per grid row (no
// index division). silu_mul_value per element, so bitwise what the kernel above writes.
constexpr int kVec = 8;

__global__ void silu_mul_vec8_kernel(const bf16* __restrict__ gate_up, bf16* __restrict__ out, int FF) {
  pdl_launch_dependents();
  pdl_wait();   // everything below reads what earlier kernels wrote
  const int f = (blockIdx.x * blockDim.x + threadIdx.x) * kVec;
  if (f >= FF) return;
  const size_t t = blockIdx.y;
  const uint4 g = *reinterpret_cast<const uint4*>(gate_up + t * 2 * FF + f);
  const uint4 u = *reinterpret_cast<const uint4*>(gate_up + t * 2 * FF + FF + f);
  const bf16* gv = reinterpret_cast<const bf16*>(&g);
  const bf16* uv = reinterpret_cast<const bf16*>(&u);
  uint4 r;
  bf16* rv = reinterpret_cast<bf16*>(&r);
#pragma unroll
  for (int i = 0; i < kVec; ++i) rv[i] = silu_mul_value(gv[i], uv[i]);
  *reinterpret_cast<uint4*>(out + t * FF + f) = r;
}

// ---------------------------------------------------------------- launchers

void silu_mul(const bf16* gate_up, bf16* out, int T, int FF, cudaStream_t stream) {
  const size_t n = size_t(T) * FF;
  if (n == 0) return;
  const int threads = 256;
  // 16-byte rows (FF a multiple of 8; the buffers come from cudaMalloc) and a grid row a token.
  const bool aligned = reinterpret_cast<uintptr_t>(gate_up) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0;
  if (FF % kVec == 0 && T <= 65535 && aligned) {
    const dim3 grid(unsigned((FF / kVec + threads - 1) / threads), unsigned(T));
    launch(silu_mul_vec8_kernel, grid, threads, 0, stream, "silu_mul", gate_up, out, FF);
    return;
  }
  // Enough blocks to fill the GPU several times over; the grid-stride loop covers the rest.
  const int blocks = int(std::min<size_t>((n + threads - 1) / threads, 132 * 16));
  launch(silu_mul_kernel, blocks, threads, 0, stream, "silu_mul", gate_up, out, T, FF);
}

}  // namespace yardstick::cuda
