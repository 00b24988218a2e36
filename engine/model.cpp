#include "engine/model.h"

#include <fmt/core.h>

#include "engine/cpu_backend.h"
#include "engine/error.h"
#include "engine/synthetic_model.h"
#include "engine/weights.h"
#ifdef YARDSTICK_HAVE_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace yardstick {

BackendKind parse_backend_kind(const std::string& name) {
  if (name == "cpu") return BackendKind::Cpu;
  if (name == "cuda") return BackendKind::Cuda;
  throw InputError(fmt::format("unknown backend '{}' (expected 'cpu' or 'cuda')", name));
}

namespace {

std::unique_ptr<Engine> make_engine(std::unique_ptr<Backend> backend, const Tokenizer* tokenizer,
                                    const ModelOptions& options) {
  EngineOptions engine_options;
  engine_options.max_batch = options.max_batch;
  // Prompt tokens per step: the GPU's matrix units want long chunks (and with shared prefixes
  // cached, only each prompt's own tail is computed); the CPU gains nothing from them.
  if (options.max_prefill_tokens > 0) engine_options.max_prefill_tokens = options.max_prefill_tokens;
  else if (options.backend == BackendKind::Cuda) engine_options.max_prefill_tokens = 2048;
  return std::make_unique<Engine>(std::move(backend), tokenizer, engine_options);
}

CpuBackendOptions cpu_options(const ModelOptions& options) {
  CpuBackendOptions cpu;
  cpu.threads = options.threads;
  cpu.prefix_cache = options.prefix_cache;
  return cpu;
}

#ifndef YARDSTICK_HAVE_CUDA

[[noreturn]] void no_cuda() {
  throw InputError(
      "the cuda backend was asked for, but this yardstick was built without CUDA "
      "(configure with -DYARDSTICK_CUDA=ON on a machine with nvcc)");
}
#endif

}  // namespace

LoadedModel open_model(const std::filesystem::path& dir, const ModelOptions& options) {
  LoadedModel m;
  m.dir = dir;
  m.config = load_model_config(dir);
  if (Tokenizer::present_in(dir)) {
    try {
      m.tokenizer = std::make_unique<Tokenizer>(Tokenizer::from_file(dir));
    } catch (const ModelFileError& e) {
      m.tokenizer_error = e.what();
    }
  }

  std::unique_ptr<Backend> backend;
  switch (options.backend) {
    case BackendKind::Cpu: {
      backend = std::make_unique<CpuBackend>(m.config, Weights::load(dir, m.config), cpu_options(options));
      break;
    }
    case BackendKind::Cuda:
#ifdef YARDSTICK_HAVE_CUDA
      backend = make_cuda_backend(m.config, Weights::load(dir, m.config, DType::BF16), options);
      break;
#else
      no_cuda();
#endif
  }
  m.engine = make_engine(std::move(backend), m.tokenizer.get(), options);
  return m;
}

std::string LoadedModel::no_tokenizer_reason(std::string_view what) const {
  if (!tokenizer_error.empty())
    return fmt::format("{} need a tokenizer, and the model's cannot be loaded: {}", what, tokenizer_error);
  return fmt::format("{} need a tokenizer, and {} has no tokenizer.json", what, dir.string());
}

std::string synthetic_weights_id(const std::string& spec, uint64_t seed, BackendKind backend) {
  return fmt::format("synthetic:{}:seed={}:{}", spec, seed, backend == BackendKind::Cuda ? "cuda" : "cpu");
}

LoadedModel open_synthetic_model(const std::string& spec, uint64_t seed, const std::filesystem::path& tokenizer,
                                 const ModelOptions& options) {
  const std::string label = "synthetic:" + spec;
  LoadedModel m;
  m.config = parse_model_config(synthetic_config(spec), label);
  m.tokenizer = std::make_unique<Tokenizer>(Tokenizer::from_file(tokenizer));
  if (m.tokenizer->vocab_size() > m.config.vocab_size)
    throw InputError(fmt::format("{}: the tokenizer {} knows {} ids but the model's vocabulary is {}", label,
                                 tokenizer.string(), m.tokenizer->vocab_size(), m.config.vocab_size));
  std::unique_ptr<Backend> backend;
  switch (options.backend) {
    case BackendKind::Cpu: {
      // bf16-rounded like the checkpoint synth-model writes; the backend upcasts once.
      Weights w = synthetic_weights(m.config, seed, m.tokenizer->vocab_size(), m.config.bos_token_id, DType::BF16,
                                    label);
      backend = std::make_unique<CpuBackend>(m.config, std::move(w), cpu_options(options));
      break;
    }
    case BackendKind::Cuda:
#ifdef YARDSTICK_HAVE_CUDA
      backend = make_synthetic_cuda_backend(m.config, seed, options);
      break;
#else
      no_cuda();
#endif
  }
  m.engine = make_engine(std::move(backend), m.tokenizer.get(), options);
  return m;
}

}  // namespace yardstick
