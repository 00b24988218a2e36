// Checked CUDA and cuBLASLt calls: every failure becomes a yardstick::Error whose message names
// the operation that failed, so a bad launch deep in a forward pass says which one it was.
#pragma once

#include <string_view>

#include <cublasLt.h>
#include <cuda_runtime.h>

namespace yardstick::cuda {

// Throws Error("cuda: <what>: <CUDA's error name and text>") unless status is cudaSuccess.
void check(cudaError_t status, std::string_view what);
// Throws Error("cublasLt: <what>: <status>") unless status is CUBLAS_STATUS_SUCCESS.
void check(cublasStatus_t status, std::string_view what);
// After a <<<>>> launch: the launch's own error (bad configuration, no kernel image).
void check_launch(std::string_view kernel);

}  // namespace yardstick::cuda
