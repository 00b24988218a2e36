// `yardstick compare` and the machine-readable reports, on a database holding a `gold` run (every
// answer the reference) and a tiny random model's run of the same GSM8K docs under the same
// protocol: the comparison flags the regression from gold to tiny and not the other way, gates on
// it with its exit status, and refuses runs made under another protocol. Also the paired
// statistics behind it, on hand-built outcomes.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/store.h"
#include "reports/compare.h"
#include "reports/csv_export.h"
#include "reports/results.h"
#include "reports/stats.h"
#include "tests/cli_process.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kDocs = 10;

// One database for the suite: the runs cost a few seconds of CPU, so they are made once.
class CompareRuns : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(test::make_temp_dir("compare"));
    db_ = new fs::path(*dir_ / "runs.db");
    fs::path model = *dir_ / "tiny";
    must(test::run_cli({"synth-model", "--preset", "tiny", "--out", model.string()}));
    std::vector<std::string> common{"--tasks", "gsm8k", "--limit", std::to_string(kDocs), "--db", db_->string(),
                                    "--style", "base", "--data-dir", (test::shared_dir() / "datasets").string()};
    auto run = [&](const std::string& model_arg, const std::string& name, std::vector<std::string> extra) {
      std::vector<std::string> args{"run", "--model", model_arg, "--run-name", name};
      args.insert(args.end(), common.begin(), common.end());
      args.insert(args.end(), extra.begin(), extra.end());
      must(test::run_cli(args));
    };
    run("gold", "gold", {});
    run(model.string(), "tiny", {"--threads", "2"});
    run("gold", "gold-4shot", {"--shots", "4"});
  }
  static void TearDownTestSuite() {
    delete db_;
    delete dir_;
  }
  static void must(const test::CliResult& r) { ASSERT_EQ(r.code, 0) << r.err; }

  static test::CliResult cli(std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"--db", db_->string()});
    return test::run_cli(args);
  }

  static fs::path* dir_;
  static fs::path* db_;
};
fs::path* CompareRuns::dir_ = nullptr;
fs::path* CompareRuns::db_ = nullptr;

TEST_F(CompareRuns, GoldToTinyIsARegressionAndFailsTheGate) {
  test::CliResult r = cli({"compare", "gold", "tiny", "--fail-on-regression"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_THAT(r.out, HasSubstr("| gsm8k | strict-match (primary) | acc | 100.0 |"));
  EXPECT_THAT(r.out, HasSubstr("exact McNemar"));
  EXPECT_THAT(r.out, HasSubstr("**worse in B**"));
  EXPECT_THAT(r.out, HasSubstr("right in A, wrong in B (10): 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"));
  EXPECT_THAT(r.out, HasSubstr("wrong in A, right in B (0)"));
  EXPECT_THAT(r.out, HasSubstr("sqlite3 "));
  EXPECT_THAT(r.out, HasSubstr("Result: REGRESSION: significantly worse in B: gsm8k."));
}

TEST_F(CompareRuns, TinyToGoldIsNotARegression) {
  test::CliResult r = cli({"compare", "tiny", "gold", "--fail-on-regression"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("better in B"));
  EXPECT_THAT(r.out, Not(HasSubstr("**worse in B**")));
  EXPECT_THAT(r.out, HasSubstr("wrong in A, right in B (10)"));
  EXPECT_THAT(r.out, HasSubstr("Result: no task is significantly worse in B."));
}

TEST_F(CompareRuns, WithoutTheGateARegressionStillExitsZero) {
  test::CliResult r = cli({"compare", "gold", "tiny"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("REGRESSION"));
}

TEST_F(CompareRuns, ARunAgainstItselfIsWithinNoise) {
  test::CliResult r = cli({"compare", "gold", "gold", "--fail-on-regression"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("within noise"));
}

TEST_F(CompareRuns, JsonCarriesTheTestAndTheFlippedDocs) {
  test::CliResult r = cli({"compare", "gold", "tiny", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_TRUE(j.at("regression").get<bool>());
  const json& t = j.at("tasks").at(0);
  EXPECT_EQ(t.at("task"), "gsm8k");
  EXPECT_EQ(t.at("n"), kDocs);
  EXPECT_DOUBLE_EQ(t.at("b_minus_a").get<double>(), -1.0);
  // Ten discordant docs all one way: p = 2 * 0.5^10.
  EXPECT_NEAR(t.at("p_value").get<double>(), 2.0 / 1024.0, 1e-12);
  EXPECT_EQ(t.at("right_in_a_wrong_in_b").size(), static_cast<size_t>(kDocs));
  EXPECT_FALSE(t.at("within_noise").get<bool>());
}

TEST_F(CompareRuns, RunsUnderAnotherProtocolAreRefusedSayingWhatDiffers) {
  test::CliResult r = cli({"compare", "gold", "gold-4shot"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("not made under the same protocol"));
  EXPECT_THAT(r.err, HasSubstr("/tasks/gsm8k/shots: 8 (A) vs 4 (B)"));
}

TEST_F(CompareRuns, UnknownRunIsAnError) {
  test::CliResult r = cli({"compare", "gold", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no run named \"nope\""));
}

TEST_F(CompareRuns, JsonReportParsesAndCarriesEveryMetricInTheLmEvalLayout) {
  test::CliResult r = cli({"report", "--run", "gold", "--run", "tiny", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j.at("runs").size(), 2u);
  Store store(*db_);
  for (const json& run : j.at("runs")) {
    std::string name = run.at("yardstick").at("run");
    auto metrics = store.metrics(store.find_run(name)->id);
    ASSERT_FALSE(metrics.empty());
    for (const auto& m : metrics) {
      const json& res = run.at("results").at(m.task);
      EXPECT_NEAR(res.at(m.metric + "," + m.scorer).get<double>(), m.value, 1e-12) << name << " " << m.scorer;
      EXPECT_NEAR(res.at(m.metric + "_stderr," + m.scorer).get<double>(), m.stderr_, 1e-12);
    }
    EXPECT_EQ(run.at("versions").at("gsm8k"), 1);
    EXPECT_EQ(run.at("n-shot").at("gsm8k"), 8);
    EXPECT_EQ(run.at("n-samples").at("gsm8k").at("effective"), kDocs);
    EXPECT_EQ(run.at("configs").at("gsm8k").at("num_fewshot"), 8);
  }
}

TEST_F(CompareRuns, CsvHasOneRowPerRunTaskAndMetric) {
  fs::path out = *dir_ / "report.csv";
  test::CliResult r = cli({"report", "--run", "gold", "--run", "tiny", "--format", "csv", "--out", out.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  std::string csv = test::read_text(out);
  std::vector<std::string> lines;
  for (size_t pos = 0, end; (end = csv.find("\r\n", pos)) != std::string::npos; pos = end + 2)
    lines.push_back(csv.substr(pos, end - pos));
  ASSERT_EQ(lines.size(), 1u + 2 * 2);   // header + 2 runs x gsm8k x {strict-match, flexible-extract}
  EXPECT_EQ(lines[0], kCsvHeader);
  EXPECT_THAT(lines[1], HasSubstr("gold,gold,gsm8k,1,8,base,strict-match,acc,,,1.000000,"));
  EXPECT_THAT(lines[3], HasSubstr("tiny,tiny,gsm8k,1,8,base,strict-match,acc,,,0.000000,"));
}

TEST(CompareStatistics, McNemarOnDiscordantDocsOnly) {
  ScorerOutcomes a{"s", 0, {}}, b{"s", 0, {}};
  // 20 docs: 3 right only in a, 1 right only in b, the rest agree.
  for (int i = 0; i < 20; ++i) {
    a.docs.push_back({std::to_string(i), 1, i < 3 || i >= 10 ? 1 : 0, {}});
    b.docs.push_back({std::to_string(i), 1, i == 5 || i >= 10 ? 1 : 0, {}});
  }
  TaskComparison c = compare_outcomes("t", a, b);
  EXPECT_EQ(c.test, "exact McNemar");
  EXPECT_EQ(c.regressed, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(c.fixed, (std::vector<std::string>{"5"}));
  EXPECT_NEAR(c.paired.mcnemar_p, 0.625, 1e-12);   // 2 * P(X <= 1), X ~ Bin(4, 1/2) = 2 * 5/16
  EXPECT_FALSE(c.regression);
}

TEST(CompareStatistics, DocsArePairedByIdAndUnpairedOnesCounted) {
  ScorerOutcomes a{"s", 0, {{"x", 1, 1, {}}, {"y", 1, 0, {}}}};
  ScorerOutcomes b{"s", 0, {{"y", 1, 1, {}}, {"z", 1, 1, {}}}};
  TaskComparison c = compare_outcomes("t", a, b);
  EXPECT_EQ(c.paired.n, 1u);
  EXPECT_EQ(c.only_in_a, 1u);
  EXPECT_EQ(c.only_in_b, 1u);
  EXPECT_EQ(c.fixed, (std::vector<std::string>{"y"}));
}

TEST(CompareStatistics, SeveralSamplesPerDocUseThePairedBootstrap) {
  ScorerOutcomes a{"s", 0, {}}, b{"s", 0, {}};
  for (int i = 0; i < 40; ++i) {
    a.docs.push_back({std::to_string(i), 4, 4, {}});
    b.docs.push_back({std::to_string(i), 4, 1, {}});
  }
  TaskComparison c = compare_outcomes("t", a, b);
  EXPECT_EQ(c.metric, "pass@1");
  EXPECT_EQ(c.test, "paired bootstrap");
  EXPECT_DOUBLE_EQ(c.value_a, 1.0);
  EXPECT_DOUBLE_EQ(c.value_b, 0.25);
  EXPECT_TRUE(c.regression);
  EXPECT_DOUBLE_EQ(c.paired.ci_low, 0.75);   // every doc differs by the same 0.75
  EXPECT_DOUBLE_EQ(c.paired.ci_high, 0.75);
}

TEST(CompareStatistics, ProtocolDifferencesNameThePath) {
  json a = {{"prompt_style", "base"}, {"seed", 1},
            {"tasks", {{{"name", "t"}, {"shots", 8}, {"stop", {"\n\n"}}, {"spec", {{"scorer", "gsm8k"}}}}}}};
  json b = a;
  b["seed"] = 2;   // greedy: the seed is not part of the protocol
  EXPECT_TRUE(protocol_differences(a, b).empty());
  b["tasks"][0]["spec"]["scorer"] = "math";
  b["prompt_style"] = "chat";
  auto d = protocol_differences(a, b);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].path, "/prompt_style");
  EXPECT_EQ(d[1].path, "/tasks/t/spec/scorer");
  EXPECT_EQ(d[1].a, "\"gsm8k\"");
  EXPECT_EQ(d[1].b, "\"math\"");
}

TEST(ResultStatistics, PassAtOneOverSeveralSamplesHasABootstrapInterval) {
  ScorerOutcomes s{"exec", 0, {}};
  for (int i = 0; i < 50; ++i) s.docs.push_back({std::to_string(i), 10, i % 10, {}});
  auto m = summarize_metrics({s});
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].metric, "pass@1");
  EXPECT_EQ(m[0].interval, "bootstrap");
  EXPECT_NEAR(m[0].value, 0.45, 1e-12);
  EXPECT_LT(m[0].ci_low, 0.45);
  EXPECT_GT(m[0].ci_high, 0.45);
  EXPECT_GT(m[0].std_error, 0.0);
}

TEST(ResultStatistics, AverageOverSubjectsWeighsEachSubjectEqually) {
  ScorerOutcomes s{"acc", 0, {}};
  // Subject A: 8 docs all right; subject B: 2 docs, both wrong. Over questions 80%, over subjects 50%.
  for (int i = 0; i < 10; ++i) s.docs.push_back({std::to_string(i), 1, i < 8 ? 1 : 0, {{"subject", i < 8 ? "A" : "B"}}});
  auto b = summarize_breakdowns(s);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].key, "subject");
  ASSERT_EQ(b[0].groups.size(), 2u);
  EXPECT_EQ(b[0].groups[0].value, "A");
  EXPECT_DOUBLE_EQ(b[0].groups[0].estimate.mean, 1.0);
  EXPECT_DOUBLE_EQ(b[0].average.mean, 0.5);
  // Each subject's docs agree, so every stratified resample gives the same average.
  EXPECT_DOUBLE_EQ(b[0].average.ci_low, 0.5);
  EXPECT_DOUBLE_EQ(b[0].average.ci_high, 0.5);
  EXPECT_NEAR(summarize_metrics({s})[0].value, 0.8, 1e-12);
}

TEST(ResultStatistics, ACategoryIsAlsoAveragedOverItsSubjects) {
  ScorerOutcomes s{"choice", 0, {}};
  // Category STEM: physics 3/3 right, math 0/1. Over its questions 75%, over its subjects 50%.
  auto add = [&](const std::string& subject, int correct) {
    s.docs.push_back({std::to_string(s.docs.size()), 1, correct, {{"category", "STEM"}, {"subject", subject}}});
  };
  add("physics", 1), add("physics", 1), add("physics", 1), add("math", 0);
  auto b = summarize_breakdowns(s);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].key, "category");
  EXPECT_DOUBLE_EQ(b[0].groups[0].estimate.mean, 0.75);
  ASSERT_TRUE(b[0].groups[0].subject_average.has_value());
  EXPECT_DOUBLE_EQ(b[0].groups[0].subject_average->mean, 0.5);
  EXPECT_FALSE(b[1].groups[0].subject_average.has_value());   // a subject is not averaged over itself
}

}  // namespace
}  // namespace yardstick
