// A run's results as JSON. Per run, the top level is laid out like an lm-evaluation-harness
// `results` file, so dashboards that read those read ours:
//   {"results": {task: {"alias": task, "<metric>,<scorer>": x, "<metric>_stderr,<scorer>": s, ...}},
//    "configs": {task: {...}}, "versions": {task: v}, "n-shot": {task: k},
//    "n-samples": {task: {"original": n, "effective": n}}, "config": {"model": ..., ...},
//    "yardstick": {everything else: intervals, n, published numbers, breakdowns, protocol}}
// Values are fractions in [0, 1] as lm-evaluation-harness writes them. Several runs give
// {"runs": [<one such object per run>]}.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "reports/markdown.h"

namespace yardstick {

nlohmann::json run_to_json(const RunReport& report);
nlohmann::json render_json(const std::vector<RunReport>& reports);

}  // namespace yardstick
