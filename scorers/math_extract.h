// Reading the final answer out of a model's math solution, in the formats models are prompted
// with or fall into: the last \boxed{...} (nested braces; also `\boxed 5` and \fbox{...}), Minerva's
// "Final Answer: The final answer is $X$. I hope it is correct.", "The answer is X", and the
// Chinese "答案是 X" / "所以答案是：N。", with full-width digits and punctuation read as ASCII.
// Pure functions of the text.
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
inline constexpr std::string_view kLastNumber = "last-number";    // no marker: the last number
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

// The final answer of a math solution by the methods above, in order; nullopt when the output
// holds no marker and no number.
std::optional<ExtractedAnswer> extract_math_answer(std::string_view output);

// The reference answer from a `gold` field: the last \boxed{} of a full solution, the inside of a
// `$...$` answer, or the bare answer itself. nullopt when that leaves nothing.
std::optional<std::string> math_gold_answer(std::string_view gold);

}  // namespace yardstick
