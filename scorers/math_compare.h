// Mathematical equality of two parsed answers (scorers/latex_expr.h): numbers exactly as
// rationals where both sides are rational, numerically with a relative tolerance where either is
// not (roots, π, logarithms), expressions with variables at seeded random points, and structures
// (tuples, intervals, sets, matrices, equations) item by item.
#pragma once

#include <complex>
#include <map>
#include <optional>
#include <string>

#include "scorers/latex_expr.h"
#include "scorers/rational.h"

namespace yardstick {

// The value of a scalar expression: exact when every step was rational arithmetic that fit in
// 128 bits, and always an approximation (complex, so sqrt(-4) and 3+4i are values too).
struct MathScalar {
  std::optional<Rational> exact;
  std::complex<double> approx;
};

using MathEnv = std::map<std::string, std::complex<double>>;   // symbol name -> value

// The value of a scalar tree, or nullopt when it has a structure (tuple, set, relation, ±), a
// symbol `env` lacks, or a function this evaluator does not know.
std::optional<MathScalar> evaluate_math(const MathNode& node, const MathEnv& env = {});

// ± written out: "1 \pm \sqrt2" becomes the list {1+√2, 1-√2}; a list of such items is
// flattened, so "\pm 1, 2" is {1, -1, 2}. Single-item lists become their item.
MathNode expand_plus_minus(const MathNode& node);

struct MathEquivalence {
  bool equivalent = false;
  std::string method;   // how it was decided: "exact", "numeric", "symbolic", "structure", "text", ""
};

// Whether two answers are the same mathematical object. Lists and sets compare without order,
// tuples and intervals with order and bracket kinds, "x = 5" equals "5", two equations are equal
// when one side minus the other is proportional (2x-y=3 vs y=2x-3), and inequalities in one
// variable equal the interval they describe (x > 3 vs (3, \infty)).
MathEquivalence math_equivalent(const MathNode& a, const MathNode& b);

}  // namespace yardstick
