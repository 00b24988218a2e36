// A DeepSeek-architecture (LlamaForCausalLM) model directory with deterministic random weights:
// config.json, generation_config.json, the tokenizer files, and safetensors (sharded with an
// index above a size limit, so a 7B/67B shape is written a shard at a time). For CPU tests and
// demos (`tiny`) and for measuring performance at real shapes without downloading a checkpoint.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "engine/tensor.h"

namespace yardstick {

struct SynthShape {
  int hidden = 64;
  int layers = 2;
  int heads = 4;
  int kv_heads = 2;
  int intermediate = 172;
  int vocab = 102400;
  int max_positions = 4096;
};

// "tiny" (the default above: quick on a CPU), "7b", "67b" (the DeepSeek LLM shapes). Throws
// InputError for another name.
SynthShape synth_preset(const std::string& name);

struct SynthOptions {
  std::filesystem::path out;
  SynthShape shape;
  uint64_t seed = 0;
  DType dtype = DType::BF16;
  // A tokenizer.json or a directory holding one; nullopt: no tokenizer (an ids-only model).
  std::optional<std::filesystem::path> tokenizer;
  bool chat = false;                        // copy the chat tokenizer_config (with the chat template)
  uint64_t shard_bytes = 2ull << 30;        // split weights into files of about this size
};

// The reference tokenizer folder (../shared/reference/tokenizer beside the checkout, or beside
// the data directory). Throws Error naming the places tried.
std::filesystem::path default_tokenizer_dir();

// Writes the model into options.out (created; existing model files are replaced). Weights are
// N(0, 0.02) per tensor from a generator seeded by (seed, tensor name), so any shard layout gives
// the same values; norms are 1. So the tiny model is not degenerate, lm_head is drawn wider (its
// logits spread by ~2 nats instead of ~0.2, so greedy picks are decisive, not near-ties) and its
// rows for ids the tokenizer never produces (BOS, padding up to vocab) are zero, so generation
// emits text. Throws Error/InputError naming the problem.
void write_synth_model(const SynthOptions& options);

}  // namespace yardstick
