// Grading of multiple-choice answers picked by log-likelihood (the paper's "perplexity-based"
// benchmarks: C-Eval, CMMLU, CHID, C3, CCPM). The harness scores every choice as a continuation of
// the prompt and stores its pick as the output; the verdict compares the picked index with the
// gold index. Pure functions of the text.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "scorers/verdict.h"

namespace yardstick {

inline constexpr std::string_view kChoiceAccuracy = "choice";

// The chosen index of an output: a JSON object {"choice": i, ...} as `yardstick run` stores it, a
// bare index ("2"), or an option letter ("C", "(C)", "C."; A is 0). nullopt for anything else.
std::optional<int> parse_choice(std::string_view output);

// One verdict, "choice": correct when the output's index equals the gold's (an index or a letter).
std::vector<Verdict> grade_multiple_choice(std::string_view output, std::string_view gold);

}  // namespace yardstick
