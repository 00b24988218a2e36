// `yardstick run`: check everything cheap (model configs, tasks, data), then hash the weights while
// the model loads; plan (tasks x docs x samples), skip what the database already has, hand the rest
// to the engine in one call, grade and store each output with its verdicts on a writer thread as
// it finishes, then compute the metrics. Re-running the same configuration resumes; a different configuration
// under an existing run name is refused. `rescore` re-grades stored outputs without an engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/model.h"
#include "harness/store.h"
#include "tasks/task_spec.h"

namespace yardstick {

// The built-in model that answers every doc with the dataset's reference solution: a check of
// the prompt -> store -> grade -> report path that needs no weights (its accuracy must be ~100%).
inline constexpr const char* kGoldModel = "gold";

// "--model synthetic:SPEC[:seed=N]": random weights of a synthetic_config(SPEC) shape made in
// memory (engine/model.h open_synthetic_model), for measuring the real workloads at 7B/67B
// shapes without a checkpoint. Its outputs are noise; its timings are the point.
inline constexpr const char* kSyntheticPrefix = "synthetic:";

struct RunOptions {
  std::string model;                               // a model directory, kGoldModel or synthetic:SPEC
  std::string tokenizer;                           // synthetic models: tokenizer.json or its folder
                                                   // ("" : the reference DeepSeek tokenizer)
  std::vector<std::string> tasks;                  // task names (configs/tasks/<name>.json) or .json paths
  std::filesystem::path db;
  std::optional<int64_t> limit;                    // the first N docs of each task
  std::optional<std::filesystem::path> data_dir;   // else resolve_data_dir()'s rules
  std::string run_name;                            // "" : derived from the model, tasks and config
  uint64_t seed = 0;
  std::optional<int> shots;                        // else the task's default for the style
  std::map<std::string, int> task_shots;           // per task name, before `shots` (a suite's protocol)
  std::string suite;                               // "name vN" of the suite the tasks come from, or ""
  std::optional<PromptStyle> style;                // else chat iff the tokenizer has a chat template
  std::optional<int> max_new_tokens;               // else the task's
  std::optional<int> cap_new_tokens;               // at most this many, below the task's (or --max-new-tokens') limit
  BackendKind backend = BackendKind::Cpu;
  int threads = 0;
  int max_batch = 16;
  // Engine settings that change speed, never results (so they are not in the run's identity).
  bool prefix_cache = true;
  int max_prefill_tokens = 0;                      // 0: the backend's default
  bool rescore = false;
  // Where Linux namespaces can't be set up, execute model-written code (humaneval, mbpp) without
  // them instead of refusing (docs/sandbox.md says what is then left of the isolation).
  bool allow_unsandboxed = false;
  // When the command started: the outcome's wall and first-result times count from here.
  std::chrono::steady_clock::time_point started_at = std::chrono::steady_clock::now();
};

struct RunOutcome {
  std::string run_name;
  bool created = false;            // a new run (else resumed or re-scored)
  int64_t planned = 0;             // samples in the plan
  int64_t already_done = 0;        // found in the database and skipped
  int64_t written = 0;             // generated (or re-graded) now
  int64_t generated_tokens = 0;    // output tokens of the samples written now
  double load_seconds = 0.0;       // opening the model (0 for --model gold)
  double hash_wait_seconds = 0.0;  // waiting for the weights' sha256 after the model was open
                                   // (hashing runs alongside loading; 0 when cached)
  bool weights_hashed = false;     // false: a synthetic or gold model, or every digest was cached
  double generate_seconds = 0.0;   // wall time of the generation phase, loading excluded
  double first_result_seconds = 0.0;   // from started_at to the first finished sample (0: none)
  double engine_start_seconds = 0.0;   // from started_at to the prompts going to the engine (0: none)
  double release_seconds = 0.0;    // freeing the model (the device's memory) after the engine
  double wall_seconds = 0.0;       // from started_at to the metrics being stored
  // The engine's counters (engine/engine.h EngineStats; 0 for --model gold).
  int64_t engine_steps = 0;        // forward calls of the engine
  int64_t preemptions = 0;         // sequences the engine closed to free KV memory and resumed later
  int64_t prefill_tokens = 0;      // prompt tokens computed in multi-token chunks
  int64_t cached_tokens = 0;       // prompt tokens attached from the prefix cache instead
  int64_t decode_tokens = 0;       // tokens computed one per sequence
  double forward_seconds = 0.0;    // inside the backend's forward calls
  double prefill_step_seconds = 0.0;   // of that, in steps carrying a prompt chunk
  double host_seconds = 0.0;       // the engine's own work between forward calls
  double prefix_hit_rate = 0.0;    // cached / (prefill + cached) prompt tokens
  int64_t prefix_blocks_reused = 0;
  std::vector<MetricRecord> metrics;

  // Prompt tokens per second in steps that carried a prompt chunk, and tokens per second in the
  // rest: decode tokens of mixed steps are counted as decode but their time as prefill, so with
  // chunked prefill mixed into decode steps the prefill rate is a lower bound and the decode
  // rate an upper one. 0 when there was no such time.
  double prefill_tokens_per_second() const;
  double decode_tokens_per_second() const;
};

// Where configs/tasks lives: the first checkout candidate that has it.
std::filesystem::path default_tasks_dir();

// The engine build that goes into the run record.
std::string engine_build_string(const std::string& backend);

// `log` gets human-readable notes and the progress line (stderr in the CLI; never stdout).
// Throws Error (InputError for a refused resume or bad options) with a message for the user.
RunOutcome run_benchmarks(const RunOptions& options, std::FILE* log);

// Recomputes and stores a run's metrics from its verdicts (per task and scorer: accuracy with a
// 95% Wilson interval over every stored sample of the task).
std::vector<MetricRecord> compute_metrics(Store& store, int64_t run_id);

}  // namespace yardstick
