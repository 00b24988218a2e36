// MATH answer equality on golden pairs: exact rationals, the LaTeX parser, numeric and symbolic
// comparison, structures, and the MATH paper's string normalisation, including ugly LaTeX.
#include "scorers/math_equivalence.h"

#include <gtest/gtest.h>

#include "scorers/latex_expr.h"
#include "scorers/math_compare.h"
#include "scorers/rational.h"

namespace yardstick {
namespace {

// ---------------------------------------------------------------- rationals

TEST(Rational, ReducesAndKeepsTheSignOnTheNumerator) {
  EXPECT_EQ(Rational::make(4, -6)->to_string(), "-2/3");
  EXPECT_EQ(Rational::make(0, 5)->to_string(), "0");
  EXPECT_FALSE(Rational::make(1, 0));
}

TEST(Rational, ReadsDecimalsExactly) {
  EXPECT_EQ(Rational::from_decimal("0.5")->to_string(), "1/2");
  EXPECT_EQ(Rational::from_decimal(".25")->to_string(), "1/4");
  EXPECT_EQ(Rational::from_decimal("007")->to_string(), "7");
  EXPECT_EQ(Rational::from_decimal("12.50")->to_string(), "25/2");
  EXPECT_FALSE(Rational::from_decimal("1.2.3"));
  EXPECT_FALSE(Rational::from_decimal(""));
  EXPECT_FALSE(Rational::from_decimal("1e5"));
}

TEST(Rational, ReportsOverflowInsteadOfWrapping) {
  auto big = pow_int(Rational(10), 37);
  ASSERT_TRUE(big);
  EXPECT_FALSE(mul(*big, Rational(100)));
  EXPECT_FALSE(pow_int(Rational(2), 200));
  EXPECT_EQ(pow_int(Rational(2), 100)->to_string(), "1267650600228229401496703205376");
  EXPECT_EQ(pow_int(Rational(-1), 1000001)->to_string(), "-1");
  EXPECT_FALSE(div(Rational(1), Rational(0)));
}

TEST(Rational, TakesExactRootsOnlyOfPerfectPowers) {
  EXPECT_EQ(exact_root(*Rational::make(16, 9), 2)->to_string(), "4/3");
  EXPECT_EQ(exact_root(Rational(-27), 3)->to_string(), "-3");
  EXPECT_FALSE(exact_root(Rational(2), 2));
  EXPECT_FALSE(exact_root(Rational(-4), 2));
}

// ---------------------------------------------------------------- parser

std::string sexpr(std::string_view latex) {
  auto n = parse_latex_expr(latex);
  return n ? to_sexpr(*n) : "<none>";
}

TEST(LatexParser, ReadsFractionsRootsAndPowers) {
  EXPECT_EQ(sexpr("\\frac{1}{2}"), "(div 1 2)");
  EXPECT_EQ(sexpr("\\dfrac12"), "(div 1 2)");
  EXPECT_EQ(sexpr("\\frac1{72}"), "(div 1 72)");
  EXPECT_EQ(sexpr("\\sqrt{3}"), "(pow 3 (div 1 2))");
  EXPECT_EQ(sexpr("\\sqrt[3]{x}"), "(pow x (div 1 3))");
  EXPECT_EQ(sexpr("x^23"), "(mul (pow x 2) 3)");   // TeX takes one token as the exponent
  EXPECT_EQ(sexpr("2^{10}"), "(pow 2 10)");
}

TEST(LatexParser, ReadsImplicitMultiplicationAndMixedNumbers) {
  EXPECT_EQ(sexpr("2x"), "(mul 2 x)");
  EXPECT_EQ(sexpr("3\\sqrt2"), "(mul 3 (pow 2 (div 1 2)))");
  EXPECT_EQ(sexpr("(x+1)(x-1)"), "(mul (add x 1) (add x (neg 1)))");
  EXPECT_EQ(sexpr("2\\frac{1}{2}"), "(add 2 (div 1 2))");
  EXPECT_EQ(sexpr("2\\frac{\\pi}{3}"), "(mul 2 (div pi 3))");
}

TEST(LatexParser, ReadsStructures) {
  EXPECT_EQ(sexpr("(1, 2]"), "((] 1 2)");
  EXPECT_EQ(sexpr("\\{1,2\\}"), "(set 1 2)");
  EXPECT_EQ(sexpr("1, 2"), "(list 1 2)");
  EXPECT_EQ(sexpr("\\begin{pmatrix} 1 \\\\ -2 \\end{pmatrix}"), "(matrix 2x1 1 (neg 2))");
  EXPECT_EQ(sexpr("y = 2x"), "(rel y = (mul 2 x))");
  EXPECT_EQ(sexpr("(-\\infty, 0) \\cup (1, \\infty)"), "(union (() (neg inf) 0) (() 1 inf))");
  EXPECT_EQ(sexpr("1 \\pm \\sqrt{2}"), "(pm 1 (pow 2 (div 1 2)))");
}

TEST(LatexParser, ReadsThousandsSeparatorsAndRepeatingDecimals) {
  EXPECT_EQ(sexpr("10,000"), "10000");
  EXPECT_EQ(sexpr("1, 000"), "(list 1 0)");   // a space after the comma separates items
  EXPECT_EQ(sexpr("0.\\overline{3}"), "1/3");
  EXPECT_EQ(sexpr("0.1\\overline{6}"), "1/6");
}

TEST(LatexParser, TreatsWordsAsText) {
  EXPECT_EQ(sexpr("\\text{odd}"), "(text odd)");
  EXPECT_EQ(sexpr("Sunday"), "(text sunday)");
}

TEST(LatexParser, RefusesWhatItCannotRead) {
  EXPECT_EQ(sexpr("\\frac{1}{"), "<none>");
  EXPECT_EQ(sexpr("(1, 2"), "<none>");
  EXPECT_EQ(sexpr("\\unknowncommand{3}"), "<none>");
  EXPECT_EQ(sexpr("3 : 4"), "<none>");
  EXPECT_EQ(sexpr(std::string(5000, '(')), "<none>");   // too deep: refused, not a crash
}

// ---------------------------------------------------------------- evaluation

TEST(MathEvaluate, KeepsRationalArithmeticExact) {
  auto v = evaluate_math(*parse_latex_expr("\\frac{1}{3} + \\frac{1}{6}"));
  ASSERT_TRUE(v && v->exact);
  EXPECT_EQ(v->exact->to_string(), "1/2");
  v = evaluate_math(*parse_latex_expr("\\sqrt{\\frac{16}{9}}"));
  ASSERT_TRUE(v && v->exact);
  EXPECT_EQ(v->exact->to_string(), "4/3");
  v = evaluate_math(*parse_latex_expr("\\binom{10}{3} + 5!"));
  ASSERT_TRUE(v && v->exact);
  EXPECT_EQ(v->exact->to_string(), "240");
}

TEST(MathEvaluate, FallsBackToFloatingPointForIrrationals) {
  auto v = evaluate_math(*parse_latex_expr("2\\pi"));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->exact);
  EXPECT_NEAR(v->approx.real(), 6.283185307179586, 1e-12);
  v = evaluate_math(*parse_latex_expr("\\sqrt[3]{-8}"));
  ASSERT_TRUE(v && v->exact);
  EXPECT_EQ(v->exact->to_string(), "-2");
}

TEST(MathEvaluate, NeedsAValueForEverySymbol) {
  EXPECT_FALSE(evaluate_math(*parse_latex_expr("x+1")));
  auto v = evaluate_math(*parse_latex_expr("x+1"), {{"x", {2.0, 0.0}}});
  ASSERT_TRUE(v);
  EXPECT_DOUBLE_EQ(v->approx.real(), 3.0);
}

// ---------------------------------------------------------------- answer comparison

bool equiv(std::string_view pred, std::string_view gold) { return compare_math_answers(pred, gold).equivalent; }
bool strict(std::string_view pred, std::string_view gold) { return compare_math_answers(pred, gold).strict; }

TEST(HendrycksNormalize, FollowsTheMathPaperSteps) {
  EXPECT_EQ(hendrycks_normalize("\\dfrac{1}{2}"), "\\frac{1}{2}");
  EXPECT_EQ(hendrycks_normalize("\\tfrac12"), "\\frac{1}{2}");
  EXPECT_EQ(hendrycks_normalize("0.5"), "\\frac{1}{2}");
  EXPECT_EQ(hendrycks_normalize("1/2"), "\\frac{1}{2}");
  EXPECT_EQ(hendrycks_normalize("\\left( 3, \\frac{\\pi}{2} \\right)"), "(3,\\frac{\\pi}{2})");
  EXPECT_EQ(hendrycks_normalize("45^\\circ"), "45");
  EXPECT_EQ(hendrycks_normalize("30\\%"), "30");
  EXPECT_EQ(hendrycks_normalize("\\$4"), "4");
  EXPECT_EQ(hendrycks_normalize("5\\text{ inches}"), "5");
  EXPECT_EQ(hendrycks_normalize("k = 7"), "7");
  EXPECT_EQ(hendrycks_normalize("\\sqrt3"), "\\sqrt{3}");
  EXPECT_EQ(hendrycks_normalize(".5"), "\\frac{1}{2}");
  EXPECT_EQ(hendrycks_normalize("10,\\!000"), "10,000");
  EXPECT_EQ(hendrycks_normalize("3\\,\\text{cm}."), "3\\text{cm}");
  EXPECT_EQ(hendrycks_normalize("$\\frac{3}{4}$"), "\\frac{3}{4}");
}

TEST(HendrycksNormalize, DropsATextUnitOnlyWhenItEndsTheAnswer) {
  EXPECT_EQ(hendrycks_normalize("12\\text{ and }13"), "12\\text{and}13");
  EXPECT_EQ(hendrycks_normalize("10\\text{ cm}^2"), "10");
}

TEST(MathAnswers, StrictIsStringEqualityAfterNormalisation) {
  EXPECT_TRUE(strict("\\dfrac{1}{2}", "\\frac12"));
  EXPECT_TRUE(strict("0.5", "\\frac{1}{2}"));
  EXPECT_FALSE(strict("\\frac{2}{4}", "\\frac{1}{2}"));   // equal values, different strings
  EXPECT_TRUE(equiv("\\frac{2}{4}", "\\frac{1}{2}"));
}

TEST(MathAnswers, NumbersCompareExactlyAsRationals) {
  EXPECT_TRUE(equiv("0.5", "\\frac12"));
  EXPECT_TRUE(equiv("1.50", "\\frac{3}{2}"));
  EXPECT_TRUE(equiv("-\\frac{1}{16}", "-0.0625"));
  EXPECT_TRUE(equiv("\\frac{-1}{16}", "-\\frac{1}{16}"));
  EXPECT_TRUE(equiv("10000", "10,\\!000"));
  EXPECT_TRUE(equiv("25,972,650", "25,\\!972,\\!650"));
  EXPECT_TRUE(equiv("6\\frac{1}{4}", "\\frac{25}{4}"));
  EXPECT_TRUE(equiv("0.\\overline{3}", "\\frac{1}{3}"));
  EXPECT_FALSE(equiv("0.333", "\\frac{1}{3}"));   // a rounded decimal is not the exact answer
  EXPECT_FALSE(equiv("2", "3"));
  EXPECT_FALSE(equiv("1000", "100"));
}

TEST(MathAnswers, IrrationalsCompareNumerically) {
  EXPECT_TRUE(equiv("2\\sqrt{2}", "\\sqrt{8}"));
  EXPECT_TRUE(equiv("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"));
  EXPECT_TRUE(equiv("\\frac{1 + \\sqrt{5}}{4}", "\\frac{\\sqrt5+1}{4}"));
  EXPECT_TRUE(equiv("8\\pi - 16", "-16+8\\pi"));
  EXPECT_TRUE(equiv("\\pi/2", "\\frac{\\pi}{2}"));
  EXPECT_TRUE(equiv("2^{100}", "1267650600228229401496703205376"));
  EXPECT_TRUE(equiv("\\log_2 8", "3"));
  EXPECT_FALSE(equiv("0.866", "\\frac{\\sqrt{3}}{2}"));
  EXPECT_FALSE(equiv("\\sqrt{2}", "\\sqrt{3}"));
  EXPECT_FALSE(equiv("\\pi", "3.14"));
}

TEST(MathAnswers, ExpressionsWithVariablesCompareAtRandomPoints) {
  EXPECT_TRUE(equiv("x^2+2x+1", "(x+1)^2"));
  EXPECT_TRUE(equiv("12x -34", "-34 + 12x"));
  EXPECT_TRUE(equiv("7z^{96}(4z+1)", "28z^{97}+7z^{96}"));
  EXPECT_TRUE(equiv("\\frac{x}{2}", "0.5x"));
  EXPECT_TRUE(equiv("\\sin^2 x + \\cos^2 x", "1"));
  EXPECT_FALSE(equiv("x^2+2x+1", "(x-1)^2"));
  EXPECT_FALSE(equiv("2x", "2y"));
  EXPECT_FALSE(equiv("x", "x^2"));
}

TEST(MathAnswers, ComplexNumbersUseI) {
  EXPECT_TRUE(equiv("8-i", "-i+8"));
  EXPECT_TRUE(equiv("3 + 5i", "5i+3"));
  EXPECT_TRUE(equiv("\\frac{1}{2} + \\frac{\\sqrt{3}}{2} i", "0.5+\\frac{i\\sqrt3}{2}"));
  EXPECT_FALSE(equiv("8-i", "8+i"));
}

TEST(MathAnswers, UnitsDegreesPercentsAndDollarsAreDropped) {
  EXPECT_TRUE(equiv("5\\text{ inches}", "5"));
  EXPECT_TRUE(equiv("45 \\text{ mph}", "45"));
  EXPECT_TRUE(equiv("0.25\\,\\text{ cm}", "\\frac14"));
  EXPECT_TRUE(equiv("10\\text{ cm}^2", "10"));
  EXPECT_TRUE(equiv("18 integers", "18"));
  EXPECT_TRUE(equiv("90^\\circ", "90"));
  EXPECT_TRUE(equiv("90°", "90"));
  EXPECT_TRUE(equiv("30\\%", "30"));
  EXPECT_TRUE(equiv("\\$32.00", "32"));
  EXPECT_TRUE(equiv("12\\text{ and }13", "12, 13"));
  EXPECT_FALSE(equiv("12\\text{ and }14", "12\\text{ and }13"));
  EXPECT_FALSE(equiv("5\\pi", "5"));   // π is not a unit
}

TEST(MathAnswers, TuplesAndIntervalsKeepOrderAndBrackets) {
  EXPECT_TRUE(equiv("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\pi/2)"));
  EXPECT_TRUE(equiv("(3,-3,1)", "(3, -3, 1)"));
  EXPECT_FALSE(equiv("(1,3)", "(3,1)"));
  EXPECT_TRUE(equiv("(-\\infty, -2] \\cup [2, \\infty)", "[2,\\infty)\\cup(-\\infty,-2]"));
  EXPECT_TRUE(equiv("(5,\\infty)", "(5, \\infty)"));
  EXPECT_FALSE(equiv("[5,\\infty)", "(5,\\infty)"));
  EXPECT_FALSE(equiv("(-\\infty,3)", "(-\\infty,3]"));
}

TEST(MathAnswers, ListsAndSetsIgnoreOrder) {
  EXPECT_TRUE(equiv("6 + 17i, 6 + 8i", "6 + 8i, 6 + 17i"));
  EXPECT_TRUE(equiv("\\{1,2,3\\}", "3, 2, 1"));
  EXPECT_TRUE(equiv("\\text{B, E, G}", "G,E,B"));
  EXPECT_TRUE(equiv("1 \\pm \\sqrt{2}", "1-\\sqrt2, 1+\\sqrt2"));
  EXPECT_TRUE(equiv("\\pm 3", "3,-3"));
  EXPECT_FALSE(equiv("1, 2", "1, 2, 3"));
  EXPECT_FALSE(equiv("1, 2", "1, 3"));
}

TEST(MathAnswers, MatricesCompareEntryByEntry) {
  EXPECT_TRUE(equiv("\\begin{pmatrix} 2/5 \\\\ -1/5 \\\\ 0 \\end{pmatrix}",
                    "\\begin{pmatrix} 0.4 \\\\ -0.2 \\\\ 0 \\end{pmatrix}"));
  EXPECT_TRUE(equiv("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}"));
  EXPECT_TRUE(equiv("\\begin{pmatrix} 1 \\\\ -2 \\\\ -1 \\end{pmatrix}", "(1,-2,-1)"));
  EXPECT_FALSE(equiv("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}"));
}

TEST(MathAnswers, EquationsAndInequalities) {
  EXPECT_TRUE(equiv("x = 5", "5"));
  EXPECT_TRUE(equiv("y = -\\frac{1}{2} x^2 + 4x - 6", "-\\frac12x^2+4x-6"));
  EXPECT_TRUE(equiv("x - 3z = 0", "3z - x = 0"));
  EXPECT_TRUE(equiv("2x - y + 3 = 0", "y = 2x + 3"));
  EXPECT_FALSE(equiv("x = 5", "x = 6"));
  EXPECT_FALSE(equiv("2x = 10", "10"));   // only a lone variable on the left names the answer
  EXPECT_TRUE(equiv("x > 3", "(3, \\infty)"));
  EXPECT_TRUE(equiv("-2 \\le x < 5", "[-2,5)"));
  EXPECT_FALSE(equiv("x \\ge 3", "(3, \\infty)"));
}

TEST(MathAnswers, TextAnswersCompareAsWords) {
  EXPECT_TRUE(equiv("\\text{(C)}", "C"));
  EXPECT_TRUE(equiv("\\text{odd}", "odd"));
  EXPECT_TRUE(equiv("\\text{Sunday}", "sunday"));
  EXPECT_FALSE(equiv("\\text{even}", "\\text{odd}"));
  EXPECT_FALSE(equiv("A", "B"));
}

TEST(MathAnswers, BaseNumeralsEqualOnlyThemselves) {
  EXPECT_TRUE(equiv("52_8", "52_{8}"));
  EXPECT_FALSE(equiv("52_8", "42"));
  EXPECT_FALSE(equiv("52_8", "52_9"));
}

TEST(MathAnswers, UglyLatexFromModels) {
  EXPECT_TRUE(equiv("\\displaystyle\\frac{3}{4}", "0.75"));
  EXPECT_TRUE(equiv("\\left(\\dfrac{3}{2}, -\\dfrac{5}{2}\\right)", "\\left(\\tfrac32, -\\tfrac52\\right)"));
  EXPECT_TRUE(equiv("\\!\\sqrt{33}", "\\sqrt{33}"));
  EXPECT_TRUE(equiv("x \\in [2, 5)", "[2,5)"));
  EXPECT_TRUE(equiv("\\frac{25 \\sqrt{10}}{4}", "6.25\\sqrt{10}"));
  EXPECT_TRUE(equiv("{\\frac{1}{2}}", "1/2"));
  EXPECT_TRUE(equiv("\\dfrac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt2}"));
  EXPECT_TRUE(equiv("−3", "-3"));   // U+2212 minus
  EXPECT_TRUE(equiv("10{,}000", "10000"));
  EXPECT_TRUE(equiv("7, -2, \\text{ and } -5", "-5, -2, 7"));
  EXPECT_TRUE(equiv("8\\sqrt{3} \\text { square inches}", "8\\sqrt3"));
  EXPECT_FALSE(equiv("", "3"));
}

// Issue 15's failure classes, each with cases of this project's own.
TEST(MathAnswers, ShorthandFractionArguments) {
  EXPECT_TRUE(equiv("\\frac56i", "\\frac{5}{6}i"));
  EXPECT_TRUE(equiv("\\tfrac94", "2.25"));
  EXPECT_TRUE(equiv("\\cfrac{7}{8}", "\\frac78"));
  EXPECT_TRUE(equiv("\\dfrac{1}{9}", "1/9"));
  EXPECT_FALSE(equiv("\\frac56", "56"));
  EXPECT_FALSE(equiv("\\frac56i", "\\frac56"));
}

TEST(MathAnswers, SpacingCommandsAndTextUnits) {
  EXPECT_TRUE(equiv("4\\!\\cdot\\!10^{3}", "4000"));
  EXPECT_TRUE(equiv("9\\;\\text{m}", "9"));
  EXPECT_TRUE(equiv("60\\textbf{ seconds}", "60"));
  EXPECT_TRUE(equiv("3\\mbox{ feet}", "3"));
  EXPECT_TRUE(equiv("11\\quad\\text{coins}", "11"));
  EXPECT_FALSE(equiv("60\\textbf{ seconds}", "61"));
}

TEST(MathAnswers, SpacedThousandsAndBareDecimals) {
  EXPECT_TRUE(equiv("3 000", "3000"));
  EXPECT_TRUE(equiv("4 321 000", "4321000"));
  EXPECT_TRUE(equiv("7\\,500", "7500"));
  EXPECT_TRUE(equiv(".8", "0.8"));
  EXPECT_TRUE(equiv(".8", "\\frac45"));
  EXPECT_FALSE(equiv("3 000", "300"));
  EXPECT_FALSE(equiv(".8", "8"));
}

TEST(MathAnswers, FactoredAndExpandedFormsAgreeAtRandomPoints) {
  EXPECT_TRUE(equiv("\\left(t-5\\right)\\left(t+5\\right)", "(t-5)(t+5)"));
  EXPECT_TRUE(equiv("(t-5)(t+5)", "t^2-25"));
  EXPECT_TRUE(equiv("2(a+1)^2", "2a^2+4a+2"));
  EXPECT_TRUE(equiv("6\\sqrt2 + \\sqrt9", "6\\sqrt{2}+3"));
  EXPECT_FALSE(equiv("(t-5)(t+4)", "t^2-25"));
  EXPECT_FALSE(equiv("2(a+1)^2", "2a^2+4a+1"));
}

TEST(MathAnswers, ALeadingNameIsNotPartOfTheValue) {
  EXPECT_TRUE(equiv("m = \\frac{3}{5}", "0.6"));
  EXPECT_TRUE(equiv("t \\in (0, 4]", "(0,4]"));
  EXPECT_FALSE(equiv("t \\in (0, 4]", "[0,4]"));
}

// "Last = is the value" for a computation without variables, never for an equation in them.
TEST(MathAnswers, AComputationIsItsResult) {
  EXPECT_TRUE(equiv("3 \\cdot 7 = 21", "21"));
  EXPECT_TRUE(equiv("\\binom{6}{2} = 15", "15"));
  EXPECT_TRUE(equiv("2(5+1) = 12 = 3 \\cdot 4", "12"));
  EXPECT_FALSE(equiv("3 \\cdot 7 = 21", "3"));
  EXPECT_FALSE(equiv("2y + 4 = 0", "0"));
  EXPECT_FALSE(equiv("3 \\cdot 7 = 20", "21"));
}

TEST(MathAnswers, ASignInFrontOfAStructureBelongsToIt) {
  EXPECT_FALSE(equiv("-[2,6)", "6"));
  EXPECT_FALSE(equiv("-[2,6)", "[2,6)"));
  EXPECT_FALSE(equiv("-\\{3,4\\}", "\\{3,4\\}"));
  EXPECT_FALSE(equiv("-(1,2)", "-1"));
  EXPECT_TRUE(equiv("-\\{3,4\\}", "-\\{4, 3\\}"));
  EXPECT_TRUE(equiv("-\\left[2,6\\right)", "-[2,6)"));
}

}  // namespace
}  // namespace yardstick
