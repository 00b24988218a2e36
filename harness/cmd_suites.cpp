// yardstick suites [--json]: the suites in configs/suites with, per task, the protocol a run of it
// follows (shots, scoring, stop strings, normalisation) and the published benchmark it is compared
// with; and the paper's benchmarks each suite does not run, with the reason.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/commands.h"
#include "harness/run.h"
#include "harness/suite.h"

namespace yardstick::cli {

namespace {

// How a task is scored, in one phrase: "multiple choice, length-normalised" or
// "generation, greedy, stop \nQ: | \n\n\n".
std::string protocol(const TaskSpec& spec, PromptStyle style) {
  if (spec.multiple_choice()) return fmt::format("multiple choice by log-likelihood, {}", spec.choice.normalization);
  const StyleSpec& st = spec.style(style);
  std::string stops;
  for (const auto& s : st.stop) stops += (stops.empty() ? "" : " | ") + nlohmann::json(s).dump();
  return fmt::format("generation, {}, max {} tokens{}", spec.sampling.temperature == 0.0 ? "greedy" : "sampled",
                     st.max_new_tokens, stops.empty() ? "" : ", stop " + stops);
}

void print_suites(bool as_json) {
  auto tasks_dir = default_tasks_dir();
  auto suites = list_suites(default_suites_dir(), tasks_dir);
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const auto& s : suites) {
    nlohmann::ordered_json js = {{"name", s.name},
                                 {"version", s.version},
                                 {"style", prompt_style_name(s.style)},
                                 {"models", s.models},
                                 {"description", s.description},
                                 {"tasks", nlohmann::ordered_json::array()},
                                 {"not_run", nlohmann::ordered_json::array()}};
    if (!as_json) {
      fmt::print("{} (v{}, {} prompts): {}\n", s.name, s.version, prompt_style_name(s.style), s.description);
      if (!s.models.empty()) fmt::print("  compared with: {}\n", fmt::join(s.models, ", "));
    }
    for (const auto& t : s.tasks) {
      TaskSpec spec = find_task_spec(t.task, tasks_dir);
      std::string how = protocol(spec, s.style);
      js["tasks"].push_back({{"task", t.task},
                             {"benchmark", t.benchmark},
                             {"shots", t.shots},
                             {"scorer", spec.scorer},
                             {"compared_verdict", t.scorer},
                             {"protocol", how},
                             {"split", spec.dataset.split}});
      if (!as_json)
        fmt::print("  {:<8} {:<9} {}-shot  {} split, {} ({} verdict vs published)\n", t.task, t.benchmark, t.shots,
                   spec.dataset.split, how, t.scorer);
    }
    for (const auto& o : s.not_run) {
      js["not_run"].push_back({{"benchmark", o.benchmark}, {"reason", o.reason}});
      if (!as_json) fmt::print("  not run: {} ({})\n", o.benchmark, o.reason);
    }
    all.push_back(std::move(js));
  }
  if (as_json) fmt::print("{}\n", all.dump(2));
}

}  // namespace

void register_suites(CLI::App& app) {
  auto* cmd = app.add_subcommand("suites", "List the suites (the paper's tables as data) and the protocol of each task");
  auto as_json = std::make_shared<bool>(false);
  cmd->add_flag("--json", *as_json, "Print the suites as JSON");
  cmd->callback([as_json] { print_suites(*as_json); });
}

}  // namespace yardstick::cli
