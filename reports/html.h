// Runs' results as ONE self-contained HTML file: inline CSS, inline SVG charts (reports/svg.h), no
// scripts, fonts or external resources. Per run: ours against the published number with interval
// whiskers per benchmark, a table per task, per-subject (breakdown) bars, and the protocol the run
// used (shots, template, stop strings, scorer) beside the published number's, so a gap can be
// explained. With several runs, a trend chart of each task's primary metric across them.
#pragma once

#include <string>
#include <vector>

#include "reports/markdown.h"

namespace yardstick {

std::string render_html(const std::vector<RunReport>& reports);

}  // namespace yardstick
