#include "engine/cuda/cuda_check.h"

#include <fmt/format.h>

#include "engine/error.h"

namespace yardstick::cuda {

void check(cudaError_t status, std::string_view what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();   // clear a non-sticky error so the next check reports its own
  throw Error(fmt::format("cuda: {}: {} ({})", what, cudaGetErrorName(status),
                          cudaGetErrorString(status)));
}

void check(cublasStatus_t status, std::string_view what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw Error(fmt::format("cublasLt: {}: {} ({})", what, cublasLtGetStatusName(status),
                          cublasLtGetStatusString(status)));
}

void check_launch(std::string_view kernel) {
  check(cudaGetLastError(), fmt::format("launching {}", kernel));
}

}  // namespace yardstick::cuda
