#include "engine/onig_regex.h"

#include <fmt/core.h>

#include "engine/error.h"
#include "engine/unicode.h"

namespace yardstick {

namespace {

// The White_Space ranges as the inside of an RE2 character class: "\x{9}-\x{D}\x{20}...".
std::string whitespace_class_body() {
  std::string s;
  for (const auto& r : unicode::whitespace_ranges()) {
    s += fmt::format("\\x{{{:X}}}", static_cast<uint32_t>(r.first));
    if (r.last != r.first) s += fmt::format("-\\x{{{:X}}}", static_cast<uint32_t>(r.last));
  }
  return s;
}

constexpr std::string_view kWordBody = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";
constexpr std::string_view kHexBody = "0-9a-fA-F";

[[noreturn]] void refuse(std::string_view pattern, std::string_view what) {
  throw ModelFileError(fmt::format("unsupported regex {} in pattern '{}'", what, pattern));
}

}  // namespace

std::string onig_to_re2(std::string_view pattern) {
  const std::string ws = whitespace_class_body();
  std::string out;
  out.reserve(pattern.size() + 64);
  bool in_class = false;
  size_t i = 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '\\') {
      if (i + 1 >= pattern.size()) refuse(pattern, "trailing backslash");
      const char e = pattern[i + 1];
      i += 2;
      // A class shorthand: its body, and whether it is the complement of that body.
      std::string_view body;
      bool negated = false;
      switch (e) {
        case 's': body = ws; break;
        case 'S': body = ws; negated = true; break;
        case 'w': body = kWordBody; break;
        case 'W': body = kWordBody; negated = true; break;
        case 'h': body = kHexBody; break;
        case 'H': body = kHexBody; negated = true; break;
        case 'd': out += "\\p{Nd}"; continue;
        case 'D': out += "\\P{Nd}"; continue;
        case 'b':
        case 'B': refuse(pattern, "word boundary (Oniguruma's is Unicode-aware, RE2's is not)");
        case 'p':
        case 'P':
        case 'x': {
          // \p{..}, \P{..}, \x{..} and \xHH mean the same in both; copy them whole.
          out += '\\';
          out += e;
          if (i < pattern.size() && pattern[i] == '{') {
            const size_t close = pattern.find('}', i);
            if (close == std::string_view::npos) refuse(pattern, "unterminated \\p{ or \\x{");
            out.append(pattern.substr(i, close + 1 - i));
            i = close + 1;
          }
          continue;
        }
        default:
          // Escaped punctuation, \n, \t, ... mean the same; anything RE2 lacks (\1, \k, \Z, ...)
          // is rejected when the result is compiled.
          out += '\\';
          out += e;
          continue;
      }
      if (!negated) {
        if (in_class) {
          out += body;
        } else {
          out += '[';
          out += body;
          out += ']';
        }
      } else {
        if (in_class) refuse(pattern, fmt::format("\\{} inside a character class", e));
        out += "[^";
        out += body;
        out += ']';
      }
      continue;
    }
    if (in_class) {
      if (c == '[') refuse(pattern, "nested character class or POSIX bracket");
      if (c == '&' && i + 1 < pattern.size() && pattern[i + 1] == '&') {
        refuse(pattern, "character class intersection (&&)");
      }
      if (c == ']') in_class = false;
      out += c;
      ++i;
      continue;
    }
    switch (c) {
      case '[':
        in_class = true;
        out += '[';
        ++i;
        if (i < pattern.size() && pattern[i] == '^') out += pattern[i++];
        // A ']' right after the opening bracket is a literal in both dialects; keep it so.
        if (i < pattern.size() && pattern[i] == ']') {
          out += "\\]";
          ++i;
        }
        break;
      case '$': out += "(?m:$)"; ++i; break;
      case '^': out += "(?m:^)"; ++i; break;
      default: out += c; ++i; break;
    }
  }
  if (in_class) refuse(pattern, "unterminated character class");
  return out;
}

std::optional<std::string_view> strip_trailing_space_lookahead(std::string_view pattern) {
  constexpr std::string_view kTail = "\\s+(?!\\S)|\\s+";
  if (!pattern.ends_with(kTail)) return std::nullopt;
  const size_t tail = pattern.size() - kTail.size();
  if (tail == 0) return pattern.substr(0, 0);
  // The '|' before the tail must be a top-level alternation: not escaped, not in a class or a
  // group.
  if (pattern[tail - 1] != '|') return std::nullopt;
  int depth = 0;
  bool in_class = false;
  for (size_t i = 0; i + 1 < tail; ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      ++i;
      if (i + 1 == tail) return std::nullopt;   // the '|' is escaped
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < tail && pattern[i + 1] == '^') ++i;
      if (i + 1 < tail && pattern[i + 1] == ']') ++i;   // a leading ']' is a literal
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    }
  }
  if (in_class || depth != 0) return std::nullopt;
  return pattern.substr(0, tail - 1);
}

}  // namespace yardstick
