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

// ---------------------------------------------------------------- shared prefixes (cascade)
//
// Decode steps where groups of sequences share the leading physical blocks of their block tables
// (forks, cached prompt prefixes) read those blocks once per group instead of once per sequence:
// attention_shared_prefix computes, for every group, the softmax partials of all its members'
// queries against the shared blocks (each K/V tile in shared memory feeds up to
// kSharedPrefixRows queries through tensor cores), then attention_decode attends each sequence
// to its own remaining keys and merges the shared partials first, its own second. The host
// plans the groups (shared_prefix.h); the plan lives in device memory, so both grids depend only
// on the batch size and a captured decode graph replays correctly whatever the grouping.

// Query rows (member sequence, query head of the kv head) one block of attention_shared_prefix
// takes: 16 per warp, one mma row tile each.
inline constexpr int kSharedPrefixRows = 64;
// Key chunks a group's shared blocks are cut into at most (each chunk a partial per member and
// head, so the scratch is sized by it).
inline constexpr int kMaxSharedPrefixChunks = 4;

// One block's work: a tile of a group's members against one chunk of the group's shared blocks.
struct SharedPrefixItem {
  int32_t member_begin = 0;   // first of the tile's sequences in SharedPrefixView::members
  int32_t num_members = 0;    // sequences of the tile: num_members * NH / NKV <= kSharedPrefixRows rows
  int32_t chunk = 0;          // the chunk's index in its group: the partial slot it writes
  int32_t block_begin = 0;    // the chunk: blocks [block_begin, block_end) of every member's table
  int32_t block_end = 0;
};

// A decode step's grouping as both kernels read it. All null (the default): no sequence shares,
// attention_decode attends every sequence to all its keys.
struct SharedPrefixView {
  const int32_t* skip_blocks = nullptr;     // [B] leading blocks the shared pass covered (0: in no group)
  const int32_t* num_partials = nullptr;    // [B] chunks the shared pass wrote partials for
  float* partials = nullptr;                // [B, NH, kMaxSharedPrefixChunks, HD + 2] (max, sum, output)
  const int32_t* members = nullptr;         // [B] the grouped sequences, group after group
  const SharedPrefixItem* items = nullptr;  // [attention_shared_prefix_items(B)]
  const int32_t* num_items = nullptr;       // [1] items of this step (the grid loops over them)
  int blocks_x = 0;                         // grid.x of attention_shared_prefix (attention_shared_prefix_blocks)
};

// Head shapes attention_shared_prefix is compiled for: the head dims of attention_decode, and
// at most kSharedPrefixRows query heads per kv head.
bool attention_shared_prefix_supports(int head_dim, int heads_per_kv_head);
// Items a step of num_seqs sequences can need: each tile holds >= 1 member, each member one
// group, each group <= kMaxSharedPrefixChunks chunks.
inline int attention_shared_prefix_items(int num_seqs) { return num_seqs * kMaxSharedPrefixChunks; }
// grid.x of attention_shared_prefix (grid.y is the kv heads): about four blocks per SM in all,
// never more than there can be items. Depends on the batch size only.
int attention_shared_prefix_blocks(int num_kv_heads, int num_seqs, int sm_count);

// The shared pass: for every item, the partials of its members' queries (all query heads of
// each kv head) against the item's chunk, into prefix.partials.
void attention_shared_prefix(const bf16* qkv,   // [B, (NH + 2 NKV) HD], q heads first, after RoPE
                             const AttentionShape& shape, const KvLayerView& kv, const BatchView& batch,
                             const SharedPrefixView& prefix, cudaStream_t stream);

// attention_decode after attention_shared_prefix: each sequence attends to its keys past
// prefix.skip_blocks, and merges the shared partials (chunk order) before its own (split order).
void attention_decode(const bf16* qkv, bf16* out, const AttentionShape& shape,
                      const KvLayerView& kv, const BatchView& batch, const DecodeSplit& split,
                      const SharedPrefixView& prefix, cudaStream_t stream);

}  // namespace yardstick::cuda
