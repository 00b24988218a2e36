// CMath grading (Chinese elementary-school math word problems; the DeepSeek LLM paper's protocol,
// ../shared/reference/PROTOCOL.md: 3-shot, each exemplar ending "所以答案是：N。", greedy). The
// answer is the number after the answer marker, compared with the gold number exactly as a
// rational, with a percentage gold also matched by its number written without the sign.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scorers/rational.h"
#include "scorers/verdict.h"

namespace yardstick {

inline constexpr std::string_view kCmathStrict = "strict-match";       // the number after 答案是/答案为/答案：
inline constexpr std::string_view kCmathFlexible = "flexible-extract";  // the last number of the answer

// A number as Chinese math answers write it: "18", "1,200", "3.5", "3/4", "\frac{3}{4}", "40%",
// full-width digits already converted.
struct CmathNumber {
  std::string raw;        // as written
  Rational value;         // a percentage divided by 100
  Rational written;       // the number without its percent sign
  bool percent = false;
};

// `text` read as exactly one number (surrounding spaces, $ and a final period allowed).
std::optional<CmathNumber> cmath_number(std::string_view text);

// The gold: a bare number, or a solution text whose marked answer is one.
std::optional<CmathNumber> cmath_gold(std::string_view gold);

// strict: the first number of the marked answer, read as the MATH extractor reads it (the last
// \boxed{}, "final answer is", "answer is", "答案是", "答案为", "答案：", "答："); flexible: the last
// number before a line starting the next exemplar ("Q:"). Both read only numbers standing on
// their own (not the "2" of "x2").
std::optional<CmathNumber> cmath_extract_strict(std::string_view output);
std::optional<CmathNumber> cmath_extract_flexible(std::string_view output);

// Both verdicts, strict-match first (the paper's exemplar format, the primary metric).
std::vector<Verdict> grade_cmath(std::string_view output, std::string_view gold);

}  // namespace yardstick
