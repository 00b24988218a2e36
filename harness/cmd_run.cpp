// `yardstick run`: evaluate a model on tasks, storing every sample in SQLite (harness/run.h).
#include <chrono>
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

// "engine: prefill ... | decode ... | host ... | prefix cache ..." (RunOutcome says how the two
// rates split mixed steps).
void print_engine_line(const RunOutcome& r) {
  fmt::print("engine: prefill {} tokens in {:.2f} s ({:.0f} tok/s) | decode {} tokens in {:.2f} s ({:.0f} tok/s) | "
             "host {:.2f} s | prefix cache {:.1f}% of prompt tokens ({} tokens, {} blocks reused)\n",
             r.prefill_tokens, r.prefill_step_seconds, r.prefill_tokens_per_second(), r.decode_tokens,
             r.forward_seconds - r.prefill_step_seconds, r.decode_tokens_per_second(), r.host_seconds,
             100.0 * r.prefix_hit_rate, r.cached_tokens, r.prefix_blocks_reused);
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
    int cap_new_tokens = -1;
    std::string suite;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--model", args->o.model,
                  "Model directory (HF layout); \"gold\": answers with the reference solutions; or synthetic:SPEC[:seed=N] "
                  "(random weights made in memory, SPEC tiny, 7b, 67b or key=value pairs as for `bench --synthetic`): "
                  "timings of the real workloads without a checkpoint");
  cmd->add_option("--tokenizer", args->o.tokenizer,
                  "With --model synthetic:*: tokenizer.json or a folder with one (default: the DeepSeek tokenizer in "
                  "../shared/reference/tokenizer)");
  cmd->add_option("--tasks", args->o.tasks, "Tasks, e.g. gsm8k (configs/tasks/<name>.json) or a task .json file")
      ->delimiter(',');
  cmd->add_option("--suite", args->suite,
                  "A suite (configs/suites/<name>.json, e.g. deepseek-llm-base): its tasks with the paper's shots "
                  "and prompt style; see `yardstick suites`");
  cmd->add_option("--db", args->o.db, "SQLite database file (created if missing; may hold many runs)")->required();
  cmd->add_option("--limit", args->limit, "Only the first N docs of each task")->check(at_least(0));
  cmd->add_option("--data-dir", args->data_dir, "Benchmark data directory (else $YARDSTICK_DATA, else ../shared/datasets)");
  cmd->add_option("--run-name", args->o.run_name, "Name of the run (unique in the database; default: derived from model, tasks and configuration)");
  cmd->add_option("--seed", args->o.seed, "Sampling seed (greedy tasks ignore it)");
  cmd->add_option("--shots", args->shots, "Few-shot exemplars (default: the task's, 8 for gsm8k base models, 0 for chat)")
      ->check(at_least(0));
  cmd->add_option("--style", args->style, "Prompt style: base or chat (default: chat when the tokenizer has a chat template)")
      ->check(CLI::IsMember({"base", "chat"}));
  cmd->add_option("--max-new-tokens", args->max_new_tokens, "Generation limit per sample (default: the task's)")
      ->check(at_least(1));
  cmd->add_option("--cap-new-tokens", args->cap_new_tokens,
                  "At most N new tokens per sample, tasks with a lower limit keep theirs (a suite at realistic "
                  "answer lengths on synthetic weights, or a quick pass over a suite); part of the run's identity")
      ->check(at_least(1));
  cmd->add_option("--backend", args->backend, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--threads", args->o.threads, "CPU backend threads (0: all cores)")->check(thread_count());
  cmd->add_option("--max-batch", args->o.max_batch, "Sequences the engine advances together")->check(at_least(1));
  cmd->add_flag("--no-prefix-cache{false}", args->o.prefix_cache,
                "Don't reuse the KV state of shared prompt prefixes (speed only: results are the same)");
  cmd->add_option("--max-prefill-tokens", args->o.max_prefill_tokens,
                  "Prompt tokens per engine step (default: the backend's; speed only)")
      ->check(at_least(1));
  cmd->add_flag("--allow-unsandboxed", args->o.allow_unsandboxed,
                "Where Linux namespaces can't be set up, run model-written code (humaneval, mbpp) without "
                "them instead of refusing; UNSAFE for untrusted code (docs/sandbox.md)");
  cmd->add_flag("--rescore", args->o.rescore, "Re-grade the stored outputs of the run and recompute its metrics; loads no model (without --model: the run named by --run-name, else the latest)");

  cmd->callback([args] {
    RunOptions o = args->o;
    o.started_at = std::chrono::steady_clock::now();
    if (args->limit >= 0) o.limit = args->limit;
    if (!args->data_dir.empty()) o.data_dir = args->data_dir;
    if (args->shots >= 0) o.shots = args->shots;
    if (args->max_new_tokens >= 0) o.max_new_tokens = args->max_new_tokens;
    if (args->cap_new_tokens >= 0) o.cap_new_tokens = args->cap_new_tokens;
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
      if (r.weights_hashed) fmt::print(" (weights hashed alongside, {:.1f} s more)", r.hash_wait_seconds);
      fmt::print("\n");
      if (r.engine_steps > 0) print_engine_line(r);
      if (r.wall_seconds > 0) {
        fmt::print("time: {:.1f} s from the start of the command", r.wall_seconds);
        if (r.engine_start_seconds > 0) fmt::print(", prompts to the engine at {:.1f} s", r.engine_start_seconds);
        if (r.first_result_seconds > 0) fmt::print(", first sample finished at {:.1f} s", r.first_result_seconds);
        if (r.release_seconds >= 0.05) fmt::print(", model freed in {:.1f} s", r.release_seconds);
        fmt::print("\n");
      }
    }
    for (const auto& m : r.metrics)
      fmt::print("{} {} {}: {:.2f}% [{:.2f}, {:.2f}] n={}\n", m.task, m.scorer, m.metric, 100 * m.value,
                 100 * m.ci_low, 100 * m.ci_high, m.n);
  });
}

}  // namespace yardstick::cli
