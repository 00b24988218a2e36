// Suites: a paper's table as data (configs/suites/<name>.json). A suite fixes the prompt style
// (base or chat) and, per task, the shots the paper used and the published benchmark (and our
// scorer) its number is compared with; the task specs it names hold the templates, stop strings,
// extractors and normalisation. `yardstick run --suite NAME` runs one; `yardstick suites` lists them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tasks/task_spec.h"

namespace yardstick {

struct SuiteTask {
  std::string task;        // configs/tasks/<task>.json
  int shots = 0;           // as the paper ran it
  std::string benchmark;   // the published records' name ("C-Eval")
  std::string scorer;      // which of the task's verdicts the published number is compared with
};

struct SuiteOmission {
  std::string benchmark;   // a benchmark of the paper's table this suite does not run
  std::string reason;
};

struct Suite {
  std::string name;
  int version = 0;
  std::string description;
  PromptStyle style = PromptStyle::Base;
  std::vector<std::string> models;        // published models the suite reproduces
  std::vector<SuiteTask> tasks;
  std::vector<SuiteOmission> not_run;
  std::filesystem::path file;
};

// Where configs/suites lives: the first checkout candidate that has it.
std::filesystem::path default_suites_dir();

// Reads and validates a suite: known keys only, a task listed once, every task spec loadable from
// `tasks_dir` with at least `shots` exemplars available in principle (shots > 0 needs a few-shot
// source). Throws InputError naming the file and the field.
Suite load_suite(const std::filesystem::path& file, const std::filesystem::path& tasks_dir);
// `name_or_path`: a suite name (<suites_dir>/<name>.json) or a .json path. Throws InputError
// listing the known suites when there is no such one.
Suite find_suite(const std::string& name_or_path, const std::filesystem::path& suites_dir,
                 const std::filesystem::path& tasks_dir);
// Every suite in `suites_dir`, by name.
std::vector<Suite> list_suites(const std::filesystem::path& suites_dir, const std::filesystem::path& tasks_dir);

}  // namespace yardstick
