#include "engine/prefix_cache.h"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace yardstick {

PrefixIndex::PrefixIndex(int block_size, int64_t num_blocks, KeyFn key)
    : block_size_(block_size), key_of_(key), entries_of_(size_t(std::max<int64_t>(num_blocks, 0))) {
  if (block_size < 1) throw std::invalid_argument("prefix index: block size must be positive");
}

uint64_t PrefixIndex::default_key(uint64_t parent, std::span<const int32_t> tokens) {
  // FNV-1a over the parent serial and the tokens, then a final mix (splitmix64's): collisions are
  // resolved by comparing, so this only has to spread keys well.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  mix(parent);
  for (int32_t t : tokens) mix(uint64_t(uint32_t(t)));
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

std::optional<PrefixIndex::Match> PrefixIndex::find(uint64_t parent, std::span<const int32_t> tokens) const {
  if (tokens.size() != size_t(block_size_)) return std::nullopt;
  const auto [lo, hi] = by_key_.equal_range(key_of_(parent, tokens));
  for (auto it = lo; it != hi; ++it) {
    const Entry& e = entries_of_[size_t(it->second)];
    if (e.parent == parent && std::equal(tokens.begin(), tokens.end(), e.tokens.begin(), e.tokens.end()))
      return Match{it->second, e.serial};
  }
  return std::nullopt;
}

uint64_t PrefixIndex::insert(uint64_t parent, std::span<const int32_t> tokens, BlockId block) {
  if (tokens.size() != size_t(block_size_))
    throw std::logic_error(fmt::format("prefix index: a block of {} tokens, expected {}", tokens.size(), block_size_));
  if (block < 0 || size_t(block) >= entries_of_.size())
    throw std::logic_error(fmt::format("prefix index: block {} outside the pool of {}", block, entries_of_.size()));
  if (auto m = find(parent, tokens)) return m->serial;
  if (entries_of_[size_t(block)].used) forget(block);
  Entry& e = entries_of_[size_t(block)];
  e.used = true;
  e.parent = parent;
  e.serial = next_serial_++;
  e.key = key_of_(parent, tokens);
  e.tokens.assign(tokens.begin(), tokens.end());
  e.in_lru = false;
  by_key_.emplace(e.key, block);
  ++entries_;
  return e.serial;
}

bool PrefixIndex::contains(BlockId block) const {
  return block >= 0 && size_t(block) < entries_of_.size() && entries_of_[size_t(block)].used;
}

void PrefixIndex::forget(BlockId block) {
  Entry& e = entries_of_[size_t(block)];
  const auto [lo, hi] = by_key_.equal_range(e.key);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == block) {
      by_key_.erase(it);
      break;
    }
  }
  if (e.in_lru) lru_.erase(e.lru_pos);
  e = Entry{};
  --entries_;
}

void PrefixIndex::erase(BlockId block) {
  if (contains(block)) forget(block);
}

void PrefixIndex::release(BlockId block) {
  if (!contains(block)) return;
  Entry& e = entries_of_[size_t(block)];
  if (e.in_lru) lru_.erase(e.lru_pos);
  e.lru_pos = lru_.insert(lru_.end(), block);
  e.in_lru = true;
}

void PrefixIndex::acquire(BlockId block) {
  if (!contains(block)) return;
  Entry& e = entries_of_[size_t(block)];
  if (!e.in_lru) return;
  lru_.erase(e.lru_pos);
  e.in_lru = false;
}

bool PrefixIndex::evictable(BlockId block) const { return contains(block) && entries_of_[size_t(block)].in_lru; }

std::optional<PrefixIndex::BlockId> PrefixIndex::evict() {
  if (lru_.empty()) return std::nullopt;
  const BlockId b = lru_.front();
  forget(b);
  return b;
}

void PrefixIndex::clear() {
  for (Entry& e : entries_of_) e = Entry{};
  by_key_.clear();
  lru_.clear();
  entries_ = 0;
}

}  // namespace yardstick
