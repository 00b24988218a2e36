#include "reports/results.h"

#include <algorithm>
#include <set>

namespace yardstick {

namespace {

// Bootstrap seed: fixed, so the same database always gives the same report.
constexpr uint64_t kBootstrapSeed = 0x79617264;   // "yard"
constexpr const char* kSubjectKey = "subject";

Estimate estimate_of(const std::vector<const DocOutcome*>& docs, bool proportion, double confidence) {
  if (proportion) {
    size_t correct = 0;
    for (const DocOutcome* d : docs) correct += d->correct > 0;
    return proportion_estimate(correct, docs.size(), confidence);
  }
  std::vector<double> values;
  for (const DocOutcome* d : docs) values.push_back(static_cast<double>(d->correct) / static_cast<double>(d->samples));
  return bootstrap_mean_estimate(values, confidence, kBootstrapSeed);
}

}  // namespace

std::vector<double> per_doc_values(const ScorerOutcomes& outcomes) {
  std::vector<double> values;
  values.reserve(outcomes.docs.size());
  for (const auto& d : outcomes.docs)
    values.push_back(d.samples > 0 ? static_cast<double>(d.correct) / static_cast<double>(d.samples) : 0.0);
  return values;
}

bool single_sample(const ScorerOutcomes& outcomes) {
  return std::all_of(outcomes.docs.begin(), outcomes.docs.end(), [](const DocOutcome& d) { return d.samples == 1; });
}

std::vector<ReportMetric> summarize_metrics(const std::vector<ScorerOutcomes>& scorers, double confidence) {
  std::vector<const ScorerOutcomes*> ranked;
  for (const auto& s : scorers) ranked.push_back(&s);
  std::stable_sort(ranked.begin(), ranked.end(), [](auto* a, auto* b) { return a->rank < b->rank; });
  std::vector<ReportMetric> metrics;
  for (const ScorerOutcomes* s : ranked) {
    std::vector<const DocOutcome*> docs;
    for (const auto& d : s->docs)
      if (d.samples > 0) docs.push_back(&d);
    bool proportion = single_sample(*s);
    Estimate e = estimate_of(docs, proportion, confidence);
    ReportMetric m;
    m.scorer = s->scorer;
    m.metric = proportion ? "acc" : "pass@1";
    m.value = e.mean;
    m.ci_low = e.ci_low;
    m.ci_high = e.ci_high;
    m.n = static_cast<int64_t>(e.n);
    m.std_error = e.std_error;
    m.interval = proportion ? "wilson" : "bootstrap";
    for (const DocOutcome* d : docs) {
      m.samples += d->samples;
      m.unanswered += d->unanswered;
    }
    metrics.push_back(std::move(m));
  }
  return metrics;
}

std::vector<Breakdown> summarize_breakdowns(const ScorerOutcomes& outcomes, double confidence) {
  std::set<std::string> keys;
  for (const auto& d : outcomes.docs)
    for (const auto& [key, value] : d.groups) keys.insert(key);
  bool proportion = single_sample(outcomes);
  std::vector<Breakdown> breakdowns;
  for (const auto& key : keys) {
    std::map<std::string, std::vector<const DocOutcome*>> by_value;
    for (const auto& d : outcomes.docs)
      if (auto it = d.groups.find(key); it != d.groups.end() && d.samples > 0) by_value[it->second].push_back(&d);
    Breakdown b;
    b.key = key;
    std::vector<std::vector<double>> values;
    for (const auto& [value, docs] : by_value) {
      GroupEstimate g{value, estimate_of(docs, proportion, confidence), std::nullopt};
      auto& v = values.emplace_back();
      std::map<std::string, std::vector<double>> by_subject;
      for (const DocOutcome* d : docs) {
        double x = static_cast<double>(d->correct) / static_cast<double>(d->samples);
        v.push_back(x);
        if (auto s = d->groups.find(kSubjectKey); s != d->groups.end()) by_subject[s->second].push_back(x);
      }
      if (key != kSubjectKey && !by_subject.empty()) {
        std::vector<std::vector<double>> subjects;
        for (auto& [_, xs] : by_subject) subjects.push_back(std::move(xs));
        g.subject_average = bootstrap_group_average(subjects, confidence, kBootstrapSeed);
      }
      b.groups.push_back(std::move(g));
    }
    b.average = bootstrap_group_average(values, confidence, kBootstrapSeed);
    breakdowns.push_back(std::move(b));
  }
  return breakdowns;
}

}  // namespace yardstick
