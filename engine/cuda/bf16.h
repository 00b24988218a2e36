// The element type of weights and activations on the device, visible to host code too (the
// launchers' signatures use it; cuda_bf16.h compiles under a host compiler).
#pragma once

#include <cuda_bf16.h>

namespace yardstick::cuda {

using bf16 = __nv_bfloat16;

}  // namespace yardstick::cuda
