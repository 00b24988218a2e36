// The pre-tokenizer of a HF tokenizer.json: cuts text into the pieces that BPE encodes one by
// one. Supported: Sequence of Split(Regex|String, behavior=Isolated, invert=false),
// Digits(individual_digits) and a final ByteLevel(add_prefix_space, use_regex) -- the chains of
// DeepSeek LLM, GPT-2, SmolLM, Llama-3, Qwen2 and RoBERTa. Each step runs on every piece the
// previous step produced, as in HF. Oniguruma patterns run on RE2 (engine/onig_regex.h); the one
// look-ahead these families use, a trailing \s+(?!\S)|\s+, is emulated (see split_regex).
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace yardstick {

class PreTokenizer {
 public:
  // config: the "pre_tokenizer" object. Throws ModelFileError (without a file name; the caller
  // adds it) naming what is unsupported.
  static PreTokenizer from_json(const nlohmann::json& config);

  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // The number of splitting steps (a ByteLevel that neither adds a prefix space nor splits is
  // not one: it only maps bytes).
  size_t step_count() const { return steps_.size(); }
  // ByteLevel(add_prefix_space=true): step `step` is to be given each piece with a ' ' before
  // it, unless it starts with one (the caller owns that new text; pieces are views).
  bool adds_prefix_space(size_t step) const;
  // Appends to `out` the pieces step `step` cuts `piece` into: non-empty, in order, together
  // covering `piece`. Each piece is cut by every later step independently of its neighbours,
  // so what a piece becomes depends on its text alone (which makes it cacheable).
  void split_step(size_t step, std::string_view piece, std::vector<std::string_view>& out) const;

 private:
  PreTokenizer();
  struct Step;
  std::vector<std::unique_ptr<Step>> steps_;
};

}  // namespace yardstick
