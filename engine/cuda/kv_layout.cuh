// Device-side address arithmetic of the paged KV cache (kv_layout.h).
#pragma once

#include "engine/cuda/kv_layout.h"

namespace yardstick::cuda {

// Element offset of (sequence b, position pos, kv head h, dim 0) in kv.k / kv.v.
__device__ inline size_t kv_offset(const KvLayerView& kv, int b, int pos, int h) {
  const int block = kv.block_tables[size_t(b) * kv.max_blocks + pos / kv.block_size];
  return ((size_t(block) * kv.num_kv_heads + h) * kv.block_size + pos % kv.block_size) *
         size_t(kv.head_dim);
}

}  // namespace yardstick::cuda
