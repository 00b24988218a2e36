// Graders by task family, so the harness grades any task the same way and a new family
// (MATH, code) is one more entry here.
#pragma once

#include <future>
#include <string>
#include <string_view>
#include <vector>

#include "scorers/verdict.h"

namespace yardstick {

// Every verdict for one output; the primary verdict (the one the paper's number is compared
// with) comes first: "strict-match" for gsm8k. `gold` is the family's reference answer text.
// Throws InputError naming the family and the known ones when there is no grader for it.
std::vector<Verdict> grade(std::string_view task_family, std::string_view output, std::string_view gold);

// The same verdicts, for a caller that goes on working while they are made: families whose
// grading is slow (humaneval, mbpp: the program runs in the sandbox, scorers/code_grader.h)
// grade in the background and the future becomes ready when they are done; the others grade
// now and return a ready future. Throws as grade() does for an unknown family.
std::future<std::vector<Verdict>> grade_async(std::string_view task_family, std::string_view output,
                                              std::string_view gold);

bool has_grader(std::string_view task_family);
// True for the families graded by executing code (humaneval, mbpp): their verdicts also depend on
// the interpreter and the sandbox (scorers/code_exec.h, execution_record).
bool grades_by_execution(std::string_view task_family);
std::vector<std::string> grader_families();   // sorted

}  // namespace yardstick
