#include "harness/report_data.h"

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "datasets/data_dir.h"
#include "engine/error.h"
#include "harness/run.h"
#include "scorers/pass_at_k.h"
#include "tasks/task_data.h"
#include "tasks/task_spec.h"

namespace yardstick {

namespace {

bool iequals(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

// doc_id -> groups of one task, from the spec the run recorded (falling back to the task's
// current spec file when the recorded one no longer parses).
std::map<std::string, std::map<std::string, std::string>> doc_groups(const RunRecord& run, const nlohmann::json& record,
                                                                     const std::filesystem::path& data_dir) {
  std::string name = record.value("name", "");
  TaskSpec spec;
  try {
    spec = parse_task_spec(record.at("spec"), fmt::format("run {} task {}", run.name, name));
  } catch (const std::exception&) {
    spec = find_task_spec(name, default_tasks_dir());
  }
  std::map<std::string, std::map<std::string, std::string>> groups;
  if (spec.dataset.groups.empty() && spec.dataset.adapter.empty()) return groups;   // nothing to break down by
  TaskData data = load_task_data(spec, data_dir);
  for (auto& doc : data.docs)
    if (!doc.groups.empty()) groups.emplace(doc.doc_id, std::move(doc.groups));
  return groups;
}

}  // namespace

RunRecord find_run_or_throw(Store& store, const std::string& name) {
  auto run = name.empty() ? store.latest_run() : store.find_run(name);
  if (!run)
    throw InputError(name.empty() ? fmt::format("database {} has no runs", store.path().string())
                                  : fmt::format("database {} has no run named \"{}\"", store.path().string(), name));
  return *run;
}

nlohmann::json task_record(const RunRecord& run, const std::string& task) {
  for (const auto& t : run.config.value("tasks", nlohmann::json::array()))
    if (t.value("name", "") == task) return t;
  return nlohmann::json::object();
}

RunOutcomes load_run_outcomes(Store& store, const RunRecord& run, const std::optional<std::filesystem::path>& data_dir,
                              bool with_groups) {
  RunOutcomes out;
  out.run = run;
  out.model = store.model(run.model_id);

  // task -> scorer -> doc_id -> outcome; the scorer's rank kept beside it.
  std::map<std::string, std::map<std::string, std::map<std::string, DocOutcome>>> by_task;
  std::map<std::pair<std::string, std::string>, int> rank;
  for (const auto& s : store.samples(run.id)) {
    for (const auto& v : store.verdicts(s.id)) {
      DocOutcome& d = by_task[s.task][v.scorer][s.doc_id];
      d.doc_id = s.doc_id;
      ++d.samples;
      d.correct += v.correct;
      d.unanswered += v.status == "no_answer";
    }
  }
  // Ranks as the store keeps them (the verdicts' rank column).
  for (const auto& t : store.tally_verdicts(run.id)) rank[{t.task, t.scorer}] = t.rank;

  // Tasks in the configuration's order, then any others the samples name.
  std::vector<std::string> order;
  for (const auto& t : run.config.value("tasks", nlohmann::json::array())) order.push_back(t.value("name", ""));
  for (const auto& [task, _] : by_task)
    if (std::find(order.begin(), order.end(), task) == order.end()) order.push_back(task);

  std::optional<std::filesystem::path> dir;
  std::vector<std::string> notes;
  if (with_groups) {
    try {
      dir = resolve_data_dir(data_dir);
    } catch (const std::exception& e) {
      notes.push_back(fmt::format("no data directory ({})", e.what()));
    }
  }
  for (const auto& task : order) {
    std::map<std::string, std::map<std::string, std::string>> groups;
    if (dir && by_task.count(task)) {
      try {
        groups = doc_groups(run, task_record(run, task), *dir);
      } catch (const std::exception& e) {
        notes.push_back(fmt::format("{}: {}", task, e.what()));
      }
    }
    std::vector<ScorerOutcomes> scorers;
    for (auto& [scorer, docs] : by_task[task]) {
      ScorerOutcomes so;
      so.scorer = scorer;
      so.rank = rank[{task, scorer}];
      for (auto& [doc_id, d] : docs) {
        if (auto g = groups.find(doc_id); g != groups.end()) d.groups = g->second;
        so.docs.push_back(std::move(d));
      }
      scorers.push_back(std::move(so));
    }
    std::stable_sort(scorers.begin(), scorers.end(), [](const auto& a, const auto& b) { return a.rank < b.rank; });
    out.tasks.emplace_back(task, std::move(scorers));
  }
  if (!notes.empty()) out.groups_note = fmt::format("breakdowns unavailable: {}", fmt::join(notes, "; "));
  return out;
}

std::string default_against(const std::optional<ModelRecord>& model, const PublishedNumbers& published) {
  if (!model) return "";
  for (const auto& m : published.models())
    if (iequals(m, model->name)) return m;
  return "";
}

namespace {

// After each pass@1 metric (several samples per doc: code tasks sampled with a temperature), the
// pass@k of Chen et al.'s unbiased estimator for the larger k of kPassAtKs that every doc has
// samples for, with a bootstrap interval over problems as pass@1 has.
std::vector<ReportMetric> with_pass_at_k(const std::vector<ReportMetric>& metrics,
                                         const std::vector<ScorerOutcomes>& scorers) {
  constexpr uint64_t kSeed = 0x79617264;   // fixed, as reports/results.cpp's: the same database, the same report
  std::vector<ReportMetric> out;
  for (const ReportMetric& m : metrics) {
    out.push_back(m);
    if (m.metric != "pass@1") continue;
    auto s = std::find_if(scorers.begin(), scorers.end(), [&](const ScorerOutcomes& x) { return x.scorer == m.scorer; });
    if (s == scorers.end()) continue;
    std::vector<SampleCounts> counts;
    for (const auto& d : s->docs)
      if (d.samples > 0) counts.push_back({d.samples, d.correct});
    for (int k : reportable_ks(counts)) {
      if (k == 1) continue;
      const std::vector<double> values = pass_at_k_per_problem(counts, k);
      Estimate e = bootstrap_mean_estimate(values, kDefaultConfidence, kSeed);
      ReportMetric pk = m;
      pk.metric = fmt::format("pass@{}", k);
      pk.value = e.mean;
      pk.ci_low = e.ci_low;
      pk.ci_high = e.ci_high;
      pk.std_error = e.std_error;
      pk.n = static_cast<int64_t>(e.n);
      out.push_back(std::move(pk));
    }
  }
  return out;
}

}  // namespace

RunReport build_run_report(const RunOutcomes& o, const PublishedNumbers& published, const std::string& against) {
  RunReport report;
  report.run_name = o.run.name;
  report.status = o.run.status;
  report.started_at = o.run.started_at;
  report.finished_at = o.run.finished_at;
  report.engine_build = o.run.engine_build;
  report.limit = o.run.limit;
  report.config_digest = o.run.config_digest;
  report.breakdown_note = o.groups_note;
  if (o.model) {
    report.model_name = o.model->name;
    report.model_path = o.model->path;
    report.weights_digest = o.model->weights_digest;
  }
  report.against = against;
  for (const auto& [task, scorers] : o.tasks) {
    nlohmann::json record = task_record(o.run, task);
    TaskReport tr;
    tr.task = task;
    tr.version = record.value("version", 0);
    tr.shots = record.value("shots", 0);
    tr.prompt_style = o.run.config.value("prompt_style", "");
    tr.protocol = record;
    tr.metrics = with_pass_at_k(summarize_metrics(scorers), scorers);
    if (!scorers.empty()) tr.breakdowns = summarize_breakdowns(scorers.front());
    if (!against.empty())
      if (const PublishedRecord* p = published.lookup(against, task)) tr.published = *p;
    report.tasks.push_back(std::move(tr));
  }
  return report;
}

}  // namespace yardstick
