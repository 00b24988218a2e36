#include "reports/compare.h"

#include <map>

#include <fmt/format.h>

namespace yardstick {

namespace {

using json = nlohmann::json;

// Leaf paths where a and b differ (objects compared key by key; anything else as a whole).
void diff_json(const std::string& path, const json& a, const json& b, std::vector<ProtocolDifference>& out) {
  if (a.is_object() && b.is_object()) {
    for (const auto& [k, v] : a.items()) diff_json(path + "/" + k, v, b.contains(k) ? b.at(k) : json(), out);
    for (const auto& [k, v] : b.items())
      if (!a.contains(k)) diff_json(path + "/" + k, json(), v, out);
    return;
  }
  if (a != b) out.push_back({path, a.is_null() ? "absent" : a.dump(), b.is_null() ? "absent" : b.dump()});
}

std::map<std::string, json> tasks_by_name(const json& config) {
  std::map<std::string, json> out;
  for (const auto& t : config.value("tasks", json::array())) out[t.value("name", "")] = t;
  return out;
}

}  // namespace

std::vector<ProtocolDifference> protocol_differences(const json& config_a, const json& config_b) {
  std::vector<ProtocolDifference> out;
  diff_json("/prompt_style", config_a.value("prompt_style", json()), config_b.value("prompt_style", json()), out);
  auto ta = tasks_by_name(config_a), tb = tasks_by_name(config_b);
  for (const auto& [name, a] : ta) {
    auto it = tb.find(name);
    if (it == tb.end()) continue;
    const json& b = it->second;
    for (const char* key : {"version", "shots", "max_new_tokens", "stop", "data_files", "spec"})
      diff_json(fmt::format("/tasks/{}/{}", name, key), a.value(key, json()), b.value(key, json()), out);
    double temperature = a.value("spec", json::object()).value("sampling", json::object()).value("temperature", 0.0);
    if (temperature > 0.0) diff_json("/seed", config_a.value("seed", json()), config_b.value("seed", json()), out);
  }
  return out;
}

TaskComparison compare_outcomes(const std::string& task, const ScorerOutcomes& a, const ScorerOutcomes& b,
                                double alpha) {
  TaskComparison c;
  c.task = task;
  c.scorer = a.scorer;
  c.rank = a.rank;
  std::map<std::string, const DocOutcome*> in_b;
  for (const auto& d : b.docs)
    if (d.samples > 0) in_b[d.doc_id] = &d;
  ScorerOutcomes pa, pb;   // the paired docs, in a's order
  for (const auto& d : a.docs) {
    if (d.samples == 0) continue;
    auto it = in_b.find(d.doc_id);
    if (it == in_b.end()) {
      ++c.only_in_a;
      continue;
    }
    pa.docs.push_back(d);
    pb.docs.push_back(*it->second);
    in_b.erase(it);
  }
  c.only_in_b = in_b.size();
  std::vector<double> va = per_doc_values(pa), vb = per_doc_values(pb);
  for (size_t i = 0; i < va.size(); ++i) {
    if (va[i] > vb[i]) c.regressed.push_back(pa.docs[i].doc_id);
    if (va[i] < vb[i]) c.fixed.push_back(pa.docs[i].doc_id);
  }
  bool proportion = single_sample(pa) && single_sample(pb);
  c.metric = proportion ? "acc" : "pass@1";
  double confidence = 1.0 - alpha;
  if (proportion) {
    c.test = "exact McNemar";
    std::vector<bool> ba(va.size()), bb(vb.size());
    for (size_t i = 0; i < va.size(); ++i) {
      ba[i] = va[i] > 0.5;
      bb[i] = vb[i] > 0.5;
    }
    c.paired = compare_paired(ba, bb, confidence);
  } else {
    c.test = "paired bootstrap";
    c.paired = compare_paired_values(va, vb, confidence);
  }
  for (double v : va) c.value_a += v;
  for (double v : vb) c.value_b += v;
  if (!va.empty()) {
    c.value_a /= static_cast<double>(va.size());
    c.value_b /= static_cast<double>(vb.size());
  }
  c.regression = c.paired.significant && c.value_b < c.value_a;
  c.improvement = c.paired.significant && c.value_b > c.value_a;
  return c;
}

}  // namespace yardstick
