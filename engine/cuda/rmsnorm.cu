#include "engine/cuda/rmsnorm.h"

#include <algorithm>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/reduce.cuh"

namespace yardstick::cuda {

// ---------------------------------------------------------------- kernels

// One block per row. The row is read twice (the second time from L1/L2): simpler than holding
// up to 8192 values in registers, and the kernel moves a few MB per layer at most.
__global__ void add_rmsnorm_kernel(float* __restrict__ x, const bf16* __restrict__ y,
                                   const bf16* __restrict__ weight, bf16* __restrict__ out, int C,
                                   float eps) {
  __shared__ float scratch[32];
  float* row = x + size_t(blockIdx.x) * C;
  const bf16* add = y ? y + size_t(blockIdx.x) * C : nullptr;
  float ss = 0.f;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float v = row[c];
    if (add) {
      v += __bfloat162float(add[c]);
      row[c] = v;
    }
    ss += v * v;
  }
  const float inv_rms = rsqrtf(block_sum(ss, scratch) / float(C) + eps);
  bf16* dst = out + size_t(blockIdx.x) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    dst[c] = __float2bfloat16(row[c] * inv_rms * __bfloat162float(weight[c]));
  }
}

// ---------------------------------------------------------------- launchers

void add_rmsnorm(float* x, const bf16* y, const bf16* weight, bf16* out, int T, int C, float eps,
                 cudaStream_t stream) {
  if (T == 0) return;
  // About four elements a thread: at decode (T of a few rows) the kernel is all latency, and a
  // wide block shortens each thread's serial loop.
  const int threads = std::clamp((C / 4 + 31) / 32 * 32, 32, 1024);
  add_rmsnorm_kernel<<<T, threads, 0, stream>>>(x, y, weight, out, C, eps);
  check_launch("add_rmsnorm");
}

}  // namespace yardstick::cuda
