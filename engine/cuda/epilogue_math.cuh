// The element-wise math that runs both as its own kernel and fused into a projection's epilogue
// (gemv.cu): one definition, so the fused and unfused paths round identically.
#pragma once

#include <cuda_bf16.h>

namespace yardstick::cuda {

// RoPE on one rotate_half pair (x[i], x[i + HD/2]) of bf16 values, with cs = (cos, sin).
__device__ inline void rope_rotate_pair(__nv_bfloat16& a, __nv_bfloat16& b, float2 cs) {
  const float x1 = __bfloat162float(a), x2 = __bfloat162float(b);
  a = __float2bfloat16(x1 * cs.x - x2 * cs.y);
  b = __float2bfloat16(x2 * cs.x + x1 * cs.y);
}

// silu(gate) * up of bf16 values, in fp32.
__device__ inline __nv_bfloat16 silu_mul_value(__nv_bfloat16 gate, __nv_bfloat16 up) {
  const float g = __bfloat162float(gate), u = __bfloat162float(up);
  return __float2bfloat16(g / (1.0f + expf(-g)) * u);
}

}  // namespace yardstick::cuda
