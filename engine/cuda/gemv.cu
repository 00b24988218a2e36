#include "engine/cuda/gemv.h"

#include <cstdint>
#include <string>

#include "engine/cuda/attention_common.cuh"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/reduce.cuh"
#include "engine/error.h"

namespace yardstick::cuda {

namespace {

constexpr int kWarps = 8;
constexpr int kUnroll = 4;   // 16-byte weight loads in flight per lane before the first FMA

}  // namespace

// ---------------------------------------------------------------- kernels

// Block: kWarps output features, one per warp; x (all R rows) staged in shared memory once.
// Lane l reads 16-byte chunks l, l + 32, ... of its weight row: each warp-wide load is 512
// contiguous bytes.
template <int R, class Out>
__global__ void __launch_bounds__(kWarps * 32)
    gemv_kernel(const bf16* __restrict__ x, const bf16* __restrict__ w, Out* __restrict__ y, int out, int in) {
  extern __shared__ __align__(16) unsigned char smem[];
  bf16* x_s = reinterpret_cast<bf16*>(smem);   // [R, in]
  const int chunks = in / 8;
  for (int c = threadIdx.x; c < R * chunks; c += blockDim.x)
    reinterpret_cast<uint4*>(x_s)[c] = reinterpret_cast<const uint4*>(x)[c];
  __syncthreads();

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int n = blockIdx.x * kWarps + warp;
  if (n >= out) return;
  const uint4* wrow = reinterpret_cast<const uint4*>(w + size_t(n) * in);
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.f;

  int c = lane;
  for (; c + 32 * (kUnroll - 1) < chunks; c += 32 * kUnroll) {
    uint4 wv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) wv[u] = __ldg(wrow + c + 32 * u);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      float wf[8];
      load_bf16<8>(reinterpret_cast<const bf16*>(&wv[u]), wf);
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float xf[8];
        load_bf16<8>(x_s + size_t(r) * in + size_t(c + 32 * u) * 8, xf);
#pragma unroll
        for (int i = 0; i < 8; ++i) acc[r] += wf[i] * xf[i];
      }
    }
  }
  for (; c < chunks; c += 32) {
    float wf[8];
    const uint4 wv = __ldg(wrow + c);
    load_bf16<8>(reinterpret_cast<const bf16*>(&wv), wf);
#pragma unroll
    for (int r = 0; r < R; ++r) {
      float xf[8];
      load_bf16<8>(x_s + size_t(r) * in + size_t(c) * 8, xf);
#pragma unroll
      for (int i = 0; i < 8; ++i) acc[r] += wf[i] * xf[i];
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const float v = warp_sum(acc[r]);
    if (lane == 0) {
      if constexpr (sizeof(Out) == sizeof(float)) {
        y[size_t(r) * out + n] = v;
      } else {
        y[size_t(r) * out + n] = __float2bfloat16(v);
      }
    }
  }
}

// ---------------------------------------------------------------- launchers

bool gemv_supports(const void* x, const void* w, int rows, int in) {
  // x stays within the default 48 KB of shared memory: a larger share would cut the blocks per
  // multiprocessor, and with them the loads in flight that the bandwidth needs.
  return rows >= 1 && rows <= kGemvMaxRows && in % 8 == 0 && size_t(rows) * size_t(in) * sizeof(bf16) <= 48 * 1024 &&
         reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0;
}

template <int R>
void launch_gemv(const bf16* x, const bf16* w, void* y, bool y_f32, int out, int in, cudaStream_t stream) {
  const dim3 grid(unsigned((out + kWarps - 1) / kWarps));
  const size_t smem = size_t(R) * size_t(in) * sizeof(bf16);
  if (y_f32) {
    gemv_kernel<R, float><<<grid, kWarps * 32, smem, stream>>>(x, w, static_cast<float*>(y), out, in);
  } else {
    gemv_kernel<R, bf16><<<grid, kWarps * 32, smem, stream>>>(x, w, static_cast<bf16*>(y), out, in);
  }
  check_launch("gemv");
}

void gemv(const bf16* x, const bf16* w, void* y, bool y_f32, int rows, int out, int in, cudaStream_t stream) {
  switch (rows) {
    case 1: launch_gemv<1>(x, w, y, y_f32, out, in, stream); break;
    case 2: launch_gemv<2>(x, w, y, y_f32, out, in, stream); break;
    case 3: launch_gemv<3>(x, w, y, y_f32, out, in, stream); break;
    case 4: launch_gemv<4>(x, w, y, y_f32, out, in, stream); break;
    case 5: launch_gemv<5>(x, w, y, y_f32, out, in, stream); break;
    case 6: launch_gemv<6>(x, w, y, y_f32, out, in, stream); break;
    case 7: launch_gemv<7>(x, w, y, y_f32, out, in, stream); break;
    case 8: launch_gemv<8>(x, w, y, y_f32, out, in, stream); break;
    default: throw Error("gemv: " + std::to_string(rows) + " rows, more than kGemvMaxRows");
  }
}

}  // namespace yardstick::cuda
