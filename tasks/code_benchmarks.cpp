#include "tasks/code_benchmarks.h"

#include <array>
#include <map>

#include <fmt/format.h>

#include "datasets/readers.h"
#include "engine/error.h"
#include "scorers/code_grader.h"
#include "tasks/adapters.h"

namespace yardstick {

namespace {

namespace fs = std::filesystem;

// A record's problem, its parse errors named by file and line.
template <typename Problem, typename Parse>
Problem parse_row(const nlohmann::json& row, Parse parse, const fs::path& path, size_t index) {
  try {
    return parse(row);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}:{}: {}", path.string(), index + 1, e.what()));
  }
}

std::string unix_newlines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

Fields mbpp_fields(const MbppProblem& p) {
  std::string tests;
  for (const auto& t : p.test_list) tests += (tests.empty() ? "" : "\n") + unix_newlines(t);
  return {{"text", unix_newlines(p.text)}, {"tests", tests}, {"code", unix_newlines(p.code)}};
}

struct TaskIdRange {
  int first, last;
};

TaskIdRange mbpp_split(const TaskSpec& spec) {
  static const std::map<std::string, TaskIdRange, std::less<>> splits = {
      {"test", {11, 510}}, {"validation", {511, 600}}, {"train", {601, 974}}, {"prompt", {1, 10}}};
  auto it = splits.find(spec.dataset.split);
  if (it == splits.end())
    throw InputError(fmt::format("task {}: MBPP has no split \"{}\" (test, validation, train, prompt)", spec.name,
                                 spec.dataset.split));
  return it->second;
}

}  // namespace

void load_humaneval(const TaskSpec& spec, const fs::path& data_dir, TaskData& data) {
  require_provided_fields(spec, {"prompt", "entry_point"});
  fs::path path = checked_data_file(data_dir, spec.dataset.file, data);
  auto rows = read_jsonl(path);
  for (size_t i = 0; i < rows.size(); ++i) {
    const HumanEvalProblem p = parse_row<HumanEvalProblem>(rows[i], humaneval_problem, path, i);
    Doc doc;
    doc.doc_id = p.task_id;
    doc.fields = {{"prompt", p.prompt}, {"entry_point", p.entry_point}};
    doc.gold = humaneval_gold(p);
    doc.reference = p.canonical_solution;
    data.docs.push_back(std::move(doc));
  }
}

void load_mbpp(const TaskSpec& spec, const fs::path& data_dir, TaskData& data) {
  require_provided_fields(spec, {"text", "tests"}, {"text", "tests", "code"});
  if (!spec.fewshot.split.empty() && spec.fewshot.split != "prompt")
    throw InputError(fmt::format("task {}: MBPP exemplars come from fewshot.split \"prompt\", not \"{}\"", spec.name,
                                 spec.fewshot.split));
  const TaskIdRange range = mbpp_split(spec);
  constexpr std::array<int, 3> kExemplarIds = {2, 3, 4};
  fs::path path = checked_data_file(data_dir, spec.dataset.file, data);
  auto rows = read_jsonl(path);
  std::map<int, Fields> exemplars;
  for (size_t i = 0; i < rows.size(); ++i) {
    const MbppProblem p = parse_row<MbppProblem>(rows[i], mbpp_problem, path, i);
    if (std::find(kExemplarIds.begin(), kExemplarIds.end(), p.task_id) != kExemplarIds.end())
      exemplars[p.task_id] = mbpp_fields(p);
    if (p.task_id < range.first || p.task_id > range.last) continue;
    Doc doc;
    doc.doc_id = std::to_string(p.task_id);
    doc.fields = mbpp_fields(p);
    doc.fields.erase("code");   // the answer is not the question's to show
    doc.gold = mbpp_gold(p);
    doc.reference = p.code;
    data.docs.push_back(std::move(doc));
  }
  if (!spec.fewshot.split.empty()) {
    for (int id : kExemplarIds) {
      if (!exemplars.count(id)) throw InputError(fmt::format("{}: no task_id {} for the exemplars", path.string(), id));
      data.exemplars.push_back(exemplars[id]);
    }
  }
}

}  // namespace yardstick
