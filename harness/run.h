// `yardstick run`: plan (tasks x docs x samples), skip what the database already has, generate
// the rest in batches, grade each output and store it with its verdicts as it finishes, then
// compute the metrics. Re-running the same configuration resumes; a different configuration
// under an existing run name is refused. `rescore` re-grades stored outputs without an engine.
#pragma once

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

struct RunOptions {
  std::string model;                               // a model directory, or kGoldModel
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
  BackendKind backend = BackendKind::Cpu;
  int threads = 0;
  int max_batch = 16;
  bool rescore = false;
  // Where Linux namespaces can't be set up, execute model-written code (humaneval, mbpp) without
  // them instead of refusing (docs/sandbox.md says what is then left of the isolation).
  bool allow_unsandboxed = false;
};

struct RunOutcome {
  std::string run_name;
  bool created = false;            // a new run (else resumed or re-scored)
  int64_t planned = 0;             // samples in the plan
  int64_t already_done = 0;        // found in the database and skipped
  int64_t written = 0;             // generated (or re-graded) now
  int64_t generated_tokens = 0;
  double load_seconds = 0.0;       // opening the model (0 for --model gold)
  double generate_seconds = 0.0;   // wall time of the generation phase, loading excluded
  int64_t engine_steps = 0;        // forward calls of the engine (0 for --model gold)
  int64_t preemptions = 0;         // sequences the engine closed to free KV memory and resumed later
  std::vector<MetricRecord> metrics;
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
