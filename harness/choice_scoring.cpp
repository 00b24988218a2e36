#include "harness/choice_scoring.h"

#include <fmt/core.h>

#include "engine/error.h"

namespace yardstick {

ChoicePick pick_choice(const ChoiceSpec& spec, const LoglikelihoodResult& conditional,
                       const LoglikelihoodResult* unconditional) {
  const size_t n = conditional.scores.size();
  if (n == 0) throw Error("multiple choice: the engine returned no scores");
  if (spec.normalization == "unconditional" && (!unconditional || unconditional->scores.size() != n))
    throw Error(fmt::format("multiple choice: {} choices but {} unconditional scores", n,
                            unconditional ? unconditional->scores.size() : 0));
  ChoicePick pick;
  for (size_t i = 0; i < n; ++i) {
    const ContinuationScore& s = conditional.scores[i];
    int tokens = static_cast<int>(s.logprobs.size());
    double score = s.sum_logprob;
    if (spec.normalization == "length") score = tokens > 0 ? s.sum_logprob / tokens : s.sum_logprob;
    if (spec.normalization == "unconditional") score -= unconditional->scores[i].sum_logprob;
    pick.scores.push_back(score);
    pick.sum_logprobs.push_back(s.sum_logprob);
    pick.tokens.push_back(tokens);
    if (pick.choice < 0 || score > pick.scores[static_cast<size_t>(pick.choice)]) pick.choice = static_cast<int>(i);
  }
  return pick;
}

nlohmann::json choice_output(const ChoiceSpec& spec, const ChoicePick& pick) {
  return {{"choice", pick.choice},
          {"normalization", spec.normalization},
          {"scores", pick.scores},
          {"sum_logprobs", pick.sum_logprobs},
          {"tokens", pick.tokens}};
}

}  // namespace yardstick
