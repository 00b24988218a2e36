// CLUEWSC by generation (PROTOCOL.md: "{sentence} 上面的句子中的「{pronoun}」指的是 {referent}", the model
// generates the referent). Each doc pairs a pronoun with one candidate and says whether the pronoun
// refers to it; the model's answer says so when it names that candidate. Correct when the two agree.
#pragma once

#include <string_view>
#include <vector>

#include "scorers/verdict.h"

namespace yardstick {

inline constexpr std::string_view kCluewscScorer = "referent-match";

// `gold`: {"candidate": "毛豆", "label": true} (JSON). The output names the candidate when, both
// without leading spaces and opening quotes (「 “ " '), it starts with the candidate's text. An
// empty output is no_answer.
std::vector<Verdict> grade_cluewsc(std::string_view output, std::string_view gold);

}  // namespace yardstick
