// The engine: serves generate_until and loglikelihood requests over a Backend. Knows nothing
// of tasks or storage; results are handed back through a callback as each request finishes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "engine/backend.h"
#include "engine/requests.h"
#include "engine/tokenizer.h"

namespace yardstick {

struct EngineOptions {
  int max_batch = 16;            // sequences advanced together per forward call
  int max_prefill_tokens = 512;  // prompt tokens fed per forward call, over all sequences
};

// Counters over the engine's lifetime, cheap to read between calls (progress, diagnostics).
struct EngineStats {
  int64_t steps = 0;         // forward calls
  int64_t preemptions = 0;   // sequences closed to free KV memory, their work resumed later
  int64_t prefill_tokens = 0;   // tokens computed in chunks of 2+ tokens (prompts, contexts)
  int64_t cached_tokens = 0;    // prompt tokens attached from the prefix cache instead
  int64_t decode_tokens = 0;    // tokens computed one per sequence (generated tokens fed back)
  double forward_seconds = 0;   // wall time inside Backend::forward_pick
  double prefill_step_seconds = 0;   // of that, in steps that carried a chunk of 2+ tokens
  int64_t prefill_steps = 0;         // steps that carried a chunk of 2+ tokens
  double host_seconds = 0;      // scheduling between forward calls (the engine's own work,
                                // callbacks included)
  PrefixCacheStats prefix_cache;   // the backend's, as of the last call
  // Share of prompt tokens served by the prefix cache.
  double prefix_hit_rate() const {
    const int64_t all = prefill_tokens + cached_tokens;
    return all > 0 ? double(cached_tokens) / double(all) : 0.0;
  }
};

class Engine {
 public:
  // tokenizer may be null: then requests must use ids and may not have stop strings.
  Engine(std::unique_ptr<Backend> backend, const Tokenizer* tokenizer, EngineOptions options = {});
  ~Engine();

  const ModelConfig& config() const;
  Backend& backend();

  using GenerateCallback = std::function<void(size_t index, GenerateResult result)>;
  using LoglikelihoodCallback = std::function<void(size_t index, LoglikelihoodResult result)>;

  // Each request's result goes to on_done as soon as it is complete (any order). A request
  // that can't be served (too long for the context) gets Completion::error, and the others
  // go on.
  void generate(std::span<const GenerateRequest> requests, const GenerateCallback& on_done);
  void loglikelihood(std::span<const LoglikelihoodRequest> requests,
                     const LoglikelihoodCallback& on_done);

  // Conveniences that collect the results in input order.
  std::vector<GenerateResult> generate(std::span<const GenerateRequest> requests);
  std::vector<LoglikelihoodResult> loglikelihood(std::span<const LoglikelihoodRequest> requests);

  const EngineStats& stats() const { return stats_; }

 private:
  std::unique_ptr<Backend> backend_;
  const Tokenizer* tokenizer_;
  EngineOptions options_;
  EngineStats stats_;
};

}  // namespace yardstick
