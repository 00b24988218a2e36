// Getting the code out of a model's output before it is executed: stop-sequence truncation for
// base-model completions, fenced-block extraction for chat replies, and the assembly of a
// HumanEval reply with its prompt. Pure functions of text.
#pragma once

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace yardstick {

// HumanEval (Chen et al. 2021): a completion of the prompt's function body ends where the model
// starts a new top-level statement.
inline constexpr std::array<std::string_view, 5> kHumanEvalStopSequences = {"\nclass", "\ndef", "\n#", "\nif", "\nprint"};
// MBPP (Austin et al. 2021, the paper's 3-shot format): the code ends at [DONE].
inline constexpr std::array<std::string_view, 1> kMbppStopSequences = {"[DONE]"};

// `text` up to the earliest occurrence of any stop sequence (all of it when none occurs). Idempotent,
// so an output the engine already cut at a stop string is unchanged.
std::string_view truncate_at_stop(std::string_view text, std::span<const std::string_view> stops);

// The code in a chat reply. Fenced blocks (``` with the info string python, py, python3 or
// none; any case; the fence may be indented, as in a list item) are preferred in this order: the
// first one that defines `function_name` (when given), the first one, the first fenced block
// in another language. A fence left open (the output hit its token limit) runs to the end. A
// reply without fences is taken as code as it is. "\r\n" becomes "\n".
std::string extract_code(std::string_view reply, std::string_view function_name = {});

// True when `code` defines `name` at top level (`def name(` or `async def name(` at column 0).
bool defines_function(std::string_view code, std::string_view name);

// HumanEval from a chat model: the completion to append to the prompt, built from the reply's
// code. A reply that defines the entry point is appended as a whole after the prompt (whose
// imports and helper functions it can use; its definition replaces the prompt's stub); a reply
// that doesn't is taken as the function's body, continuing the prompt.
std::string humaneval_completion_from_reply(std::string_view prompt, std::string_view reply,
                                            std::string_view entry_point);

// MBPP code from a base model's completion or a chat model's reply: the text after the last
// [BEGIN] (when the model repeated it) up to [DONE], without surrounding blank space; a fenced
// block in it is extracted (preferring one that defines `function_name`, see extract_code).
std::string mbpp_code_from_completion(std::string_view completion, std::string_view function_name = {});

// The function MBPP's tests call: the first name called right after `assert` in the first test
// (`assert remove_Occ("hello","l") == "heo"` -> "remove_Occ"); "" when none is found.
std::string mbpp_function_name(std::span<const std::string> tests);

}  // namespace yardstick
