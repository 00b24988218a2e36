#include "engine/cuda/rmsnorm.h"

#include <algorithm>
#include <cstdint>
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

// The same with eight neighbouring elements a thread, moved in 16- and 32-byte accesses (C a
// multiple of 8, at most 8,192, rows 16-byte aligned). The scalar kernel above moves 2- and 4-byte
// words with at most one block an SM resident (1,024 threads of 32 registers of arrays): at
// prefill sizes (4,096 rows of 4,096) it ran at a third of the copy bandwidth.
constexpr int kVec = 8;

__global__ void add_rmsnorm_vec8_kernel(float* __restrict__ x, const bf16* __restrict__ y,
                                        const bf16* __restrict__ weight, bf16* __restrict__ out, int C,
                                        float eps) {
  __shared__ float scratch[32];
  const int c = threadIdx.x * kVec;
  const bool inside = c < C;
  float* row = x + size_t(blockIdx.x) * C + c;
  float v[kVec], w[kVec];
  pdl_launch_dependents();
  if (inside) {   // the weights are constants: loaded before the wait
    const uint4 wq = *reinterpret_cast<const uint4*>(weight + c);
    const bf16* wv = reinterpret_cast<const bf16*>(&wq);
#pragma unroll
    for (int i = 0; i < kVec; ++i) w[i] = __bfloat162float(wv[i]);
  }
  pdl_wait();
  float ss = 0.f;
  if (inside) {
    const float4 a = reinterpret_cast<const float4*>(row)[0], b = reinterpret_cast<const float4*>(row)[1];
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
    if (y) {
      const uint4 yq = *reinterpret_cast<const uint4*>(y + size_t(blockIdx.x) * C + c);
      const bf16* yv = reinterpret_cast<const bf16*>(&yq);
#pragma unroll
      for (int i = 0; i < kVec; ++i) v[i] += __bfloat162float(yv[i]);
      reinterpret_cast<float4*>(row)[0] = make_float4(v[0], v[1], v[2], v[3]);
      reinterpret_cast<float4*>(row)[1] = make_float4(v[4], v[5], v[6], v[7]);
    }
#pragma unroll
    for (int i = 0; i < kVec; ++i) ss += v[i] * v[i];
  }
  const float inv_rms = rsqrtf(block_sum(ss, scratch) / float(C) + eps);
  if (inside) {
    uint4 r;
    bf16* rv = reinterpret_cast<bf16*>(&r);
#pragma unroll
    for (int i = 0; i < kVec; ++i) rv[i] = __float2bfloat16(v[i] * inv_rms * w[i]);
    *reinterpret_cast<uint4*>(out + size_t(blockIdx.x) * C + c) = r;
  }
}

// ---------------------------------------------------------------- launchers

void add_rmsnorm(float* x, const bf16* y, const bf16* weight, bf16* out, int T, int C, float eps,
                 cudaStream_t stream) {
  if (T == 0) return;
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (C % kVec == 0 && C <= kVec * 1024 && aligned(x) && aligned(weight) && aligned(out) && (!y || aligned(y))) {
    const int threads = (C / kVec + 31) / 32 * 32;
    launch(add_rmsnorm_vec8_kernel, T, threads, 0, stream, "add_rmsnorm", x, y, weight, out, C, eps);
    return;
  }
  if (C > kPerThread * 1024) throw Error("add_rmsnorm: hidden size " + std::to_string(C) + " is not compiled in");
  // About four elements a thread: at decode (T of a few rows) the kernel is all latency, and a
  // wide block shortens each thread's serial loop.
  const int threads = std::clamp((C / 4 + 31) / 32 * 32, 32, 1024);
  launch(add_rmsnorm_kernel, T, threads, 0, stream, "add_rmsnorm", x, y, weight, out, C, eps);
}

}  // namespace yardstick::cuda
