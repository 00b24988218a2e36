// Whether two MATH answers are the same: by Hendrycks et al.'s string normalisation (the MATH
// paper's `is_equiv`, reported as "strict-match") and by mathematical equivalence (the answers
// parsed by scorers/latex_expr.h and compared by scorers/math_compare.h, reported as
// "equivalence"). Both take answers already extracted (scorers/math_extract.h).
#pragma once

#include <string>
#include <string_view>

#include "scorers/math_compare.h"

namespace yardstick {

// The MATH paper's normalisation, step for step: newlines, `\!`, `\\`, `\dfrac`/`\tfrac`,
// `\left`/`\right`, degrees, `\$`, a unit in `\text{ ...}` at the end, `\%`, leading-zero
// decimals, a short "k =" prefix, `\sqrt3`, spaces, `\frac12`, `0.5`, and `a/b`. Extended with
// what models write and the original misses: the spacing commands `\,` `\;` `\:` `\ `, a
// sentence's trailing period, `$` delimiters, `\text{}`/`\mbox{}` around a whole answer. Unlike the
// original, a `\text{ ...}` is dropped only when it ends the answer ("12\text{ and }13" keeps 13).
std::string hendrycks_normalize(std::string_view answer);

// An answer cleaned for the expression parser: `$`, spacing commands, `\%`, degrees, dollar signs,
// units (a trailing \text{..}/\mbox{..}/\mathrm{..}, or words after a number: "5 inches"), and
// "and"/"or" between answers read as commas.
std::string clean_math_answer(std::string_view answer);

struct MathAnswerComparison {
  bool strict = false;            // equal after hendrycks_normalize
  bool equivalent = false;        // strict, or mathematically equal
  std::string method;             // "string" (normalised strings equal), or math_equivalent()'s method
  std::string normalized;         // hendrycks_normalize(prediction)
  std::string gold_normalized;    // hendrycks_normalize(gold)
};

// Compares an extracted prediction with the extracted gold answer. Never throws: an answer the
// parser can't read is only compared as a string.
MathAnswerComparison compare_math_answers(std::string_view prediction, std::string_view gold);

}  // namespace yardstick
