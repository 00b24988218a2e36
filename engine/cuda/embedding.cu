#include "engine/cuda/embedding.h"

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/launch.cuh"

namespace yardstick::cuda {

// ---------------------------------------------------------------- kernels

// One block per output row; consecutive threads read consecutive elements (coalesced).
template <class Out>
__global__ void gather_rows_kernel(const bf16* __restrict__ in, const int32_t* __restrict__ rows,
                                   Out* __restrict__ out, int C) {
  pdl_launch_dependents();
  pdl_wait();   // everything below reads what earlier kernels wrote
  const int r = blockIdx.x;
  const bf16* src = in + size_t(rows[r]) * C;
  Out* dst = out + size_t(r) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    if constexpr (sizeof(Out) == sizeof(float)) {
      dst[c] = __bfloat162float(src[c]);
    } else {
      dst[c] = src[c];
    }
  }
}

// ---------------------------------------------------------------- launchers

void embedding_gather(const bf16* table, const int32_t* ids, float* out, int T, int C,
                      cudaStream_t stream) {
  if (T == 0) return;
  launch(gather_rows_kernel<float>, T, 256, 0, stream, "embedding_gather", table, ids, out, C);
}

void gather_rows(const bf16* in, const int32_t* rows, bf16* out, int R, int C, cudaStream_t stream) {
  if (R == 0) return;
  launch(gather_rows_kernel<bf16>, R, 256, 0, stream, "gather_rows", in, rows, out, C);
}

}  // namespace yardstick::cuda
