#include "scorers/cluewsc.h"

#include <string>

#include <nlohmann/json.hpp>

namespace yardstick {

namespace {

// Spaces and opening quotes a model puts before the name.
std::string_view strip_opening(std::string_view s) {
  for (bool again = true; again;) {
    again = false;
    for (std::string_view p : {" ", "\t", "\n", "「", "“", "\"", "'", "『", "《"}) {
      if (s.starts_with(p)) {
        s.remove_prefix(p.size());
        again = true;
      }
    }
  }
  return s;
}

}  // namespace

std::vector<Verdict> grade_cluewsc(std::string_view output, std::string_view gold) {
  auto g = nlohmann::json::parse(gold, nullptr, /*allow_exceptions=*/false);
  if (!g.is_object() || !g.contains("candidate") || !g.at("candidate").is_string() || !g.contains("label") ||
      !g.at("label").is_boolean() || g.at("candidate").get<std::string>().empty())
    return {bad_gold_verdict(kCluewscScorer, gold)};
  Verdict v;
  v.scorer = std::string(kCluewscScorer);
  const std::string candidate = g.at("candidate").get<std::string>();
  const bool label = g.at("label").get<bool>();
  v.detail = {{"candidate", candidate}, {"label", label}};
  std::string_view answer = strip_opening(output);
  if (answer.empty()) {
    v.status = verdict_status::kNoAnswer;
    return {v};
  }
  // Candidates may carry quotes themselves ("“朋友”"): both sides lose their opening ones.
  bool names_candidate = answer.starts_with(strip_opening(candidate));
  v.status = verdict_status::kOk;
  v.extracted = names_candidate ? "true" : "false";
  v.correct = names_candidate == label;
  return {v};
}

}  // namespace yardstick
