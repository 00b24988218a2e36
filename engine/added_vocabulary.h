// The added tokens of a HF tokenizer.json (special tokens and user-added ones). HF matches them
// in the raw text before any pre-tokenization, leftmost-longest, so they win over BPE even
// inside words: DeepSeek's 13 single-character added tokens turn "Führer" into
// F, ü (100014), h, rer. Tokens with normalized=false are matched first, then those with
// normalized=true on the text between them (there is no normalizer, so both see the same text).
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
  // Replaces `out` by the segments of `text`, in order, together covering it.
  void split(std::string_view text, std::vector<Segment>& out) const;

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
