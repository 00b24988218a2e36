#include "engine/cuda/embedding.h"

#include "engine/cuda/cuda_check.h"

namespace yardstick::cuda {

// ---------------------------------------------------------------- kernels

// One block per output row; consecutive threads read consecutive elements (coalesced).
template <class Out>
__global__ void gather_rows_kernel(const bf16* __restrict__ in, const int32_t* __restrict__ rows,
                                   Out* __restrict__ out, int C) {
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
  gather_rows_kernel<float><<<T, 256, 0, stream>>>(table, ids, out, C);
  check_launch("embedding_gather");
}

void gather_rows(const bf16* in, const int32_t* rows, bf16* out, int R, int C, cudaStream_t stream) {
  if (R == 0) return;
  gather_rows_kernel<bf16><<<R, 256, 0, stream>>>(in, rows, out, C);
  check_launch("gather_rows");
}

}  // namespace yardstick::cuda
