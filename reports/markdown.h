// A run's results as Markdown: a header naming the run, model and engine, then one table per
// task with, for each scorer, our value with its 95% interval, n, the published value it is
// compared with, the difference and whether the published value is within our noise.
// A pure renderer: the caller gathers the numbers (harness/cmd_report.cpp reads them from SQLite).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/published.h"
#include "reports/stats.h"

namespace yardstick {

struct ReportMetric {
  std::string scorer;       // "strict-match"
  std::string metric;       // "acc"
  double value = 0.0;       // fractions in [0, 1]
  double ci_low = 0.0;
  double ci_high = 0.0;
  int64_t n = 0;
  double std_error = 0.0;
  std::string interval = "wilson";   // how ci_low/ci_high were computed: "wilson" | "bootstrap"
  int64_t samples = 0;               // graded samples behind the metric
  int64_t unanswered = 0;            // of which no answer could be extracted (status "no_answer")
};

// One value of a breakdown key ("subject" = "Algebra"): the primary scorer's accuracy over the
// task's docs with that value (Wilson interval over questions).
struct GroupEstimate {
  std::string value;
  Estimate estimate;
  // When the docs also carry a "subject" (C-Eval's and CMMLU's categories): the unweighted mean over
  // the group's subjects, the way those benchmarks average a category; stratified bootstrap.
  std::optional<Estimate> subject_average;
};

// A task's accuracy broken down by one key of its docs (reports/results.h says how it is computed).
struct Breakdown {
  std::string key;                     // "subject", "level", "category"
  std::vector<GroupEstimate> groups;   // sorted by value
  Estimate average;                    // unweighted mean over the groups, bootstrap interval
};

struct TaskReport {
  std::string task;
  int version = 0;
  int shots = 0;
  std::string prompt_style;                   // "base" | "chat"
  std::vector<ReportMetric> metrics;          // primary first
  std::optional<PublishedRecord> published;   // the number we compare with, if any
  std::vector<Breakdown> breakdowns;          // empty when the docs have no groups (or the data is absent)
  nlohmann::json protocol;                    // the run's resolved record of this task (shots, stop, spec, ...)
};

struct RunReport {
  std::string run_name;
  std::string status;        // "running" | "finished" | "failed"
  std::string started_at;
  std::string finished_at;
  std::string model_name;
  std::string model_path;
  std::string weights_digest;
  std::string engine_build;
  std::optional<int64_t> limit;
  std::string against;       // the published model compared with ("" : none)
  std::string config_digest;
  std::string breakdown_note;   // why breakdowns are missing, when they are ("" : none missing)
  std::vector<TaskReport> tasks;
};

std::string render_markdown(const RunReport& report);

}  // namespace yardstick
