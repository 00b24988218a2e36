// Run against run on the same docs: per task and scorer, the difference with a paired test on
// per-doc correctness (exact McNemar for one sample per doc; paired bootstrap for pass@1 over
// several samples), the docs whose verdict flipped in each direction, and whether the change is
// within noise. Also which parts of two runs' protocols differ, since only runs made under the
// same protocol can be compared. Pure functions over reports/results.h outcomes.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/results.h"
#include "reports/stats.h"

namespace yardstick {

// One place two run configurations differ: a JSON path and both values (compact JSON; "absent").
struct ProtocolDifference {
  std::string path;   // e.g. "/tasks/gsm8k/shots"
  std::string a;
  std::string b;
};

// Differences in what makes a result comparable: the prompt style, and for every task both runs
// have, its version, shots, generation limit, stop strings, data file digests and whole task spec
// (templates, scorer, sampling), plus the seed when the task samples (temperature > 0). The model,
// engine and --limit are allowed to differ: they are what a comparison is about.
std::vector<ProtocolDifference> protocol_differences(const nlohmann::json& config_a, const nlohmann::json& config_b);

struct TaskComparison {
  std::string task;
  std::string scorer;
  int rank = 0;                    // the scorer's rank: 0 is the task's primary scorer
  std::string metric;              // "acc" | "pass@1"
  std::string test;                // "exact McNemar" | "paired bootstrap"
  double value_a = 0.0;            // over the docs both runs have
  double value_b = 0.0;
  PairedComparison paired;         // difference = a - b; p-value in mcnemar_p
  bool regression = false;         // b significantly worse than a
  bool improvement = false;        // b significantly better than a
  std::vector<std::string> regressed;   // doc ids: better in a than in b (right -> wrong)
  std::vector<std::string> fixed;       // doc ids: better in b than in a (wrong -> right)
  size_t only_in_a = 0;                 // docs graded in one run only (not compared)
  size_t only_in_b = 0;
};

// Pairs the docs by doc_id; significance at level `alpha` (0.05: 95%).
TaskComparison compare_outcomes(const std::string& task, const ScorerOutcomes& a, const ScorerOutcomes& b,
                                double alpha = 0.05);

}  // namespace yardstick
