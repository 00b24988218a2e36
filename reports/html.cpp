#include "reports/html.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include <fmt/format.h>

#include "reports/stats.h"
#include "reports/svg.h"

namespace yardstick {

namespace {

using json = nlohmann::json;

constexpr const char* kStyle = R"(body{font-family:sans-serif;margin:2em auto;max-width:1000px;color:#222;line-height:1.4}
h1{font-size:1.6em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:2em}h3{margin-top:1.5em}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}.yes{color:#00734d}.no{color:#b00020}
code,pre{font-family:monospace;background:#f6f6f6}pre{white-space:pre-wrap;margin:0;max-height:12em;overflow:auto}
.meta{color:#555}.note{color:#555;font-size:.9em}svg.chart{display:block;margin:.8em 0})";

std::string esc(const std::string& s) { return xml_escape(s); }
std::string pct(double fraction) { return fmt::format("{:.1f}", 100.0 * fraction); }

// Element ids: letters, digits and '-' only, so they are valid in any document.
std::string slug(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += std::isalnum(c) ? static_cast<char>(c) : '-';
  return out;
}

// The published value as a fraction when it is on our scale (percent), else nullopt.
std::optional<double> published_fraction(const TaskReport& t) {
  if (t.published && t.published->percent) return t.published->value / 100.0;
  return std::nullopt;
}

std::string json_text(const json& j) {
  if (j.is_null()) return "—";
  if (j.is_string()) return j.get<std::string>();
  return j.dump();
}

// Our protocol (from the run's resolved task record) beside the published number's.
std::string protocol_table(const TaskReport& t) {
  const json& p = t.protocol;
  json spec = p.value("spec", json::object());
  json style = spec.value("styles", json::object()).value(t.prompt_style, json::object());
  auto row = [](const std::string& what, const std::string& ours, const std::string& paper) {
    return fmt::format("<tr><th>{}</th><td>{}</td><td>{}</td></tr>", esc(what), ours, paper);
  };
  std::string paper_shots = "—", paper_metric = "—", paper_source = "—";
  if (t.published) {
    paper_shots = t.published->shots ? std::to_string(*t.published->shots) : "not stated";
    paper_metric = esc(t.published->metric);
    paper_source = esc(fmt::format("{} {}", t.published->source, t.published->source_detail));
  }
  std::string out = "<table class=\"protocol\"><tr><th></th><th>this run</th><th>published</th></tr>";
  out += row("shots", std::to_string(t.shots), paper_shots);
  out += row("prompt style", esc(t.prompt_style), "—");
  out += row("task version", std::to_string(t.version), "—");
  out += row("output type", esc(json_text(spec.value("output_type", json()))), "—");
  out += row("query template", "<pre>" + esc(json_text(style.value("query_template", json()))) + "</pre>", "—");
  out += row("stop strings", "<code>" + esc(p.value("stop", json::array()).dump()) + "</code>", "—");
  out += row("max new tokens", esc(json_text(p.value("max_new_tokens", json()))), "—");
  out += row("scorer / metric", esc(json_text(spec.value("scorer", json()))), paper_metric);
  out += row("source", "—", paper_source);
  if (t.published && !t.published->note.empty()) out += row("note", "—", esc(t.published->note));
  return out + "</table>";
}

std::string metrics_table(const RunReport& r, const TaskReport& t) {
  std::string out = fmt::format(
      "<table class=\"metrics\"><tr><th>metric</th><th>ours % (95% CI)</th><th>n</th><th>interval</th><th>published "
      "({})</th><th>difference</th><th>within noise</th></tr>",
      esc(r.against.empty() ? "none" : r.against));
  for (size_t i = 0; i < t.metrics.size(); ++i) {
    const ReportMetric& m = t.metrics[i];
    std::string published = "—", diff = "—", noise = "—";
    if (auto p = published_fraction(t)) {
      Estimate e{m.value, m.std_error, m.ci_low, m.ci_high, static_cast<size_t>(m.n)};
      PublishedComparison c = compare_to_published(e, *p);
      published = fmt::format("{:.1f}", t.published->value);
      diff = fmt::format("{:+.1f}", 100.0 * c.difference);
      noise = c.within_noise ? "<span class=\"yes\">yes</span>" : "<span class=\"no\">no</span>";
    } else if (t.published) {
      published = esc(fmt::format("{} {}", t.published->value, t.published->metric));
      diff = "not comparable";
    }
    out += fmt::format(
        "<tr><td>{} {}{}</td><td class=\"num\">{} [{}, {}]</td><td class=\"num\">{}</td><td>{}</td><td "
        "class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
        esc(m.metric), esc(m.scorer), i == 0 ? " (primary)" : "", pct(m.value), pct(m.ci_low), pct(m.ci_high), m.n,
        esc(m.interval), published, diff, noise);
  }
  return out + "</table>";
}

std::string render_task(const RunReport& r, const TaskReport& t, const std::string& id_prefix) {
  std::string out = fmt::format("<section class=\"task\" id=\"{}\"><h3>{} <span class=\"meta\">(v{}, {} prompts, {} "
                                "shots)</span></h3>",
                                id_prefix + "-" + slug(t.task), esc(t.task), t.version, esc(t.prompt_style), t.shots);
  if (t.metrics.empty()) return out + "<p>No graded samples yet.</p></section>";
  out += metrics_table(r, t);
  for (const Breakdown& b : t.breakdowns) {
    std::vector<ChartRow> rows;
    for (const GroupEstimate& g : b.groups)
      rows.push_back({g.value, g.estimate.mean, g.estimate.ci_low, g.estimate.ci_high, std::nullopt});
    out += svg_bar_chart(id_prefix + "-" + slug(t.task) + "-by-" + slug(b.key),
                         fmt::format("{} by {} ({} {}, 95% intervals)", t.task, b.key, t.metrics.front().metric,
                                     t.metrics.front().scorer),
                         rows);
    out += fmt::format("<p class=\"note\">Average over the {} {} groups, each weighted equally: {} [{}, {}] "
                       "(stratified bootstrap); over all {} questions: {}.</p>",
                       b.groups.size(), esc(b.key), pct(b.average.mean), pct(b.average.ci_low),
                       pct(b.average.ci_high), t.metrics.front().n, pct(t.metrics.front().value));
  }
  out += "<h4>Protocol</h4>" + protocol_table(t);
  return out + "</section>";
}

std::string render_run(const RunReport& r, size_t index) {
  std::string id = fmt::format("run{}", index);
  std::string out = fmt::format("<section class=\"run\" id=\"{}\"><h2>Run {}</h2><ul class=\"meta\">", id, esc(r.run_name));
  out += fmt::format("<li>model: {}{}</li>", esc(r.model_name),
                     r.model_path.empty() ? "" : " (<code>" + esc(r.model_path) + "</code>)");
  if (!r.weights_digest.empty()) out += fmt::format("<li>weights sha256: <code>{}</code></li>", esc(r.weights_digest));
  out += fmt::format("<li>engine: {}</li>", esc(r.engine_build));
  out += fmt::format("<li>status: {}, started {}{}</li>", esc(r.status), esc(r.started_at),
                     r.finished_at.empty() ? "" : ", finished " + esc(r.finished_at));
  if (r.limit)
    out += fmt::format("<li>limit: first {} docs per task (not comparable with a full-set number)</li>", *r.limit);
  out += fmt::format("<li>compared with: {}</li>", esc(r.against.empty() ? "nothing" : r.against));
  if (!r.breakdown_note.empty()) out += fmt::format("<li>{}</li>", esc(r.breakdown_note));
  out += "</ul>";
  std::vector<ChartRow> rows;
  for (const TaskReport& t : r.tasks)
    if (!t.metrics.empty()) {
      const ReportMetric& m = t.metrics.front();
      rows.push_back({fmt::format("{} ({} {})", t.task, m.metric, m.scorer), m.value, m.ci_low, m.ci_high,
                      published_fraction(t)});
    }
  if (!rows.empty())
    out += svg_interval_chart(id + "-overview", "Ours against published, primary metric per benchmark", rows,
                              r.against.empty() ? "" : "published (" + r.against + ")");
  for (const TaskReport& t : r.tasks) out += render_task(r, t, id);
  return out + "</section>";
}

// Each task's primary metric across the runs, in the order given.
std::string trend(const std::vector<RunReport>& reports) {
  std::vector<std::string> labels;
  std::vector<ChartSeries> series;
  for (size_t i = 0; i < reports.size(); ++i) {
    labels.push_back(reports[i].run_name);
    for (const TaskReport& t : reports[i].tasks) {
      if (t.metrics.empty()) continue;
      std::string name = t.task + " " + t.metrics.front().metric;
      auto it = std::find_if(series.begin(), series.end(), [&](const ChartSeries& s) { return s.name == name; });
      if (it == series.end()) {
        series.push_back({name, std::vector<std::optional<double>>(reports.size())});
        it = series.end() - 1;
      }
      it->values[i] = t.metrics.front().value;
    }
  }
  return "<section id=\"trend\"><h2>Trend across runs</h2>" +
         svg_line_chart("trend-chart", "Primary metric per task, by run", labels, series) + "</section>";
}

}  // namespace

std::string render_html(const std::vector<RunReport>& reports) {
  std::string title = reports.size() == 1 ? "yardstick report: " + reports.front().run_name
                                          : fmt::format("yardstick report: {} runs", reports.size());
  std::string out = fmt::format("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>"
                                "<style>{}</style></head><body><h1>{}</h1>",
                                esc(title), kStyle, esc(title));
  out += "<p class=\"note\">Intervals are 95%: Wilson for accuracies, bootstrap percentile for pass@k and averages "
         "over groups. A task's headline number is over questions; breakdowns also give the unweighted average over "
         "their groups (subjects).</p>";
  if (reports.size() > 1) out += trend(reports);
  for (size_t i = 0; i < reports.size(); ++i) out += render_run(reports[i], i);
  return out + "</body></html>\n";
}

}  // namespace yardstick
