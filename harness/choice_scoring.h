// Multiple choice by log-likelihood (the paper's "perplexity-based" evaluation): one request per
// doc whose context is the prompt, prefilled once, with every choice as a continuation; the pick
// is the choice with the best score under the task's normalisation. The pick and every score are
// stored as the sample's output, so the verdict (scorers/multiple_choice.h) and a reader of the
// database see the same evidence.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/requests.h"
#include "tasks/task_spec.h"

namespace yardstick {

struct ChoicePick {
  int choice = -1;                   // the index picked
  std::vector<double> scores;        // what was compared, per choice (higher is better)
  std::vector<double> sum_logprobs;  // log P(choice | prompt)
  std::vector<int> tokens;           // continuation tokens per choice
};

// Scores each choice of `conditional` by spec.normalization: "length" (mean log-probability per
// token: the lowest perplexity), "sum", or "unconditional" (minus log P(choice | unconditional
// context), given in `unconditional`). Ties go to the lowest index. Throws Error when the results
// don't have one score per choice.
ChoicePick pick_choice(const ChoiceSpec& spec, const LoglikelihoodResult& conditional,
                       const LoglikelihoodResult* unconditional);

// {"choice": i, "normalization": ..., "scores": [...], "sum_logprobs": [...], "tokens": [...]}
nlohmann::json choice_output(const ChoiceSpec& spec, const ChoicePick& pick);

}  // namespace yardstick
