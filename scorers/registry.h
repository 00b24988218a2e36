// Graders by task family, so the harness grades any task the same way and a new family
// (MATH, code) is one more entry here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "scorers/verdict.h"

namespace yardstick {

// Every verdict for one output; the primary verdict (the one the paper's number is compared
// with) comes first: "strict-match" for gsm8k. `gold` is the family's reference answer text.
// Throws InputError naming the family and the known ones when there is no grader for it.
std::vector<Verdict> grade(std::string_view task_family, std::string_view output, std::string_view gold);

bool has_grader(std::string_view task_family);
std::vector<std::string> grader_families();   // sorted

}  // namespace yardstick
