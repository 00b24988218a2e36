// Translation of the regex dialect HF `tokenizers` uses (Oniguruma, on UTF-8 text) into an RE2
// pattern with the same meaning. The two differ where Oniguruma is Unicode-aware and RE2 is not,
// or where the default anchors differ:
//   \s \S  -> White_Space (RE2's \s is ASCII-only)      \d \D -> \p{Nd}
//   \w \W  -> [\p{L}\p{M}\p{Nd}\p{Pc}]                    \h \H -> hex digit (not "horizontal space")
//   ^ $    -> (?m:^) (?m:$)  (Oniguruma's Ruby syntax anchors at line ends by default)
// Constructs RE2 cannot express (look-around, backreferences, possessive quantifiers, Unicode
// \b, nested classes) are refused: either here or when RE2 compiles the result.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace yardstick {

// Throws ModelFileError (without a file name; the caller adds it) naming the construct.
std::string onig_to_re2(std::string_view pattern);

// GPT-2's pre-tokenizer pattern and its descendants (Llama-3, Qwen2, SmolLM, ...) end in the
// alternatives \s+(?!\S)|\s+, whose look-ahead RE2 cannot express. They match a whitespace run
// where no earlier alternative matches; Oniguruma's backtracking makes that run give its last
// character back when a non-space follows it and the run is longer than one character (so that
// "  word" splits as " " + " word"). When `pattern` ends in those two alternatives at top level,
// returns the pattern before them (without the '|'), which may be empty; else nullopt.
std::optional<std::string_view> strip_trailing_space_lookahead(std::string_view pattern);

}  // namespace yardstick
