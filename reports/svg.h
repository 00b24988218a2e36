// Inline SVG charts for the HTML report: plain strings, no scripts, fonts or external styles, so a
// report is one self-contained file. Values are fractions in [0, 1], drawn on a 0-100% axis.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yardstick {

// One labelled value with its interval and, optionally, a reference value drawn beside it
// (the published number).
struct ChartRow {
  std::string label;
  double value = 0.0;
  double ci_low = 0.0;
  double ci_high = 0.0;
  std::optional<double> reference;
};

// One line of a trend chart: a value (or a gap) per x position.
struct ChartSeries {
  std::string name;
  std::vector<std::optional<double>> values;
};

// Text safe inside XML/HTML element content and attribute values.
std::string xml_escape(std::string_view text);

// Dots with interval whiskers, one row each; a row's reference as a hollow diamond. Each <svg>
// carries class="chart" and the given id.
std::string svg_interval_chart(const std::string& id, const std::string& title, const std::vector<ChartRow>& rows,
                               const std::string& reference_name);
// Horizontal bars with interval whiskers.
std::string svg_bar_chart(const std::string& id, const std::string& title, const std::vector<ChartRow>& rows);
// Lines over x positions (runs), one per series, with a legend.
std::string svg_line_chart(const std::string& id, const std::string& title, const std::vector<std::string>& x_labels,
                           const std::vector<ChartSeries>& series);

}  // namespace yardstick
