// Causal self-attention over the paged KV cache, GQA or MHA: a tiled kernel for steps that bring
// several new tokens per sequence (prefill, scoring), and one for steps of a single new token per
// sequence (decode). Both read the keys and values of this step's tokens from the cache, so
// rope_and_store_kv runs first.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "engine/cuda/kv_layout.h"

namespace yardstick::cuda {

// Head dims the attention kernels are compiled for.
bool attention_supports_head_dim(int head_dim);

// Queries per block of attention_prefill: the host cuts each sequence's new tokens into tiles
// of this many and lists them (tile_seq, tile_q0).
inline constexpr int kPrefillQueryTile = 32;

struct AttentionShape {
  int num_heads = 0;      // NH query heads; query head h reads kv head h / (NH / NKV)
  float scale = 0.f;      // 1 / sqrt(HD)
};

// out[q_start[b] + i, h*HD:(h+1)*HD] = softmax(q k^T * scale, causal) v for new token i of
// sequence b, query head h. Token i of sequence b sits at position kv_len[b] - q_len[b] + i and
// sees cache positions [0, that position].
void attention_prefill(const bf16* qkv,          // [T, (NH + 2 NKV) HD], q heads first, after RoPE
                       bf16* out,                // [T, NH HD]
                       const AttentionShape& shape, const KvLayerView& kv, const BatchView& batch,
                       const int32_t* tile_seq,  // [num_tiles] sequence of each query tile
                       const int32_t* tile_q0,   // [num_tiles] first new-token index of the tile
                       int num_tiles, cudaStream_t stream);

// The same for steps where every sequence brings exactly one new token (q_len[b] == 1).
void attention_decode(const bf16* qkv, bf16* out, const AttentionShape& shape,
                      const KvLayerView& kv, const BatchView& batch, cudaStream_t stream);

}  // namespace yardstick::cuda
