// A grader's judgement of one model output: the record every scorer returns and the harness
// stores in the `verdicts` table, one per (sample, scorer).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace yardstick {

// Verdict::status, a closed set. Anything but "ok" explains why `correct` is false without
// the answer having been compared; none of them is an exception, so a bad sample never ends
// a run (STYLE.md 6).
namespace verdict_status {
inline constexpr std::string_view kOk = "ok";                // an answer was extracted and compared
inline constexpr std::string_view kNoAnswer = "no_answer";   // nothing the scorer could read as an answer
inline constexpr std::string_view kBadGold = "bad_gold";     // the reference answer itself can't be read (a data error)
inline constexpr std::string_view kTimeout = "timeout";      // executing the answer ran past its limit (code tasks)
inline constexpr std::string_view kError = "error";          // the answer ran and failed, or grading broke (detail says)
}  // namespace verdict_status

// True for the strings in verdict_status.
bool is_verdict_status(std::string_view status);

struct Verdict {
  std::string scorer;          // the extraction/grading pipeline: "strict-match", "flexible-extract", ...
  bool correct = false;
  std::string extracted;       // the normalised answer read from the output ("" when none)
  std::string status;          // one of verdict_status
  nlohmann::json detail;       // scorer-specific evidence (raw match, normalised gold, ...)
};

// The verdict for an output that can't be graded because its reference can't be read: status
// bad_gold, the start of the gold text as evidence.
Verdict bad_gold_verdict(std::string_view scorer, std::string_view gold_text);

// The JSON form used by `yardstick grade` and stored in SQLite:
// {"scorer", "correct", "extracted", "status", "detail"}.
nlohmann::json to_json(const Verdict& v);

}  // namespace yardstick
