// MATH answer extraction and grading on golden outputs (boxed, Minerva, "The answer is", Chinese,
// full-width), and on every reference solution of MATH and MATH-500.
#include "scorers/math_grader.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>

#include "datasets/readers.h"
#include "scorers/latex_expr.h"
#include "scorers/math_equivalence.h"
#include "scorers/math_extract.h"
#include "scorers/registry.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- extraction

TEST(LastBoxed, MatchesNestedBraces) {
  EXPECT_EQ(last_boxed("so $\\boxed{\\frac{1}{2}}$."), "\\frac{1}{2}");
  EXPECT_EQ(last_boxed("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}"), "\\left( 3, \\frac{\\pi}{2} \\right)");
  EXPECT_EQ(last_boxed("\\boxed{1} then \\boxed{2}"), "2");
  EXPECT_EQ(last_boxed("\\boxed{\\{1,2\\}}"), "\\{1,2\\}");
}

TEST(LastBoxed, ReadsBoxedWithoutBracesAndFbox) {
  EXPECT_EQ(last_boxed("is $\\boxed 5$."), "5");
  EXPECT_EQ(last_boxed("is \\boxed 12\nmore"), "12");
  EXPECT_EQ(last_boxed("\\fbox{7}"), "7");
  EXPECT_EQ(last_boxed("\\boxed{3} and \\fbox{4}"), "4");
}

TEST(LastBoxed, RefusesTruncatedOrEmptyBoxes) {
  EXPECT_EQ(last_boxed("\\boxed{\\frac{1}{2}"), std::nullopt);
  EXPECT_EQ(last_boxed("\\boxed{}"), std::nullopt);
  EXPECT_EQ(last_boxed("no box"), std::nullopt);
}

TEST(ToHalfwidth, ConvertsFullWidthDigitsAndPunctuation) {
  EXPECT_EQ(to_halfwidth("１２３"), "123");
  EXPECT_EQ(to_halfwidth("答案是：１８。"), "答案是:18.");
  EXPECT_EQ(to_halfwidth("（１，２）"), "(1,2)");
  EXPECT_EQ(to_halfwidth("４０％"), "40%");
  EXPECT_EQ(to_halfwidth("中文不变"), "中文不变");
}

ExtractedAnswer extract(std::string_view output) {
  auto a = extract_math_answer(output);
  return a ? *a : ExtractedAnswer{"<none>", ""};
}

TEST(ExtractMathAnswer, PrefersTheLastBoxed) {
  auto a = extract("First $\\boxed{2}$, then the answer is $\\boxed{\\dfrac{3}{4}}$. The answer is 9.");
  EXPECT_EQ(a.text, "\\dfrac{3}{4}");
  EXPECT_EQ(a.method, "boxed");
}

TEST(ExtractMathAnswer, ReadsTheMinervaFormat) {
  auto a = extract(" We have $x = 4$.\nFinal Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.");
  EXPECT_EQ(a.text, "\\frac{1}{2}");
  EXPECT_EQ(a.method, "final-answer");
  EXPECT_EQ(extract("Final Answer: The final answer is 10. I hope it is correct.").text, "10");
  EXPECT_EQ(extract("The final answer is 3.5.").text, "3.5");
}

TEST(ExtractMathAnswer, ReadsTheAnswerIs) {
  auto a = extract("So 2+2=4. The answer is $4$.");
  EXPECT_EQ(a.text, "4");
  EXPECT_EQ(a.method, "answer-is");
  EXPECT_EQ(extract("The answer is: **(3, 4)**").text, "(3, 4)");
  EXPECT_EQ(extract("the answer is 0.75. Done.").text, "0.75");
}

TEST(ExtractMathAnswer, ReadsChineseMarkersAndFullWidth) {
  auto a = extract("因为3×6=18，所以答案是：１８。");
  EXPECT_EQ(a.text, "18");
  EXPECT_EQ(a.method, "zh-answer");
  EXPECT_EQ(extract("答案为 $\\frac{1}{2}$").text, "\\frac{1}{2}");
  EXPECT_EQ(extract("答：45").text, "45");
}

TEST(ExtractMathAnswer, FallsBackToTheLastNumber) {
  auto a = extract("We get 3 and then -7/2 at the end");
  EXPECT_EQ(a.text, "-7/2");
  EXPECT_EQ(a.method, "last-number");
  EXPECT_FALSE(extract_math_answer("no numbers here at all"));
}

// Without a marker (chat models graded 0-shot answer like this), the answer is the last math
// segment, else the whole output when it is one expression, and only then a number on its own.
TEST(ExtractMathAnswer, ABareExpressionIsTheAnswerNotItsLastDigits) {
  for (std::string_view bare : {"\\frac{13}{6}", "\\tfrac72", "\\dfrac{5}{12}", ".6", "2 000", "w = \\frac{2}{9}",
                                "(1,4]", "x \\in [2, 7)", "3\\sqrt{6}", "Wednesday"}) {
    auto a = extract(bare);
    EXPECT_EQ(a.text, bare);
    EXPECT_EQ(a.method, "whole") << bare;
  }
}

// Letters in a command's {argument} are not words, and a wordless ASCII answer the parser can't
// read is still the answer (compared as a string).
TEST(ExtractMathAnswer, CommandArgumentsAndUnparsedFormulasAreOneExpression) {
  for (std::string_view bare : {"\\begin{pmatrix} 4 \\\\ -9 \\end{pmatrix}", "\\text{March 3}", "\\overline{PQ}", "5:2",
                                "7\\sqrt{2} \\text { square feet}", "\\begin{pmatrix} 1 & 0 \\\\ 2 & 5 \\end{pmatrix}"}) {
    auto a = extract(bare);
    EXPECT_EQ(a.text, bare);
    EXPECT_EQ(a.method, "whole") << bare;
  }
  // Chinese prose has no ASCII word but is no expression: its number standing alone.
  EXPECT_EQ(extract("她一共花了27元").text, "27");
  EXPECT_EQ(extract("一共 27 本").text, "27");
  // Two words outside any argument are prose.
  EXPECT_EQ(extract("maybe \\text{March} 3 then").method, "last-number");
}

TEST(ExtractMathAnswer, TheLastMathSegmentWithoutAMarker) {
  EXPECT_EQ(extract("First $x=3$, so the area is $\\frac{9}{2}$.").text, "\\frac{9}{2}");
  EXPECT_EQ(extract("First $x=3$, so the area is $\\frac{9}{2}$.").method, "math-segment");
  EXPECT_EQ(extract("Hence \\(y = 7\\) holds.").text, "y = 7");
  EXPECT_EQ(extract("We get\n\\[\\left( 2, \\frac{1}{3} \\right)\\]\nand stop.").text,
            "\\left( 2, \\frac{1}{3} \\right)");
  EXPECT_EQ(extract("It costs \\$5 and $$q^2 - 1$$ remains").text, "q^2 - 1");
  EXPECT_EQ(extract("$\\frac{1}{6}$ and then $-[3,8)$").text, "-[3,8)");
}

// Chat answers in prose: the answer often follows the last segment in plain words, or the last
// segment only names a variable.
TEST(ExtractMathAnswer, ANumberInTheProseAfterTheLastSegmentIsTheAnswer) {
  EXPECT_EQ(extract("Since $y = 6$, the garden holds 42 plants.").text, "42");
  EXPECT_EQ(extract("Since $y = 6$, the garden holds 42 plants.").method, "last-number");
  EXPECT_EQ(extract("Each row has 9, so the total is 27, where $r$ counts rows.").text, "27");
  EXPECT_EQ(extract("Take $p_1$ and $q$ together: 13 of them.").text, "13");
  // Numbers before the last segment, or inside segments, don't beat it.
  EXPECT_EQ(extract("With 3 steps we reach $\\frac{7}{4}$.").text, "\\frac{7}{4}");
  EXPECT_EQ(extract("With 3 steps we reach $\\frac{7}{4}$.").method, "math-segment");
  EXPECT_EQ(extract("After 2 tries, $z = 11$ and $w$ is free.").text, "z = 11");
  // Only variables and no number: the last of them.
  EXPECT_EQ(extract("Of the two, $a$ is smaller, so the larger is $b$").text, "b");
}

TEST(LastMathSegment, SkipsEscapedDollarsAndTruncatedSegments) {
  EXPECT_EQ(last_math_segment("pay \\$4 now"), std::nullopt);
  EXPECT_EQ(last_math_segment("$a \\$ b$"), "a \\$ b");
  EXPECT_EQ(last_math_segment("$5$ and then $\\frac{1}{"), "5");
  EXPECT_EQ(last_math_segment("empty $ $ here"), std::nullopt);
}

// TeX allows no blank line in math: a "$" closed only past one is a stray dollar sign.
TEST(LastMathSegment, ADelimiterClosedOnlyPastABlankLineIsNone) {
  EXPECT_EQ(last_math_segment("It costs 5$.\n\nSo we get $y = 3$"), "y = 3");
  EXPECT_EQ(last_math_segment("$$\n\\begin{aligned} a &= 1\\end{aligned}\n\nThen $b = 2$"), "b = 2");
  EXPECT_EQ(last_math_segment("$$\na = 1\n$$"), "a = 1");
  EXPECT_EQ(last_math_segment("so $x = 1$ and 5$ then \n \n more"), "x = 1");
}

TEST(ExtractMathAnswer, DigitsInsideAWordOrCommandAreNotANumber) {
  EXPECT_FALSE(extract_math_answer("see figure B7c and table T4"));
  EXPECT_FALSE(extract_math_answer("we use \\ref{lem3} here"));
  EXPECT_FALSE(extract_math_answer("so we get \\frac19 hmm I think so"));
  EXPECT_FALSE(extract_math_answer("look at x_5 and y^3 in the plot now"));
  // A word with digits in it is one (wrong) text answer, not the digits.
  EXPECT_EQ(extract("PQR5S").text, "PQR5S");
}

TEST(ExtractMathAnswer, ANumberStandingAloneIsTheLastResort) {
  EXPECT_EQ(extract("Counting them one by one gives 31 in all").text, "31");
  EXPECT_EQ(extract("Counting them one by one gives 31 in all").method, "last-number");
  EXPECT_EQ(extract("we have 4 of them, then 2 500 more arrive").text, "2 500");
  EXPECT_EQ(extract("the ratio comes to .25 overall").text, ".25");
  EXPECT_EQ(extract("item A3 weighs 12 kilograms in total").text, "12");
}

TEST(NumberStandsAlone, GluedToLettersCommandsScriptsOrGroupsIsNot) {
  auto alone = [](std::string_view text, std::string_view number) {
    size_t at = text.find(number);
    return number_stands_alone(text, at, at + number.size());
  };
  EXPECT_TRUE(alone("is 7.", "7"));
  EXPECT_TRUE(alone("(7)", "7"));
  EXPECT_TRUE(alone("共7个", "7"));
  EXPECT_FALSE(alone("K7", "7"));
  EXPECT_FALSE(alone("7m", "7"));
  EXPECT_FALSE(alone("\\frac37", "37"));
  EXPECT_FALSE(alone("x_7", "7"));
  EXPECT_FALSE(alone("2^7", "7"));
  EXPECT_FALSE(alone("\\sqrt{7}", "7"));
}

TEST(ExtractMathAnswer, StopsAtTheNextMinervaProblem) {
  auto a = extract("The answer is 5.\n\nProblem:\nFind $x$.\n\nSolution: \\boxed{9}");
  EXPECT_EQ(a.text, "5");
}

TEST(MathGoldAnswer, AcceptsBareDollarAndFullSolutions) {
  EXPECT_EQ(math_gold_answer("\\frac{1}{2}"), "\\frac{1}{2}");
  EXPECT_EQ(math_gold_answer("$\\frac{1}{2}$"), "\\frac{1}{2}");
  EXPECT_EQ(math_gold_answer("Thus the answer is $\\boxed{\\frac{1}{2}}$."), "\\frac{1}{2}");
  EXPECT_EQ(math_gold_answer("$1$ and $2$"), "$1$ and $2$");
  EXPECT_EQ(math_gold_answer("  "), std::nullopt);
}

// ---------------------------------------------------------------- grading

const Verdict& equivalence(const std::vector<Verdict>& v) { return v.at(0); }
const Verdict& strict(const std::vector<Verdict>& v) { return v.at(1); }

TEST(GradeMath, ReturnsEquivalenceThenStrict) {
  auto v = grade_math("\\boxed{2}", "2");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].scorer, "equivalence");
  EXPECT_EQ(v[1].scorer, "strict-match");
  EXPECT_TRUE(v[0].correct);
  EXPECT_TRUE(v[1].correct);
}

TEST(GradeMath, EquivalentButDifferentlyWrittenIsOnlyEquivalent) {
  auto v = grade_math("The answer is $\\boxed{\\frac{2}{4}}$.", "Hence $\\boxed{0.5}$.");
  EXPECT_TRUE(equivalence(v).correct);
  EXPECT_FALSE(strict(v).correct);
  EXPECT_EQ(equivalence(v).detail.at("compared_by"), "exact");
  EXPECT_EQ(equivalence(v).detail.at("method"), "boxed");
}

TEST(GradeMath, WrongAnswerIsWrongUnderBoth) {
  auto v = grade_math("Final Answer: The final answer is $3$. I hope it is correct.", "$4$");
  EXPECT_EQ(equivalence(v).status, "ok");
  EXPECT_FALSE(equivalence(v).correct);
  EXPECT_FALSE(strict(v).correct);
}

TEST(GradeMath, NoAnswerAndBadGoldAreStatuses) {
  auto none = grade_math("I don't know.", "4");
  EXPECT_EQ(equivalence(none).status, "no_answer");
  EXPECT_FALSE(equivalence(none).correct);
  auto bad = grade_math("\\boxed{4}", "the reference \\boxed{4");
  EXPECT_EQ(equivalence(bad).status, "bad_gold");
  EXPECT_EQ(strict(bad).status, "bad_gold");
}

// Garbage must not pass for the gold because a digit of it matches.
TEST(GradeMath, GarbageAroundTheGoldDigitsIsWrong) {
  EXPECT_FALSE(equivalence(grade_math("BQX3Z", "3")).correct);
  EXPECT_FALSE(equivalence(grade_math("$-(0,2]$", "$2$")).correct);
  EXPECT_FALSE(equivalence(grade_math("\\frac{1}{6}", "6")).correct);
  EXPECT_FALSE(equivalence(grade_math("$y_4$", "4")).correct);
  EXPECT_FALSE(strict(grade_math("BQX3Z", "3")).correct);
}

TEST(GradeMath, AComputationOrProseAfterTheLastSegmentGradesByItsResult) {
  EXPECT_TRUE(equivalence(grade_math("So the cost is $4 \\times 6 = 24$.", "24")).correct);
  EXPECT_TRUE(equivalence(grade_math("Since $y = 6$, the garden holds 42 plants.", "42")).correct);
  EXPECT_FALSE(equivalence(grade_math("Since $y = 6$, the garden holds 42 plants.", "6")).correct);
  EXPECT_FALSE(equivalence(grade_math("So the cost is $4 \\times 6 = 24$.", "6")).correct);
}

TEST(GradeMath, BareMatricesTextAndRatiosGradeWhole) {
  EXPECT_TRUE(equivalence(grade_math("\\begin{pmatrix} 4 \\\\ -9 \\end{pmatrix}", "\\boxed{\\begin{pmatrix} 4 \\\\ -9 \\end{pmatrix}}")).correct);
  EXPECT_FALSE(equivalence(grade_math("\\begin{pmatrix} 4 \\\\ -9 \\end{pmatrix}", "-9")).correct);
  EXPECT_TRUE(equivalence(grade_math("\\text{March 3}", "\\text{March 3}")).correct);
  EXPECT_FALSE(equivalence(grade_math("\\text{March 3}", "3")).correct);
  EXPECT_TRUE(equivalence(grade_math("5:2", "5:2")).correct);
  EXPECT_FALSE(equivalence(grade_math("5:2", "2")).correct);
}

TEST(GradeMath, BareAnswersGradeAsTheirValue) {
  EXPECT_TRUE(equivalence(grade_math("\\frac{13}{6}", "\\frac{13}{6}")).correct);
  EXPECT_TRUE(equivalence(grade_math("$\\frac72$", "3.5")).correct);
  EXPECT_TRUE(equivalence(grade_math("\\tfrac{5}{12}", "\\frac{5}{12}")).correct);
  EXPECT_TRUE(equivalence(grade_math("$w = \\frac{2}{9}$", "\\frac29")).correct);
  EXPECT_TRUE(equivalence(grade_math("$(1,4]$", "(1,4]")).correct);
  EXPECT_FALSE(equivalence(grade_math("$(1,4]$", "[1,4]")).correct);
  EXPECT_TRUE(equivalence(grade_math(".6", "\\frac35")).correct);
  EXPECT_TRUE(equivalence(grade_math("2 000", "2000")).correct);
  EXPECT_TRUE(equivalence(grade_math("Wednesday", "\\text{Wednesday}")).correct);
}

TEST(GradeMath, TheVerdictCarriesTheScorerVersion) {
  auto v = grade("math", "\\boxed{2}", "2");
  EXPECT_EQ(v.at(0).detail.at("scorer_version"), scorer_version("math"));
  EXPECT_EQ(v.at(1).detail.at("scorer_version"), scorer_version("math"));
  EXPECT_GE(scorer_version("math"), 2);   // 2: the extraction order and equivalence of issue 15
}

TEST(GradeMath, IsRegisteredForMath) {
  EXPECT_TRUE(has_grader("math"));
  EXPECT_TRUE(grade("math", "\\boxed{\\dfrac{1}{2}}", "$\\frac12$").at(0).correct);
}

// ---------------------------------------------------------------- the datasets

struct MathRow {
  std::string unique_id, solution, answer;   // answer: MATH-500's own field, else ""
};

std::vector<MathRow> read_math(const fs::path& file) {
  std::vector<MathRow> rows;
  for (const auto& j : read_jsonl(file))
    rows.push_back({j.at("unique_id").get<std::string>(), j.at("solution").get<std::string>(),
                    j.contains("answer") ? j.at("answer").get<std::string>() : ""});
  return rows;
}

class MathDataset : public ::testing::Test {
 protected:
  std::vector<MathRow> load(const char* relative) {
    fs::path file = test::shared_dir() / "datasets" / relative;
    if (!fs::exists(file)) return {};
    return read_math(file);
  }
};

TEST_F(MathDataset, EveryReferenceSolutionGradesCorrectAgainstItself) {
  auto rows = load("math/test.jsonl");
  if (rows.empty()) GTEST_SKIP() << "no math/test.jsonl under " << test::shared_dir();
  ASSERT_EQ(rows.size(), 5000u);
  int wrong = 0;
  for (const auto& r : rows) {
    auto v = grade_math(r.solution, r.solution);
    if (!equivalence(v).correct || !strict(v).correct) {
      if (++wrong <= 10) ADD_FAILURE() << r.unique_id << ": " << to_json(equivalence(v)).dump();
    }
  }
  EXPECT_EQ(wrong, 0);
}

// Self-grading passes on string equality alone; this checks the evaluator itself on every gold
// answer: an answer and the same answer plus one must not be judged equal, and an answer must
// equal itself when only the parser could say so (the string is wrapped in \left( \right)).
TEST_F(MathDataset, EvaluatorSeparatesEveryGoldFromAPerturbedCopy) {
  auto rows = load("math/test.jsonl");
  if (rows.empty()) GTEST_SKIP() << "no math/test.jsonl under " << test::shared_dir();
  int parsed = 0, scalar = 0, wrong = 0;
  for (const auto& r : rows) {
    std::string gold = *math_gold_answer(r.solution);
    std::string cleaned = clean_math_answer(gold);   // units and degrees gone, so wrapping keeps the value
    auto tree = parse_latex_expr(cleaned);
    if (!tree) continue;   // ratios ("3:1"), times, segment names: compared as strings
    ++parsed;
    auto value = evaluate_math(*tree);
    if (value && !std::isfinite(std::abs(value->approx))) continue;   // 2^{2005}: beyond a double, compared as a string
    if (tree->kind == MathNodeKind::Text || !value) {
      // Structures and expressions with variables: still compare equal to themselves.
      if (!math_equivalent(*tree, *tree).equivalent && ++wrong <= 10) ADD_FAILURE() << r.unique_id << ": " << gold;
      continue;
    }
    ++scalar;
    auto plus_one = compare_math_answers("\\left(" + cleaned + "\\right)+1", gold);
    auto same = compare_math_answers("\\left(" + cleaned + "\\right)", gold);
    if ((plus_one.equivalent || !same.equivalent) && ++wrong <= 10)
      ADD_FAILURE() << r.unique_id << ": " << gold << " (+1 equal: " << plus_one.equivalent
                    << ", self equal: " << same.equivalent << ")";
  }
  EXPECT_EQ(wrong, 0);
  std::printf("gold answers: %d parsed, %d evaluated to a number\n", parsed, scalar);
  // How much of MATH the parser reads; a drop means answers silently fall back to strings.
  EXPECT_GE(parsed, 4900) << "parsed " << parsed << " of 5000 gold answers";
  EXPECT_GE(scalar, 4000) << scalar << " gold answers evaluated to a number";
}

// Truncated generations (cut anywhere: braces unbalanced, LaTeX half-written) get verdicts with a
// known status, never exceptions.
TEST_F(MathDataset, TruncatedSolutionsNeverThrow) {
  auto rows = load("math/test.jsonl");
  if (rows.empty()) GTEST_SKIP() << "no math/test.jsonl under " << test::shared_dir();
  size_t graded = 0;
  for (size_t i = 0; i < rows.size(); i += 7) {
    const std::string& sol = rows[i].solution;
    for (size_t cut : {sol.size() / 3, sol.size() / 2, sol.size() - 3}) {
      std::string prediction = sol.substr(0, cut);
      std::vector<Verdict> v;
      ASSERT_NO_THROW(v = grade_math(prediction, sol)) << rows[i].unique_id << " cut at " << cut;
      ASSERT_EQ(v.size(), 2u);
      EXPECT_TRUE(is_verdict_status(v[0].status));
      ++graded;
    }
  }
  EXPECT_GT(graded, 2000u);
}

TEST_F(MathDataset, Math500AnswersMatchTheirSolutions) {
  auto rows = load("math500/test.jsonl");
  if (rows.empty()) GTEST_SKIP() << "no math500/test.jsonl under " << test::shared_dir();
  ASSERT_EQ(rows.size(), 500u);
  int wrong = 0;
  for (const auto& r : rows) {
    // The solution as the prediction, graded against the dataset's separate answer field.
    auto v = grade_math(r.solution, r.answer);
    if (!equivalence(v).correct || !strict(v).correct) {
      if (++wrong <= 10) ADD_FAILURE() << r.unique_id << ": " << to_json(equivalence(v)).dump();
    }
  }
  EXPECT_EQ(wrong, 0);
}

}  // namespace
}  // namespace yardstick
