// `yardstick report`: a run's metrics as Markdown, against a published model's numbers.
#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/core.h>

#include "engine/error.h"
#include "harness/commands.h"
#include "harness/run.h"
#include "harness/store.h"
#include "reports/markdown.h"
#include "reports/published.h"

namespace yardstick::cli {

namespace {

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

}  // namespace

void register_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Print a run's results as Markdown, compared with published numbers");
  struct Args {
    std::string db;
    std::string run;
    std::string against;
    std::string published_dir;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--db", args->db, "SQLite database written by yardstick run")->required();
  cmd->add_option("--run", args->run, "Run name (default: the latest run)");
  cmd->add_option("--against", args->against,
                  "Published model to compare with, e.g. deepseek-llm-7b-base (default: the run's model name "
                  "when it is a published model)");
  cmd->add_option("--published-dir", args->published_dir, "Directory of published numbers (default: configs/published)");

  cmd->callback([args] {
    if (!std::filesystem::is_regular_file(args->db))
      throw InputError(fmt::format("database {} does not exist", args->db));
    Store store(args->db);
    auto run = args->run.empty() ? store.latest_run() : store.find_run(args->run);
    if (!run)
      throw InputError(args->run.empty() ? fmt::format("database {} has no runs", args->db)
                                         : fmt::format("database {} has no run named \"{}\"", args->db, args->run));
    auto model = store.model(run->model_id);

    // A run still in progress (or killed) has metrics from its last finish, if any: recompute.
    auto metrics = run->status == "finished" ? store.metrics(run->id) : compute_metrics(store, run->id);

    auto published = PublishedNumbers::load(args->published_dir.empty() ? PublishedNumbers::default_dir()
                                                                        : std::filesystem::path(args->published_dir));
    RunReport report;
    report.run_name = run->name;
    report.status = run->status;
    report.started_at = run->started_at;
    report.finished_at = run->finished_at;
    report.engine_build = run->engine_build;
    report.limit = run->limit;
    if (model) {
      report.model_name = model->name;
      report.model_path = model->path;
      report.weights_digest = model->weights_digest;
    }
    report.against = args->against;
    if (report.against.empty() && model) {
      auto models = published.models();
      auto it = std::find_if(models.begin(), models.end(), [&](const std::string& m) { return iequals(m, model->name); });
      if (it != models.end()) report.against = *it;
    }

    std::vector<PublishedRecord> compared;
    for (const auto& t : run->config.value("tasks", nlohmann::json::array())) {
      TaskReport tr;
      tr.task = t.at("name").get<std::string>();
      tr.version = t.value("version", 0);
      tr.shots = t.value("shots", 0);
      tr.prompt_style = run->config.value("prompt_style", "");
      for (const auto& m : metrics)
        if (m.task == tr.task) tr.metrics.push_back({m.scorer, m.metric, m.value, m.ci_low, m.ci_high, m.n});
      if (!report.against.empty())
        if (const PublishedRecord* p = published.lookup(report.against, tr.task)) {
          tr.published = *p;
          compared.push_back(*p);
        }
      report.tasks.push_back(std::move(tr));
    }
    // The database keeps the numbers its runs were compared with, as they were at the time.
    if (!compared.empty()) store.put_published(compared);
    fmt::print("{}", render_markdown(report));
  });
}

}  // namespace yardstick::cli
