#include "scorers/registry.h"

#include <algorithm>
#include <functional>
#include <map>

#include <fmt/core.h>

#include "engine/error.h"
#include "scorers/cluewsc.h"
#include "scorers/cmath.h"
#include "scorers/code_grader.h"
#include "scorers/gsm8k.h"
#include "scorers/math_grader.h"
#include "scorers/multiple_choice.h"

namespace yardstick {
namespace {

using Grader = std::function<std::vector<Verdict>(std::string_view output, std::string_view gold)>;

// One entry per task family; each grader returns its primary verdict first.
const std::map<std::string, Grader, std::less<>>& graders() {
  static const std::map<std::string, Grader, std::less<>> table = {
      {"cluewsc", grade_cluewsc},
      {"cmath", grade_cmath},
      {"gsm8k", grade_gsm8k},
      {"humaneval", grade_humaneval},
      {"math", grade_math},
      {"mbpp", grade_mbpp},
      {"multiple_choice", grade_multiple_choice},
  };
  return table;
}

using AsyncGrader = std::function<std::future<std::vector<Verdict>>(std::string_view output, std::string_view gold)>;

// The families that grade in the background (see grade_async); each is in graders() too.
const std::map<std::string, AsyncGrader, std::less<>>& async_graders() {
  static const std::map<std::string, AsyncGrader, std::less<>> table = {
      {"humaneval", grade_humaneval_async},
      {"mbpp", grade_mbpp_async},
  };
  return table;
}

}  // namespace

std::future<std::vector<Verdict>> grade_async(std::string_view task_family, std::string_view output,
                                              std::string_view gold) {
  if (auto it = async_graders().find(task_family); it != async_graders().end()) return it->second(output, gold);
  std::promise<std::vector<Verdict>> now;
  now.set_value(grade(task_family, output, gold));
  return now.get_future();
}

std::vector<Verdict> grade(std::string_view task_family, std::string_view output, std::string_view gold) {
  auto it = graders().find(task_family);
  if (it == graders().end()) {
    std::string known;
    for (const auto& name : grader_families()) known += (known.empty() ? "" : ", ") + name;
    throw InputError(fmt::format("no grader for task family \"{}\" (graders: {})", task_family, known));
  }
  return it->second(output, gold);
}

bool has_grader(std::string_view task_family) { return graders().count(task_family) > 0; }

bool grades_by_execution(std::string_view task_family) { return async_graders().count(task_family) > 0; }

std::vector<std::string> grader_families() {
  std::vector<std::string> names;
  for (const auto& [name, _] : graders()) names.push_back(name);
  return names;   // std::map keeps them sorted
}

}  // namespace yardstick
