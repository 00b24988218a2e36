// A parser for the LaTeX that math answers are written in (`\frac{1+\sqrt5}{4}`, `(-\infty,2]\cup[3,5)`,
// `\begin{pmatrix}1\\-2\end{pmatrix}`, `y=2x+3`, `6+8i, 6-8i`, `1\pm\sqrt2`) into a small expression
// tree that scorers/math_compare.h evaluates and compares. It reads what models and the MATH
// solutions write, not all of TeX: anything it does not understand makes the parse fail, and the
// caller falls back to comparing strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scorers/rational.h"

namespace yardstick {

enum class MathNodeKind {
  // Scalars (evaluated to numbers by math_compare):
  Number,      // value: a decimal literal, exact
  Symbol,      // name: a variable ("x", "alpha", "x_1") or an opaque atom such as a base-b numeral ("52_8")
  Constant,    // name: "pi", "e", "i", "inf"
  Add,         // children: the terms (subtraction is Add of Neg)
  Mul,         // children: the factors (explicit or implicit multiplication)
  Div,         // children: [numerator, denominator]
  Pow,         // children: [base, exponent]; \sqrt[n]{x} is Pow(x, 1/n)
  Neg,         // children: [operand]
  PlusMinus,   // children: [a, b] for a ± b (a = 0 for a leading ±); sign: +1 for ±, -1 for ∓
  Func,        // name: "sin", "log", "abs", "floor", "binom", ...; children: the arguments
  Factorial,   // children: [operand]
  // Structures (compared item by item):
  Bracketed,   // open/close: '(' or '[' / ')' or ']'; children: the items of a tuple or interval
  Set,         // \{ ... \}; children: the elements (order does not matter)
  List,        // items separated by top-level commas (order does not matter: "all solutions")
  Matrix,      // rows x cols, children row-major
  Relation,    // children joined by ops (each "=", "<", ">", "le", "ge", "ne")
  Union,       // children: intervals or sets joined by \cup
  Text,        // name: words that are not mathematics ("odd", "Devon")
};

struct MathNode {
  MathNodeKind kind = MathNodeKind::Number;
  Rational value;                  // Number
  std::string name;                // Symbol, Constant, Func, Text
  std::vector<MathNode> children;
  std::vector<std::string> ops;    // Relation: children.size() - 1 operators
  char open = 0, close = 0;        // Bracketed
  int rows = 0, cols = 0;          // Matrix
  int sign = 1;                    // PlusMinus
};

// The tree of one answer, or nullopt when the text is not mathematics this parser reads (it then
// says nothing about equality). `text` should already be cleaned of `$`, units and spacing
// commands (math_equivalence.h prepares it), though the parser skips whitespace and `\left`.
std::optional<MathNode> parse_latex_expr(std::string_view text);

// An S-expression of the tree, for tests and verdict details: "(add 1 (mul 2 x))".
std::string to_sexpr(const MathNode& node);

}  // namespace yardstick
