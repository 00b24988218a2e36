// Filling the weight arena: checkpoint tensors converted to bf16 on the device, and random
// tensors for synthetic models (benchmarks of a shape without downloading a checkpoint).
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "engine/cuda/bf16.h"
#include "engine/tensor.h"

namespace yardstick::cuda {

// dst[i] = bf16(src[i]) for n elements of dtype (f32, f16 rounded to nearest even; bf16 copied).
void convert_to_bf16(const void* src, DType dtype, bf16* dst, size_t n, cudaStream_t stream);

// dst[i] = mean + half_range * (uniform in [-1, 1)), from a counter-based hash of (seed, i):
// the same seed gives the same tensor on any GPU, whatever the launch shape.
void fill_random_bf16(bf16* dst, size_t n, uint64_t seed, float mean, float half_range,
                      cudaStream_t stream);

}  // namespace yardstick::cuda
