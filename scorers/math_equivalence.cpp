#include "scorers/math_equivalence.h"

#include <cctype>
#include <set>

#include <re2/re2.h>

#include "scorers/latex_expr.h"
#include "scorers/text_util.h"

namespace yardstick {

namespace {

// Answers longer than this are compared as strings only: no MATH answer comes close, and it keeps
// the parser away from a runaway generation.
constexpr size_t kMaxParsedLength = 1000;

std::string trim(std::string_view s) { return std::string(trim_ascii(s)); }

// The spacing commands \, \; \: and "\ " as a space, and the negative space \! removed; a
// "\\" row break is left alone (its second backslash does not start a command).
std::string replace_spacing(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    char next = s[i + 1];
    if (next == ',' || next == ';' || next == ':' || next == ' ') {
      out += ' ';
    } else if (next != '!') {
      out += s[i];
      out += next;
    }
    ++i;
  }
  return out;
}

// Index of the '}' closing the '{' at `open`, or npos.
size_t matching_brace(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string_view::npos;
}

// "$x$" -> "x"; "\text{odd}" -> "odd" when the wrapper spans the whole answer.
std::string unwrap_whole(std::string s) {
  for (bool again = true; again;) {
    again = false;
    s = trim(s);
    if (s.size() >= 2 && s.front() == '$' && s.back() == '$') {
      s = s.substr(s.starts_with("$$") && s.size() >= 4 ? 2 : 1);
      s.resize(s.size() - (s.ends_with("$$") && s.size() >= 2 ? 2 : 1));
      again = true;
      continue;
    }
    for (std::string_view w : {"\\text{", "\\mbox{", "\\textbf{", "\\mathrm{", "\\boxed{"}) {
      if (s.starts_with(w) && matching_brace(s, w.size() - 1) == s.size() - 1) {
        s = s.substr(w.size(), s.size() - w.size() - 1);
        again = true;
        break;
      }
    }
  }
  return s;
}

// ------------------------------------------------------- Hendrycks et al.'s steps

// A unit in "\text{ ...}" ending the answer: "5\text{ inches}" -> "5".
std::string remove_right_units(std::string s) {
  size_t p = s.rfind("\\text{ ");
  if (p == std::string::npos || p == 0) return s;
  size_t close = matching_brace(s, p + 5);
  if (close == std::string::npos) return s;
  std::string_view after = std::string_view(s).substr(close + 1);
  if (!trim(after).empty() && after != "^2" && after != "^3" && after != "^{2}" && after != "^{3}") return s;
  return s.substr(0, p);
}

// "\sqrt3" -> "\sqrt{3}".
std::string fix_sqrt(const std::string& s) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find("\\sqrt", pos)) != std::string::npos;) {
    out.append(s, pos, hit + 5 - pos);
    pos = hit + 5;
    if (pos < s.size() && s[pos] != '{' && s[pos] != '[' && s[pos] != '\\') {
      out += '{';
      out += s[pos];
      out += '}';
      ++pos;
    }
  }
  out.append(s, pos, std::string::npos);
  return out;
}

// "\frac12" -> "\frac{1}{2}", "\frac1{72}" -> "\frac{1}{72}", "\frac a b" (spaces already gone).
std::string fix_fracs(const std::string& s) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find("\\frac", pos)) != std::string::npos;) {
    out.append(s, pos, hit + 5 - pos);
    pos = hit + 5;
    if (pos >= s.size() || s[pos] == '{' || s[pos] == '\\') continue;
    if (pos + 1 >= s.size()) return s;   // "\frac1": nothing sensible to rewrite
    char a = s[pos], b = s[pos + 1];
    out += std::string("{") + a + "}";
    if (b != '{' && b != '\\') {
      out += std::string("{") + b + "}";
      pos += 2;
    } else {
      pos += 1;
    }
  }
  out.append(s, pos, std::string::npos);
  return out;
}

bool is_plain_integer(std::string_view s) {
  if (s.starts_with("-")) s.remove_prefix(1);
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// "3/4" -> "\frac{3}{4}" when both sides are plain integers.
std::string fix_a_slash_b(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos) return s;
  std::string a = s.substr(0, slash), b = s.substr(slash + 1);
  if (!is_plain_integer(a) || !is_plain_integer(b)) return s;
  return "\\frac{" + a + "}{" + b + "}";
}

// ------------------------------------------------------- cleaning for the parser

const std::set<std::string, std::less<>>& math_words() {
  static const std::set<std::string, std::less<>> words = {"pi", "sin", "cos", "tan", "cot", "sec", "csc",
                                                           "log", "ln", "exp", "mod", "sqrt", "frac"};
  return words;
}

// Words after a number are a unit ("5 inches", "24 square units"), unless they are mathematics.
std::string strip_trailing_words(std::string s) {
  for (;;) {
    std::string t = trim(s);
    size_t end = t.size(), start = end;
    while (start > 0 && std::isalpha(static_cast<unsigned char>(t[start - 1]))) --start;
    if (end - start < 2 || start == 0 || t[start - 1] != ' ' || math_words().count(t.substr(start))) return t;
    std::string before = trim(std::string_view(t).substr(0, start));
    if (before.empty()) return t;
    char last = before.back();
    bool after_math = std::isdigit(static_cast<unsigned char>(last)) || last == '}' || last == ')';
    bool after_word = std::isalpha(static_cast<unsigned char>(last)) && before.size() >= 2 &&
                      std::isalpha(static_cast<unsigned char>(before[before.size() - 2]));
    if (!after_math && !after_word) return t;
    s = before;
  }
}

// A trailing unit in a text command: "10\text{ cm}^2", "5\mbox{ inches}", "3\mathrm{m}", "18\text{个}",
// "45\textbf{ degrees}".
const RE2& trailing_unit_re() {
  static const RE2 re(
      R"(^(.*\S)\s*\\(?:text|mbox|mathrm|textnormal|textrm|textbf|textit)\{\s*[^{}\\0-9]+\}(?:\^\{?[23]\}?)?\s*$)");
  return re;
}

// Non-ASCII text after a number: Chinese units ("18个", "3.5元").
std::string strip_trailing_non_ascii(std::string s) {
  size_t end = s.size();
  while (end > 0 && static_cast<unsigned char>(s[end - 1]) >= 0x80) --end;
  if (end == s.size() || end == 0) return s;
  std::string before = trim(std::string_view(s).substr(0, end));
  if (before.empty() || !(std::isdigit(static_cast<unsigned char>(before.back())) || before.back() == '}')) return s;
  return before;
}

// "1 000" and "12 345 678" (spacing commands already read as spaces) as one number: a group of one
// to three digits, then groups of exactly three, each after one space.
std::string join_spaced_thousands(const std::string& s) {
  static const RE2 run(R"((\b\d{1,3}(?: \d{3})+\b))");
  std::string out;
  re2::StringPiece input(s), match;
  const char* copied = s.data();
  while (RE2::FindAndConsume(&input, run, &match)) {
    out.append(copied, match.data());
    for (char c : match)
      if (c != ' ') out += c;
    copied = match.data() + match.size();
  }
  out.append(copied, s.data() + s.size());
  return out;
}

}  // namespace

std::string hendrycks_normalize(std::string_view answer) {
  std::string s = unwrap_whole(std::string(answer));
  s = replace_all(s, "\n", "");
  s = replace_spacing(s);
  s = replace_all(s, "\\\\", "\\");
  s = replace_all(s, "tfrac", "frac");
  s = replace_all(s, "dfrac", "frac");
  s = replace_all(s, "\\left", "");
  s = replace_all(s, "\\right", "");
  s = replace_all(s, "^{\\circ}", "");
  s = replace_all(s, "^\\circ", "");
  s = replace_all(s, "\\$", "");
  s = remove_right_units(s);
  s = replace_all(s, "\\%", "");
  s = trim(s);
  while (!s.empty() && s.back() == '.') s = trim(s.substr(0, s.size() - 1));
  s = unwrap_whole(s);
  s = replace_all(s, " .", " 0.");
  s = replace_all(s, "{.", "{0.");
  if (s.empty()) return s;
  if (s[0] == '.') s = "0" + s;
  // "k = 5" -> "5" when the left side is at most two characters, as the original does.
  if (size_t eq = s.find('='); eq != std::string::npos && s.find('=', eq + 1) == std::string::npos && eq <= 2)
    s = s.substr(eq + 1);
  s = fix_sqrt(s);
  s = replace_all(s, " ", "");
  s = fix_fracs(s);
  if (s == "0.5") s = "\\frac{1}{2}";
  return fix_a_slash_b(s);
}

std::string clean_math_answer(std::string_view answer) {
  std::string s = unwrap_whole(std::string(answer));
  s = replace_all(s, "\\$", "");
  s = replace_all(s, "$", "");
  s = replace_spacing(s);
  for (std::string_view space : {"~", "\n"}) s = replace_all(s, space, " ");
  s = replace_all(s, "{,}", ",");   // "10{,}000": a thousands separator in braces
  s = join_spaced_thousands(s);
  for (std::string_view cmd : {"\\text", "\\mbox", "\\mathrm"}) s = replace_all(s, std::string(cmd) + " {", std::string(cmd) + "{");
  s = replace_all(s, "\\%", "");
  s = replace_all(s, "%", "");
  for (std::string_view deg : {"^{\\circ}", "^\\circ", "\\circ", "°", "\\degree"}) s = replace_all(s, deg, "");
  for (std::string_view sep : {"\\text{ and }", "\\text{and}", "\\text{ or }", "\\text{or}", "\\mbox{ and }",
                               " and ", " or ", "\\quad", "\\qquad"})
    s = replace_all(s, sep, ",");
  // "7, -2, \text{ and } -5" lists with a comma and "and" together.
  static const RE2 repeated_commas(R"(,(\s*,)+)");
  RE2::GlobalReplace(&s, repeated_commas, ",");
  for (bool again = true; again;) {
    std::string before;
    again = RE2::FullMatch(s, trailing_unit_re(), &before);
    if (again) s = before;
  }
  s = strip_trailing_non_ascii(strip_trailing_words(s));
  s = trim(s);
  while (!s.empty() && (s.back() == '.' || s.back() == ',')) s = trim(s.substr(0, s.size() - 1));
  return unwrap_whole(s);
}

MathAnswerComparison compare_math_answers(std::string_view prediction, std::string_view gold) {
  MathAnswerComparison r;
  r.normalized = hendrycks_normalize(prediction);
  r.gold_normalized = hendrycks_normalize(gold);
  r.strict = r.normalized == r.gold_normalized;
  if (r.strict) {
    r.equivalent = true;
    r.method = "string";
    return r;
  }
  if (prediction.size() > kMaxParsedLength || gold.size() > kMaxParsedLength) return r;
  std::string pc = clean_math_answer(prediction), gc = clean_math_answer(gold);
  auto pa = parse_latex_expr(pc), ga = parse_latex_expr(gc);
  if (pa && ga) {
    MathEquivalence e = math_equivalent(*pa, *ga);
    r.equivalent = e.equivalent;
    r.method = e.method;
    return r;
  }
  std::string ps = replace_all(pc, " ", ""), gs = replace_all(gc, " ", "");
  if (!ps.empty() && ps == gs) {
    r.equivalent = true;
    r.method = "string";
  }
  return r;
}

}  // namespace yardstick
