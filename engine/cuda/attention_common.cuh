// Helpers shared by the two attention kernels (device code only).
#pragma once

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

// N consecutive bf16 values (N in 1, 2, 4, 8; p aligned to 2N bytes) as floats.
template <int N>
__device__ inline void load_bf16(const bf16* p, float* out) {
  if constexpr (N == 1) {
    out[0] = __bfloat162float(*p);
  } else if constexpr (N == 2) {
    const float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
    out[0] = f.x;
    out[1] = f.y;
  } else if constexpr (N == 4) {
    const uint2 raw = *reinterpret_cast<const uint2*>(p);
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const float2 f = __bfloat1622float2(h[i]);
      out[2 * i] = f.x;
      out[2 * i + 1] = f.y;
    }
  } else {
    static_assert(N == 8);
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __bfloat1622float2(h[i]);
      out[2 * i] = f.x;
      out[2 * i + 1] = f.y;
    }
  }
}

// Scores are kept in base 2 (scaled by log2(e)) so the softmax uses exp2f.
inline constexpr float kLog2e = 1.4426950408889634f;

}  // namespace yardstick::cuda
