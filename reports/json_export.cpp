#include "reports/json_export.h"

#include "reports/stats.h"

namespace yardstick {

namespace {

using json = nlohmann::json;

json estimate_json(const Estimate& e) {
  return {{"value", e.mean}, {"stderr", e.std_error}, {"ci_low", e.ci_low}, {"ci_high", e.ci_high}, {"n", e.n}};
}

json published_json(const TaskReport& t) {
  if (!t.published) return nullptr;
  const PublishedRecord& p = *t.published;
  json j = {{"model", p.model},   {"benchmark", p.benchmark}, {"value", p.value},
            {"metric", p.metric}, {"unit", p.unit},           {"source", p.source},
            {"source_detail", p.source_detail}, {"confirmed_primary", p.confirmed_primary}};
  j["shots"] = p.shots ? json(*p.shots) : json(nullptr);
  if (!t.metrics.empty() && p.percent) {
    Estimate e;
    e.mean = t.metrics.front().value;
    e.ci_low = t.metrics.front().ci_low;
    e.ci_high = t.metrics.front().ci_high;
    e.n = static_cast<size_t>(t.metrics.front().n);
    PublishedComparison c = compare_to_published(e, p.value / 100.0);
    j["difference"] = c.difference;   // ours - published, as fractions
    j["within_noise"] = c.within_noise;
  }
  return j;
}

}  // namespace

json run_to_json(const RunReport& r) {
  json results = json::object(), configs = json::object(), versions = json::object(), n_shot = json::object(),
       n_samples = json::object(), tasks = json::array();
  for (const TaskReport& t : r.tasks) {
    json res = {{"alias", t.task}};
    json metrics = json::array();
    int64_t n = 0;
    for (const ReportMetric& m : t.metrics) {
      res[m.metric + "," + m.scorer] = m.value;
      res[m.metric + "_stderr," + m.scorer] = m.std_error;
      metrics.push_back({{"scorer", m.scorer},     {"metric", m.metric}, {"value", m.value},
                         {"stderr", m.std_error},  {"ci_low", m.ci_low}, {"ci_high", m.ci_high},
                         {"n", m.n},               {"interval", m.interval},
                         {"samples", m.samples},   {"unanswered", m.unanswered}});
      n = std::max(n, m.n);
    }
    results[t.task] = res;
    json config = {{"task", t.task}, {"num_fewshot", t.shots}, {"prompt_style", t.prompt_style}};
    if (t.protocol.is_object()) config["yardstick_protocol"] = t.protocol;
    configs[t.task] = config;
    versions[t.task] = t.version;
    n_shot[t.task] = t.shots;
    n_samples[t.task] = {{"original", n}, {"effective", n}};

    json breakdowns = json::array();
    for (const Breakdown& b : t.breakdowns) {
      json groups = json::array();
      for (const GroupEstimate& g : b.groups) {
        json e = estimate_json(g.estimate);
        e["group"] = g.value;
        if (g.subject_average) e["average_over_subjects"] = estimate_json(*g.subject_average);
        groups.push_back(e);
      }
      breakdowns.push_back({{"key", b.key}, {"groups", groups}, {"average_over_groups", estimate_json(b.average)}});
    }
    tasks.push_back({{"task", t.task},
                     {"version", t.version},
                     {"shots", t.shots},
                     {"prompt_style", t.prompt_style},
                     {"metrics", metrics},
                     {"published", published_json(t)},
                     {"breakdowns", breakdowns}});
  }
  json yardstick = {{"run", r.run_name},         {"status", r.status},
                    {"started_at", r.started_at}, {"finished_at", r.finished_at},
                    {"model", r.model_name},      {"model_path", r.model_path},
                    {"weights_digest", r.weights_digest}, {"engine_build", r.engine_build},
                    {"config_digest", r.config_digest},   {"against", r.against},
                    {"tasks", tasks}};
  yardstick["limit"] = r.limit ? json(*r.limit) : json(nullptr);
  if (!r.breakdown_note.empty()) yardstick["breakdown_note"] = r.breakdown_note;
  return {{"results", results},
          {"configs", configs},
          {"versions", versions},
          {"n-shot", n_shot},
          {"n-samples", n_samples},
          {"config", {{"model", r.model_name}, {"model_args", r.model_path}, {"limit", yardstick["limit"]}}},
          {"yardstick", yardstick}};
}

json render_json(const std::vector<RunReport>& reports) {
  if (reports.size() == 1) return run_to_json(reports.front());
  json runs = json::array();
  for (const auto& r : reports) runs.push_back(run_to_json(r));
  return {{"runs", runs}};
}

}  // namespace yardstick
