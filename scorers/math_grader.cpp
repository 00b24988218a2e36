#include "scorers/math_grader.h"

#include "scorers/math_equivalence.h"
#include "scorers/math_extract.h"

namespace yardstick {

std::vector<Verdict> grade_math(std::string_view output, std::string_view gold) {
  auto gold_answer = math_gold_answer(gold);
  if (!gold_answer) return {bad_gold_verdict(kMathEquivalence, gold), bad_gold_verdict(kMathStrict, gold)};
  Verdict equivalence, strict;
  equivalence.scorer = std::string(kMathEquivalence);
  strict.scorer = std::string(kMathStrict);
  auto answer = extract_math_answer(output);
  if (!answer) {
    for (Verdict* v : {&equivalence, &strict}) {
      v->status = verdict_status::kNoAnswer;
      v->detail = {{"gold", *gold_answer}};
    }
    return {equivalence, strict};
  }
  MathAnswerComparison c = compare_math_answers(answer->text, *gold_answer);
  for (Verdict* v : {&equivalence, &strict}) {
    v->status = verdict_status::kOk;
    v->extracted = c.normalized;
    v->detail = {{"raw", answer->text}, {"method", answer->method}, {"gold", *gold_answer},
                 {"gold_normalized", c.gold_normalized}};
  }
  strict.correct = c.strict;
  equivalence.correct = c.equivalent;
  equivalence.detail["compared_by"] = c.method;
  return {equivalence, strict};
}

}  // namespace yardstick
