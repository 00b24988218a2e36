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

// The same on the tensor cores (attention_prefill_mma.cu), for the head dims it is compiled
// for; other head dims use attention_prefill. Its query tiles hold kPrefillMmaQueryTile new
// tokens (tiles listed in any order; the backend lists the ones with the most keys first, so
// the longest blocks start in the first wave). Every token's output depends only on its own
// position and keys: bitwise the same however its sequence is chunked or the step composed.
inline constexpr int kPrefillMmaQueryTile = 64;
bool attention_prefill_mma_supports(int head_dim);
void attention_prefill_mma(const bf16* qkv,          // [T, (NH + 2 NKV) HD], q heads first, after RoPE
                           bf16* out,                // [T, NH HD]
                           const AttentionShape& shape, const KvLayerView& kv, const BatchView& batch,
                           const int32_t* tile_seq,  // [num_tiles] sequence of each query tile
                           const int32_t* tile_q0,   // [num_tiles] first new-token index of the tile
                           int num_tiles, cudaStream_t stream);

// How attention_decode cuts each sequence's keys across blocks. A step of few sequences gives
// one block per (query head, sequence) too few blocks to fill the GPU, so each pair gets
// `splits` blocks, each computing a partial softmax over a contiguous range of keys; the last
// block of the pair to finish merges the partials in split order (bitwise the same every run).
// The grid depends only on the batch size (decode graphs are captured per batch size): a
// sequence uses only as many of its blocks as give each at least `min_keys` keys, so short
// contexts take the one-block path, and the blocks it does not use return at once.
struct DecodeSplit {
  int splits = 1;                 // blocks per (query head, sequence); 1: no scratch is touched
  int min_keys = 128;             // keys a used split takes at least (rounded up to 32)
  float* partials = nullptr;      // [capacity, HD + 2]: each split's (max, sum, unnormalised output)
  int32_t* tickets = nullptr;     // [capacity] zero before the first launch; every merge re-zeroes its own
  int capacity = 0;               // num_heads * num_seqs * splits may not exceed this
};

// Splits per (query head, sequence) that bring a decode step of num_seqs sequences to about two
// blocks per SM (1 when one block per pair already reaches one per SM), at most kMaxDecodeSplits.
inline constexpr int kMaxDecodeSplits = 16;
int attention_decode_splits(int num_heads, int num_seqs, int sm_count);
// DecodeSplit::capacity that any attention_decode_splits() choice fits in.
inline int attention_decode_capacity(int sm_count) { return 2 * sm_count; }

// The same for steps where every sequence brings exactly one new token (q_len[b] == 1).
void attention_decode(const bf16* qkv, bf16* out, const AttentionShape& shape,
                      const KvLayerView& kv, const BatchView& batch, const DecodeSplit& split,
                      cudaStream_t stream);

}  // namespace yardstick::cuda
