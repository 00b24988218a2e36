// The tokenizer a GGUF carries in its tokenizer.ggml.* metadata (llama.cpp's byte-level BPE,
// tokenizer.ggml.model "gpt2"), restated as the Hugging Face tokenizer.json and
// tokenizer_config.json it stands for, so that one tokenizer implementation serves both: tokens
// (NORMAL/BYTE ones form the BPE vocabulary; CONTROL and USER_DEFINED ones are added tokens,
// CONTROL ones special), merges, the pre-tokenizer that tokenizer.ggml.pre names, BOS/EOS/padding,
// add_bos_token and the chat template.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/gguf.h"

namespace yardstick {

struct GgufTokenizerFiles {
  nlohmann::json tokenizer;   // as tokenizer.json: model (BPE vocab, merges), added_tokens, pre_tokenizer, decoder
  nlohmann::json config;      // as tokenizer_config.json: bos_token, eos_token, pad_token, unk_token,
                              // add_bos_token, add_eos_token, chat_template (each when the file has it)
};

// The pre-tokenizer names this engine knows (tokenizer.ggml.pre): "default" and "gpt-2" (the GPT-2
// regex), "smollm" (single digits, then the GPT-2 regex), "deepseek-llm", "llama-bpe" (Llama 3),
// "qwen2" (Qwen2, with its NFC normalizer).
bool gguf_known_pre_tokenizer(std::string_view pre);

// nullopt when the file has no tokenizer.ggml.tokens. Throws ModelFileError naming the file and
// the key for another tokenizer model ("llama" is SentencePiece), an unknown pre-tokenizer name,
// merges or token types that don't fit the tokens, or a special token id outside them.
std::optional<GgufTokenizerFiles> gguf_tokenizer_files(const GgufFile& file);

// tokenizer.chat_template, the model's own Jinja chat template as HF would read it from
// tokenizer_config.json; nullopt when absent. (The seam the chat-template renderer reads a GGUF
// model's template through.) Throws ModelFileError when the key holds no string.
std::optional<std::string> gguf_chat_template(const GgufFile& file);

}  // namespace yardstick
