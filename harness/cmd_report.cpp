// `yardstick report`: one or more runs' results as Markdown, HTML (charts), JSON (incl. the
// lm-evaluation-harness results layout) or CSV, against a published model's numbers.
#include <fstream>
#include <memory>

#include <fmt/core.h>

#include "engine/error.h"
#include "harness/commands.h"
#include "harness/report_data.h"
#include "harness/store.h"
#include "reports/csv_export.h"
#include "reports/html.h"
#include "reports/json_export.h"
#include "reports/markdown.h"
#include "reports/published.h"

namespace yardstick::cli {

namespace {

std::string render(const std::string& format, const std::vector<RunReport>& reports) {
  if (format == "html") return render_html(reports);
  if (format == "json") return render_json(reports).dump(2) + "\n";
  if (format == "csv") return render_csv(reports);
  std::string out;
  for (size_t i = 0; i < reports.size(); ++i) out += (i ? "\n" : "") + render_markdown(reports[i]);
  return out;
}

}  // namespace

void register_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Print runs' results (Markdown, HTML, JSON or CSV), compared with published numbers");
  struct Args {
    std::string db;
    std::vector<std::string> runs;
    std::string against;
    std::string published_dir;
    std::string data_dir;
    std::string format = "md";
    std::string out;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--db", args->db, "SQLite database written by yardstick run")->required();
  cmd->add_option("--run", args->runs, "Run name; repeat for several runs (default: the latest run)");
  cmd->add_option("--against", args->against,
                  "Published model to compare with, e.g. deepseek-llm-7b-base (default: the run's model name "
                  "when it is a published model)");
  cmd->add_option("--published-dir", args->published_dir, "Directory of published numbers (default: configs/published)");
  cmd->add_option("--data-dir", args->data_dir,
                  "Benchmark data directory, read for per-subject breakdowns (else $YARDSTICK_DATA, else ../shared/datasets)");
  cmd->add_option("--format", args->format, "md, html, json or csv")->check(CLI::IsMember({"md", "html", "json", "csv"}));
  cmd->add_option("--out", args->out, "Write to this file instead of stdout");

  cmd->callback([args] {
    if (!std::filesystem::is_regular_file(args->db))
      throw InputError(fmt::format("database {} does not exist", args->db));
    Store store(args->db);
    std::vector<RunRecord> runs;
    if (args->runs.empty()) runs.push_back(find_run_or_throw(store, ""));
    for (const auto& name : args->runs) runs.push_back(find_run_or_throw(store, name));

    auto published = PublishedNumbers::load(args->published_dir.empty() ? PublishedNumbers::default_dir()
                                                                        : std::filesystem::path(args->published_dir));
    std::optional<std::filesystem::path> data_dir;
    if (!args->data_dir.empty()) data_dir = args->data_dir;

    std::vector<RunReport> reports;
    std::vector<PublishedRecord> compared;
    for (const auto& run : runs) {
      // Metrics come from the verdicts, so a run still in progress (or killed) is reported as it stands.
      RunOutcomes outcomes = load_run_outcomes(store, run, data_dir);
      std::string against = args->against.empty() ? default_against(outcomes.model, published) : args->against;
      reports.push_back(build_run_report(outcomes, published, against));
      for (const auto& t : reports.back().tasks)
        if (t.published) compared.push_back(*t.published);
    }
    // The database keeps the numbers its runs were compared with, as they were at the time.
    if (!compared.empty()) store.put_published(compared);

    std::string text = render(args->format, reports);
    if (args->out.empty()) {
      fmt::print("{}", text);
      return;
    }
    std::ofstream out(args->out, std::ios::binary);
    out << text;
    if (!out) throw Error(fmt::format("cannot write report to {}", args->out));
  });
}

}  // namespace yardstick::cli
