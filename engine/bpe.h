// The byte-level BPE model of a HF tokenizer.json ("model": {"type": "BPE", ...}): vocab,
// merges by rank, and the GPT-2 byte alphabet (each byte is one printable character in the
// vocab's spelling, e.g. ' ' is 'Ġ'). Encodes one pre-tokenized piece at a time; callers
// cache results per piece (engine/piece_cache.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace yardstick {

// GPT-2's bytes_to_unicode(): the printable character that stands for byte `b` in the vocab.
char32_t byte_level_char(uint8_t b);

class BpeModel {
 public:
  // model: the "model" object. Merges may be "a b" strings or ["a", "b"] pairs. Throws
  // ModelFileError (without a file name; the caller adds it) naming what is unsupported or wrong.
  static std::unique_ptr<BpeModel> from_json(const nlohmann::json& model);

  // Appends the ids of one piece: raw UTF-8 bytes, mapped to the byte alphabet here.
  // Thread-safe.
  void encode(std::string_view piece, std::vector<int32_t>& out) const;

  int32_t id_limit() const { return static_cast<int32_t>(id_bytes_.size()); }   // max id + 1
  // The bytes token `id` stands for (ByteLevel-decoded); nullopt when the vocab has no such id.
  std::optional<std::string_view> token_bytes(int32_t id) const;
  // `token` in the vocab's spelling (byte alphabet), e.g. "Ġthe".
  std::optional<int32_t> token_to_id(std::string_view token) const;

 private:
  struct Merge {
    int32_t rank;
    int32_t id;   // the merged token
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using StringMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  StringMap vocab_;                                   // vocab spelling -> id
  std::vector<std::optional<std::string>> id_bytes_;  // [id_limit] raw bytes per id
  int32_t byte_id_[256] = {};                         // id of each single-byte token
  std::unordered_map<uint64_t, Merge> merges_;        // pair_key(left, right) -> merge
  bool ignore_merges_ = false;                        // whole-piece vocab hit wins (HF option)
  StringMap whole_piece_ids_;                         // raw bytes -> id, only for ignore_merges
};

}  // namespace yardstick
