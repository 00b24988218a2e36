// Rotary position embedding (HF Llama "rotate_half" layout) applied to the new tokens' queries
// and keys, fused with writing their keys and values into the paged KV cache.
#pragma once

#include <cstdint>
#include <vector>

#include <cuda_runtime.h>

#include "engine/cuda/kv_layout.h"

namespace yardstick::cuda {

// (cos, sin) of position * inv_freq[i] for every position < max_positions and i < HD/2,
// computed as HF does in fp32 (inv_freq = 1 / theta^(2i/HD) in fp32, angle = fp32 product),
// with the cosine and sine themselves exact to fp32 rounding.
std::vector<float> rope_table(int max_positions, int head_dim, double theta);   // [P, HD/2, 2]

// For each token t (of sequence tok_seq[t], at position pos[t]):
//   q heads and k heads of qkv[t] rotated in place:  x[i]      = x[i] cos - x[i+HD/2] sin
//                                                    x[i+HD/2] = x[i+HD/2] cos + x[i] sin
//   rotated k and the v heads copied into kv at (tok_seq[t], pos[t]).
void rope_and_store_kv(bf16* qkv,               // [T, (NH + 2 NKV) HD]: q heads, k heads, v heads
                       const float2* rope,      // [P, HD/2] (cos, sin), from rope_table
                       const int32_t* pos,      // [T]
                       const int32_t* tok_seq,  // [T] index of the token's sequence in the step
                       const KvLayerView& kv, int T, int num_heads, cudaStream_t stream);

}  // namespace yardstick::cuda
