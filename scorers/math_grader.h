// MATH grading (Hendrycks et al. 2021; the DeepSeek LLM paper's protocol in
// ../shared/reference/PROTOCOL.md): the final answer is extracted from a greedy solution
// (scorers/math_extract.h) and compared with the reference answer two ways, each its own verdict.
#pragma once

#include <string_view>
#include <vector>

#include "scorers/verdict.h"

namespace yardstick {

// Scorer names. "equivalence" is the primary verdict: the mathematical comparison that
// symbolic graders (Minerva, DeepSeek-Math) use. "strict-match" is the MATH paper's normalised
// string equality, kept for comparison with numbers produced that way.
inline constexpr std::string_view kMathEquivalence = "equivalence";
inline constexpr std::string_view kMathStrict = "strict-match";

// Both verdicts, equivalence first. `gold` is a bare answer ("\frac{1}{2}"), a `$...$` answer, or a
// full reference solution whose last \boxed{} holds the answer. Each verdict's detail carries the
// raw extracted answer, how it was found ("boxed", "final-answer", ...), the gold answer and, for
// equivalence, how equality was decided ("string", "exact", "numeric", "symbolic", "structure").
std::vector<Verdict> grade_math(std::string_view output, std::string_view gold);

}  // namespace yardstick
