#include "reports/markdown.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "reports/stats.h"

namespace yardstick {

namespace {

// Table cells hold free text (scorer names, sources): keep a '|' from splitting a cell.
std::string cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string pct(double fraction) { return fmt::format("{:.1f}", 100.0 * fraction); }

// The primary scorer by one group key: each group over its questions, then the average over groups.
void render_breakdown(std::string& out, const TaskReport& t, const Breakdown& b) {
  const ReportMetric& primary = t.metrics.front();
  out += fmt::format("### {} by {} ({} {})\n\n", t.task, cell(b.key), cell(primary.metric), cell(primary.scorer));
  bool by_subject = std::any_of(b.groups.begin(), b.groups.end(), [](const GroupEstimate& g) { return g.subject_average; });
  out += fmt::format("| {} | ours % (95% CI) | n |{}\n|---|---|---|{}\n", cell(b.key),
                     by_subject ? " average over subjects % (95% CI) |" : "", by_subject ? "---|" : "");
  for (const GroupEstimate& g : b.groups) {
    out += fmt::format("| {} | {} [{}, {}] | {} |", cell(g.value), pct(g.estimate.mean), pct(g.estimate.ci_low),
                       pct(g.estimate.ci_high), g.estimate.n);
    if (by_subject)
      out += g.subject_average ? fmt::format(" {} [{}, {}] |", pct(g.subject_average->mean),
                                             pct(g.subject_average->ci_low), pct(g.subject_average->ci_high))
                               : " — |";
    out += "\n";
  }
  out += fmt::format("\nAverage over the {} {} groups (each weighted equally): {} [{}, {}] (stratified bootstrap); "
                     "over all {} questions: {}.\n\n",
                     b.groups.size(), cell(b.key), pct(b.average.mean), pct(b.average.ci_low), pct(b.average.ci_high),
                     primary.n, pct(primary.value));
}

void render_task(std::string& out, const RunReport& run, const TaskReport& t) {
  out += fmt::format("## {} (v{}, {} prompts, {} shots)\n\n", t.task, t.version, t.prompt_style, t.shots);
  if (t.metrics.empty()) {
    out += "No graded samples yet.\n\n";
    return;
  }
  const bool compare = t.published.has_value();
  std::string published_header = compare ? fmt::format("published ({})", cell(run.against)) : "published";
  out += fmt::format("| metric | ours % (95% CI) | n | {} | difference | within noise |\n", published_header);
  out += "|---|---|---|---|---|---|\n";
  for (size_t i = 0; i < t.metrics.size(); ++i) {
    const ReportMetric& m = t.metrics[i];
    std::string name = fmt::format("{} {}{}", cell(m.metric), cell(m.scorer), i == 0 ? " (primary)" : "");
    std::string ours = fmt::format("{} [{}, {}]", pct(m.value), pct(m.ci_low), pct(m.ci_high));
    std::string published = "—", diff = "—", noise = "—";
    if (compare && t.published->percent) {
      Estimate e;
      e.mean = m.value;
      e.ci_low = m.ci_low;
      e.ci_high = m.ci_high;
      e.n = static_cast<size_t>(m.n);
      PublishedComparison c = compare_to_published(e, t.published->value / 100.0);
      published = fmt::format("{:.1f}", t.published->value);
      diff = fmt::format("{:+.1f}", 100.0 * c.difference);
      noise = c.within_noise ? "yes" : "no";
    } else if (compare) {
      published = fmt::format("{} {}", t.published->value, cell(t.published->metric));
      diff = "not comparable";
    }
    out += fmt::format("| {} | {} | {} | {} | {} | {} |\n", name, ours, m.n, published, diff, noise);
  }
  out += "\n";
  // How often the extractor found no answer at all: a high rate means the prompt or the stop
  // strings don't fit the model, not that it reasons badly.
  std::vector<std::string> failures;
  for (const ReportMetric& m : t.metrics)
    if (m.samples > 0)
      failures.push_back(fmt::format("{} {}/{} ({:.1f}%)", cell(m.scorer), m.unanswered, m.samples,
                                     100.0 * double(m.unanswered) / double(m.samples)));
  if (!failures.empty())
    out += fmt::format("Extraction failures (no answer found): {}.\n\n", fmt::join(failures, ", "));
  if (std::any_of(t.metrics.begin(), t.metrics.end(), [](const ReportMetric& m) { return m.interval == "bootstrap"; }))
    out += "pass@1 intervals are bootstrap percentile intervals over problems; accuracies are Wilson intervals.\n\n";
  for (const Breakdown& b : t.breakdowns) render_breakdown(out, t, b);
  if (compare) {
    const PublishedRecord& p = *t.published;
    out += fmt::format("Published: {} {} for {} ({}{}{}).", p.benchmark, p.value, p.model, p.source,
                       p.source_detail.empty() ? "" : ", ", p.source_detail);
    if (p.shots && *p.shots != t.shots)
      out += fmt::format(" Note: published with {} shots, this run used {}.", *p.shots, t.shots);
    out += "\n\n";
  } else if (!run.against.empty()) {
    out += fmt::format("No published {} number for {}.\n\n", t.task, cell(run.against));
  }
}

}  // namespace

std::string render_markdown(const RunReport& r) {
  std::string out = fmt::format("# yardstick report: {}\n\n", r.run_name);
  out += fmt::format("- model: {}{}\n", r.model_name, r.model_path.empty() ? "" : fmt::format(" (`{}`)", r.model_path));
  if (!r.weights_digest.empty()) out += fmt::format("- weights sha256: `{}`\n", r.weights_digest);
  out += fmt::format("- engine: {}\n", r.engine_build);
  out += fmt::format("- status: {}, started {}{}\n", r.status, r.started_at,
                     r.finished_at.empty() ? "" : ", finished " + r.finished_at);
  if (r.limit) out += fmt::format("- limit: first {} docs per task (not comparable with a full-set number)\n", *r.limit);
  out += fmt::format("- compared with: {}\n", r.against.empty() ? "nothing (no --against model)" : r.against);
  if (!r.breakdown_note.empty()) out += fmt::format("- {}\n", r.breakdown_note);
  out += "\n";
  for (const auto& t : r.tasks) render_task(out, r, t);
  return out;
}

}  // namespace yardstick
