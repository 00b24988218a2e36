// The two physical limits every benchmark number is compared with, measured on the device in
// the same run: device memory bandwidth (a large device-to-device copy) and the bf16 matrix
// rate (a large cuBLASLt product on random data).
#pragma once

#include <cstddef>

namespace yardstick::cuda {

// Bytes read plus bytes written per second by cudaMemcpyAsync device-to-device of `bytes`;
// the median of `reps` timed copies after a warm-up.
double measure_copy_bandwidth(size_t bytes = size_t(2) << 30, int reps = 20);

// FLOP/s of an n x n x n bf16 product with fp32 accumulation through the same cuBLASLt path
// as the projections, on random inputs; the median of `reps` timed products after a warm-up.
double measure_gemm_rate(int n = 8192, int reps = 20);

}  // namespace yardstick::cuda
