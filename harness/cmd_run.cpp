// `yardstick run`: evaluate a model on tasks, storing every sample in SQLite (harness/run.h).
#include <cstdio>

#include <fmt/core.h>

#include "engine/error.h"
#include "harness/commands.h"
#include "harness/run.h"
#include "harness/suite.h"

namespace yardstick::cli {

namespace {

// A suite fixes the tasks, their shots and the prompt style: options that would change them are
// refused rather than silently mixed into a run that claims the paper's protocol.
void apply_suite(const std::string& name, RunOptions& o) {
  if (!o.tasks.empty()) throw InputError("--suite and --tasks can't be combined: the suite lists its tasks");
  if (o.shots) throw InputError("--suite fixes each task's shots; drop --shots");
  Suite suite = find_suite(name, default_suites_dir(), default_tasks_dir());
  if (o.style && *o.style != suite.style)
    throw InputError(fmt::format("suite {} is for {} prompts; drop --style", suite.name, prompt_style_name(suite.style)));
  o.style = suite.style;
  for (const auto& t : suite.tasks) {
    o.tasks.push_back(t.task);
    o.task_shots[t.task] = t.shots;
  }
  o.suite = fmt::format("{} v{}", suite.name, suite.version);
}

}  // namespace

void register_run(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "run", "Run benchmarks on a model; every sample, output and verdict goes to a SQLite database. "
             "Re-running the same command resumes where it stopped.");
  struct Args {
    RunOptions o;
    std::string data_dir;
    std::string style;
    std::string backend = "cpu";
    int64_t limit = -1;
    int shots = -1;
    int max_new_tokens = -1;
    std::string suite;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--model", args->o.model, "Model directory (HF layout), or \"gold\": answers with the reference solutions");
  cmd->add_option("--tasks", args->o.tasks, "Tasks, e.g. gsm8k (configs/tasks/<name>.json) or a task .json file")
      ->delimiter(',');
  cmd->add_option("--suite", args->suite,
                  "A suite (configs/suites/<name>.json, e.g. deepseek-llm-base): its tasks with the paper's shots "
                  "and prompt style; see `yardstick suites`");
  cmd->add_option("--db", args->o.db, "SQLite database file (created if missing; may hold many runs)")->required();
  cmd->add_option("--limit", args->limit, "Only the first N docs of each task");
  cmd->add_option("--data-dir", args->data_dir, "Benchmark data directory (else $YARDSTICK_DATA, else ../shared/datasets)");
  cmd->add_option("--run-name", args->o.run_name, "Name of the run (unique in the database; default: derived from model, tasks and configuration)");
  cmd->add_option("--seed", args->o.seed, "Sampling seed (greedy tasks ignore it)");
  cmd->add_option("--shots", args->shots, "Few-shot exemplars (default: the task's, 8 for gsm8k base models, 0 for chat)");
  cmd->add_option("--style", args->style, "Prompt style: base or chat (default: chat when the tokenizer has a chat template)")
      ->check(CLI::IsMember({"base", "chat"}));
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "Generation limit per sample (default: the task's)");
  cmd->add_option("--backend", args->backend, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--threads", args->o.threads, "CPU backend threads (0: all cores)");
  cmd->add_option("--max-batch", args->o.max_batch, "Sequences the engine advances together")->check(CLI::PositiveNumber);
  cmd->add_flag("--allow-unsandboxed", args->o.allow_unsandboxed,
                "Where Linux namespaces can't be set up, run model-written code (humaneval, mbpp) without "
                "them instead of refusing; UNSAFE for untrusted code (docs/sandbox.md)");
  cmd->add_flag("--rescore", args->o.rescore, "Re-grade the stored outputs of the run and recompute its metrics; loads no model (without --model: the run named by --run-name, else the latest)");

  cmd->callback([args] {
    RunOptions o = args->o;
    if (args->limit >= 0) o.limit = args->limit;
    if (!args->data_dir.empty()) o.data_dir = args->data_dir;
    if (args->shots >= 0) o.shots = args->shots;
    if (args->max_new_tokens >= 0) o.max_new_tokens = args->max_new_tokens;
    if (!args->style.empty()) o.style = parse_prompt_style(args->style);
    if (!args->suite.empty()) apply_suite(args->suite, o);
    o.backend = parse_backend_kind(args->backend);

    RunOutcome r = run_benchmarks(o, stderr);

    // stdout: the run name first (scripts read it), then one line per metric.
    fmt::print("run {}\n", r.run_name);
    if (o.rescore) {
      fmt::print("re-scored {} samples\n", r.written);
    } else {
      fmt::print("samples: {} planned, {} already stored, {} written", r.planned, r.already_done, r.written);
      if (r.generated_tokens > 0 && r.generate_seconds > 0)
        fmt::print(", {} tokens in {:.1f} s ({:.1f} tok/s)", r.generated_tokens, r.generate_seconds,
                   static_cast<double>(r.generated_tokens) / r.generate_seconds);
      if (r.engine_steps > 0) fmt::print(", {} engine steps, {} KV preemptions", r.engine_steps, r.preemptions);
      if (r.load_seconds > 0) fmt::print("; model loaded in {:.1f} s", r.load_seconds);
      fmt::print("\n");
    }
    for (const auto& m : r.metrics)
      fmt::print("{} {} {}: {:.2f}% [{:.2f}, {:.2f}] n={}\n", m.task, m.scorer, m.metric, 100 * m.value,
                 100 * m.ci_low, 100 * m.ci_high, m.n);
  });
}

}  // namespace yardstick::cli
