// The index of a prefix cache: which KV blocks hold which token chains, and which of them no
// sequence holds (evictable, least recently used first). Shared by the backends; each keeps the
// blocks' KV state its own way (the CUDA pool's blocks, the CPU backend's copies).
//
// A block is identified by the block before it in its chain and its own tokens. Every block
// entered gets a fresh serial; an entry names its parent by serial, so a chain is matched
// exactly, block by block from the sequence's start, and an entry whose parent was evicted
// (its serial never comes back) can't be matched again. Hash collisions are harmless: a look-up
// compares the tokens and the parent serial of every candidate.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace yardstick {

class PrefixIndex {
 public:
  using BlockId = int32_t;
  static constexpr uint64_t kRoot = 0;   // the parent serial of a sequence's first block
  static constexpr uint64_t kUncached = ~uint64_t(0);   // a block left out: its chain isn't cached on

  struct Match {
    BlockId block = -1;
    uint64_t serial = 0;
  };

  // The key a chain's block is filed under; collisions only cost comparisons.
  using KeyFn = uint64_t (*)(uint64_t parent, std::span<const int32_t> tokens);
  static uint64_t default_key(uint64_t parent, std::span<const int32_t> tokens);

  // Block ids are in [0, num_blocks); every block holds block_size tokens. `key` may be swapped
  // (tests file every block under one key to show that look-ups stay exact).
  PrefixIndex(int block_size, int64_t num_blocks, KeyFn key = &default_key);

  int block_size() const { return block_size_; }

  // The cached block holding `tokens` (block_size of them) right after the block `parent`.
  std::optional<Match> find(uint64_t parent, std::span<const int32_t> tokens) const;

  // Enters `block` as holding `tokens` after `parent`, and returns its serial. If that chain is
  // already cached (another sequence computed the same tokens), `block` is not entered and the
  // cached entry's serial is returned: the contents are equal, so the chain goes on from it.
  // A newly entered block counts as held (not evictable).
  uint64_t insert(uint64_t parent, std::span<const int32_t> tokens, BlockId block);

  bool contains(BlockId block) const;
  // Forgets a block (its contents are about to change).
  void erase(BlockId block);
  // The last holder let the block go: it becomes evictable, most recently used.
  void release(BlockId block);
  // A holder took an evictable block again: it is no longer evictable.
  void acquire(BlockId block);
  bool evictable(BlockId block) const;
  // Forgets the least recently used evictable block and returns it; none when there is none.
  std::optional<BlockId> evict();
  // Forgets every entry (after a failure that may have left blocks half written).
  void clear();

  int64_t entries() const { return entries_; }
  int64_t evictable_count() const { return int64_t(lru_.size()); }

 private:
  struct Entry {
    bool used = false;
    uint64_t parent = 0;
    uint64_t serial = 0;
    uint64_t key = 0;
    std::vector<int32_t> tokens;   // [block_size]
    bool in_lru = false;
    std::list<BlockId>::iterator lru_pos;
  };

  void forget(BlockId block);

  int block_size_;
  KeyFn key_of_;
  std::vector<Entry> entries_of_;                     // [num_blocks]
  std::unordered_multimap<uint64_t, BlockId> by_key_;   // key -> candidate blocks
  std::list<BlockId> lru_;                            // evictable blocks, least recently used first
  uint64_t next_serial_ = 1;
  int64_t entries_ = 0;
};

}  // namespace yardstick
