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

struct Family {
  Grader grader;
  int version;   // scorer_version(): bump when a change can turn a verdict
};

// One entry per task family; each grader returns its primary verdict first.
//   math 2, cmath 2: marked answer, else the last math segment, else the whole output as one
//   expression, else only a number standing on its own (issue 15); signs in front of intervals
//   and sets; "1 000", ".4", \textbf units.
const std::map<std::string, Family, std::less<>>& graders() {
  static const std::map<std::string, Family, std::less<>> table = {
      {"cluewsc", {grade_cluewsc, 1}},
      {"cmath", {grade_cmath, 2}},
      {"gsm8k", {grade_gsm8k, 1}},
      {"humaneval", {grade_humaneval, 1}},
      {"math", {grade_math, 2}},
      {"mbpp", {grade_mbpp, 1}},
      {"multiple_choice", {grade_multiple_choice, 1}},
  };
  return table;
}

const Family& family(std::string_view task_family) {
  auto it = graders().find(task_family);
  if (it == graders().end()) {
    std::string known;
    for (const auto& name : grader_families()) known += (known.empty() ? "" : ", ") + name;
    throw InputError(fmt::format("no grader for task family \"{}\" (graders: {})", task_family, known));
  }
  return it->second;
}

std::vector<Verdict> with_version(std::vector<Verdict> verdicts, int version) {
  for (auto& v : verdicts) v.detail["scorer_version"] = version;
  return verdicts;
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

std::vector<Verdict> PendingVerdicts::get() { return with_version(future_.get(), scorer_version_); }

PendingVerdicts grade_async(std::string_view task_family, std::string_view output, std::string_view gold) {
  const Family& f = family(task_family);
  if (auto it = async_graders().find(task_family); it != async_graders().end())
    return PendingVerdicts(it->second(output, gold), f.version);
  std::promise<std::vector<Verdict>> now;
  now.set_value(f.grader(output, gold));
  return PendingVerdicts(now.get_future(), f.version);
}

std::vector<Verdict> grade(std::string_view task_family, std::string_view output, std::string_view gold) {
  const Family& f = family(task_family);
  return with_version(f.grader(output, gold), f.version);
}

int scorer_version(std::string_view task_family) { return family(task_family).version; }

bool has_grader(std::string_view task_family) { return graders().count(task_family) > 0; }

bool grades_by_execution(std::string_view task_family) { return async_graders().count(task_family) > 0; }

std::vector<std::string> grader_families() {
  std::vector<std::string> names;
  for (const auto& [name, _] : graders()) names.push_back(name);
  return names;   // std::map keeps them sorted
}

}  // namespace yardstick
