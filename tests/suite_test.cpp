// Suites as data: both paper suites load, agree with the published records they are compared with
// (benchmark, shots), name verdicts their tasks really produce, and run end to end on the gold
// model at 100%; malformed suites are refused with errors that name the file and the field.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/error.h"
#include "harness/suite.h"
#include "reports/published.h"
#include "scorers/registry.h"
#include "tasks/task_data.h"
#include "tests/cli_process.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path suites_dir() { return test::source_dir() / "configs" / "suites"; }
fs::path tasks_dir() { return test::source_dir() / "configs" / "tasks"; }

std::string load_error(const std::string& text) {
  fs::path file = test::make_temp_dir("suite") / "bad.json";
  std::ofstream(file, std::ios::binary) << text;
  try {
    load_suite(file, tasks_dir());
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(Suites, BothPaperSuitesLoad) {
  auto suites = list_suites(suites_dir(), tasks_dir());
  ASSERT_EQ(suites.size(), 2u);
  EXPECT_EQ(suites[0].name, "deepseek-llm-base");
  EXPECT_EQ(suites[0].style, PromptStyle::Base);
  EXPECT_EQ(suites[1].name, "deepseek-llm-chat");
  EXPECT_EQ(suites[1].style, PromptStyle::Chat);
}

TEST(Suites, ShotsAndBenchmarksAgreeWithThePublishedRecords) {
  auto published = PublishedNumbers::load(test::source_dir() / "configs" / "published");
  for (const auto& suite : list_suites(suites_dir(), tasks_dir())) {
    ASSERT_FALSE(suite.models.empty()) << suite.name;
    for (const auto& t : suite.tasks) {
      EXPECT_EQ(published.benchmark_name(t.task), t.benchmark) << t.task;
      // Some rows (the chat math CoT row) are published for one model only; each needs one at least.
      int found = 0;
      for (const auto& model : suite.models) {
        const PublishedRecord* r = published.lookup(model, t.benchmark);
        if (!r) continue;
        ++found;
        if (r->shots) EXPECT_EQ(*r->shots, t.shots) << suite.name << " " << t.task << " vs " << model;
      }
      EXPECT_GE(found, 1) << suite.name << ": nothing published for " << t.benchmark;
    }
  }
}

TEST(Suites, ComparedVerdictsAreOnesTheTasksProduce) {
  fs::path data_dir = test::shared_dir() / "datasets";
  if (!fs::exists(data_dir)) GTEST_SKIP() << "no " << data_dir;
  for (const auto& suite : list_suites(suites_dir(), tasks_dir())) {
    for (const auto& t : suite.tasks) {
      TaskSpec spec = find_task_spec(t.task, tasks_dir());
      TaskData data = load_task_data(spec, data_dir);
      ASSERT_FALSE(data.docs.empty());
      auto verdicts = grade(spec.scorer, data.docs[0].reference, data.docs[0].gold);
      std::vector<std::string> names;
      for (const auto& v : verdicts) names.push_back(v.scorer);
      EXPECT_THAT(names, ::testing::Contains(t.scorer)) << suite.name << " " << t.task;
    }
  }
}

TEST(Suites, UnknownSuiteListsTheKnownOnes) {
  try {
    find_suite("nope", suites_dir(), tasks_dir());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("deepseek-llm-base"));
    EXPECT_THAT(e.what(), HasSubstr("deepseek-llm-chat"));
  }
}

TEST(Suites, MalformedSuitesAreRefusedByField) {
  const std::string task = R"({"task": "gsm8k", "shots": 8, "benchmark": "GSM8K", "scorer": "strict-match"})";
  EXPECT_THAT(load_error(R"({"name": "s", "version": 1, "style": "base", "tasks": [)" + task + R"(], "typo": 1})"),
              HasSubstr("unknown field \"typo\""));
  EXPECT_THAT(load_error(R"({"name": "s", "version": 1, "style": "base", "tasks": [)" + task + "," + task + "]}"),
              HasSubstr("listed twice"));
  EXPECT_THAT(load_error(R"({"name": "s", "version": 1, "style": "sideways", "tasks": [)" + task + "]}"),
              HasSubstr("style"));
  EXPECT_THAT(load_error(R"({"name": "s", "version": 1, "style": "base", "tasks": [{"task": "nope", "shots": 0,
                            "benchmark": "X", "scorer": "y"}]})"),
              HasSubstr("unknown task \"nope\""));
  EXPECT_THAT(load_error(R"({"name": "s", "version": 1, "style": "base", "tasks": [{"task": "chid", "shots": 3,
                            "benchmark": "CHID", "scorer": "choice"}]})"),
              HasSubstr("no exemplars"));
}

TEST(SuitesCli, ListsSuitesWithTheirProtocol) {
  auto r = test::run_cli({"suites"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("deepseek-llm-base (v2, base prompts)"));
  EXPECT_THAT(r.out, HasSubstr("ceval    C-Eval    5-shot  val split, multiple choice by log-likelihood, length"));
  EXPECT_THAT(r.out, HasSubstr("not run: MMLU"));
}

TEST(SuitesCli, GoldModelScoresEveryTaskOfBothSuitesPerfectly) {
  if (!fs::exists(test::shared_dir() / "datasets")) GTEST_SKIP() << "no data";
  for (const char* suite : {"deepseek-llm-base", "deepseek-llm-chat"}) {
    fs::path db = test::make_temp_dir("suite-run") / "runs.db";
    auto r = test::run_cli({"run", "--model", "gold", "--suite", suite, "--limit", "25", "--db", db.string()});
    ASSERT_EQ(r.code, 0) << r.err;
    int metrics = 0;
    std::stringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(" acc: ") == std::string::npos) continue;
      ++metrics;
      EXPECT_THAT(line, HasSubstr("acc: 100.00%")) << suite;
    }
    EXPECT_GE(metrics, 9) << r.out;
  }
}

TEST(SuitesCli, SuiteFixesTasksShotsAndStyle) {
  fs::path db = test::make_temp_dir("suite-run") / "runs.db";
  auto with_tasks = test::run_cli({"run", "--model", "gold", "--suite", "deepseek-llm-base", "--tasks", "gsm8k",
                                   "--db", db.string()});
  EXPECT_NE(with_tasks.code, 0);
  EXPECT_THAT(with_tasks.err, HasSubstr("--suite and --tasks"));
  auto with_style = test::run_cli({"run", "--model", "gold", "--suite", "deepseek-llm-base", "--style", "chat",
                                   "--db", db.string()});
  EXPECT_NE(with_style.code, 0);
  EXPECT_THAT(with_style.err, HasSubstr("drop --style"));
}

}  // namespace
}  // namespace yardstick
