// HumanEval and MBPP as tasks: the adapters' docs, golds and exemplars; how an output of either
// prompt style becomes a program; the registry's code graders; and the CLI end to end (the gold
// model scores 100%, `yardstick grade` grades by doc_id, the run records the interpreter).
// The prompt text of doc 0 is pinned by task_prompts_test.cpp.
#include "tasks/code_benchmarks.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "harness/store.h"
#include "scorers/code_grader.h"
#include "scorers/registry.h"
#include "tasks/task_spec.h"
#include "tests/cli_process.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path tasks_dir() { return test::source_dir() / "configs" / "tasks"; }
fs::path data_dir() { return test::shared_dir() / "datasets"; }

TaskData load(const std::string& task) { return load_task_data(find_task_spec(task, tasks_dir()), data_dir()); }

// ======================================================================= adapters

TEST(HumanEvalTask, DocsAreTheProblemsWithGoldsForTheGrader) {
  TaskData data = load("humaneval");
  ASSERT_EQ(data.docs.size(), 164u);
  EXPECT_EQ(data.docs[0].doc_id, "HumanEval/0");
  EXPECT_EQ(data.docs[163].doc_id, "HumanEval/163");
  const Doc& doc = data.docs[2];
  EXPECT_EQ(doc.fields.at("entry_point"), "truncate_number");
  nlohmann::json gold = nlohmann::json::parse(doc.gold);
  EXPECT_EQ(gold.at("entry_point"), "truncate_number");
  EXPECT_EQ(gold.at("prompt"), doc.fields.at("prompt"));
  EXPECT_THAT(gold.at("test").get<std::string>(), HasSubstr("def check(candidate)"));
  EXPECT_EQ(doc.reference, "    return number % 1.0\n");
  EXPECT_TRUE(data.file_digests.count("humaneval/HumanEval.jsonl.gz"));
}

TEST(MbppTask, DocsAreTheTestSplitAndTheShotsAreTasks2To4) {
  TaskData data = load("mbpp");
  ASSERT_EQ(data.docs.size(), 500u);
  EXPECT_EQ(data.docs.front().doc_id, "11");
  EXPECT_EQ(data.docs.back().doc_id, "510");
  EXPECT_FALSE(data.docs[0].fields.count("code"));   // the question does not show the answer
  EXPECT_EQ(data.docs[0].fields.at("tests"),
            "assert remove_Occ(\"hello\",\"l\") == \"heo\"\nassert remove_Occ(\"abcda\",\"a\") == \"bcd\"\n"
            "assert remove_Occ(\"PHP\",\"P\") == \"H\"");
  ASSERT_EQ(data.exemplars.size(), 3u);
  EXPECT_THAT(data.exemplars[0].at("code"), HasSubstr("def similar_elements"));
  EXPECT_THAT(data.exemplars[1].at("code"), HasSubstr("def is_not_prime"));
  EXPECT_THAT(data.exemplars[2].at("code"), HasSubstr("def heap_queue_largest"));
  for (const auto& shot : data.exemplars) EXPECT_EQ(shot.at("code").find('\r'), std::string::npos);
  nlohmann::json gold = nlohmann::json::parse(data.docs[0].gold);
  EXPECT_EQ(gold.at("test_list").size(), 3u);
  EXPECT_EQ(gold.at("test_setup_code"), "");
}

TEST(MbppTask, RefusesASplitMbppDoesNotHave) {
  TaskSpec spec = find_task_spec("mbpp", tasks_dir());
  spec.dataset.split = "dev";
  try {
    load_task_data(spec, data_dir());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("no split \"dev\""));
  }
  spec.dataset.split = "validation";
  EXPECT_EQ(load_task_data(spec, data_dir()).docs.size(), 90u);   // task_ids 511-600
}

// ======================================================================= outputs -> programs

TEST(HumanEvalCompletion, AnIndentedOutputIsABodyCutAtTheStopSequences) {
  EXPECT_EQ(humaneval_completion("    return 1\n\nprint(f())\n", "def f():\n", "f"), "    return 1\n");
  EXPECT_EQ(humaneval_completion("\n    return 1\n", "def f():\n", "f"), "\n    return 1\n");
}

TEST(HumanEvalCompletion, AReplyIsAssembledWithThePrompt) {
  // Fenced, or starting at column 0 (a whole function, imports first): after the prompt.
  EXPECT_EQ(humaneval_completion("Sure:\n```python\ndef f():\n    return 1\n```", "def f():\n", "f"),
            "\ndef f():\n    return 1\n");
  EXPECT_EQ(humaneval_completion("import math\n\ndef f():\n    return 1\n\n# done\n", "def f():\n", "f"),
            "\nimport math\n\ndef f():\n    return 1\n\n# done\n");
}

TEST(CodeGraders, AreInTheRegistryAndGradeByExecution) {
  EXPECT_TRUE(has_grader("humaneval"));
  EXPECT_TRUE(has_grader("mbpp"));
  EXPECT_TRUE(grades_by_execution("humaneval"));
  EXPECT_FALSE(grades_by_execution("gsm8k"));
  const TaskData data = load("humaneval");
  const Doc& doc = data.docs[2];
  std::vector<Verdict> right = grade("humaneval", doc.reference, doc.gold);
  ASSERT_EQ(right.size(), 1u);
  EXPECT_TRUE(right[0].correct);
  EXPECT_EQ(right[0].scorer, "execution");
  std::vector<Verdict> wrong = grade_async("humaneval", "    return number\n", doc.gold).get();
  EXPECT_FALSE(wrong[0].correct);
  EXPECT_EQ(wrong[0].detail["outcome"], "failed");
}

TEST(CodeGraders, AMalformedGoldIsAVerdictNotAnException) {
  for (const char* family : {"humaneval", "mbpp"}) {
    std::vector<Verdict> v = grade(family, "x = 1\n", "{\"not\": \"a gold\"}");
    ASSERT_EQ(v.size(), 1u);
    EXPECT_FALSE(v[0].correct);
    EXPECT_EQ(v[0].status, "bad_gold") << family;
  }
}

TEST(CodeGraders, MbppTakesTheCodeOutOfAChatReply) {
  const TaskData data = load("mbpp");
  const Doc& doc = data.docs[0];   // remove_Occ
  const std::string reply =
      "Here is a test first:\n```python\nprint(remove_Occ('hello', 'l'))\n```\nand the function:\n```python\n"
      "def remove_Occ(s, ch):\n    i = s.find(ch)\n    if i >= 0:\n        s = s[:i] + s[i + 1:]\n"
      "    j = s.rfind(ch)\n    if j >= 0:\n        s = s[:j] + s[j + 1:]\n    return s\n```";
  std::vector<Verdict> v = grade("mbpp", reply, doc.gold);
  EXPECT_TRUE(v[0].correct) << v[0].detail.dump();
  EXPECT_THAT(v[0].extracted, HasSubstr("def remove_Occ"));
}

// ======================================================================= the CLI

TEST(CodeTasksCli, GoldModelScoresPerfectlyInBothStyles) {
  for (const char* style : {"base", "chat"}) {
    fs::path db = test::make_temp_dir("code-gold") / "runs.db";
    auto r = test::run_cli({"run", "--model", "gold", "--tasks", "humaneval,mbpp", "--limit", "20", "--style", style,
                            "--db", db.string()});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("humaneval execution acc: 100.00%")) << style;
    EXPECT_THAT(r.out, HasSubstr("mbpp execution acc: 100.00%")) << style;
    // The interpreter and the sandbox's limits are part of what the run is.
    Store store(db);
    auto run = store.latest_run();
    ASSERT_TRUE(run);
    const nlohmann::json& code = run->config.at("code_execution");
    EXPECT_TRUE(fs::path(code.at("python").get<std::string>()).is_absolute());
    EXPECT_TRUE(code.at("isolated").get<bool>());
    EXPECT_EQ(code.at("limits").at("cpu_seconds"), 10);
  }
}

TEST(CodeTasksCli, GradeLooksTheTestsUpByDocId) {
  fs::path input = test::make_temp_dir("code-grade") / "in.jsonl";
  std::ofstream(input) << R"({"doc_id": "HumanEval/2", "prediction": "    return number % 1.0\n"})" << "\n"
                       << R"({"doc_id": "HumanEval/2", "prediction": "    return number\n"})" << "\n"
                       << R"({"doc_id": "HumanEval/2", "prediction": "    return (\n"})" << "\n";
  auto r = test::run_cli({"grade", "--task", "humaneval", "--input", input.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<nlohmann::json> lines;
  std::stringstream out(r.out);
  for (std::string line; std::getline(out, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["correct"], true);
  EXPECT_EQ(lines[0]["doc_id"], "HumanEval/2");
  EXPECT_EQ(lines[1]["correct"], false);
  EXPECT_EQ(lines[1]["status"], "ok");
  EXPECT_EQ(lines[1]["verdicts"][0]["detail"]["outcome"], "failed");
  EXPECT_EQ(lines[2]["status"], "error");
  EXPECT_EQ(lines[2]["verdicts"][0]["detail"]["outcome"], "syntax_error");

  fs::path mbpp = input.parent_path() / "mbpp.jsonl";
  std::ofstream(mbpp) << R"({"doc_id": 11, "prediction": "def remove_Occ(s, ch):\n    return s\n[DONE]"})" << "\n";
  auto m = test::run_cli({"grade", "--task", "mbpp", "--input", mbpp.string()});
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_EQ(nlohmann::json::parse(m.out)["correct"], false);
}

}  // namespace
}  // namespace yardstick
