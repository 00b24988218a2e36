#include "engine/bpe.h"

#include <algorithm>
#include <array>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/unicode.h"

namespace yardstick {

using nlohmann::json;

namespace {

// GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves; the other 68 bytes
// (controls, space, DEL, NBSP, soft hyphen) take U+0100.. in byte order.
constexpr std::array<char32_t, 256> make_byte_alphabet() {
  std::array<char32_t, 256> a{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    a[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return a;
}
constexpr std::array<char32_t, 256> kByteAlphabet = make_byte_alphabet();

// The inverse of the alphabet: U+0000..U+0143 -> byte, or -1.
std::array<int16_t, 324> make_alphabet_inverse() {
  std::array<int16_t, 324> inv;
  inv.fill(-1);
  for (int b = 0; b < 256; ++b) inv[kByteAlphabet[b]] = static_cast<int16_t>(b);
  return inv;
}

// Raw bytes of a vocab entry. Like HF's ByteLevel decoder, a token with a character outside
// the byte alphabet stands for its own UTF-8.
std::string vocab_token_bytes(std::string_view token) {
  static const std::array<int16_t, 324> inverse = make_alphabet_inverse();
  std::string bytes;
  for (size_t i = 0; i < token.size();) {
    const auto d = unicode::decode_utf8(token.substr(i));
    if (!d.valid || d.cp >= inverse.size() || inverse[d.cp] < 0) return std::string(token);
    bytes += static_cast<char>(inverse[d.cp]);
    i += d.length;
  }
  return bytes;
}

std::pair<std::string, std::string> parse_merge(const json& m, size_t rank) {
  if (m.is_array() && m.size() == 2) return {m[0].get<std::string>(), m[1].get<std::string>()};
  if (m.is_string()) {
    const auto s = m.get<std::string>();
    const size_t space = s.find(' ');
    if (space != std::string::npos && s.find(' ', space + 1) == std::string::npos) {
      return {s.substr(0, space), s.substr(space + 1)};
    }
  }
  throw ModelFileError(fmt::format("BPE merge #{} is neither \"a b\" nor [\"a\", \"b\"]: {}", rank,
                                   m.dump()));
}

bool is_set(const json& model, const char* key) {
  const auto it = model.find(key);
  if (it == model.end() || it->is_null()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) return !it->get<std::string>().empty();
  return true;
}

}  // namespace

char32_t byte_level_char(uint8_t b) { return kByteAlphabet[b]; }

std::unique_ptr<BpeModel> BpeModel::from_json(const json& model) {
  const auto type = model.value("type", std::string("BPE"));   // HF omits it in old files
  if (type != "BPE") {
    throw ModelFileError(fmt::format("unsupported model type '{}' (only byte-level BPE is supported)", type));
  }
  for (const char* key : {"dropout", "continuing_subword_prefix", "end_of_word_suffix", "byte_fallback"}) {
    if (is_set(model, key)) throw ModelFileError(fmt::format("unsupported BPE option '{}'", key));
  }

  auto bpe = std::unique_ptr<BpeModel>(new BpeModel());
  bpe->ignore_merges_ = model.value("ignore_merges", false);

  const json& vocab = model.at("vocab");
  int32_t max_id = -1;
  for (const auto& [token, id] : vocab.items()) max_id = std::max(max_id, id.get<int32_t>());
  bpe->id_bytes_.resize(static_cast<size_t>(max_id + 1));
  bpe->vocab_.reserve(vocab.size());
  for (const auto& [token, id_json] : vocab.items()) {
    const auto id = id_json.get<int32_t>();
    if (id < 0) throw ModelFileError(fmt::format("vocab token '{}' has a negative id {}", token, id));
    bpe->vocab_.emplace(token, id);
    bpe->id_bytes_[id] = vocab_token_bytes(token);
    if (bpe->ignore_merges_) bpe->whole_piece_ids_.emplace(*bpe->id_bytes_[id], id);
  }

  // A byte without a token is dropped when it occurs, as HF drops characters the vocab lacks
  // when there is no unk_token: DeepSeek's vocab has none for the bytes that never occur in UTF-8
  // (its added tokens reuse their spellings), SmolLM2's none for 8 rare ones (0x04, 0xF1, ...).
  // A vocab lacking most of them is no byte-level vocab at all.
  std::vector<int> missing;
  for (int b = 0; b < 256; ++b) {
    std::string spelling;
    unicode::append_utf8(spelling, kByteAlphabet[b]);
    const auto it = bpe->vocab_.find(spelling);
    bpe->byte_id_[b] = it == bpe->vocab_.end() ? -1 : it->second;
    if (bpe->byte_id_[b] < 0) missing.push_back(b);
  }
  if (missing.size() > 128) {
    throw ModelFileError(fmt::format(
        "not a byte-level BPE vocab: no token for {} of the 256 bytes (e.g. 0x{:02X})", missing.size(),
        missing.front()));
  }
  if (!missing.empty() && is_set(model, "unk_token")) {
    throw ModelFileError(fmt::format(
        "unsupported BPE unk_token with a vocab lacking byte tokens (no token for byte 0x{:02X}; HF "
        "would emit the unk_token there)", missing.front()));
  }

  const json& merges = model.at("merges");
  bpe->merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto [left, right] = parse_merge(merges[rank], rank);
    const auto id_of = [&](const std::string& token) {
      const auto it = bpe->vocab_.find(token);
      if (it == bpe->vocab_.end()) {
        throw ModelFileError(fmt::format("BPE merge #{} '{} {}': token '{}' is not in the vocab",
                                         rank, left, right, token));
      }
      return it->second;
    };
    const int32_t left_id = id_of(left), right_id = id_of(right), merged_id = id_of(left + right);
    // As in HF, a repeated pair takes the rank of its last occurrence.
    bpe->merges_[pair_key(left_id, right_id)] = Merge{static_cast<int32_t>(rank), merged_id};
  }
  return bpe;
}

std::optional<std::string_view> BpeModel::token_bytes(int32_t id) const {
  if (id < 0 || id >= id_limit() || !id_bytes_[id]) return std::nullopt;
  return std::string_view(*id_bytes_[id]);
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  const auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

// Applies merges lowest rank first (leftmost first among equal ranks), as HF's BPE does: a
// doubly linked list of symbols and a min-heap of candidate pairs; a candidate whose symbols
// changed since it was pushed is stale and skipped. O(n log n) for long pieces.
void BpeModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.size() == 1) {
    if (const int32_t id = byte_id_[static_cast<uint8_t>(piece[0])]; id >= 0) out.push_back(id);
    return;
  }
  if (ignore_merges_) {
    if (const auto it = whole_piece_ids_.find(piece); it != whole_piece_ids_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  struct Symbol {
    int32_t id;     // -1 once merged into its left neighbour
    int32_t prev;   // index of the previous live symbol, or -1
    int32_t next;   // index of the next live symbol, or -1
  };
  struct Candidate {
    int32_t rank;
    int32_t pos;     // index of the left symbol (symbol indices grow left to right)
    int32_t left;    // ids expected at pos and at its next symbol
    int32_t right;
    int32_t merged;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;
  // Bytes without a token are dropped, as HF drops unknown characters when there is no
  // unk_token; the bytes around them become neighbours and may merge.
  symbols.clear();
  for (char byte : piece) {
    if (const int32_t id = byte_id_[static_cast<uint8_t>(byte)]; id >= 0) {
      symbols.push_back(Symbol{id, static_cast<int32_t>(symbols.size()) - 1, -1});
    }
  }
  const auto n = static_cast<int32_t>(symbols.size());
  if (n == 0) return;
  for (int32_t i = 0; i + 1 < n; ++i) symbols[i].next = i + 1;
  heap.clear();
  const auto push_candidate = [&](int32_t pos) {
    const int32_t next = symbols[pos].next;
    if (next < 0) return;
    const auto it = merges_.find(pair_key(symbols[pos].id, symbols[next].id));
    if (it == merges_.end()) return;
    heap.push_back(Candidate{it->second.rank, pos, symbols[pos].id, symbols[next].id, it->second.id});
    std::push_heap(heap.begin(), heap.end(), std::greater<>{});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_candidate(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& left = symbols[c.pos];
    if (left.id != c.left || left.next < 0 || symbols[left.next].id != c.right) continue;
    Symbol& right = symbols[left.next];
    left.id = c.merged;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.pos;
    right.id = -1;
    if (left.prev >= 0) push_candidate(left.prev);
    push_candidate(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
}

}  // namespace yardstick
