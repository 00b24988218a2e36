#include "scorers/code_grader.h"

#include <memory>

#include <fmt/core.h>

#include "engine/error.h"
#include "scorers/code_extract.h"

namespace yardstick {
namespace {

const nlohmann::json& field(const nlohmann::json& row, const char* key, nlohmann::json::value_t type,
                            std::string_view dataset) {
  auto it = row.find(key);
  if (it == row.end() || it->type() != type)
    throw InputError(fmt::format("{} record: field \"{}\" missing or not a {}", dataset, key,
                                 nlohmann::json(type).type_name()));
  return *it;
}

std::string string_field(const nlohmann::json& row, const char* key, std::string_view dataset) {
  return field(row, key, nlohmann::json::value_t::string, dataset).get<std::string>();
}

}  // namespace

HumanEvalProblem humaneval_problem(const nlohmann::json& row) {
  constexpr std::string_view kName = "HumanEval";
  return {string_field(row, "task_id", kName), string_field(row, "prompt", kName),
          string_field(row, "canonical_solution", kName), string_field(row, "test", kName),
          string_field(row, "entry_point", kName)};
}

std::string humaneval_program(const HumanEvalProblem& problem, std::string_view completion) {
  return fmt::format("{}{}\n\n{}\n\ncheck({})\n", problem.prompt, completion, problem.test, problem.entry_point);
}

MbppProblem mbpp_problem(const nlohmann::json& row) {
  constexpr std::string_view kName = "MBPP";
  MbppProblem p;
  auto id = row.find("task_id");
  if (id == row.end() || !id->is_number_integer()) throw InputError("MBPP record: field \"task_id\" missing or not an integer");
  p.task_id = id->get<int>();
  p.text = string_field(row, "text", kName);
  p.code = string_field(row, "code", kName);
  p.test_setup_code = row.contains("test_setup_code") ? string_field(row, "test_setup_code", kName) : "";
  for (const auto& t : field(row, "test_list", nlohmann::json::value_t::array, kName)) {
    if (!t.is_string()) throw InputError(fmt::format("MBPP record {}: test_list holds a non-string", p.task_id));
    p.test_list.push_back(t.get<std::string>());
  }
  return p;
}

std::string mbpp_program(const MbppProblem& problem, std::string_view code) {
  std::string program = fmt::format("{}\n\n{}\n\n", code, problem.test_setup_code);
  for (const auto& t : problem.test_list) program += t + "\n";
  return program;
}

std::string humaneval_gold(const HumanEvalProblem& problem) {
  return nlohmann::json{{"prompt", problem.prompt}, {"test", problem.test}, {"entry_point", problem.entry_point}}.dump();
}

std::string mbpp_gold(const MbppProblem& problem) {
  return nlohmann::json{{"test_list", problem.test_list}, {"test_setup_code", problem.test_setup_code}}.dump();
}

std::string humaneval_completion(std::string_view output, std::string_view prompt, std::string_view entry_point) {
  const size_t first = output.find_first_not_of("\r\n");
  const bool indented = first != std::string_view::npos && (output[first] == ' ' || output[first] == '\t');
  if (output.find("```") != std::string_view::npos || (first != std::string_view::npos && !indented))
    return humaneval_completion_from_reply(prompt, output, entry_point);
  return std::string(truncate_at_stop(output, kHumanEvalStopSequences));
}

namespace {

// A future that is ready now.
std::future<std::vector<Verdict>> ready(std::vector<Verdict> verdicts) {
  std::promise<std::vector<Verdict>> p;
  p.set_value(std::move(verdicts));
  return p.get_future();
}

std::vector<Verdict> bad_gold(std::string_view why) {
  Verdict v;
  v.scorer = std::string(kExecutionScorer);
  v.status = std::string(verdict_status::kBadGold);
  v.detail = {{"error", why}};
  return {v};
}

// Runs `program` on the shared executor; the verdict carries `code`. The future becomes ready
// when the program has run (set from the executor's worker), so a caller can poll it.
std::future<std::vector<Verdict>> execute_async(std::string program, std::string code) {
  PythonExecutor& executor = shared_python_executor();
  auto promise = std::make_shared<std::promise<std::vector<Verdict>>>();
  std::future<std::vector<Verdict>> future = promise->get_future();
  executor.submit(std::move(program), executor.limits(),
                  [promise, code = std::move(code)](std::exception_ptr error, ExecResult result) mutable {
                    if (error) promise->set_exception(error);
                    else promise->set_value({execution_verdict(result, std::move(code))});
                  });
  return future;
}

}  // namespace

std::future<std::vector<Verdict>> grade_humaneval_async(std::string_view output, std::string_view gold) {
  HumanEvalProblem problem;
  try {
    const nlohmann::json g = nlohmann::json::parse(gold);
    problem.prompt = g.at("prompt").get<std::string>();
    problem.test = g.at("test").get<std::string>();
    problem.entry_point = g.at("entry_point").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return ready(bad_gold(fmt::format("a HumanEval gold is {{\"prompt\", \"test\", \"entry_point\"}}: {}", e.what())));
  }
  std::string completion = humaneval_completion(output, problem.prompt, problem.entry_point);
  std::string program = humaneval_program(problem, completion);
  return execute_async(std::move(program), std::move(completion));
}

std::future<std::vector<Verdict>> grade_mbpp_async(std::string_view output, std::string_view gold) {
  MbppProblem problem;
  try {
    const nlohmann::json g = nlohmann::json::parse(gold);
    problem.test_list = g.at("test_list").get<std::vector<std::string>>();
    problem.test_setup_code = g.value("test_setup_code", "");
  } catch (const nlohmann::json::exception& e) {
    return ready(bad_gold(fmt::format("an MBPP gold is {{\"test_list\", \"test_setup_code\"}}: {}", e.what())));
  }
  std::string code = mbpp_code_from_completion(output, mbpp_function_name(problem.test_list));
  std::string program = mbpp_program(problem, code);
  return execute_async(std::move(program), std::move(code));
}

std::vector<Verdict> grade_humaneval(std::string_view output, std::string_view gold) {
  return grade_humaneval_async(output, gold).get();
}

std::vector<Verdict> grade_mbpp(std::string_view output, std::string_view gold) { return grade_mbpp_async(output, gold).get(); }

Verdict execution_verdict(const ExecResult& result, std::string code) {
  Verdict v;
  v.scorer = std::string(kExecutionScorer);
  v.correct = result.passed();
  v.extracted = std::move(code);
  switch (result.outcome) {
    case ExecOutcome::passed:
    case ExecOutcome::failed: v.status = std::string(verdict_status::kOk); break;
    case ExecOutcome::timeout: v.status = std::string(verdict_status::kTimeout); break;
    default: v.status = std::string(verdict_status::kError); break;
  }
  v.detail = {{"outcome", to_string(result.outcome)},
              {"exc_type", result.exc_type},
              {"message", result.message},
              {"stderr", utf8_tail(result.stderr_text, 2000)},
              {"wall_seconds", result.wall_seconds}};
  return v;
}

}  // namespace yardstick
