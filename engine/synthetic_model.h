// Synthetic models: the DeepSeek LLM shapes (and a tiny one for CPU tests) as config.json would
// say them, in this one table that `yardstick bench`, `synth-model` and `run --model synthetic:*`
// all read, and deterministic random weights of any such shape made in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/model_config.h"
#include "engine/tensor.h"
#include "engine/weights.h"

namespace yardstick {

// config.json of a synthetic model. spec: "tiny" (hidden 64, 2 layers: quick on a CPU), "7b",
// "67b" (DeepSeek LLM, shared/reference/config), or comma-separated key=value pairs over a preset
// named first, else over 7b: "layers=2,hidden=1024" or "tiny,layers=4". Keys: layers, hidden,
// ffn, heads, kv_heads, head_dim, vocab, ctx. Throws InputError naming the bad part.
nlohmann::json synthetic_config(const std::string& spec);

// One tensor of a synthetic checkpoint and how its values are drawn.
struct SyntheticTensor {
  std::string name;
  std::vector<int64_t> shape;
  enum class Init { Normal, Ones } init = Init::Normal;
  float stddev = 0.02f;
  int64_t zero_rows_from = -1;   // rows >= this are zero (-1: none)
  int64_t zero_row = -1;         // one more zero row (-1: none)

  int64_t numel() const;
};

// The tensors of cfg in HF LlamaForCausalLM order. Weights are N(0, 0.02), norms 1; lm_head is
// drawn wider (logits spread by ~2 nats, so greedy picks are decisive) and its rows from
// text_vocab on and the row `bos` (-1: none) are zero, so generation emits text.
std::vector<SyntheticTensor> synthetic_tensors(const ModelConfig& cfg, int64_t text_vocab, int64_t bos);

// A tensor's values from a generator seeded by (seed, tensor name, chunk): the same for any
// thread count and shard layout, identical on every platform. Filled on all cores.
std::vector<std::byte> synthetic_tensor_bytes(const SyntheticTensor& t, uint64_t seed, DType dtype);

// Every tensor of cfg, in memory (values rounded to `dtype`, as a checkpoint of that dtype would
// hold them), checked against cfg. label names them in errors ("synthetic:tiny").
Weights synthetic_weights(const ModelConfig& cfg, uint64_t seed, int64_t text_vocab, int64_t bos, DType dtype,
                          const std::string& label);

}  // namespace yardstick
