// The projections: bf16 x bf16 matrix products with fp32 accumulation through cuBLASLt. One plan
// (descriptors + heuristic algorithm) per shape, made once and reused, so a shape always runs
// the same algorithm: results are bitwise reproducible and capturable in CUDA graphs.
#pragma once

#include <cstddef>
#include <map>
#include <tuple>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "engine/cuda/bf16.h"
#include "engine/cuda/device_buffer.h"
#include "engine/cuda/gemv.h"

namespace yardstick::cuda {

class Gemm {
 public:
  explicit Gemm(size_t workspace_bytes = size_t(64) << 20);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // y = x w^T, as torch.nn.functional.linear(x, w): the weight in the checkpoint's [out, in]
  // layout. y is bf16, or fp32 when y_f32 (the logits). A few rows go to gemv (gemv.h) when
  // small_batch_gemv is on and the shape allows, everything else to cuBLASLt.
  void linear(const bf16* x,   // [rows, in]
              const bf16* w,   // [out, in]
              void* y,         // [rows, out]
              bool y_f32, int rows, int out, int in, cudaStream_t stream);

  void set_small_batch_gemv(bool on) { small_batch_gemv_ = on; }
  // Output features per gemv block of the bf16 projections (1, 2 or 4; gemv.h).
  void set_gemv_features_per_block(int n) { gemv_features_per_block_ = n; }
  // Whether linear() of this shape goes to gemv (so a gemv with a fused epilogue may replace it).
  bool uses_gemv(const void* x, const void* w, int rows, int in) const {
    return small_batch_gemv_ && gemv_supports(x, w, rows, in);
  }

 private:
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t w = nullptr, x = nullptr, y = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  const Plan& plan(int rows, int out, int in, bool y_f32);

  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
  std::map<std::tuple<int, int, int, bool>, Plan> plans_;
  bool small_batch_gemv_ = true;
  int gemv_features_per_block_ = 1;
};

}  // namespace yardstick::cuda
