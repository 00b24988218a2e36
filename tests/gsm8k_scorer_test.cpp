// The GSM8K scorer on golden strings, including the ugly outputs real models write, and on
// every reference solution of the test split.
#include "scorers/gsm8k.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "datasets/readers.h"
#include "engine/error.h"
#include "scorers/registry.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

const Verdict& strict(const std::vector<Verdict>& v) { return v.at(0); }
const Verdict& flexible(const std::vector<Verdict>& v) { return v.at(1); }

TEST(CanonicalNumber, NormalisesHowNumbersAreWritten) {
  EXPECT_EQ(canonical_number("29.00"), "29");
  EXPECT_EQ(canonical_number("$29.00"), "29");
  EXPECT_EQ(canonical_number("1,000"), "1000");
  EXPECT_EQ(canonical_number("$1,450,000.50"), "1450000.5");
  EXPECT_EQ(canonical_number("18."), "18");
  EXPECT_EQ(canonical_number("-5"), "-5");
  EXPECT_EQ(canonical_number("-$5"), "-5");
  EXPECT_EQ(canonical_number("$-5"), "-5");
  EXPECT_EQ(canonical_number("+7"), "7");
  EXPECT_EQ(canonical_number(".5"), "0.5");
  EXPECT_EQ(canonical_number("0.50"), "0.5");
  EXPECT_EQ(canonical_number("007"), "7");
  EXPECT_EQ(canonical_number("-0"), "0");
  EXPECT_EQ(canonical_number("25%"), "25");
  EXPECT_EQ(canonical_number("**18**"), "18");
  EXPECT_EQ(canonical_number("  42 "), "42");
}

TEST(CanonicalNumber, WritesTerminatingFractionsAsDecimals) {
  EXPECT_EQ(canonical_number("3/4"), "0.75");
  EXPECT_EQ(canonical_number("6/3"), "2");
  EXPECT_EQ(canonical_number("-1/8"), "-0.125");
  EXPECT_EQ(canonical_number("2/6"), "1/3");   // doesn't terminate: reduced, kept a fraction
}

TEST(CanonicalNumber, RejectsWhatIsNotOneNumber) {
  EXPECT_EQ(canonical_number(""), std::nullopt);
  EXPECT_EQ(canonical_number("abc"), std::nullopt);
  EXPECT_EQ(canonical_number("1,00"), std::nullopt);    // not a thousands separator
  EXPECT_EQ(canonical_number("1,2,3"), std::nullopt);
  EXPECT_EQ(canonical_number("3/0"), std::nullopt);
  EXPECT_EQ(canonical_number("5 apples"), std::nullopt);
  EXPECT_EQ(canonical_number("$"), std::nullopt);
}

TEST(CanonicalNumber, KeepsNumbersTooLongForArithmeticExact) {
  std::string big = "123456789012345678901234567890123456789012345";
  EXPECT_EQ(canonical_number(big + ".000"), big);
}

TEST(Gsm8kGold, ReadsTheNumberAfterTheMarker) {
  EXPECT_EQ(gsm8k_gold("She makes 9 * 2 = $<<9*2=18>>18.\n#### 18"), "18");
  EXPECT_EQ(gsm8k_gold("So 1,000 total.\n#### 1,000"), "1000");
  EXPECT_EQ(gsm8k_gold("#### -3"), "-3");
  EXPECT_EQ(gsm8k_gold("18"), "18");          // a plain number is its own gold
  EXPECT_EQ(gsm8k_gold("no number here"), std::nullopt);
  EXPECT_EQ(gsm8k_gold("#### "), std::nullopt);
}

TEST(Gsm8kGrade, ReturnsStrictThenFlexible) {
  auto v = grade_gsm8k("The answer is 18.", "18");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].scorer, "strict-match");
  EXPECT_EQ(v[1].scorer, "flexible-extract");
}

TEST(Gsm8kGrade, ExemplarStyleAnswerIsCorrectUnderBoth) {
  auto v = grade_gsm8k(" Janet sells 16 - 3 - 4 = 9 eggs. She makes 9 * 2 = 18 dollars. The answer is 18.",
                       "Janet sells ... #### 18");
  EXPECT_TRUE(strict(v).correct);
  EXPECT_EQ(strict(v).status, "ok");
  EXPECT_EQ(strict(v).extracted, "18");
  EXPECT_TRUE(flexible(v).correct);
}

TEST(Gsm8kGrade, DollarsAndCentsEqualTheInteger) {
  auto v = grade_gsm8k("Each costs $14.50, so two cost $29.00. The answer is $29.00.", "29");
  EXPECT_TRUE(strict(v).correct);
  EXPECT_EQ(strict(v).extracted, "29");
  EXPECT_EQ(strict(v).detail["raw"], "$29.00");
  EXPECT_TRUE(flexible(v).correct);
}

TEST(Gsm8kGrade, ThousandsSeparators) {
  auto v = grade_gsm8k("10 * 100 = 1,000 bricks. The answer is 1,000.", "#### 1000");
  EXPECT_TRUE(strict(v).correct);
  EXPECT_TRUE(flexible(v).correct);
}

TEST(Gsm8kGrade, ColonAndTrailingPeriodAfterTheAnswerPhrase) {
  auto v = grade_gsm8k("6 + 12 = 18\nThe answer is: 18.", "18");
  EXPECT_TRUE(strict(v).correct);
  EXPECT_EQ(strict(v).extracted, "18");
}

TEST(Gsm8kGrade, MarkdownEmphasisAroundTheAnswer) {
  EXPECT_TRUE(strict(grade_gsm8k("The answer is **18**.", "18")).correct);
  EXPECT_TRUE(strict(grade_gsm8k("The answer is **$1,200**", "1200")).correct);
  EXPECT_TRUE(flexible(grade_gsm8k("**Final answer: 18**", "18")).correct);
}

TEST(Gsm8kGrade, UnitsAndPercentAfterTheNumber) {
  EXPECT_TRUE(strict(grade_gsm8k("The answer is 18 dollars.", "18")).correct);
  EXPECT_TRUE(strict(grade_gsm8k("The answer is 25%.", "25")).correct);
  EXPECT_TRUE(flexible(grade_gsm8k("So she needs 45 minutes.", "45")).correct);
}

TEST(Gsm8kGrade, AnswerFollowedByANewQuestionIsCutThere) {
  std::string out =
      "He has 2 + 3 = 5 cars. The answer is 5.\n\nQ: Leah had 32 chocolates and her sister had 42. "
      "If they ate 35, how many are left?\nA: 32 + 42 = 74. 74 - 35 = 39. The answer is 39.";
  auto v = grade_gsm8k(out, "5");
  EXPECT_TRUE(strict(v).correct);
  EXPECT_TRUE(flexible(v).correct);   // the last number before the new "Q:", not 39
  EXPECT_EQ(flexible(v).extracted, "5");
  EXPECT_EQ(gsm8k_answer_region(out), "He has 2 + 3 = 5 cars. The answer is 5.\n\n");
}

TEST(Gsm8kGrade, StrictTakesTheFirstAnswerPhraseFlexibleTheLastNumber) {
  auto v = grade_gsm8k("The answer is 12. Then 3 more arrive, so 15.", "15");
  EXPECT_FALSE(strict(v).correct);
  EXPECT_EQ(strict(v).extracted, "12");
  EXPECT_EQ(strict(v).status, "ok");
  EXPECT_TRUE(flexible(v).correct);
}

TEST(Gsm8kGrade, SeveralNumbersWithoutTheAnswerPhrase) {
  auto v = grade_gsm8k("She has 3 apples and buys 4 more, 3 + 4 = 7 apples", "7");
  EXPECT_FALSE(strict(v).correct);
  EXPECT_EQ(strict(v).status, "no_answer");
  EXPECT_EQ(strict(v).extracted, "");
  EXPECT_TRUE(flexible(v).correct);
  EXPECT_EQ(flexible(v).extracted, "7");
}

TEST(Gsm8kGrade, NegativeNumbers) {
  auto v = grade_gsm8k("It drops 8 degrees from 3, so 3 - 8 = -5. The answer is -5.", "#### -5");
  EXPECT_TRUE(strict(v).correct);
  EXPECT_TRUE(flexible(v).correct);
}

TEST(Gsm8kGrade, AHyphenBetweenOperandsIsNotASign) {
  auto v = grade_gsm8k("10-5=5", "5");
  EXPECT_TRUE(flexible(v).correct);
  EXPECT_EQ(flexible(v).extracted, "5");
  EXPECT_EQ(gsm8k_extract_flexible("In 2019-2020 there were 12")->canonical, "12");
  EXPECT_EQ(gsm8k_extract_flexible("a drop of 2020-2019")->canonical, "2019");
}

TEST(Gsm8kGrade, DecimalsAndFractionsEqualToTheGold) {
  EXPECT_TRUE(strict(grade_gsm8k("The answer is .5", "0.5")).correct);
  EXPECT_TRUE(strict(grade_gsm8k("The answer is 3/4.", "0.75")).correct);
  EXPECT_TRUE(strict(grade_gsm8k("The answer is 10/2.", "5")).correct);
  EXPECT_FALSE(strict(grade_gsm8k("The answer is 1/3.", "0.33")).correct);
}

TEST(Gsm8kGrade, ListsAreSeveralNumbersNotOneWithSeparators) {
  EXPECT_EQ(gsm8k_extract_flexible("The values are 1,2,3")->canonical, "3");
}

TEST(Gsm8kGrade, DatasetStyleMarkerLineCountsAsStrict) {
  auto v = grade_gsm8k("9 * 2 = 18\n#### 18", "18");
  EXPECT_TRUE(strict(v).correct);
}

TEST(Gsm8kGrade, WrongAnswerIsOkButIncorrect) {
  auto v = grade_gsm8k("The answer is 17.", "18");
  EXPECT_FALSE(strict(v).correct);
  EXPECT_EQ(strict(v).status, "ok");
  EXPECT_EQ(strict(v).extracted, "17");
  EXPECT_EQ(strict(v).detail["gold"], "18");
}

TEST(Gsm8kGrade, NoNumberAtAll) {
  for (const char* out : {"", "I don't know.", "The answer is unknown."}) {
    auto v = grade_gsm8k(out, "18");
    EXPECT_EQ(strict(v).status, "no_answer") << out;
    EXPECT_EQ(flexible(v).status, "no_answer") << out;
    EXPECT_FALSE(strict(v).correct);
    EXPECT_FALSE(flexible(v).correct);
  }
}

TEST(Gsm8kGrade, UnreadableGoldIsAVerdictNotAnException) {
  auto v = grade_gsm8k("The answer is 18.", "eighteen");
  EXPECT_EQ(strict(v).status, "bad_gold");
  EXPECT_EQ(flexible(v).status, "bad_gold");
  EXPECT_FALSE(strict(v).correct);
}

TEST(ScorerRegistry, GradesGsm8kWithThePrimaryVerdictFirst) {
  auto v = grade("gsm8k", "The answer is 18.", "18");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].scorer, "strict-match");
  EXPECT_TRUE(v[0].correct);
  EXPECT_TRUE(has_grader("gsm8k"));
  EXPECT_FALSE(has_grader("nonexistent"));
}

TEST(ScorerRegistry, UnknownFamilyNamesTheKnownOnes) {
  try {
    grade("nonexistent", "x", "y");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("nonexistent"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("gsm8k"), std::string::npos);
  }
}

TEST(VerdictJson, HasTheStoredFields) {
  auto j = to_json(grade_gsm8k("The answer is 18.", "18")[0]);
  EXPECT_EQ(j["scorer"], "strict-match");
  EXPECT_EQ(j["correct"], true);
  EXPECT_EQ(j["extracted"], "18");
  EXPECT_EQ(j["status"], "ok");
  EXPECT_TRUE(j["detail"].is_object());
  EXPECT_TRUE(is_verdict_status(j["status"].get<std::string>()));
  EXPECT_FALSE(is_verdict_status("fine"));
}

// ---------------------------------------------------------------- real data

std::filesystem::path gsm8k_file(const char* name) {
  return test::shared_dir() / "datasets" / "gsm8k" / name;
}

TEST(Gsm8kData, EveryTestGoldParsesAndGradesItsOwnSolutionCorrect) {
  auto path = gsm8k_file("test.jsonl");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  auto docs = read_jsonl(path);
  ASSERT_EQ(docs.size(), 1319u);
  for (size_t i = 0; i < docs.size(); ++i) {
    auto answer = docs[i].at("answer").get<std::string>();
    ASSERT_TRUE(gsm8k_gold(answer).has_value()) << "doc " << i << ": " << answer;
    // The reference solution is a perfect output: its "#### N" line is a strict match, and
    // N is its last number.
    auto v = grade_gsm8k(answer, answer);
    EXPECT_TRUE(strict(v).correct) << "doc " << i;
    EXPECT_TRUE(flexible(v).correct) << "doc " << i;
  }
}

TEST(Gsm8kData, FewShotExemplarsEndInAStrictMatch) {
  auto path = gsm8k_file("fewshot_cot_8shot.json");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
  auto shots = read_json(path).at("lm_evaluation_harness").at("fewshot_samples");
  ASSERT_EQ(shots.size(), 8u);
  for (const auto& shot : shots) {
    auto target = shot.at("target").get<std::string>();
    auto m = gsm8k_extract_strict(target);
    ASSERT_TRUE(m.has_value()) << target;
    EXPECT_EQ(m->canonical, gsm8k_extract_flexible(target)->canonical) << target;
  }
}

}  // namespace
}  // namespace yardstick
