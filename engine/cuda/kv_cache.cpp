#include "engine/cuda/kv_cache.h"

#include <fmt/format.h>

#include "engine/cuda/cuda_check.h"
#include "engine/error.h"

namespace yardstick::cuda {

size_t KvCache::bytes_per_block(const KvCacheShape& s) {
  return size_t(s.num_layers) * 2 * size_t(s.num_kv_heads) * size_t(s.block_size) *
         size_t(s.head_dim) * sizeof(bf16);
}

KvCache::KvCache(const KvCacheShape& shape, int64_t num_blocks)
    : shape_(shape),
      num_blocks_(num_blocks),
      pool_(bytes_per_block(shape) * size_t(num_blocks),
            fmt::format("the KV cache ({} blocks of {} tokens)", num_blocks, shape.block_size)),
      refcount_(size_t(num_blocks), 0),
      index_(shape.block_size, num_blocks) {
  free_.reserve(size_t(num_blocks));
  // Highest id at the bottom of the stack, so block 0 is handed out first.
  for (int64_t b = num_blocks - 1; b >= 0; --b) free_.push_back(int32_t(b));
}

size_t KvCache::block_elems() const {
  return size_t(shape_.num_kv_heads) * size_t(shape_.block_size) * size_t(shape_.head_dim);
}

int64_t KvCache::blocks_needed(const std::vector<int32_t>& table, int tokens) const {
  const int64_t want = (int64_t(tokens) + shape_.block_size - 1) / shape_.block_size;
  return want > int64_t(table.size()) ? want - int64_t(table.size()) : 0;
}

int32_t KvCache::take_block() {
  int32_t b = -1;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else if (auto evicted = index_.evict()) {
    b = *evicted;
    ++evictions_;
  } else {
    throw Error("cuda: KV cache full: no free block");
  }
  refcount_[size_t(b)] = 1;
  return b;
}

void KvCache::release_block(int32_t block) {
  if (--refcount_[size_t(block)] > 0) return;
  if (index_.contains(block)) index_.release(block);   // kept for reuse until its room is needed
  else free_.push_back(block);
}

uint64_t KvCache::cache_block(const std::vector<int32_t>& table, size_t i, uint64_t parent,
                              std::span<const int32_t> tokens) {
  return index_.insert(parent, tokens, table.at(i));
}

void KvCache::attach(std::vector<int32_t>& table, int32_t block) {
  if (refcount_[size_t(block)]++ == 0) index_.acquire(block);
  table.push_back(block);
}

void KvCache::clear_cache() {
  while (auto b = index_.evict()) free_.push_back(*b);
  index_.clear();
}

bool KvCache::grow(std::vector<int32_t>& table, int tokens) {
  const int64_t need = blocks_needed(table, tokens);
  if (need > free_blocks()) return false;
  for (int64_t i = 0; i < need; ++i) table.push_back(take_block());
  return true;
}

void KvCache::unshare(std::vector<int32_t>& table, size_t index, cudaStream_t stream) {
  const int32_t old = table[index];
  if (refcount_[size_t(old)] <= 1) return;
  if (free_blocks() == 0) throw Error("cuda: KV cache full: no free block to copy a shared block into");
  const int32_t copy = take_block();
  // One 2D copy moves the block's keys and values of every layer: 2 L rows, one per (layer,
  // k|v), each a block long, num_blocks blocks apart.
  const size_t row = block_elems() * sizeof(bf16);
  bf16* base = pool_.as<bf16>();
  check(cudaMemcpy2DAsync(base + size_t(copy) * block_elems(), row * size_t(num_blocks_),
                          base + size_t(old) * block_elems(), row * size_t(num_blocks_), row,
                          size_t(shape_.num_layers) * 2, cudaMemcpyDeviceToDevice, stream),
        "copying a shared KV block");
  release_block(old);
  table[index] = copy;
}

// A block about to be written into must not be one the index serves: shared, it gets a private
// copy (the cached original stays); held by this table alone, it is forgotten.
void KvCache::make_writable(std::vector<int32_t>& table, size_t index, cudaStream_t stream) {
  if (refcount_[size_t(table[index])] > 1) unshare(table, index, stream);
  else index_.erase(table[index]);
}

void KvCache::shrink(std::vector<int32_t>& table, int tokens, cudaStream_t stream) {
  const size_t keep = size_t((int64_t(tokens) + shape_.block_size - 1) / shape_.block_size);
  while (table.size() > keep) {
    release_block(table.back());
    table.pop_back();
  }
  // The next token goes into the last block when it is partly filled.
  if (tokens % shape_.block_size != 0) make_writable(table, table.size() - 1, stream);
}

std::vector<int32_t> KvCache::fork(const std::vector<int32_t>& table, int tokens, cudaStream_t stream) {
  const size_t used = size_t((int64_t(tokens) + shape_.block_size - 1) / shape_.block_size);
  std::vector<int32_t> copy(table.begin(), table.begin() + ptrdiff_t(used));
  for (int32_t b : copy) ++refcount_[size_t(b)];
  if (tokens % shape_.block_size != 0) {
    try {
      unshare(copy, copy.size() - 1, stream);
    } catch (...) {
      for (int32_t b : copy) release_block(b);
      throw;
    }
  }
  return copy;
}

KvLayerView KvCache::layer_view(int layer, const int32_t* block_tables, int max_blocks) const {
  KvLayerView v;
  bf16* base = pool_.as<bf16>();
  v.k = base + (size_t(layer) * 2 + 0) * size_t(num_blocks_) * block_elems();
  v.v = base + (size_t(layer) * 2 + 1) * size_t(num_blocks_) * block_elems();
  v.block_tables = block_tables;
  v.max_blocks = max_blocks;
  v.block_size = shape_.block_size;
  v.num_kv_heads = shape_.num_kv_heads;
  v.head_dim = shape_.head_dim;
  return v;
}

}  // namespace yardstick::cuda
