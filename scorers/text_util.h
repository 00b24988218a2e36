// Small string helpers the answer extractors share: ASCII-only on purpose, so UTF-8 text (Chinese
// answers) passes through untouched and byte offsets stay valid.
#pragma once

#include <string>
#include <string_view>

namespace yardstick {

std::string_view trim_ascii(std::string_view s);   // without leading and trailing ASCII whitespace
std::string ascii_lower(std::string_view s);       // A-Z lowered, every other byte kept
std::string replace_all(std::string s, std::string_view from, std::string_view to);

}  // namespace yardstick
