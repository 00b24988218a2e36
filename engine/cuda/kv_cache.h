// The paged KV cache: one device pool of fixed-size blocks shared by every sequence, and the
// host-side bookkeeping of which blocks each sequence's block table holds. Blocks are reference
// counted so that sequences can share the blocks of a common prefix (fork_sequence); a shared
// block is copied before anyone writes into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <cuda_runtime.h>

#include "engine/cuda/device_buffer.h"
#include "engine/cuda/kv_layout.h"

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
  int64_t free_blocks() const { return int64_t(free_.size()); }
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

  // Layer `layer`'s keys and values with the given device block tables.
  KvLayerView layer_view(int layer, const int32_t* block_tables, int max_blocks) const;

 private:
  int32_t take_block();
  void release_block(int32_t block);
  // Gives `table[index]` a private copy if other tables share it.
  void unshare(std::vector<int32_t>& table, size_t index, cudaStream_t stream);
  size_t block_elems() const;   // bf16 elements of one block in one layer, keys or values

  KvCacheShape shape_;
  int64_t num_blocks_ = 0;
  DeviceBuffer pool_;              // [L, 2, num_blocks, NKV, BS, HD] bf16
  std::vector<int32_t> free_;      // a stack: the most recently freed block is reused first
  std::vector<int32_t> refcount_;  // [num_blocks]
};

}  // namespace yardstick::cuda
