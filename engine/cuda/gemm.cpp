#include "engine/cuda/gemm.h"

#include <fmt/format.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/gemv.h"
#include "engine/error.h"

namespace yardstick::cuda {

Gemm::Gemm(size_t workspace_bytes) : workspace_(workspace_bytes, "the cuBLASLt workspace") {
  check(cublasLtCreate(&handle_), "cublasLtCreate");
}

Gemm::~Gemm() {
  for (auto& [shape, p] : plans_) {
    cublasLtMatrixLayoutDestroy(p.y);
    cublasLtMatrixLayoutDestroy(p.x);
    cublasLtMatrixLayoutDestroy(p.w);
    cublasLtMatmulDescDestroy(p.op);
  }
  if (handle_) cublasLtDestroy(handle_);
}

// cuBLASLt is column-major. A row-major [out, in] weight is a column-major in x out matrix, and
// a row-major [rows, in] activation is in x rows; so y^T (out x rows, column-major: exactly the
// row-major [rows, out] y) = op(W) * X with op(W) = W^T.
const Gemm::Plan& Gemm::plan(int rows, int out, int in, bool y_f32) {
  const auto key = std::make_tuple(rows, out, in, y_f32);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second;

  const std::string shape = fmt::format("linear [{}, {}] x [{}, {}]^T", rows, in, out, in);
  Plan p;
  check(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "creating the matmul of " + shape);
  const cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof transpose),
        "setting TRANSA of " + shape);
  check(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof keep),
        "setting TRANSB of " + shape);
  check(cublasLtMatrixLayoutCreate(&p.w, CUDA_R_16BF, uint64_t(in), uint64_t(out), int64_t(in)),
        "the weight layout of " + shape);
  check(cublasLtMatrixLayoutCreate(&p.x, CUDA_R_16BF, uint64_t(in), uint64_t(rows), int64_t(in)),
        "the input layout of " + shape);
  check(cublasLtMatrixLayoutCreate(&p.y, y_f32 ? CUDA_R_32F : CUDA_R_16BF, uint64_t(out),
                                   uint64_t(rows), int64_t(out)),
        "the output layout of " + shape);

  cublasLtMatmulPreference_t pref = nullptr;
  check(cublasLtMatmulPreferenceCreate(&pref), "creating a matmul preference");
  const uint64_t ws = workspace_.size();
  check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws),
        "setting the workspace size");
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t status =
      cublasLtMatmulAlgoGetHeuristic(handle_, p.op, p.w, p.x, p.y, p.y, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  check(status, "choosing an algorithm for " + shape);
  if (found == 0) throw Error("cublasLt: no algorithm for " + shape);
  p.algo = result.algo;
  return plans_.emplace(key, p).first->second;
}

void Gemm::linear(const bf16* x, const bf16* w, void* y, bool y_f32, int rows, int out, int in,
                  cudaStream_t stream) {
  if (rows == 0) return;
  if (uses_gemv(x, w, rows, in)) {
    // The lm_head (fp32 out, 25 waves and more) streams at full rate with one feature a block.
    gemv(x, w, y, y_f32, rows, out, in, stream, y_f32 ? 1 : gemv_features_per_block_);
    return;
  }
  const Plan& p = plan(rows, out, in, y_f32);
  const float alpha = 1.f, beta = 0.f;
  check(cublasLtMatmul(handle_, p.op, &alpha, w, p.w, x, p.x, &beta, y, p.y, y, p.y, &p.algo,
                       workspace_.get(), workspace_.size(), stream),
        fmt::format("linear [{}, {}] x [{}, {}]^T", rows, in, out, in));
}

}  // namespace yardstick::cuda
