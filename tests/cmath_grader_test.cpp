// CMath grading on golden Chinese outputs (答案是, full-width digits, percentages, fractions) and on
// every reference answer of the test set.
#include "scorers/cmath.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "datasets/readers.h"
#include "scorers/registry.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;

const Verdict& strict(const std::vector<Verdict>& v) { return v.at(0); }
const Verdict& flexible(const std::vector<Verdict>& v) { return v.at(1); }

std::string value(const std::optional<CmathNumber>& n) { return n ? n->value.to_string() : "<none>"; }

TEST(CmathNumber, ReadsTheWaysAnswersAreWritten) {
  EXPECT_EQ(value(cmath_number("18")), "18");
  EXPECT_EQ(value(cmath_number("1,200")), "1200");
  EXPECT_EQ(value(cmath_number("0.80")), "4/5");
  EXPECT_EQ(value(cmath_number("72/180")), "2/5");
  EXPECT_EQ(value(cmath_number("\\frac{3}{4}")), "3/4");
  EXPECT_EQ(value(cmath_number("27.3%")), "273/1000");
  EXPECT_EQ(value(cmath_number("１８")), "18");
  EXPECT_EQ(value(cmath_number("18个")), "<none>");
}

TEST(CmathExtract, StrictReadsTheNumberAfterTheMarker) {
  EXPECT_EQ(value(cmath_extract_strict("3×6=18，所以答案是：18。")), "18");
  EXPECT_EQ(value(cmath_extract_strict("所以答案是：１８。")), "18");
  EXPECT_EQ(value(cmath_extract_strict("答案为3.5元")), "7/2");
  EXPECT_EQ(value(cmath_extract_strict("答：一共买了18小包茶叶。")), "18");
  EXPECT_EQ(value(cmath_extract_strict("所以答案是：\\frac{5}{7}。")), "5/7");
  EXPECT_EQ(value(cmath_extract_strict("The answer is 45.")), "45");
  EXPECT_EQ(value(cmath_extract_strict("一共18个")), "<none>");
}

TEST(CmathExtract, FlexibleReadsTheLastNumberBeforeTheNextExemplar) {
  EXPECT_EQ(value(cmath_extract_flexible("32+8=40，40+5=45个桃。\nQ: 下一题 7")), "45");
  EXPECT_EQ(value(cmath_extract_flexible("没有数字")), "<none>");
}

// The marked answer is read as the MATH extractor reads it, so a boxed answer counts too.
TEST(CmathExtract, StrictReadsTheMarkedAnswerAsMathDoes) {
  EXPECT_EQ(value(cmath_extract_strict("一共是 $\\boxed{36}$ 个。")), "36");
  EXPECT_EQ(value(cmath_extract_strict("Final Answer: The final answer is $12$. I hope it is correct.")), "12");
}

TEST(CmathExtract, NumbersGluedToLettersOrCommandsAreSkipped) {
  EXPECT_EQ(value(cmath_extract_strict("答案是：B2型号，共9台")), "9");
  EXPECT_EQ(value(cmath_extract_flexible("一共有14个，见图A3")), "14");
  EXPECT_EQ(value(cmath_extract_flexible("x_4 一共 25 元")), "25");
}

TEST(GradeCmath, ReturnsStrictThenFlexible) {
  auto v = grade_cmath("所以答案是：18。", "18");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].scorer, "strict-match");
  EXPECT_EQ(v[1].scorer, "flexible-extract");
  EXPECT_TRUE(strict(v).correct);
  EXPECT_TRUE(flexible(v).correct);
}

TEST(GradeCmath, ComparesValuesExactly) {
  EXPECT_TRUE(strict(grade_cmath("所以答案是：2/3。", "4/6")).correct);
  EXPECT_TRUE(strict(grade_cmath("所以答案是：0.8。", "0.80")).correct);
  EXPECT_FALSE(strict(grade_cmath("所以答案是：0.67。", "2/3")).correct);
  EXPECT_FALSE(strict(grade_cmath("所以答案是：19。", "18")).correct);
}

TEST(GradeCmath, APercentageMayBeWrittenWithOrWithoutItsSign) {
  EXPECT_TRUE(strict(grade_cmath("所以答案是：40%。", "40%")).correct);
  EXPECT_TRUE(strict(grade_cmath("所以答案是：40。", "40%")).correct);
  EXPECT_TRUE(strict(grade_cmath("所以答案是：0.4。", "40%")).correct);
  EXPECT_FALSE(strict(grade_cmath("所以答案是：0.4%。", "40%")).correct);
}

TEST(GradeCmath, MissingMarkerIsNoAnswerForStrictOnly) {
  auto v = grade_cmath("一共是18小包。", "18");
  EXPECT_EQ(strict(v).status, "no_answer");
  EXPECT_TRUE(flexible(v).correct);
  EXPECT_EQ(strict(grade_cmath("答案是18", "not a number")).status, "bad_gold");
}

TEST(GradeCmath, IsRegisteredForCmath) {
  EXPECT_TRUE(has_grader("cmath"));
  EXPECT_TRUE(grade("cmath", "所以答案是：45。", "45").at(0).correct);
}

TEST(CmathDataset, EveryReferenceAnswerGradesCorrect) {
  fs::path file = test::shared_dir() / "datasets" / "cmath" / "test.jsonl";
  if (!fs::exists(file)) GTEST_SKIP() << "no " << file;
  auto rows = read_jsonl(file);
  ASSERT_EQ(rows.size(), 1098u);
  int wrong = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string golden = rows[i].at("golden").get<std::string>();
    // In the exemplars' format, and bare.
    for (const std::string& prediction : {"所以答案是：" + golden + "。", golden}) {
      auto v = grade_cmath(prediction, golden);
      if (!flexible(v).correct || (prediction != golden && !strict(v).correct)) {
        if (++wrong <= 10) ADD_FAILURE() << "line " << i << ": " << prediction << " vs " << golden;
      }
    }
  }
  EXPECT_EQ(wrong, 0);
}

}  // namespace
}  // namespace yardstick
