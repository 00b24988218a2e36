// The projections: bf16 x bf16 matrix products with fp32 accumulation through cuBLASLt. One plan
// (descriptors + algorithm) per shape, made once and reused, so a shape always runs the same
// algorithm: results are bitwise reproducible and capturable in CUDA graphs. The algorithm is
// the heuristic's first choice, or (set_timed_algorithms) the fastest of its first few on the
// shape's first call: faster where the heuristic misjudges, but the choice can differ between
// processes when two candidates time alike, and with it the bits.
#pragma once

#include <cstddef>
#include <map>
#include <tuple>
#include <vector>

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

  // y += x w^T in fp32 (the residual stream): cuBLASLt with beta = 1 adds the projection's
  // fp32 sums into y in its epilogue, without rounding them to bf16 first. Never gemv.
  void linear_accumulate(const bf16* x,   // [rows, in]
                         const bf16* w,   // [out, in]
                         float* y,        // [rows, out], read and written
                         int rows, int out, int in, cudaStream_t stream);

  // Time the heuristic's first candidates for each new cuBLASLt shape (forgets existing plans).
  void set_timed_algorithms(bool on);

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
    std::vector<cublasLtMatmulAlgo_t> untimed;   // candidates still to time on the first call
  };
  // y = x w^T (beta 0) or y += x w^T (beta 1, fp32 y).
  void matmul(const bf16* x, const bf16* w, void* y, bool y_f32, float beta, int rows, int out, int in,
              cudaStream_t stream);
  Plan& plan(int rows, int out, int in, bool y_f32, bool accumulate);
  void destroy_plans();
  // Times p.untimed on these operands (y is overwritten) and keeps the fastest in p.algo.
  void time_candidates(Plan& p, const bf16* x, const bf16* w, void* y, float beta, cudaStream_t stream);

  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
  std::map<std::tuple<int, int, int, bool, bool>, Plan> plans_;
  bool timed_algorithms_ = false;
  bool small_batch_gemv_ = true;
  int gemv_features_per_block_ = 1;
};

}  // namespace yardstick::cuda
