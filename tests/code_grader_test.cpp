// HumanEval and MBPP grading: every reference solution passes in the sandbox and broken ones
// don't; code extraction and stop-sequence truncation on golden strings; pass@k against
// hand-computed values.
#include "scorers/code_grader.h"

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "datasets/readers.h"
#include "engine/error.h"
#include "scorers/code_extract.h"
#include "scorers/pass_at_k.h"
#include "tests/test_paths.h"

namespace yardstick {

void PrintTo(ExecOutcome outcome, std::ostream* os) { *os << to_string(outcome); }

namespace {

using ::testing::HasSubstr;

// One worker per core, with limits roomy enough that a loaded machine can't make a reference
// solution time out (MBPP task 123 needs ~4 CPU seconds).
PythonExecutor& executor() {
  static PythonExecutor* instance = [] {
    PythonExecutorOptions options;
    options.limits.wall_seconds = 300;
    options.limits.cpu_seconds = 60;
    return new PythonExecutor(options);
  }();
  return *instance;
}

std::vector<HumanEvalProblem> humaneval() {
  std::vector<HumanEvalProblem> problems;
  for (const auto& row : read_jsonl(test::shared_dir() / "datasets/humaneval/HumanEval.jsonl.gz"))
    problems.push_back(humaneval_problem(row));
  return problems;
}

// The MBPP test split: task_ids 11-510.
std::vector<MbppProblem> mbpp_test_split() {
  std::vector<MbppProblem> problems;
  for (const auto& row : read_jsonl(test::shared_dir() / "datasets/mbpp/mbpp.jsonl")) {
    MbppProblem p = mbpp_problem(row);
    if (p.task_id >= 11 && p.task_id <= 510) problems.push_back(std::move(p));
  }
  return problems;
}

// Runs all programs at once on the executor's workers; results in order.
std::vector<ExecResult> run_all(const std::vector<std::string>& programs) {
  std::vector<std::future<ExecResult>> futures;
  for (const auto& p : programs) futures.push_back(executor().submit(p));
  std::vector<ExecResult> results;
  for (auto& f : futures) results.push_back(f.get());
  return results;
}

// Problem i completed with problem i+1's reference code, for the first 24 problems: none may pass.
template <typename Problem, typename Assemble>
void expect_shifted_references_fail(const std::vector<Problem>& problems, Assemble assemble) {
  std::vector<std::string> programs;
  for (size_t i = 0; i < 24; ++i) programs.push_back(assemble(problems[i], problems[i + 1]));
  const std::vector<ExecResult> results = run_all(programs);
  for (size_t i = 0; i < results.size(); ++i) EXPECT_FALSE(results[i].passed()) << "problem " << i;
}

// ======================================================================= the datasets' references

TEST(HumanEval, EveryCanonicalSolutionPasses) {
  const std::vector<HumanEvalProblem> problems = humaneval();
  ASSERT_EQ(problems.size(), 164u);
  std::vector<std::string> programs;
  for (const auto& p : problems) programs.push_back(humaneval_program(p, p.canonical_solution));
  const std::vector<ExecResult> results = run_all(programs);
  for (size_t i = 0; i < problems.size(); ++i)
    EXPECT_EQ(results[i].outcome, ExecOutcome::passed)
        << problems[i].task_id << ": " << results[i].exc_type << " " << results[i].message << "\n" << results[i].stderr_text;
}

TEST(HumanEval, AnotherProblemsSolutionDoesNotPass) {
  expect_shifted_references_fail(humaneval(), [](const HumanEvalProblem& p, const HumanEvalProblem& next) {
    return humaneval_program(p, next.canonical_solution);
  });
}

TEST(HumanEval, AWrongSolutionFailsItsAssertions) {
  const HumanEvalProblem p = humaneval().at(0);   // has_close_elements(numbers, threshold)
  ExecResult r = executor().run(humaneval_program(p, "    return any(abs(a - b) < threshold for a in numbers for b in numbers)\n"));
  EXPECT_EQ(r.outcome, ExecOutcome::failed);   // compares each number with itself: always True
  EXPECT_EQ(r.exc_type, "AssertionError");
}

TEST(Mbpp, EveryReferenceProgramOfTheTestSplitPasses) {
  const std::vector<MbppProblem> problems = mbpp_test_split();
  ASSERT_EQ(problems.size(), 500u);
  std::vector<std::string> programs;
  for (const auto& p : problems) programs.push_back(mbpp_program(p, p.code));
  const std::vector<ExecResult> results = run_all(programs);
  for (size_t i = 0; i < problems.size(); ++i)
    EXPECT_EQ(results[i].outcome, ExecOutcome::passed)
        << "task " << problems[i].task_id << ": " << results[i].exc_type << " " << results[i].message;
}

TEST(Mbpp, AnotherTasksReferenceDoesNotPass) {
  expect_shifted_references_fail(mbpp_test_split(), [](const MbppProblem& p, const MbppProblem& next) {
    return mbpp_program(p, next.code);
  });
}

TEST(Mbpp, SetupCodeRunsAfterTheSolutionAndBeforeTheAsserts) {
  // Task 367's setup code builds trees from the solution's Node class.
  const std::vector<MbppProblem> problems = mbpp_test_split();
  auto it = std::find_if(problems.begin(), problems.end(), [](const MbppProblem& p) { return p.task_id == 367; });
  ASSERT_NE(it, problems.end());
  ASSERT_FALSE(it->test_setup_code.empty());
  EXPECT_EQ(executor().run(mbpp_program(*it, it->code)).outcome, ExecOutcome::passed);
  EXPECT_EQ(executor().run(mbpp_program(*it, "def is_tree_balanced(root):\n    return True\n")).outcome, ExecOutcome::error);   // no Node
}

// ======================================================================= assembling programs

HumanEvalProblem toy_problem() {
  return {"Toy/0", "def add(a, b):\n    \"\"\"Adds.\"\"\"\n", "    return a + b\n",
          "def check(candidate):\n    assert candidate(1, 2) == 3\n", "add"};
}

TEST(HumanEval, AssemblesPromptCompletionTestsAndCheck) {
  EXPECT_EQ(humaneval_program(toy_problem(), "    return a + b\n"),
            "def add(a, b):\n    \"\"\"Adds.\"\"\"\n    return a + b\n\n\n"
            "def check(candidate):\n    assert candidate(1, 2) == 3\n\n\ncheck(add)\n");
}

TEST(HumanEval, ReadsARecordAndNamesAMissingField) {
  nlohmann::json row = {{"task_id", "HumanEval/0"}, {"prompt", "p"}, {"canonical_solution", "c"}, {"test", "t"}, {"entry_point", "f"}};
  EXPECT_EQ(humaneval_problem(row).entry_point, "f");
  row.erase("test");
  try {
    humaneval_problem(row);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"test\""));
  }
}

TEST(Mbpp, AssemblesSolutionSetupAndAsserts) {
  MbppProblem p;
  p.task_id = 1;
  p.test_setup_code = "x = 2";
  p.test_list = {"assert f(x) == 4", "assert f(1) == 2"};
  EXPECT_EQ(mbpp_program(p, "def f(a):\n    return 2 * a"), "def f(a):\n    return 2 * a\n\nx = 2\n\nassert f(x) == 4\nassert f(1) == 2\n");
}

// ======================================================================= verdicts

TEST(ExecutionVerdict, OnlyAPassIsCorrect) {
  ExecResult passed;
  passed.outcome = ExecOutcome::passed;
  Verdict v = execution_verdict(passed, "code");
  EXPECT_TRUE(v.correct);
  EXPECT_EQ(v.status, "ok");
  EXPECT_EQ(v.scorer, "execution");
  EXPECT_EQ(v.extracted, "code");
  EXPECT_EQ(v.detail["outcome"], "passed");

  ExecResult failed;
  failed.outcome = ExecOutcome::failed;
  failed.exc_type = "AssertionError";
  EXPECT_FALSE(execution_verdict(failed, "").correct);
  EXPECT_EQ(execution_verdict(failed, "").status, "ok");   // the tests ran and decided

  ExecResult timeout;
  timeout.outcome = ExecOutcome::timeout;
  EXPECT_EQ(execution_verdict(timeout, "").status, "timeout");
  for (ExecOutcome o : {ExecOutcome::error, ExecOutcome::syntax_error, ExecOutcome::memory, ExecOutcome::killed}) {
    ExecResult r;
    r.outcome = o;
    r.exc_type = "X";
    Verdict bad = execution_verdict(r, "");
    EXPECT_FALSE(bad.correct);
    EXPECT_EQ(bad.status, "error");
    EXPECT_EQ(bad.detail["outcome"], std::string(to_string(o)));
    EXPECT_EQ(bad.detail["exc_type"], "X");
  }
}

// ======================================================================= extraction

TEST(TruncateAtStop, CutsAtTheEarliestStopSequence) {
  const std::string completion = "    return x\n\nif __name__ == '__main__':\n    print(f(1))\ndef g():\n";
  EXPECT_EQ(truncate_at_stop(completion, kHumanEvalStopSequences), "    return x\n");
  EXPECT_EQ(truncate_at_stop("    return x\n# test\n", kHumanEvalStopSequences), "    return x");
  EXPECT_EQ(truncate_at_stop("    return x\n", kHumanEvalStopSequences), "    return x\n");
  // Indented definitions and comments belong to the body.
  EXPECT_EQ(truncate_at_stop("    def h():\n        # c\n        return 1\n    return h()\nprint(1)", kHumanEvalStopSequences),
            "    def h():\n        # c\n        return 1\n    return h()");
  EXPECT_EQ(truncate_at_stop("def f():\n  return 1\n[DONE]\n\nYou are", kMbppStopSequences), "def f():\n  return 1\n");
}

TEST(TruncateAtStop, IsIdempotent) {
  const std::string_view once = truncate_at_stop("    return 1\nclass A: pass", kHumanEvalStopSequences);
  EXPECT_EQ(truncate_at_stop(once, kHumanEvalStopSequences), once);
}

TEST(ExtractCode, TakesTheFencedPythonBlock) {
  EXPECT_EQ(extract_code("Here you go:\n```python\ndef f():\n    return 1\n```\nThis returns 1."), "def f():\n    return 1\n");
  EXPECT_EQ(extract_code("```py\nx = 1\n```"), "x = 1\n");
  EXPECT_EQ(extract_code("```Python3\nx = 1\n```"), "x = 1\n");
  EXPECT_EQ(extract_code("```\nx = 1\n```"), "x = 1\n");
  EXPECT_EQ(extract_code("Sure!\r\n```python\r\nx = 1\r\n```\r\n"), "x = 1\n");
}

TEST(ExtractCode, PrefersTheBlockThatDefinesTheFunction) {
  const std::string reply =
      "Usage:\n```python\nprint(add(1, 2))\n```\nCode:\n```python\ndef add(a, b):\n    return a + b\n```\n";
  EXPECT_EQ(extract_code(reply, "add"), "def add(a, b):\n    return a + b\n");
  EXPECT_EQ(extract_code(reply), "print(add(1, 2))\n");
  EXPECT_EQ(extract_code("```bash\npip install x\n```\n```python\ny = 2\n```"), "y = 2\n");
  EXPECT_EQ(extract_code("```bash\npip install x\n```"), "pip install x\n");
}

TEST(ExtractCode, HandlesIndentedAndUnclosedFences) {
  EXPECT_EQ(extract_code("1. Write:\n   ```python\n   def f():\n       return 1\n   ```\n"), "def f():\n    return 1\n");
  EXPECT_EQ(extract_code("```python\ndef f():\n    return"), "def f():\n    return\n");   // hit the token limit
}

TEST(ExtractCode, TakesAnUnfencedReplyAsCode) {
  EXPECT_EQ(extract_code("def f():\n    return 1\n"), "def f():\n    return 1\n");
}

TEST(DefinesFunction, FindsOnlyTopLevelDefinitions) {
  EXPECT_TRUE(defines_function("import x\ndef add (a, b):\n", "add"));
  EXPECT_TRUE(defines_function("async def add(a):\n", "add"));
  EXPECT_FALSE(defines_function("    def add(a):\n", "add"));
  EXPECT_FALSE(defines_function("def add_one(a):\n", "add"));
  EXPECT_FALSE(defines_function("x = add(1)\n", "add"));
}

TEST(HumanEvalChat, AFullFunctionReplyFollowsThePrompt) {
  const HumanEvalProblem p = toy_problem();
  const std::string reply = "Here is the function:\n```python\ndef add(a, b):\n    return a + b\n```";
  const std::string completion = humaneval_completion_from_reply(p.prompt, reply, p.entry_point);
  EXPECT_EQ(completion, "\ndef add(a, b):\n    return a + b\n");
  EXPECT_EQ(executor().run(humaneval_program(p, completion)).outcome, ExecOutcome::passed);
}

TEST(HumanEvalChat, ABodyOnlyReplyContinuesThePrompt) {
  const HumanEvalProblem p = toy_problem();
  const std::string completion = humaneval_completion_from_reply(p.prompt, "```python\n    return a + b\n```", p.entry_point);
  EXPECT_EQ(completion, "    return a + b\n");
  EXPECT_EQ(executor().run(humaneval_program(p, completion)).outcome, ExecOutcome::passed);
}

TEST(HumanEvalChat, ARealProblemGradedFromAChatReply) {
  // HumanEval/2 truncate_number: the reply uses no import from the prompt, the prompt's stub is replaced.
  const HumanEvalProblem p = humaneval().at(2);
  ASSERT_EQ(p.entry_point, "truncate_number");
  const std::string reply = "```python\ndef truncate_number(number: float) -> float:\n    return number % 1.0\n```\n";
  EXPECT_EQ(executor().run(humaneval_program(p, humaneval_completion_from_reply(p.prompt, reply, p.entry_point))).outcome,
            ExecOutcome::passed);
}

TEST(MbppExtraction, TakesTheCodeBetweenBeginAndDone) {
  EXPECT_EQ(mbpp_code_from_completion("def f(a):\n    return a\n[DONE]\nYou are an expert"), "def f(a):\n    return a\n");
  EXPECT_EQ(mbpp_code_from_completion("\n[BEGIN]\ndef f(a):\n    return a\n[DONE]"), "def f(a):\n    return a\n");
  EXPECT_EQ(mbpp_code_from_completion("```python\ndef f(a):\n    return a\n```\n[DONE]"), "def f(a):\n    return a\n");
  EXPECT_EQ(mbpp_code_from_completion("  \n"), "");
}

TEST(MbppExtraction, FindsTheFunctionTheTestsCall) {
  EXPECT_EQ(mbpp_function_name(std::vector<std::string>{"assert remove_Occ(\"hello\",\"l\") == \"heo\""}), "remove_Occ");
  EXPECT_EQ(mbpp_function_name(std::vector<std::string>{"assert (max_height(root)) == 3"}), "max_height");
  EXPECT_EQ(mbpp_function_name(std::vector<std::string>{"assert 1 == 1", "assert  f (2) == 2"}), "f");
  EXPECT_EQ(mbpp_function_name(std::vector<std::string>{"x = 1"}), "");
}

// ======================================================================= pass@k

double exact_pass_at_k(int n, int c, int k) {
  // 1 - C(n-c, k) / C(n, k) through log-gamma, independent of the product form under test.
  auto log_binomial = [](int a, int b) { return std::lgamma(a + 1.0) - std::lgamma(b + 1.0) - std::lgamma(a - b + 1.0); };
  if (n - c < k) return 1.0;
  return 1.0 - std::exp(log_binomial(n - c, k) - log_binomial(n, k));
}

TEST(PassAtK, MatchesHandComputedValues) {
  EXPECT_DOUBLE_EQ(pass_at_k(1, 1, 1), 1.0);
  EXPECT_DOUBLE_EQ(pass_at_k(1, 0, 1), 0.0);
  EXPECT_DOUBLE_EQ(pass_at_k(2, 1, 1), 0.5);
  EXPECT_NEAR(pass_at_k(5, 2, 2), 0.7, 1e-12);   // 1 - C(3,2)/C(5,2) = 1 - 3/10
  EXPECT_DOUBLE_EQ(pass_at_k(10, 9, 2), 1.0);     // any two samples include a pass
  EXPECT_NEAR(pass_at_k(10, 3, 1), 0.3, 1e-12);   // pass@1 is the fraction that passed
}

TEST(PassAtK, AgreesWithTheBinomialFormForLargeN) {
  for (auto [n, c, k] : {std::tuple{200, 10, 100}, {200, 1, 10}, {1000, 37, 100}, {100, 50, 100}})
    EXPECT_NEAR(pass_at_k(n, c, k), exact_pass_at_k(n, c, k), 1e-9) << n << " " << c << " " << k;
}

TEST(PassAtK, RejectsImpossibleCounts) {
  EXPECT_THROW(pass_at_k(5, 6, 1), InputError);
  EXPECT_THROW(pass_at_k(5, 1, 6), InputError);
  EXPECT_THROW(pass_at_k(5, 1, 0), InputError);
  EXPECT_THROW(pass_at_k(5, -1, 1), InputError);
}

TEST(PassAtK, ReportsTheKsEveryProblemHasSamplesFor) {
  const std::vector<SampleCounts> greedy = {{1, 1}, {1, 0}};
  EXPECT_EQ(reportable_ks(greedy), std::vector<int>{1});
  const std::vector<SampleCounts> twenty = {{20, 3}, {25, 0}};
  EXPECT_EQ(reportable_ks(twenty), (std::vector<int>{1, 10}));
  const std::vector<SampleCounts> many = {{200, 3}};
  EXPECT_EQ(reportable_ks(many), (std::vector<int>{1, 10, 100}));
  const std::vector<double> per_problem = pass_at_k_per_problem(twenty, 1);
  ASSERT_EQ(per_problem.size(), 2u);
  EXPECT_NEAR(per_problem[0], 3.0 / 20, 1e-12);
  EXPECT_EQ(per_problem[1], 0.0);
}

}  // namespace
}  // namespace yardstick
