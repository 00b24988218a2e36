#include "engine/cuda/rmsnorm.h"

#include <algorithm>
#include <string>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/reduce.cuh"
#include "engine/error.h"

namespace yardstick::cuda {

// ---------------------------------------------------------------- kernels

// One block per row; each thread keeps its (at most kPerThread) elements in registers between the
// sum of squares and the output, and every load is issued up front: at decode sizes the kernel
// is one memory round trip and a block reduction.
constexpr int kPerThread = 16;

__global__ void add_rmsnorm_kernel(float* __restrict__ x, const bf16* __restrict__ y,
                                   const bf16* __restrict__ weight, bf16* __restrict__ out, int C,
                                   float eps) {
  __shared__ float scratch[32];
  float* row = x + size_t(blockIdx.x) * C;
  const bf16* add = y ? y + size_t(blockIdx.x) * C : nullptr;
  float v[kPerThread], w[kPerThread];
  float ss = 0.f;
  pdl_launch_dependents();
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {   // the weights are constants: loaded before the wait
    const int c = threadIdx.x + i * blockDim.x;
    w[i] = c < C ? __bfloat162float(weight[c]) : 0.f;
  }
  pdl_wait();
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int c = threadIdx.x + i * blockDim.x;
    v[i] = c < C ? row[c] + (add ? __bfloat162float(add[c]) : 0.f) : 0.f;
  }
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int c = threadIdx.x + i * blockDim.x;
    if (c < C && add) row[c] = v[i];
    ss += v[i] * v[i];
  }
  const float inv_rms = rsqrtf(block_sum(ss, scratch) / float(C) + eps);
  bf16* dst = out + size_t(blockIdx.x) * C;
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    const int c = threadIdx.x + i * blockDim.x;
    if (c < C) dst[c] = __float2bfloat16(v[i] * inv_rms * w[i]);
  }
}

// ---------------------------------------------------------------- launchers

void add_rmsnorm(float* x, const bf16* y, const bf16* weight, bf16* out, int T, int C, float eps,
                 cudaStream_t stream) {
  if (T == 0) return;
  if (C > kPerThread * 1024) throw Error("add_rmsnorm: hidden size " + std::to_string(C) + " is not compiled in");
  // About four elements a thread: at decode (T of a few rows) the kernel is all latency, and a
  // wide block shortens each thread's serial loop.
  const int threads = std::clamp((C / 4 + 31) / 32 * 32, 32, 1024);
  launch(add_rmsnorm_kernel, T, threads, 0, stream, "add_rmsnorm", x, y, weight, out, C, eps);
}

}  // namespace yardstick::cuda
