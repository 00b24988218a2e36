#include "reports/csv_export.h"

#include <fmt/format.h>

#include "reports/stats.h"

namespace yardstick {

namespace {

// Quoted when it holds a comma, quote or line break (RFC 4180).
std::string field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

struct Row {
  std::string scorer, metric, group_key, group_value, interval;
  Estimate e;
  std::string published, published_unit, within_noise;
};

std::string line(const RunReport& r, const TaskReport& t, const Row& row) {
  return fmt::format("{},{},{},{},{},{},{},{},{},{},{:.6f},{:.6f},{:.6f},{:.6f},{},{},{},{},{}\r\n", field(r.run_name),
                     field(r.model_name), field(t.task), t.version, t.shots, field(t.prompt_style), field(row.scorer),
                     field(row.metric), field(row.group_key), field(row.group_value), row.e.mean, row.e.std_error,
                     row.e.ci_low, row.e.ci_high, row.e.n, row.interval, field(row.published),
                     field(row.published_unit), row.within_noise);
}

}  // namespace

std::string render_csv(const std::vector<RunReport>& reports) {
  std::string out = std::string(kCsvHeader) + "\r\n";
  for (const RunReport& r : reports)
    for (const TaskReport& t : r.tasks) {
      for (const ReportMetric& m : t.metrics) {
        Row row{m.scorer, m.metric, "", "", m.interval, {m.value, m.std_error, m.ci_low, m.ci_high, static_cast<size_t>(m.n)}, "", "", ""};
        if (t.published) {
          row.published = fmt::format("{}", t.published->value);
          row.published_unit = t.published->unit;
          if (t.published->percent)
            row.within_noise = compare_to_published(row.e, t.published->value / 100.0).within_noise ? "yes" : "no";
        }
        out += line(r, t, row);
      }
      if (t.metrics.empty()) continue;
      const ReportMetric& primary = t.metrics.front();
      for (const Breakdown& b : t.breakdowns) {
        for (const GroupEstimate& g : b.groups) {
          out += line(r, t, {primary.scorer, primary.metric, b.key, g.value, primary.interval, g.estimate, "", "", ""});
          if (g.subject_average)
            out += line(r, t, {primary.scorer, primary.metric, b.key, g.value + " (average over subjects)", "bootstrap",
                               *g.subject_average, "", "", ""});
        }
        out += line(r, t, {primary.scorer, primary.metric, b.key, "(average over groups)", "bootstrap", b.average, "", "", ""});
      }
    }
  return out;
}

}  // namespace yardstick
