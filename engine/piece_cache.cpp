#include "engine/piece_cache.h"

#include <mutex>

namespace yardstick {

bool PieceCache::lookup(size_t step, std::string_view piece, std::vector<int32_t>& out) const {
  std::shared_lock lock(mutex_);
  const Table& table = tables_[step];
  const auto it = table.find(piece);
  if (it == table.end()) return false;
  out.insert(out.end(), it->second.begin(), it->second.end());
  return true;
}

void PieceCache::store(size_t step, std::string_view piece, std::span<const int32_t> ids) const {
  std::unique_lock lock(mutex_);
  if (size_ >= capacity_) return;
  if (tables_[step].try_emplace(std::string(piece), ids.begin(), ids.end()).second) ++size_;
}

}  // namespace yardstick
