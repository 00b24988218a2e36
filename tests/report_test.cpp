// `yardstick report`: Markdown rendered from a database filled here through the store, compared
// with the published numbers in configs/published.
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "harness/run.h"
#include "harness/store.h"
#include "reports/markdown.h"
#include "tests/cli_process.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// `yardstick report args...`; stdout holds the Markdown, stderr the errors.
test::CliResult report(std::vector<std::string> args) {
  args.insert(args.begin(), "report");
  return test::run_cli(args);
}

// A run of `n` GSM8K samples, the first `strict` right by strict-match and the first `flexible`
// right by flexible-extract.
void add_run(Store& store, const std::string& run_name, const std::string& model_name, int n, int strict,
             int flexible, int shots) {
  ModelRecord m;
  m.name = model_name;
  m.path = "/models/" + model_name;
  m.weights_digest = "w-" + model_name;
  m.config = nlohmann::json::object();
  RunRecord r;
  r.name = run_name;
  r.model_id = store.upsert_model(m);
  r.tasks = "gsm8k";
  r.config = {{"prompt_style", "base"}, {"tasks", {{{"name", "gsm8k"}, {"version", 1}, {"shots", shots}}}}};
  r.config_digest = "d-" + run_name;
  r.engine_build = "yardstick test build";
  r.limit = n;
  r.id = store.create_run(r);
  for (int i = 0; i < n; ++i) {
    SampleRecord s;
    s.run_id = r.id;
    s.task = "gsm8k";
    s.doc_id = std::to_string(i);
    s.prompt = "Q: ...";
    s.output = "The answer is 1.";
    s.gold = "#### 1";
    s.finish_reason = "stop";
    // Samples wrong by both scorers are ones where strict-match found no answer at all.
    std::vector<Verdict> v{{"strict-match", i < strict, "1", i < flexible ? "ok" : "no_answer", {}},
                           {"flexible-extract", i < flexible, "1", "ok", {}}};
    ASSERT_TRUE(store.insert_sample(s, v));
  }
  compute_metrics(store, r.id);
  store.set_run_status(r.id, "finished");
}

class ReportFromDb : public ::testing::Test {
 protected:
  void SetUp() override {
    db = test::make_temp_dir("report") / "runs.db";
    Store store(db);
    add_run(store, "older", "my-model", 10, 10, 10, 8);
    add_run(store, "base-run", "deepseek-llm-7b-base", 20, 4, 10, 8);
  }
  fs::path db;
};

TEST_F(ReportFromDb, LatestRunAgainstItsPublishedModelByDefault) {
  test::CliResult r = report({"--db", db.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("# yardstick report: base-run"));
  EXPECT_THAT(r.out, HasSubstr("compared with: deepseek-llm-7b-base"));
  EXPECT_THAT(r.out, HasSubstr("## gsm8k (v1, base prompts, 8 shots)"));
  EXPECT_THAT(r.out, HasSubstr("| metric | ours % (95% CI) | n | published (deepseek-llm-7b-base) | difference | within noise |"));
  // 4/20 = 20.0%, Wilson 95% [8.1, 41.6]: the paper's 17.4 lies inside.
  EXPECT_THAT(r.out, HasSubstr("| acc strict-match (primary) | 20.0 [8.1, 41.6] | 20 | 17.4 | +2.6 | yes |"));
  // 10/20 = 50.0% [29.9, 70.1]: 17.4 is outside.
  EXPECT_THAT(r.out, HasSubstr("| acc flexible-extract | 50.0 [29.9, 70.1] | 20 | 17.4 | +32.6 | no |"));
  EXPECT_THAT(r.out, HasSubstr("Published: GSM8K 17.4 for deepseek-llm-7b-base (PAPER"));
}

TEST_F(ReportFromDb, ExtractionFailureRatesAreShownPerScorer) {
  auto r = report({"--db", db.string(), "--run", "base-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Extraction failures (no answer found): strict-match 10/20 (50.0%), "
                               "flexible-extract 0/20 (0.0%)."));
}

TEST_F(ReportFromDb, NamedRunAgainstAnotherModel) {
  test::CliResult r = report({"--db", db.string(), "--run", "older", "--against", "deepseek-llm-67b-base"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("# yardstick report: older"));
  EXPECT_THAT(r.out, HasSubstr("| acc strict-match (primary) | 100.0 [72.2, 100.0] | 10 | 63.4 | +36.6 | no |"));
}

TEST_F(ReportFromDb, ShotsThatDifferFromThePublishedOnesAreNoted) {
  test::CliResult r = report({"--db", db.string(), "--run", "older", "--against", "deepseek-llm-7b-chat"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("published with 0 shots, this run used 8"));
}

TEST_F(ReportFromDb, NoPublishedComparisonWithoutAKnownModel) {
  test::CliResult r = report({"--db", db.string(), "--run", "older"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("compared with: nothing"));
  EXPECT_THAT(r.out, HasSubstr("| acc strict-match (primary) | 100.0 [72.2, 100.0] | 10 | — | — | — |"));
}

TEST_F(ReportFromDb, TheComparedNumberIsKeptInTheDatabase) {
  ASSERT_EQ(report({"--db", db.string()}).code, 0);
  Store store(db);
  auto p = store.published("GSM8K");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].model, "deepseek-llm-7b-base");
  EXPECT_DOUBLE_EQ(p[0].value, 17.4);
}

TEST_F(ReportFromDb, UnknownRunAndMissingDatabaseAreErrors) {
  test::CliResult r = report({"--db", db.string(), "--run", "nope"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no run named \"nope\""));
  test::CliResult r2 = report({"--db", (db.parent_path() / "absent.db").string()});
  EXPECT_EQ(r2.code, 1);
  EXPECT_THAT(r2.err, HasSubstr("absent.db does not exist"));
}

TEST(ReportRendering, MetricsOfAnUnfinishedRunAreRecomputedFromVerdicts) {
  auto db = test::make_temp_dir("report-running") / "runs.db";
  {
    Store store(db);
    add_run(store, "live", "m", 4, 2, 2, 8);
    auto run = store.find_run("live");
    store.set_run_status(run->id, "running");
    SampleRecord s;
    s.run_id = run->id;
    s.task = "gsm8k";
    s.doc_id = "4";
    s.finish_reason = "stop";
    ASSERT_TRUE(store.insert_sample(s, {{"strict-match", true, "1", "ok", {}}, {"flexible-extract", true, "1", "ok", {}}}));
  }
  test::CliResult r = report({"--db", db.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("status: running"));
  EXPECT_THAT(r.out, HasSubstr("| acc strict-match (primary) | 60.0 ["));
  EXPECT_THAT(r.out, HasSubstr("| 5 |"));
}

TEST(ReportRendering, CellsCannotBreakTheTable) {
  RunReport rr;
  rr.run_name = "r";
  rr.tasks.push_back({"gsm8k", 1, 8, "base", {{"a|b", "acc", 0.5, 0.4, 0.6, 10}}, std::nullopt});
  std::string md = render_markdown(rr);
  EXPECT_THAT(md, HasSubstr("acc a\\|b (primary)"));
  EXPECT_THAT(md, Not(HasSubstr("acc a|b")));
}

TEST(ReportRendering, TaskWithoutSamplesSaysSo) {
  RunReport rr;
  rr.run_name = "r";
  rr.tasks.push_back({"gsm8k", 1, 8, "base", {}, std::nullopt});
  EXPECT_THAT(render_markdown(rr), HasSubstr("No graded samples yet."));
}

}  // namespace
}  // namespace yardstick
