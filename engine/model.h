// Opening a model directory: config, weights, tokenizer (when present) and a backend, wrapped in
// an Engine. The one entry point the harness and the CLI tools use.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

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
  std::filesystem::path dir;
  ModelConfig config;
  std::unique_ptr<Tokenizer> tokenizer;   // null when the directory has no tokenizer.json
  std::unique_ptr<Engine> engine;
};

// Throws ModelFileError naming the file and the problem.
LoadedModel open_model(const std::filesystem::path& dir, const ModelOptions& options);

}  // namespace yardstick
