// GSM8K grading by the paper's protocol (../shared/reference/PROTOCOL.md): the answer is parsed
// from "The answer is N" in a greedy chain-of-thought output and compared with the number on
// the `#### N` line of the reference solution. Pure functions of (output, gold); no engine.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scorers/verdict.h"

namespace yardstick {

// Scorer names, as lm-evaluation-harness names the same two filters of gsm8k-cot.
inline constexpr std::string_view kGsm8kStrict = "strict-match";
inline constexpr std::string_view kGsm8kFlexible = "flexible-extract";

// The canonical form of a number as written in text, or nullopt when `text` is not one number.
// Accepts a sign, `$`, thousands separators (`1,000`), decimals (`29.00`, `.5`), a fraction
// (`3/4`), a trailing `%` or period, and markdown emphasis (`**18**`). Canonical form: no
// leading `+`, no leading zeros, no trailing fractional zeros, a fraction reduced and written
// as a decimal when it terminates ("3/4" -> "0.75", "6/3" -> "2", "1/3" stays "1/3"). Two numbers
// are equal exactly when their canonical forms are.
std::optional<std::string> canonical_number(std::string_view text);

// The gold answer: the number after the last `####` of a GSM8K solution, or `gold` itself when
// it is a plain number. nullopt when neither reads as a number.
std::optional<std::string> gsm8k_gold(std::string_view gold);

// Where an answer was found in an output: the text matched and its canonical number.
struct NumberMatch {
  std::string raw;         // as written, e.g. "$1,000.00"
  std::string canonical;   // e.g. "1000"
};

// The part of an output that answers the question: everything before a line that starts a new
// exemplar ("Q:"), which is where the protocol's stop string ends generation. Outputs stored
// without that cut grade the same.
std::string_view gsm8k_answer_region(std::string_view output);

// strict-match: the first "The answer is N" (any case, optional ':' and emphasis) or "#### N".
std::optional<NumberMatch> gsm8k_extract_strict(std::string_view output);
// flexible-extract: the last number in the answer region.
std::optional<NumberMatch> gsm8k_extract_flexible(std::string_view output);

// Both verdicts, strict-match first (the paper's parsing, the primary metric). `gold` is a
// GSM8K answer text ("... #### 18") or a plain number ("18").
std::vector<Verdict> grade_gsm8k(std::string_view output, std::string_view gold);

}  // namespace yardstick
