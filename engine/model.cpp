#include "engine/model.h"

#include <fmt/core.h>

#include "engine/cpu_backend.h"
#include "engine/error.h"
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

LoadedModel open_model(const std::filesystem::path& dir, const ModelOptions& options) {
  LoadedModel m;
  m.dir = dir;
  m.config = load_model_config(dir);
  if (Tokenizer::present_in(dir))
    m.tokenizer = std::make_unique<Tokenizer>(Tokenizer::from_file(dir));

  std::unique_ptr<Backend> backend;
  switch (options.backend) {
    case BackendKind::Cpu: {
      CpuBackendOptions cpu;
      cpu.threads = options.threads;
      cpu.prefix_cache = options.prefix_cache;
      backend = std::make_unique<CpuBackend>(m.config, Weights::load(dir, m.config), cpu);
      break;
    }
    case BackendKind::Cuda:
#ifdef YARDSTICK_HAVE_CUDA
      backend = make_cuda_backend(m.config, Weights::load(dir, m.config), options);
      break;
#else
      throw InputError(
          "the cuda backend was asked for, but this yardstick was built without CUDA "
          "(configure with -DYARDSTICK_CUDA=ON on a machine with nvcc)");
#endif
  }
  EngineOptions engine_options;
  engine_options.max_batch = options.max_batch;
  // Prompt tokens per step: the GPU's matrix units want long chunks (and with shared prefixes
  // cached, only each prompt's own tail is computed); the CPU gains nothing from them.
  if (options.max_prefill_tokens > 0) engine_options.max_prefill_tokens = options.max_prefill_tokens;
  else if (options.backend == BackendKind::Cuda) engine_options.max_prefill_tokens = 2048;
  m.engine = std::make_unique<Engine>(std::move(backend), m.tokenizer.get(), engine_options);
  return m;
}

}  // namespace yardstick
