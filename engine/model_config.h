// The shapes of a LlamaForCausalLM-family model, read from a Hugging Face model directory.
// Immutable once loaded.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace yardstick {

class GgufFile;

struct ModelConfig {
  std::string architecture;          // "LlamaForCausalLM"
  int hidden_size = 0;               // C
  int intermediate_size = 0;         // FFN width
  int num_layers = 0;                // L
  int num_heads = 0;                 // NH (query heads)
  int num_kv_heads = 0;              // NKV (== NH for MHA)
  int head_dim = 0;                  // HD (hidden_size / num_heads unless config says otherwise)
  int vocab_size = 0;                // V (embedding rows, 102400 for DeepSeek LLM)
  int max_position_embeddings = 0;   // context window
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  std::string torch_dtype;           // as declared ("bfloat16", ...), informational

  // Special tokens, resolved with generation_config.json / tokenizer_config.json taking
  // precedence over config.json (DeepSeek's base config.json says bos=1/eos=2: wrong).
  int32_t bos_token_id = -1;         // -1: none
  std::vector<int32_t> eos_token_ids;

  bool is_eos(int32_t id) const;
};

// Parses config.json's JSON. Throws ModelFileError naming `source` for anything unsupported
// (another architecture, RoPE scaling, missing fields).
ModelConfig parse_model_config(const nlohmann::json& config, const std::string& source);

// The config of a GGUF model (general.architecture "llama": Llama, Mistral-style and DeepSeek
// LLM conversions): {arch}.block_count, embedding_length, feed_forward_length,
// attention.head_count(_kv), attention.key_length, attention.layer_norm_rms_epsilon,
// rope.freq_base, rope.dimension_count, context_length; the vocabulary size from the rows of
// token_embd.weight (tokenizer.ggml.tokens may not be longer, {arch}.vocab_size must equal it);
// tied embeddings when output.weight is absent;
// tokenizer.ggml.bos_token_id / eos_token_id. Throws ModelFileError naming the file and the key
// for anything unsupported (another architecture, RoPE scaling, experts, a missing key).
ModelConfig gguf_model_config(const GgufFile& file);

// The config as HF's config.json spells it (for run records of models that have no config.json).
nlohmann::json model_config_json(const ModelConfig& c);

// Reads DIR/config.json and, where present, DIR/generation_config.json and
// DIR/tokenizer_config.json for the special token ids. `model` may also be a .gguf file or a
// directory holding one and no config.json (see gguf_model_file): then the GGUF metadata.
ModelConfig load_model_config(const std::filesystem::path& model);

}  // namespace yardstick
