// What `yardstick report` and `yardstick compare` read from a database: a run's per-doc outcomes
// for every task and scorer (from the verdicts), the docs' breakdown groups (from the task's data,
// re-read through the spec the run recorded), and the RunReport every renderer takes.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/store.h"
#include "reports/markdown.h"
#include "reports/published.h"
#include "reports/results.h"

namespace yardstick {

struct RunOutcomes {
  RunRecord run;
  std::optional<ModelRecord> model;
  // task -> scorers (rank order), tasks in the order of the run's configuration.
  std::vector<std::pair<std::string, std::vector<ScorerOutcomes>>> tasks;
  std::string groups_note;   // why some task has no breakdown groups ("" : all were found)
};

// The run named `name`, or the latest when `name` is empty. Throws InputError naming the database.
RunRecord find_run_or_throw(Store& store, const std::string& name);

// Reads every sample's verdicts. With `with_groups`, groups come from the task data in `data_dir`
// (else the default data directory); when it can't be read, the outcomes have no groups and
// groups_note says why.
RunOutcomes load_run_outcomes(Store& store, const RunRecord& run,
                              const std::optional<std::filesystem::path>& data_dir = std::nullopt,
                              bool with_groups = true);

// The run's task record (run.config["tasks"][i]) for `task`, or an empty object.
nlohmann::json task_record(const RunRecord& run, const std::string& task);

// A published model whose name equals the run's model name (case-insensitively), else "".
std::string default_against(const std::optional<ModelRecord>& model, const PublishedNumbers& published);

// Metrics, breakdowns and the published numbers for `against` ("" : none).
RunReport build_run_report(const RunOutcomes& outcomes, const PublishedNumbers& published,
                           const std::string& against);

}  // namespace yardstick
