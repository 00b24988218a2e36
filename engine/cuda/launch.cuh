// Kernel launches with programmatic dependent launch (PDL, sm_90). A decode step chains ~9
// short kernels per layer, and each one's launch and ramp-up used to wait for the previous
// kernel's last block. With PDL the next kernel is scheduled as soon as every block of the
// current one has started (pdl_launch_dependents), does what depends on nothing (a gemv's weight
// loads), and waits (pdl_wait) before it touches anything earlier kernels write or read.
// Every kernel launched through launch() must call pdl_wait() before such accesses.
#pragma once

#include <utility>

#include <cuda_runtime.h>

#include "engine/cuda/cuda_check.h"

namespace yardstick::cuda {

// Lets the next kernel on the stream be scheduled (it still waits for this one to finish).
__device__ inline void pdl_launch_dependents() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }

// Waits until the previous kernel on the stream has finished and its writes are visible; a
// no-op for a kernel launched without PDL.
__device__ inline void pdl_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
            const char* what, Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  config.attrs = &attribute;
  config.numAttrs = stream ? 1 : 0;   // the legacy default stream keeps plain ordering
  check(cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...), what);
}

}  // namespace yardstick::cuda
