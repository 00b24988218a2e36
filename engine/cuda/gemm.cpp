#include "engine/cuda/gemm.h"

#include <cmath>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/gemv.h"
#include "engine/error.h"

namespace yardstick::cuda {

Gemm::Gemm(size_t workspace_bytes) : workspace_(workspace_bytes, "the cuBLASLt workspace") {
  check(cublasLtCreate(&handle_), "cublasLtCreate");
}

Gemm::~Gemm() {
  destroy_plans();
  if (handle_) cublasLtDestroy(handle_);
}

void Gemm::destroy_plans() {
  for (auto& [shape, p] : plans_) {
    cublasLtMatrixLayoutDestroy(p.y);
    cublasLtMatrixLayoutDestroy(p.x);
    cublasLtMatrixLayoutDestroy(p.w);
    cublasLtMatmulDescDestroy(p.op);
  }
  plans_.clear();
}

void Gemm::set_timed_algorithms(bool on) {
  if (on == timed_algorithms_) return;
  timed_algorithms_ = on;
  destroy_plans();
}

// cuBLASLt is column-major. A row-major [out, in] weight is a column-major in x out matrix, and
// a row-major [rows, in] activation is in x rows; so y^T (out x rows, column-major: exactly the
// row-major [rows, out] y) = op(W) * X with op(W) = W^T.
Gemm::Plan& Gemm::plan(int rows, int out, int in, bool y_f32, bool accumulate) {
  const auto key = std::make_tuple(rows, out, in, y_f32, accumulate);
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
  // Timing only pays where a call takes long; a few rows (decode) keep the first choice.
  constexpr int kTimedCandidates = 8, kMinTimedRows = 256;
  const int want = timed_algorithms_ && rows >= kMinTimedRows ? kTimedCandidates : 1;
  cublasLtMatmulHeuristicResult_t results[kTimedCandidates] = {};
  int found = 0;
  const cublasStatus_t status =
      cublasLtMatmulAlgoGetHeuristic(handle_, p.op, p.w, p.x, p.y, p.y, pref, want, results, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  check(status, "choosing an algorithm for " + shape);
  if (found == 0) throw Error("cublasLt: no algorithm for " + shape);
  p.algo = results[0].algo;
  for (int i = 0; i < found && found > 1; ++i) {
    if (results[i].state == CUBLAS_STATUS_SUCCESS) p.untimed.push_back(results[i].algo);
  }
  return plans_.emplace(key, std::move(p)).first->second;
}

void Gemm::time_candidates(Plan& p, const bf16* x, const bf16* w, void* y, float beta, cudaStream_t stream) {
  std::vector<cublasLtMatmulAlgo_t> candidates;
  std::swap(candidates, p.untimed);   // whatever happens below, this shape is timed only once
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream, &capture), "asking whether a stream is capturing");
  if (capture != cudaStreamCaptureStatusNone) return;   // no syncs inside a capture: keep the first choice
  // An accumulating call's y is the residual stream: time into a scratch output instead.
  DeviceBuffer scratch;
  void* target = y;
  if (beta != 0.f) {
    uint64_t rows = 0, out = 0;
    size_t written = 0;
    check(cublasLtMatrixLayoutGetAttribute(p.y, CUBLASLT_MATRIX_LAYOUT_ROWS, &out, sizeof out, &written),
          "reading an output layout");
    check(cublasLtMatrixLayoutGetAttribute(p.y, CUBLASLT_MATRIX_LAYOUT_COLS, &rows, sizeof rows, &written),
          "reading an output layout");
    try {
      scratch = DeviceBuffer(size_t(rows * out) * sizeof(float), "a scratch output for timing matmuls");
    } catch (const Error&) {
      return;   // no room: keep the first choice
    }
    check(cudaMemsetAsync(scratch.get(), 0, scratch.size(), stream), "zeroing a scratch output");
    target = scratch.get();
  }
  cudaEvent_t start = nullptr, stop = nullptr;
  check(cudaEventCreate(&start), "creating a timing event");
  check(cudaEventCreate(&stop), "creating a timing event");
  constexpr int kRepeats = 5;
  const float alpha = 1.f;
  float best = INFINITY;
  for (const cublasLtMatmulAlgo_t& algo : candidates) {
    auto run = [&] {
      return cublasLtMatmul(handle_, p.op, &alpha, w, p.w, x, p.x, &beta, target, p.y, target, p.y, &algo,
                            workspace_.get(), workspace_.size(), stream);
    };
    if (run() != CUBLAS_STATUS_SUCCESS) continue;   // warm-up; a candidate that fails is skipped
    cudaEventRecord(start, stream);
    for (int i = 0; i < kRepeats; ++i) run();
    cudaEventRecord(stop, stream);
    float ms = 0.f;
    if (cudaEventSynchronize(stop) != cudaSuccess || cudaEventElapsedTime(&ms, start, stop) != cudaSuccess) continue;
    if (ms < best) {
      best = ms;
      p.algo = algo;
    }
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  check(cudaStreamSynchronize(stream), "timing matmul algorithms");   // the scratch output dies here
}

void Gemm::linear(const bf16* x, const bf16* w, void* y, bool y_f32, int rows, int out, int in,
                  cudaStream_t stream) {
  if (rows == 0) return;
  if (uses_gemv(x, w, rows, in)) {
    // The lm_head (fp32 out, 25 waves and more) streams at full rate with one feature a block.
    gemv(x, w, y, y_f32, rows, out, in, stream, y_f32 ? 1 : gemv_features_per_block_);
    return;
  }
  matmul(x, w, y, y_f32, 0.f, rows, out, in, stream);
}

void Gemm::linear_accumulate(const bf16* x, const bf16* w, float* y, int rows, int out, int in,
                             cudaStream_t stream) {
  if (rows == 0) return;
  matmul(x, w, y, true, 1.f, rows, out, in, stream);
}

void Gemm::matmul(const bf16* x, const bf16* w, void* y, bool y_f32, float beta, int rows, int out, int in,
                  cudaStream_t stream) {
  Plan& p = plan(rows, out, in, y_f32, beta != 0.f);
  if (!p.untimed.empty()) time_candidates(p, x, w, y, beta, stream);
  const float alpha = 1.f;
  check(cublasLtMatmul(handle_, p.op, &alpha, w, p.w, x, p.x, &beta, y, p.y, y, p.y, &p.algo,
                       workspace_.get(), workspace_.size(), stream),
        fmt::format("linear [{}, {}] x [{}, {}]^T{}", rows, in, out, in, beta != 0.f ? " accumulated" : ""));
}

}  // namespace yardstick::cuda
