#include "engine/cuda/gemv.h"

#include <cstdint>
#include <string>

#include "engine/cuda/attention_common.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/launch.cuh"
#include "engine/cuda/reduce.cuh"
#include "engine/error.h"

namespace yardstick::cuda {

namespace {

constexpr int kWarps = 4;    // one output feature per block, its row split over the warps
constexpr int kUnroll = 8;   // 16-byte weight loads in flight per lane
// Eight resident blocks per multiprocessor (at most 64 registers): 1056 on an H200, so a
// 4096-feature projection runs in 3.9 waves rather than 4.4.
constexpr int kMinBlocks = 8;

// Weights are read once per step: keep them out of L1, where x is reused by every block.
__device__ inline uint4 load_streaming(const uint4* p) {
  uint4 v;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
}

}  // namespace

// ---------------------------------------------------------------- kernels

// Block n computes output feature n for all R rows. Thread t of the block takes the 16-byte
// chunks t, t + 128, ... of the weight row (each block-wide load is 2 KB contiguous); the four
// warps' partial sums are added in a fixed order. One row per block keeps every block short, so
// the last wave of a projection costs little (4096-feature projections are ~4 waves, not 1.3).
template <int R, class Out>
__global__ void __launch_bounds__(kWarps * 32, kMinBlocks)
    gemv_kernel(const bf16* __restrict__ x, const bf16* __restrict__ w, Out* __restrict__ y, int out, int in) {
  __shared__ float partial[kWarps][R];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int n = blockIdx.x;
  const int chunks = in / 8;
  const uint4* wrow = reinterpret_cast<const uint4*>(w + size_t(n) * in);
  const uint4* xv = reinterpret_cast<const uint4*>(x);
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.f;

  constexpr int kStride = kWarps * 32;
  uint4 wv[kUnroll];
  auto load_weights = [&](int c0) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = c0 + kStride * u;
      wv[u] = c < chunks ? load_streaming(wrow + c) : make_uint4(0, 0, 0, 0);
    }
  };
  // The weights depend on no earlier kernel: the first batch is in flight while the previous
  // kernel finishes (a whole 4096-wide row: 4 chunks a thread).
  pdl_launch_dependents();
  load_weights(threadIdx.x);
  pdl_wait();
  for (int c0 = threadIdx.x; c0 < chunks; c0 += kStride * kUnroll) {
    if (c0 != int(threadIdx.x)) load_weights(c0);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = c0 + kStride * u;
      if (c >= chunks) break;
      float wf[8];
      load_bf16<8>(reinterpret_cast<const bf16*>(&wv[u]), wf);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const uint4 xr = __ldg(xv + size_t(r) * chunks + c);
        float xf[8];
        load_bf16<8>(reinterpret_cast<const bf16*>(&xr), xf);
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[r] += wf[i] * xf[i];
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const float v = warp_sum(acc[r]);
    if (lane == 0) partial[warp][r] = v;
  }
  __syncthreads();
  if (threadIdx.x < R) {
    const int r = threadIdx.x;
    float v = 0.f;
#pragma unroll
    for (int k = 0; k < kWarps; ++k) v += partial[k][r];
    if constexpr (sizeof(Out) == sizeof(float)) {
      y[size_t(r) * out + n] = v;
    } else {
      y[size_t(r) * out + n] = __float2bfloat16(v);
    }
  }
}

// ---------------------------------------------------------------- launchers

bool gemv_supports(const void* x, const void* w, int rows, int in) {
  return rows >= 1 && rows <= kGemvMaxRows && in % 8 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
         reinterpret_cast<uintptr_t>(w) % 16 == 0;
}

template <int R>
void launch_gemv(const bf16* x, const bf16* w, void* y, bool y_f32, int out, int in, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(out));
  if (y_f32) {
    launch(gemv_kernel<R, float>, grid, kWarps * 32, 0, stream, "gemv", x, w, static_cast<float*>(y), out, in);
  } else {
    launch(gemv_kernel<R, bf16>, grid, kWarps * 32, 0, stream, "gemv", x, w, static_cast<bf16*>(y), out, in);
  }
}

void gemv(const bf16* x, const bf16* w, void* y, bool y_f32, int rows, int out, int in, cudaStream_t stream) {
  switch (rows) {
    case 1: launch_gemv<1>(x, w, y, y_f32, out, in, stream); break;
    case 2: launch_gemv<2>(x, w, y, y_f32, out, in, stream); break;
    case 3: launch_gemv<3>(x, w, y, y_f32, out, in, stream); break;
    case 4: launch_gemv<4>(x, w, y, y_f32, out, in, stream); break;
    default: throw Error("gemv: " + std::to_string(rows) + " rows, more than kGemvMaxRows");
  }
}

}  // namespace yardstick::cuda
