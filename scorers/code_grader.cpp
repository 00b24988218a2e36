#include "scorers/code_grader.h"

#include <fmt/core.h>

#include "engine/error.h"

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
