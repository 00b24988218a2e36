// Hugging Face tokenizer.json, byte-level BPE as DeepSeek LLM, GPT-2, SmolLM, Llama-3 and Qwen2
// use it: added/special tokens matched in the raw text first, then the NFC normalizer (Qwen2,
// GPT-NeoX; none for the others), the pre-tokenizer sequence
// (Split(Isolated), Digits, ByteLevel with its prefix space and GPT-2 regex), and BPE merges by
// rank. Reproduces HF `tokenizers` encode(add_special_tokens=False), and the post-processor's
// special tokens (encode_with_special_tokens): the pipeline the tokenizer.json describes, which
// transformers 4 and transformers 5's TokenizersBackend run. transformers 5's model classes
// (GPT2Tokenizer, Qwen2Tokenizer, RobertaTokenizer, ...; checked with 5.24) instead rebuild the
// pre-tokenizer from their own definition and take only vocab and merges from the file (SmolLM2's
// tokenizer_class GPT2Tokenizer loses its Digits step there: "  1234" differs); yardstick follows
// the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace yardstick {

class Tokenizer {
 public:
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // path: a tokenizer.json, or a model directory holding one (tokenizer_config.json beside
  // it, when present, names the BOS/EOS tokens); or a GGUF model (a .gguf file, or a directory
  // holding one and no config.json), whose tokenizer.ggml.* metadata is read
  // (engine/gguf_tokenizer.h). Throws ModelFileError naming the file.
  static Tokenizer from_file(const std::filesystem::path& path);
  // True when `dir` (a model directory) has a tokenizer.json, or names a GGUF model with
  // tokenizer.ggml.tokens.
  static bool present_in(const std::filesystem::path& dir);

  // Text -> ids, no BOS added (HF encode(text, add_special_tokens=False)).
  std::vector<int32_t> encode(std::string_view text) const;
  // special_prefix() + encode(text) + special_suffix(): HF encode(text), what a model is given.
  std::vector<int32_t> encode_with_special_tokens(std::string_view text) const;
  // The ids HF adds before / after one encoded text: the tokenizer.json post-processor's
  // (TemplateProcessing, RobertaProcessing, BertProcessing, Sequence; ByteLevel and none add
  // nothing), as transformers 5 gives them: tokenizer_config.json's add_bos_token and
  // add_eos_token change nothing. DeepSeek: [BOS] and []; GPT-2, SmolLM2, Qwen2: none; Llama-3:
  // [<|begin_of_text|>] and [].
  std::span<const int32_t> special_prefix() const;
  std::span<const int32_t> special_suffix() const;
  // Ids -> text (byte-level decode; invalid UTF-8 is replaced by U+FFFD as HF does; ids the
  // tokenizer does not know are skipped). Special tokens are kept. One deliberate difference
  // from HF `tokenizers` (checked with 0.23.2): an added token decodes to its content. HF passes added tokens through the ByteLevel decoder too, so DeepSeek's 13
  // single-character added tokens (e.g. ü = 100014), whose characters are also images of
  // non-UTF-8 bytes, come out as U+FFFD ("Führer" -> "F<U+FFFD>hrer"); here
  // decode(encode(x)) == x holds for all text.
  std::string decode(std::span<const int32_t> ids) const;
  // The raw bytes a token stands for (added tokens: their content).
  std::string token_bytes(int32_t id) const;

  int32_t vocab_size() const;                // number of ids the tokenizer knows
  std::optional<int32_t> bos_id() const;
  std::optional<int32_t> eos_id() const;
  std::optional<int32_t> token_to_id(std::string_view token) const;   // vocab or added
  std::string bos_token() const;             // "" when none
  std::string eos_token() const;

 private:
  Tokenizer();
  // tokenizer: a tokenizer.json's content, from `file`; config (may be null): a
  // tokenizer_config.json's, from `config_file`.
  static Tokenizer from_json(const nlohmann::json& tokenizer, const std::filesystem::path& file,
                             const nlohmann::json* config, const std::filesystem::path& config_file);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Turns a stream of ids into text, holding back bytes that don't yet form complete UTF-8,
// so that every returned piece is valid UTF-8 and the concatenation equals decode(all ids).
class IncrementalDecoder {
 public:
  explicit IncrementalDecoder(const Tokenizer& tok) : tok_(&tok) {}
  std::string push(int32_t id);   // newly completed text (may be empty)
  std::string flush();            // whatever is held back (incomplete UTF-8 -> U+FFFD)

 private:
  const Tokenizer* tok_;
  std::string pending_;
};

// The DeepSeek chat template (shared/reference/tokenizer/chat_template.jinja), rendered; any
// other template: engine/chat_template.h.
struct ChatMessage {
  std::string role;     // "system" | "user" | "assistant"
  std::string content;
};
std::string render_chat(std::span<const ChatMessage> messages, std::string_view bos_token,
                        std::string_view eos_token, bool add_generation_prompt);

}  // namespace yardstick
