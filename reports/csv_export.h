// Runs' results as CSV (RFC 4180), one row per run x task x metric (every scorer), then one row
// per breakdown group (and per group's average over its subjects, where the docs have subjects) and
// one per breakdown average of the task's primary metric. Values are
// fractions in [0, 1]; the published value is as published (percent when its unit says so).
#pragma once

#include <string>
#include <vector>

#include "reports/markdown.h"

namespace yardstick {

inline constexpr const char* kCsvHeader =
    "run,model,task,version,shots,prompt_style,scorer,metric,group_key,group_value,value,stderr,ci_low,ci_high,n,"
    "interval,published,published_unit,within_noise";

std::string render_csv(const std::vector<RunReport>& reports);

}  // namespace yardstick
