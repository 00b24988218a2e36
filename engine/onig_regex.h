// Translation of the regex dialect HF `tokenizers` uses (Oniguruma, on UTF-8 text) into an RE2
// pattern with the same meaning. The two differ where Oniguruma is Unicode-aware and RE2 is not,
// or where the default anchors differ:
//   \s \S  -> White_Space (RE2's \s is ASCII-only)      \d \D -> \p{Nd}
//   \w \W  -> [\p{L}\p{M}\p{Nd}\p{Pc}]                    \h \H -> hex digit (not "horizontal space")
//   ^ $    -> (?m:^) (?m:$)  (Oniguruma's Ruby syntax anchors at line ends by default)
// Constructs RE2 cannot express (look-around, backreferences, possessive quantifiers, Unicode
// \b, nested classes) are refused: either here or when RE2 compiles the result.
#pragma once

#include <string>
#include <string_view>

namespace yardstick {

// Throws ModelFileError (without a file name; the caller adds it) naming the construct.
std::string onig_to_re2(std::string_view pattern);

}  // namespace yardstick
