#include "scorers/math_extract.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include <re2/re2.h>

#include "scorers/latex_expr.h"
#include "scorers/math_equivalence.h"
#include "scorers/text_util.h"

namespace yardstick {

namespace {

// The content between `open` at the start of `s` and the next `close`, or nullopt.
std::optional<std::string_view> delimited(std::string_view s, std::string_view open, std::string_view close) {
  if (!s.starts_with(open)) return std::nullopt;
  size_t end = s.find(close, open.size());
  if (end == std::string_view::npos) return std::nullopt;
  return s.substr(open.size(), end - open.size());
}

// The math inside $$..$$, $..$, \(..\) or \[..\] when `s` starts with one.
std::optional<std::string_view> math_delimited(std::string_view s) {
  if (auto m = delimited(s, "$$", "$$")) return m;
  if (auto m = delimited(s, "$", "$")) return m;
  if (auto m = delimited(s, "\\(", "\\)")) return m;
  if (auto m = delimited(s, "\\[", "\\]")) return m;
  return std::nullopt;
}

// Decoration around an answer: markdown emphasis, a colon, a sentence's period.
std::string_view strip_decoration(std::string_view s) {
  for (bool again = true; again;) {
    again = false;
    s = trim_ascii(s);
    for (std::string_view d : {"**", "__", ":"}) {
      if (s.starts_with(d)) s.remove_prefix(d.size()), again = true;
      if (s.ends_with(d)) s.remove_suffix(d.size()), again = true;
    }
    if (s.ends_with(".") || s.ends_with(",") || s.ends_with(";")) s.remove_suffix(1), again = true;
  }
  return s;
}

// The answer that follows a marker such as "The answer is": a $...$ block when the sentence
// starts with or contains one, else the rest of the sentence. A '.' ends the sentence unless a
// digit follows it (3.5).
std::string answer_after(std::string_view rest) {
  rest = trim_ascii(rest);
  while (rest.starts_with(":") || rest.starts_with("**") || rest.starts_with("=")) rest = trim_ascii(rest.substr(rest[0] == '*' ? 2 : 1));
  if (auto m = math_delimited(rest)) return std::string(strip_decoration(*m));
  size_t end = rest.find('\n');
  std::string_view sentence = rest.substr(0, end);
  for (size_t i = 0; i < sentence.size(); ++i) {
    if (sentence[i] == '$') {
      if (auto m = math_delimited(sentence.substr(i))) return std::string(strip_decoration(*m));
      break;
    }
    if (sentence[i] == '.' && (i + 1 >= sentence.size() || !std::isdigit(static_cast<unsigned char>(sentence[i + 1])))) {
      sentence = sentence.substr(0, i);
      break;
    }
  }
  if (size_t hope = ascii_lower(sentence).find("i hope it is correct"); hope != std::string::npos)
    sentence = sentence.substr(0, hope);
  return std::string(strip_decoration(sentence));
}

// The last occurrence of `phrase` (ASCII, matched case-insensitively) in `text`; npos if none.
size_t rfind_ci(std::string_view text, std::string_view phrase) { return ascii_lower(text).rfind(phrase); }

// A number as prose writes it: thousands grouped by ",", "\,", "{,}" or one space ("1 000"), a
// decimal part, a "/q", or a bare decimal part (".4").
const RE2& number_re() {
  static const RE2 re(
      R"((-?(?:\d{1,3}(?:(?:,|\\,|\{,\}| )\d{3})+\b(?:\.\d+)?|\d+(?:\.\d+)?(?:/\d+)?|\.\d+(?:/\d+)?)))");
  return re;
}

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Outputs longer than this are never read as one expression: no answer is that long.
constexpr size_t kMaxWholeAnswer = 200;

// How many of the whitespace-separated pieces of `text` hold a word: two or more ASCII letters in
// a row that are not a command's name ("\frac", "\in") nor inside a command's {argument}
// ("\begin{pmatrix}", "\text{June 20}", "\overline{CD}": the command says what they are).
int count_words(std::string_view text) {
  int words = 0;
  bool counted_piece = false;
  std::vector<bool> groups;   // each open '{': whether it is a command's argument
  size_t in_argument = 0;     // how many of them are
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (c == ' ' || c == '\t') {
      counted_piece = false;
      ++i;
      continue;
    }
    if (c == '{' || c == '}') {
      if (c == '{') {
        size_t name_end = i;   // "\text {": a space may stand before the argument
        while (name_end > 0 && text[name_end - 1] == ' ') --name_end;
        size_t j = name_end;
        while (j > 0 && is_ascii_letter(text[j - 1])) --j;
        bool argument = j < name_end && j > 0 && text[j - 1] == '\\';
        groups.push_back(argument);
        in_argument += argument;
      } else if (!groups.empty()) {
        in_argument -= groups.back();
        groups.pop_back();
      }
      ++i;
      continue;
    }
    if (!is_ascii_letter(c)) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && is_ascii_letter(text[end])) ++end;
    bool command = i > 0 && text[i - 1] == '\\';
    if (!command && in_argument == 0 && end - i >= 2 && !counted_piece) {
      ++words;
      counted_piece = true;
    }
    i = end;
  }
  return words;
}

// The output itself when it is one expression ("\frac{10}{9}", "k = 3", "[0, 1)", "Monday",
// "5 apples", "3:1"): a single line, short, and either ASCII free of words (what the parser can't
// read, such as a ratio, is still compared as a string) or with at most one word and parsed whole
// after cleaning (Chinese prose, "共有18个", has no ASCII word and must parse). The parser reads words as text and cleaning drops words after a number as a unit, so
// a sentence ("no numbers here") would parse too.
std::optional<std::string> whole_expression(std::string_view text) {
  std::string_view t = strip_decoration(text);
  if (t.empty() || t.size() > kMaxWholeAnswer || t.find('\n') != std::string_view::npos) return std::nullopt;
  const int words = count_words(t);
  const bool ascii = std::all_of(t.begin(), t.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (words == 0 && ascii) return std::string(t);
  if (words > 1) return std::nullopt;
  std::string cleaned = clean_math_answer(t);
  auto tree = parse_latex_expr(cleaned);
  if (!tree) return std::nullopt;
  if (tree->kind == MathNodeKind::Text && cleaned.find_first_of(" \t") != std::string::npos) return std::nullopt;
  return std::string(t);
}

// The last number of `text` that stands on its own (number_stands_alone); a sign glued to a word
// or digit before it is a hyphen or a minus, not part of the number.
std::optional<std::string> last_standalone_number(std::string_view text) {
  re2::StringPiece input(text.data(), text.size());
  re2::StringPiece number;
  std::optional<std::string> last;
  while (RE2::FindAndConsume(&input, number_re(), &number)) {
    size_t begin = static_cast<size_t>(number.data() - text.data()), end = begin + number.size();
    if (text[begin] == '-' && begin > 0 && std::isalnum(static_cast<unsigned char>(text[begin - 1]))) ++begin;
    if (number_stands_alone(text, begin, end)) last = std::string(text.substr(begin, end - begin));
  }
  return last;
}

// A complete math segment: its trimmed content and where the whole segment, delimiters included,
// lies in the text.
struct MathSegment {
  std::string_view inside;
  size_t begin, end;
};

const RE2& blank_line_re() {
  static const RE2 re(R"(\n[ \t]*\n)");
  return re;
}

// Every complete, non-empty math segment of `text` in order ($$..$$, $..$, \(..\), \[..\]; an
// escaped \$ is a dollar sign). An opening delimiter that is never closed, or closed only past a
// blank line, is none.
std::vector<MathSegment> math_segments(std::string_view text) {
  std::vector<MathSegment> out;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '$') {
      i += 2;   // an escaped dollar sign
      continue;
    }
    std::string_view open, close;
    if (text.substr(i).starts_with("$$")) {
      open = close = "$$";
    } else if (text[i] == '$') {
      open = close = "$";
    } else if (text.substr(i).starts_with("\\(")) {
      open = "\\(", close = "\\)";
    } else if (text.substr(i).starts_with("\\[")) {
      open = "\\[", close = "\\]";
    } else {
      ++i;
      continue;
    }
    size_t from = i + open.size(), end = from;
    while ((end = text.find(close, end)) != std::string_view::npos && close == "$" && text[end - 1] == '\\') ++end;
    // Never closed (a truncated output, a stray "5$"), or closed only past a blank line, which
    // TeX does not allow in math: not a delimiter.
    if (end == std::string_view::npos || RE2::PartialMatch(re2::StringPiece(text.data() + from, end - from),
                                                           blank_line_re())) {
      i += open.size();
      continue;
    }
    std::string_view inside = trim_ascii(text.substr(from, end - from));
    if (!inside.empty()) out.push_back({inside, i, end + close.size()});
    i = end + close.size();
  }
  return out;
}

// A segment that only names a variable ("$n$", "$a_1$"): prose mentions them after the answer
// ("18 dollars, where $n$ is ..."); they are the answer only when nothing else is.
bool names_a_variable(std::string_view segment) {
  static const RE2 re(R"(^[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?$)");
  return RE2::FullMatch(re2::StringPiece(segment.data(), segment.size()), re);
}

// `text` with every math segment blanked out (same length): the prose between them.
std::string prose_only(std::string_view text, const std::vector<MathSegment>& segments) {
  std::string out(text);
  for (const auto& seg : segments) std::fill(out.begin() + seg.begin, out.begin() + seg.end, ' ');
  return out;
}

// marked_math_answer on text already converted by to_halfwidth.
std::optional<ExtractedAnswer> marked_in(const std::string& text) {
  if (auto boxed = last_boxed(text)) return ExtractedAnswer{*boxed, std::string(math_answer_method::kBoxed)};
  for (auto [phrase, method] : {std::pair{std::string_view("final answer is"), math_answer_method::kFinalAnswer},
                                std::pair{std::string_view("answer is"), math_answer_method::kAnswerIs}}) {
    size_t p = rfind_ci(text, phrase);
    if (p == std::string::npos) continue;
    std::string answer = answer_after(std::string_view(text).substr(p + phrase.size()));
    if (!answer.empty()) return ExtractedAnswer{answer, std::string(method)};
  }
  if (auto zh = chinese_marked_answer(text)) return ExtractedAnswer{*zh, std::string(math_answer_method::kChinese)};
  return std::nullopt;
}

}  // namespace

std::string to_halfwidth(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
    if (i + 2 < text.size() && b(0) == 0xEF && b(1) == 0xBC && b(2) >= 0x81 && b(2) <= 0xBF) {
      out += static_cast<char>(b(2) - 0x60);   // U+FF01..U+FF3F -> '!'..'_'
      i += 2;
    } else if (i + 2 < text.size() && b(0) == 0xEF && b(1) == 0xBD && b(2) >= 0x80 && b(2) <= 0x9E) {
      out += static_cast<char>(b(2) - 0x20);   // U+FF40..U+FF5E -> '`'..'~'
      i += 2;
    } else if (i + 2 < text.size() && b(0) == 0xE3 && b(1) == 0x80 && b(2) <= 0x82 && b(2) >= 0x80) {
      out += b(2) == 0x80 ? ' ' : b(2) == 0x81 ? ',' : '.';   // ideographic space, 、 and 。
      i += 2;
    } else if (i + 2 < text.size() && b(0) == 0xE2 && b(1) == 0x88 && b(2) == 0x92) {
      out += '-';   // U+2212 minus sign
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::optional<std::string> last_boxed(std::string_view text) {
  size_t boxed = text.rfind("\\boxed"), fbox = text.rfind("\\fbox");
  size_t at = boxed == std::string_view::npos ? fbox
              : fbox == std::string_view::npos ? boxed
                                               : std::max(boxed, fbox);
  if (at == std::string_view::npos) return std::nullopt;
  const size_t after_command = at + (at == boxed ? 6 : 5);
  size_t i = after_command;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  if (i >= text.size()) return std::nullopt;
  if (text[i] != '{') {
    if (i == after_command && std::isalpha(static_cast<unsigned char>(text[i]))) return std::nullopt;   // \boxedfoo
    // `\boxed 5`: the answer runs to the next $ or the end of the line.
    size_t end = text.find_first_of("$\n", i);
    std::string_view inside = strip_decoration(text.substr(i, end == std::string_view::npos ? end : end - i));
    if (inside.empty()) return std::nullopt;
    return std::string(inside);
  }
  int depth = 0;
  for (size_t j = i; j < text.size(); ++j) {
    if (text[j] == '\\' && j + 1 < text.size() && (text[j + 1] == '{' || text[j + 1] == '}')) {
      ++j;   // an escaped brace is a set brace, not a group
      continue;
    }
    if (text[j] == '{') ++depth;
    if (text[j] == '}' && --depth == 0) {
      std::string_view inside = trim_ascii(text.substr(i + 1, j - i - 1));
      if (inside.empty()) return std::nullopt;
      return std::string(inside);
    }
  }
  return std::nullopt;
}

std::string_view math_answer_region(std::string_view output) {
  for (size_t pos = output.find("Problem:"); pos != std::string_view::npos; pos = output.find("Problem:", pos + 1)) {
    if (pos > 0 && output[pos - 1] == '\n' && !trim_ascii(output.substr(0, pos)).empty()) return output.substr(0, pos);
  }
  return output;
}

std::optional<std::string> chinese_marked_answer(std::string_view text) {
  static const std::array<std::string_view, 5> markers = {"答案是", "答案为", "答案:", "答:", "答案应为"};
  size_t best = std::string_view::npos, best_len = 0;
  for (auto m : markers) {
    size_t p = text.rfind(m);
    if (p != std::string_view::npos && (best == std::string_view::npos || p > best)) {
      best = p;
      best_len = m.size();
    }
  }
  if (best == std::string_view::npos) return std::nullopt;
  std::string answer = answer_after(text.substr(best + best_len));
  if (answer.empty()) return std::nullopt;
  return answer;
}

std::optional<std::string> last_math_segment(std::string_view text) {
  auto segments = math_segments(text);
  if (segments.empty()) return std::nullopt;
  return std::string(segments.back().inside);
}

bool number_stands_alone(std::string_view text, size_t begin, size_t end) {
  if (begin > 0) {
    char before = text[begin - 1];
    if (is_ascii_letter(before) || std::isdigit(static_cast<unsigned char>(before)) ||
        std::string_view("\\_^{").find(before) != std::string_view::npos)
      return false;
  }
  if (end < text.size()) {
    char after = text[end];
    if (is_ascii_letter(after) || std::isdigit(static_cast<unsigned char>(after)) ||
        std::string_view("_^{}").find(after) != std::string_view::npos)
      return false;
  }
  return begin < end;
}

std::optional<ExtractedAnswer> marked_math_answer(std::string_view output) { return marked_in(to_halfwidth(output)); }

std::optional<ExtractedAnswer> extract_math_answer(std::string_view output) {
  std::string text = to_halfwidth(math_answer_region(output));
  if (auto marked = marked_in(text)) return marked;
  auto segments = math_segments(text);
  if (!segments.empty()) {
    // The last segment that is more than a variable's name, unless a number standing alone in
    // the prose after it is the answer ("so $x = 4$ and the area is 16"); only variables: the
    // last number of the prose, else the last of them.
    std::string prose = prose_only(text, segments);
    auto answer = std::find_if(segments.rbegin(), segments.rend(),
                               [](const MathSegment& seg) { return !names_a_variable(seg.inside); });
    size_t after = answer == segments.rend() ? 0 : answer->end;
    if (auto number = last_standalone_number(std::string_view(prose).substr(after)))
      return ExtractedAnswer{*number, std::string(math_answer_method::kLastNumber)};
    const MathSegment& chosen = answer == segments.rend() ? segments.back() : *answer;
    return ExtractedAnswer{std::string(chosen.inside), std::string(math_answer_method::kMathSegment)};
  }
  if (auto whole = whole_expression(text)) return ExtractedAnswer{*whole, std::string(math_answer_method::kWhole)};
  if (auto number = last_standalone_number(text))
    return ExtractedAnswer{*number, std::string(math_answer_method::kLastNumber)};
  return std::nullopt;
}

std::optional<std::string> math_gold_answer(std::string_view gold) {
  if (gold.find("\\boxed") != std::string_view::npos || gold.find("\\fbox") != std::string_view::npos)
    return last_boxed(gold);
  std::string_view s = trim_ascii(gold);
  if (auto m = math_delimited(s); m && m->size() + 2 <= s.size()) {
    // Only when the delimiters wrap the whole answer: "$1$ and $2$" stays as it is.
    std::string_view inner = *m;
    size_t used = static_cast<size_t>(inner.data() + inner.size() - s.data());
    std::string_view after = trim_ascii(s.substr(used));
    if (after == "$" || after == "$$" || after == "\\)" || after == "\\]" || after == "$." || after == "$$.") s = inner;
  }
  s = strip_decoration(s);
  if (s.empty()) return std::nullopt;
  return std::string(s);
}

}  // namespace yardstick
