// Reading the final answer out of a model's math solution, in the formats models are prompted
// with or fall into: the last \boxed{...} (nested braces; also `\boxed 5` and \fbox{...}), Minerva's
// "Final Answer: The final answer is $X$. I hope it is correct.", "The answer is X", and the
// Chinese "答案是 X" / "所以答案是：N。", with full-width digits and punctuation read as ASCII;
// without a marker (chat models graded 0-shot often answer with the bare answer), the last math
// segment (unless a number standing on its own follows it in the prose; a segment that only names
// a variable, "$n$", yields to any number), the whole output when it is one expression, and only
// then the last number that stands on its own. Pure functions of the text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace yardstick {

// How an answer was found, in the order they are tried.
namespace math_answer_method {
inline constexpr std::string_view kBoxed = "boxed";               // the last \boxed{} or \fbox{}
inline constexpr std::string_view kFinalAnswer = "final-answer";  // "... final answer is X"
inline constexpr std::string_view kAnswerIs = "answer-is";        // "... answer is X"
inline constexpr std::string_view kChinese = "zh-answer";         // 答案是 / 答案为 / 答案： / 答：
inline constexpr std::string_view kMathSegment = "math-segment";  // no marker: the last $..$, \(..\), \[..\]
inline constexpr std::string_view kWhole = "whole";               // the output is one expression ("\frac34")
inline constexpr std::string_view kLastNumber = "last-number";    // the last number standing on its own
}  // namespace math_answer_method

struct ExtractedAnswer {
  std::string text;     // the answer as written, without $ delimiters or a sentence's period
  std::string method;   // one of math_answer_method
};

// Full-width forms (U+FF01..U+FF5E: "０１２", "：", "，", "（", "％") and the ideographic space,
// full stop and enumeration comma (U+3000, "。", "、") as their ASCII counterparts; everything
// else unchanged.
std::string to_halfwidth(std::string_view text);

// The content of the last \boxed{...} or \fbox{...} (braces matched, escaped \{ \} skipped), or of
// `\boxed X` up to the next `$` or line end. nullopt when there is none, it is empty, or its braces
// never close (a truncated output).
std::optional<std::string> last_boxed(std::string_view text);

// The part of a Minerva-format output that answers the question: everything before a line that
// starts the next exemplar ("Problem:"), where the protocol's stop string ends generation.
std::string_view math_answer_region(std::string_view output);

// The text after the last Chinese answer marker (答案是, 答案为, 答案：, 答：) up to the end of its
// sentence, with full-width characters already converted. nullopt when there is no marker.
std::optional<std::string> chinese_marked_answer(std::string_view halfwidth_text);

// The content of the last complete math segment ($$..$$, $..$, \(..\), \[..\]; an escaped \$ is a
// dollar sign, not a delimiter, and so is one never closed or closed only past a blank line),
// trimmed; nullopt when there is none or it is empty.
std::optional<std::string> last_math_segment(std::string_view text);

// Whether the number at text[begin, end) stands on its own: not glued to a letter ("AZ2A"), a
// LaTeX command ("\frac13"), a sub/superscript ("x_2", "10^3") or a {group} ("\frac{1}{8}").
// UTF-8 text around it (Chinese: "共18个") does not glue.
bool number_stands_alone(std::string_view text, size_t begin, size_t end);

// The answer the output marks as its answer, by the first four methods (boxed, final-answer,
// answer-is, zh-answer) in order; nullopt when none is there. `output` is taken whole (no
// Minerva answer region cut).
std::optional<ExtractedAnswer> marked_math_answer(std::string_view output);

// The final answer of a math solution by the methods above, in order; nullopt when the output
// holds no marker, no math segment, is not one expression and has no number standing on its own.
std::optional<ExtractedAnswer> extract_math_answer(std::string_view output);

// The reference answer from a `gold` field: the last \boxed{} of a full solution, the inside of a
// `$...$` answer, or the bare answer itself. nullopt when that leaves nothing.
std::optional<std::string> math_gold_answer(std::string_view gold);

}  // namespace yardstick
