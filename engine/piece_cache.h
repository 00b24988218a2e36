// A bounded, thread-safe memo of piece -> token ids for Tokenizer::encode. What a piece becomes
// depends only on its text and on the pre-tokenizer step it has reached (later steps cut each
// piece independently of its neighbours), so repeated words skip the remaining regex splits and
// BPE entirely. One table per step; once `capacity` entries are stored, new pieces are still
// encoded, just not remembered.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace yardstick {

class PieceCache {
 public:
  static constexpr size_t kMaxPieceBytes = 64;   // longer pieces rarely repeat

  PieceCache(size_t steps, size_t capacity) : tables_(steps), capacity_(capacity) {}

  // Appends the ids stored for `piece` at `step` to `out`; false when there are none.
  bool lookup(size_t step, std::string_view piece, std::vector<int32_t>& out) const;
  void store(size_t step, std::string_view piece, std::span<const int32_t> ids) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Table = std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>>;

  mutable std::shared_mutex mutex_;
  mutable std::vector<Table> tables_;   // [steps]
  mutable size_t size_ = 0;             // entries over all tables
  size_t capacity_;
};

}  // namespace yardstick
