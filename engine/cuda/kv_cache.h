// The paged KV cache: one device pool of fixed-size blocks shared by every sequence, and the
// host-side bookkeeping of which blocks each sequence's block table holds. Blocks are reference
// counted so that sequences can share the blocks of a common prefix (fork_sequence, the prefix
// cache); a shared block is copied before anyone writes into it.
//
// Prefix caching (engine/prefix_cache.h): full blocks are entered in an index by their token
// chain. A cached block whose last holder lets it go is not freed but kept, evictable; it still
// counts as free, and is handed out (forgotten by the index) only when no truly free block is
// left, least recently used first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <cuda_runtime.h>

#include "engine/cuda/device_buffer.h"
#include "engine/cuda/kv_layout.h"
#include "engine/prefix_cache.h"

namespace yardstick::cuda {

struct KvCacheShape {
  int num_layers = 0;     // L
  int num_kv_heads = 0;   // NKV
  int head_dim = 0;       // HD
  int block_size = 0;     // BS tokens per block
};

class KvCache {
 public:
  // Device bytes of one block: keys and values of BS tokens in every layer.
  static size_t bytes_per_block(const KvCacheShape& shape);

  KvCache(const KvCacheShape& shape, int64_t num_blocks);

  const KvCacheShape& shape() const { return shape_; }
  int block_size() const { return shape_.block_size; }
  int64_t num_blocks() const { return num_blocks_; }
  // Blocks that can be handed out: free ones and cached ones no sequence holds.
  int64_t free_blocks() const { return int64_t(free_.size()) + index_.evictable_count(); }
  // Blocks `table` needs in addition to hold `tokens` tokens.
  int64_t blocks_needed(const std::vector<int32_t>& table, int tokens) const;

  // Grows a sequence's table to hold `tokens` tokens; false (table unchanged) when the pool has
  // too few free blocks.
  bool grow(std::vector<int32_t>& table, int tokens);
  // Drops the blocks past the first `tokens` tokens. If the block that will receive the next
  // token is shared with another sequence, this sequence gets a private copy of it first.
  void shrink(std::vector<int32_t>& table, int tokens, cudaStream_t stream);
  // A table for a new sequence holding the same first `tokens` tokens as `table`: full blocks
  // are shared, the partly filled last block is copied. Throws Error when no block is free.
  std::vector<int32_t> fork(const std::vector<int32_t>& table, int tokens, cudaStream_t stream);

  // The prefix index of full blocks (block ids are this pool's).
  const PrefixIndex& index() const { return index_; }
  // Enters table[i], a full block holding `tokens` after the block `parent`; returns the serial
  // the chain goes on from.
  uint64_t cache_block(const std::vector<int32_t>& table, size_t i, uint64_t parent, std::span<const int32_t> tokens);
  // Appends a cached block to a table (it is now held once more).
  void attach(std::vector<int32_t>& table, int32_t block);
  // Forgets every cached block (a failed step may have left some half written).
  void clear_cache();
  int64_t evictions() const { return evictions_; }

  // Layer `layer`'s keys and values with the given device block tables.
  KvLayerView layer_view(int layer, const int32_t* block_tables, int max_blocks) const;

 private:
  int32_t take_block();
  void release_block(int32_t block);
  // Gives `table[index]` a private copy if other tables share it.
  void unshare(std::vector<int32_t>& table, size_t index, cudaStream_t stream);
  // Makes table[index] safe to write into: a private copy if shared, forgotten by the index if not.
  void make_writable(std::vector<int32_t>& table, size_t index, cudaStream_t stream);
  size_t block_elems() const;   // bf16 elements of one block in one layer, keys or values

  KvCacheShape shape_;
  int64_t num_blocks_ = 0;
  DeviceBuffer pool_;              // [L, 2, num_blocks, NKV, BS, HD] bf16
  std::vector<int32_t> free_;      // a stack: the most recently freed block is reused first
  std::vector<int32_t> refcount_;  // [num_blocks]
  PrefixIndex index_;
  int64_t evictions_ = 0;
};

}  // namespace yardstick::cuda
