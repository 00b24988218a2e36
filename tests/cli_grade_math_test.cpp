// `yardstick grade --task math|math500|cmath` on the real binary: JSONL in, one JSON line out per
// input, golds given inline (bare, $...$ or a full solution) or looked up by doc_id.
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/cli_process.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<json> grade(const std::string& task, const std::vector<json>& lines, int* code = nullptr) {
  fs::path input = test::make_temp_dir("grade-math") / "input.jsonl";
  {
    std::ofstream out(input, std::ios::binary);
    for (const auto& l : lines) out << l.dump() << "\n";
  }
  auto r = test::run_cli({"grade", "--task", task, "--input", input.string()});
  if (code) *code = r.code;
  EXPECT_EQ(r.code, 0) << r.err;
  std::vector<json> out;
  std::stringstream ss(r.out);
  for (std::string line; std::getline(ss, line);) out.push_back(json::parse(line));
  return out;
}

bool have_data() { return fs::exists(test::shared_dir() / "datasets" / "math" / "test.jsonl"); }

TEST(CliGradeMath, GoldMayBeBareDollarOrAFullSolution) {
  auto out = grade("math", {{{"doc_id", "a"}, {"prediction", "So $\\boxed{\\dfrac{1}{2}}$."}, {"gold", "0.5"}},
                            {{"doc_id", "b"}, {"prediction", "The answer is $3$."}, {"gold", "$\\frac{6}{2}$"}},
                            {{"doc_id", "c"},
                             {"prediction", "Final Answer: The final answer is $(1,2)$. I hope it is correct."},
                             {"gold", "Hence the point is $\\boxed{\\left(1, 2\\right)}$."}},
                            {{"doc_id", "d"}, {"prediction", "\\boxed{7}"}, {"gold", "$8$"}}});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0]["doc_id"], "a");
  EXPECT_EQ(out[0]["correct"], true);
  EXPECT_EQ(out[1]["correct"], true);
  EXPECT_EQ(out[2]["correct"], true);
  EXPECT_EQ(out[3]["correct"], false);
  EXPECT_EQ(out[3]["status"], "ok");
  // The primary verdict is equivalence; strict string match comes second.
  EXPECT_EQ(out[0]["verdicts"][0]["scorer"], "equivalence");
  EXPECT_EQ(out[0]["verdicts"][1]["scorer"], "strict-match");
  EXPECT_EQ(out[1]["verdicts"][1]["correct"], false);   // "3" vs "\frac{6}{2}" as strings
}

TEST(CliGradeMath, LooksTheGoldUpByUniqueId) {
  if (!have_data()) GTEST_SKIP() << "no MATH data under " << test::shared_dir();
  auto out = grade("math", {{{"doc_id", "test/algebra/1.json"}, {"prediction", "\\boxed{2}"}},
                            {{"doc_id", "test/algebra/2.json"}, {"prediction", "\\boxed{0.5}"}},
                            {{"doc_id", "test/algebra/2.json"}, {"prediction", "no idea"}}});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0]["correct"], true);
  EXPECT_EQ(out[1]["correct"], true);
  EXPECT_EQ(out[2]["status"], "no_answer");
}

TEST(CliGradeMath, Math500GradesAgainstItsAnswerField) {
  if (!have_data()) GTEST_SKIP() << "no MATH-500 data under " << test::shared_dir();
  auto out = grade("math500", {{{"doc_id", "test/precalculus/807.json"}, {"prediction", "\\boxed{(3, \\pi/2)}"}}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["correct"], true);
  EXPECT_EQ(out[0]["verdicts"][0]["detail"]["gold"], "\\left( 3, \\frac{\\pi}{2} \\right)");
}

TEST(CliGradeMath, CmathReadsChineseAnswers) {
  auto out = grade("cmath", {{{"doc_id", 0}, {"prediction", "3×6=18，所以答案是：１８。"}, {"gold", "18"}},
                             {{"doc_id", 1}, {"prediction", "答案是44"}, {"gold", "45"}}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["correct"], true);
  EXPECT_EQ(out[0]["verdicts"][0]["scorer"], "strict-match");
  EXPECT_EQ(out[1]["correct"], false);
}

TEST(CliGradeMath, UnknownDocIdNamesTheDataset) {
  if (!have_data()) GTEST_SKIP() << "no MATH data under " << test::shared_dir();
  fs::path input = test::make_temp_dir("grade-math") / "input.jsonl";
  std::ofstream(input, std::ios::binary) << json{{"doc_id", "test/nope.json"}, {"prediction", "1"}}.dump() << "\n";
  auto r = test::run_cli({"grade", "--task", "math", "--input", input.string()});
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, ::testing::HasSubstr("math/test.jsonl"));
  EXPECT_EQ(r.out, "");
}

}  // namespace
}  // namespace yardstick
