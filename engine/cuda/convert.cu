#include "engine/cuda/convert.h"

#include <algorithm>

#include <cuda_fp16.h>

#include "engine/cuda/cuda_check.h"

namespace yardstick::cuda {

namespace {

constexpr int kThreads = 256;

int grid_for(size_t n) {
  // Grid-stride loops: enough blocks to fill the GPU many times over, no more.
  return int(std::min<size_t>((n + kThreads - 1) / kThreads, 132 * 32));
}

__device__ inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

// ---------------------------------------------------------------- kernels

template <class In>
__global__ void convert_to_bf16_kernel(const In* __restrict__ src, bf16* __restrict__ dst, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    if constexpr (sizeof(In) == 4) {
      dst[i] = __float2bfloat16(src[i]);
    } else {
      dst[i] = __float2bfloat16(__half2float(src[i]));   // every f16 is exact in f32
    }
  }
}

__global__ void fill_random_bf16_kernel(bf16* __restrict__ dst, size_t n, uint64_t seed, float mean,
                                        float half_range) {
  const uint64_t stream = mix64(seed);
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    const uint64_t bits = mix64(stream ^ i);
    const float u = float(bits >> 40) * 0x1.0p-23f - 1.0f;   // 24 bits -> [-1, 1)
    dst[i] = __float2bfloat16(mean + half_range * u);
  }
}

// ---------------------------------------------------------------- launchers

void convert_to_bf16(const void* src, DType dtype, bf16* dst, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  switch (dtype) {
    case DType::BF16:
      check(cudaMemcpyAsync(dst, src, n * sizeof(bf16), cudaMemcpyDeviceToDevice, stream),
            "convert_to_bf16 (copy)");
      return;
    case DType::F32:
      convert_to_bf16_kernel<float><<<grid_for(n), kThreads, 0, stream>>>(static_cast<const float*>(src), dst, n);
      break;
    case DType::F16:
      convert_to_bf16_kernel<__half><<<grid_for(n), kThreads, 0, stream>>>(static_cast<const __half*>(src), dst, n);
      break;
  }
  check_launch("convert_to_bf16");
}

void fill_random_bf16(bf16* dst, size_t n, uint64_t seed, float mean, float half_range,
                      cudaStream_t stream) {
  if (n == 0) return;
  fill_random_bf16_kernel<<<grid_for(n), kThreads, 0, stream>>>(dst, n, seed, mean, half_range);
  check_launch("fill_random_bf16");
}

}  // namespace yardstick::cuda
