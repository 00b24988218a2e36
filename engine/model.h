// Opening a model directory: config, weights, tokenizer (when present) and a backend, wrapped in
// an Engine. The one entry point the harness and the CLI tools use.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "engine/engine.h"
#include "engine/model_config.h"
#include "engine/tokenizer.h"

namespace yardstick {

enum class BackendKind { Cpu, Cuda };
BackendKind parse_backend_kind(const std::string& name);   // "cpu" | "cuda"; throws InputError

struct ModelOptions {
  BackendKind backend = BackendKind::Cpu;
  int threads = 0;      // CPU backend worker threads; 0 = all cores
  int max_batch = 16;   // sequences advanced together
  bool prefix_cache = true;     // keep and reuse the KV state of shared prompt prefixes
  int max_prefill_tokens = 0;   // prompt tokens per forward call; 0: the backend's default
};

struct LoadedModel {
  std::filesystem::path dir;   // empty for a synthetic model
  ModelConfig config;
  // Null when the directory has no tokenizer.json, or has one that cannot be loaded: ids need
  // no tokenizer, so a tokenizer problem surfaces only where text is encoded or decoded.
  std::unique_ptr<Tokenizer> tokenizer;
  std::string tokenizer_error;   // why `tokenizer` is null despite a tokenizer.json; "" otherwise

  // "<what> need a tokenizer, and ...": why there is none (no tokenizer.json, or its load error).
  std::string no_tokenizer_reason(std::string_view what) const;
  std::unique_ptr<Engine> engine;
};

// Throws ModelFileError naming the file and the problem.
LoadedModel open_model(const std::filesystem::path& dir, const ModelOptions& options);

// A model of a synthetic_config(spec) shape (engine/synthetic_model.h: "tiny", "7b", "67b" or
// key=value pairs) with random weights made in memory, nothing read from disk but the tokenizer:
// on the CPU deterministic f32 weights (bf16-rounded, the values `yardstick synth-model` writes
// for the same spec, seed and tokenizer); on CUDA random bf16 weights generated on the device
// (CudaBackend::synthetic; other values than the CPU's). tokenizer: a tokenizer.json or a folder
// holding one; its vocabulary must fit the spec's. Throws InputError for a bad spec,
// ModelFileError for the tokenizer.
LoadedModel open_synthetic_model(const std::string& spec, uint64_t seed, const std::filesystem::path& tokenizer,
                                 const ModelOptions& options);

// "synthetic:<spec>:seed=<seed>:<backend>": names a synthetic model's weights in place of a
// digest (the CPU and CUDA generators make different values, so the backend is part of it).
std::string synthetic_weights_id(const std::string& spec, uint64_t seed, BackendKind backend);

}  // namespace yardstick
