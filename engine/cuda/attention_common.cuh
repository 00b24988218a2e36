// Helpers shared by the two attention kernels (device code only).
#pragma once

#include <cstdint>
#include <type_traits>

#include <cuda_bf16.h>

#include "engine/cuda/bf16.h"

namespace yardstick::cuda {

// Each lane of a warp owns kDimsPerLane consecutive dims of a head's output: lane * kDimsPerLane
// + i. Heads narrower than a warp (HD = 8, 16) leave the upper lanes idle.
template <int HD>
inline constexpr int kDimsPerLane = HD >= 32 ? HD / 32 : 1;

template <int HD>
__device__ inline bool lane_owns_dims(int lane) {
  return HD >= 32 || lane < HD;
}

// N consecutive bf16 values (N in 1, 2, 4, 8; p aligned to 2N bytes) as floats, in one load.
template <int N>
__device__ inline void load_bf16(const bf16* p, float* out) {
  if constexpr (N == 1) {
    out[0] = __bfloat162float(*p);
  } else {
    static_assert(N == 2 || N == 4 || N == 8);
    using Raw = std::conditional_t<N == 2, uint32_t, std::conditional_t<N == 4, uint2, uint4>>;
    const Raw raw = *reinterpret_cast<const Raw*>(p);
    const __nv_bfloat162* pairs = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < N / 2; ++i) {
      const float2 f = __bfloat1622float2(pairs[i]);
      out[2 * i] = f.x;
      out[2 * i + 1] = f.y;
    }
  }
}

// Scores are kept in base 2 (scaled by log2(e)) so the softmax uses exp2f.
inline constexpr float kLog2e = 1.4426950408889634f;

}  // namespace yardstick::cuda
