// The added tokens of a HF tokenizer.json (special tokens and user-added ones). HF matches them
// in the raw text before any pre-tokenization, leftmost-longest, so they win over BPE even
// inside words: DeepSeek's 13 single-character added tokens turn "Führer" into
// F, ü (100014), h, rer. Tokens with normalized=false are matched first, then those with
// normalized=true on the text between them (after the normalizer, when there is one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yardstick {

struct AddedToken {
  int32_t id;
  std::string content;
  bool special;
  bool normalized;
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  explicit AddedVocabulary(std::vector<AddedToken> tokens);

  struct Segment {
    std::string_view text;
    std::optional<int32_t> token;   // the added token this segment is; nullopt: plain text
  };
  // Replaces `out` by the segments of `text`, in order, together covering it (both passes; for
  // a tokenizer without a normalizer).
  void split(std::string_view text, std::vector<Segment>& out) const;
  // The two passes one at a time, appending to `out`: the normalized=false tokens in the raw
  // text, and the normalized=true ones in a plain segment of it after normalization.
  void split_raw(std::string_view text, std::vector<Segment>& out) const { split_pass(raw_pass_, text, out); }
  void split_normalized(std::string_view text, std::vector<Segment>& out) const {
    split_pass(normalized_pass_, text, out);
  }

  const std::vector<AddedToken>& tokens() const { return tokens_; }
  const AddedToken* find(std::string_view content) const;
  const AddedToken* find(int32_t id) const;

 private:
  // One matching pass over a set of tokens: indices into tokens_ by first byte, longest first.
  struct Pass {
    std::vector<uint32_t> by_first_byte[256];
    bool empty = true;
  };
  void split_pass(const Pass& pass, std::string_view text, std::vector<Segment>& out) const;

  std::vector<AddedToken> tokens_;
  Pass raw_pass_;          // normalized=false
  Pass normalized_pass_;   // normalized=true
};

}  // namespace yardstick
