// A run's results as Markdown: a header naming the run, model and engine, then one table per
// task with, for each scorer, our value with its 95% interval, n, the published value it is
// compared with, the difference and whether the published value is within our noise.
// A pure renderer: the caller gathers the numbers (harness/cmd_report.cpp reads them from SQLite).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reports/published.h"

namespace yardstick {

struct ReportMetric {
  std::string scorer;       // "strict-match"
  std::string metric;       // "acc"
  double value = 0.0;       // fractions in [0, 1]
  double ci_low = 0.0;
  double ci_high = 0.0;
  int64_t n = 0;
};

struct TaskReport {
  std::string task;
  int version = 0;
  int shots = 0;
  std::string prompt_style;                   // "base" | "chat"
  std::vector<ReportMetric> metrics;          // primary first
  std::optional<PublishedRecord> published;   // the number we compare with, if any
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
  std::vector<TaskReport> tasks;
};

std::string render_markdown(const RunReport& report);

}  // namespace yardstick
