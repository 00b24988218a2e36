// Graders by task family, so the harness grades any task the same way and a new family
// (MATH, code) is one more entry here.
#pragma once

#include <chrono>
#include <future>
#include <string>
#include <string_view>
#include <vector>

#include "scorers/verdict.h"

namespace yardstick {

// Every verdict for one output; the primary verdict (the one the paper's number is compared
// with) comes first: "strict-match" for gsm8k. `gold` is the family's reference answer text. Each
// verdict's detail carries the family's scorer_version.
// Throws InputError naming the family and the known ones when there is no grader for it.
std::vector<Verdict> grade(std::string_view task_family, std::string_view output, std::string_view gold);

// Verdicts being made: get() waits for them (once), each with its family's scorer version in
// detail["scorer_version"].
class PendingVerdicts {
 public:
  PendingVerdicts(std::future<std::vector<Verdict>> future, int scorer_version)
      : future_(std::move(future)), scorer_version_(scorer_version) {}
  bool ready() const { return future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }
  std::vector<Verdict> get();

 private:
  std::future<std::vector<Verdict>> future_;
  int scorer_version_;
};

// The same verdicts, for a caller that goes on working while they are made: families whose
// grading is slow (humaneval, mbpp: the program runs in the sandbox, scorers/code_grader.h)
// grade in the background and are ready when they are done; the others grade now and are ready
// at once. Throws as grade() does for an unknown family.
PendingVerdicts grade_async(std::string_view task_family, std::string_view output, std::string_view gold);

// The version of a family's grading, stored with every verdict it makes (detail["scorer_version"];
// verdicts stored before versions were recorded have none and count as version 1). Bumped when a
// change to the family's extraction or comparison can turn a verdict, so that a run graded by an
// older version is re-graded (`yardstick run --rescore`) instead of resumed with verdicts of both.
// Throws as grade() does for an unknown family.
int scorer_version(std::string_view task_family);

bool has_grader(std::string_view task_family);
// True for the families graded by executing code (humaneval, mbpp): their verdicts also depend on
// the interpreter and the sandbox (scorers/code_exec.h, execution_record).
bool grades_by_execution(std::string_view task_family);
std::vector<std::string> grader_families();   // sorted

}  // namespace yardstick
