#include "scorers/cmath.h"

#include <cctype>

#include <re2/re2.h>

#include "scorers/gsm8k.h"
#include "scorers/math_extract.h"
#include "scorers/text_util.h"

namespace yardstick {

namespace {

// One number: \frac{p}{q} (also \dfrac, \tfrac), or digits with thousands separators, a decimal
// part or a /q, and a percent sign.
const RE2& number_re() {
  static const RE2 re(R"((-?\\[dt]?frac\{\d+\}\{\d+\}|-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?\s*%?))");
  return re;
}

std::optional<CmathNumber> parse_match(std::string_view raw) {
  static const RE2 frac_re(R"((-?)\\[dt]?frac\{(\d+)\}\{(\d+)\})");
  CmathNumber n;
  n.raw = std::string(raw);
  std::string sign, p, q;
  std::optional<Rational> value;
  if (RE2::FullMatch(raw, frac_re, &sign, &p, &q)) {
    auto num = Rational::from_decimal(p), den = Rational::from_decimal(q);
    if (num && den) value = div(*num, *den);
    if (value && sign == "-") value = negate(*value);
  } else {
    std::string s;
    for (char c : raw)
      if (c != ',' && c != ' ') s += c;
    bool negative = !s.empty() && s[0] == '-';
    if (negative) s.erase(0, 1);
    if (!s.empty() && s.back() == '%') {
      n.percent = true;
      s.pop_back();
    }
    size_t slash = s.find('/');
    if (slash == std::string::npos) {
      value = Rational::from_decimal(s);
    } else {
      auto num = Rational::from_decimal(s.substr(0, slash)), den = Rational::from_decimal(s.substr(slash + 1));
      if (num && den) value = div(*num, *den);
    }
    if (value && negative) value = negate(*value);
  }
  if (!value) return std::nullopt;
  n.written = *value;
  if (n.percent) {
    auto scaled = div(*value, Rational(100));
    if (!scaled) return std::nullopt;
    n.value = *scaled;
  } else {
    n.value = *value;
  }
  return n;
}

// Every number in `text` in order that stands on its own (number_stands_alone: not the "2" of
// "x2" or of "\frac{1}{2}" read alone); a '-' glued to a preceding letter or digit is a hyphen
// or a subtraction, not a sign.
std::vector<CmathNumber> numbers_in(std::string_view text) {
  std::vector<CmathNumber> out;
  re2::StringPiece input(text.data(), text.size());
  re2::StringPiece match;
  while (RE2::FindAndConsume(&input, number_re(), &match)) {
    std::string_view raw(match.data(), match.size());
    if (raw.starts_with("-") && match.data() > text.data() &&
        std::isalnum(static_cast<unsigned char>(match.data()[-1])))
      raw.remove_prefix(1);
    size_t begin = static_cast<size_t>(raw.data() - text.data());
    if (!number_stands_alone(text, begin, begin + raw.size())) continue;
    if (auto n = parse_match(raw)) out.push_back(std::move(*n));
  }
  return out;
}

// The answer the output marks, as the MATH extractor reads it (scorers/math_extract.h): the last
// \boxed{}, "final answer is", "answer is", 答案是/答案为/答案：/答：.
std::optional<std::string> marked_answer(const std::string& text) {
  auto marked = marked_math_answer(text);
  if (!marked) return std::nullopt;
  return marked->text;
}

Verdict make_verdict(std::string_view scorer, const std::optional<CmathNumber>& pred,
                     const std::optional<CmathNumber>& gold, std::string_view gold_text) {
  if (!gold) return bad_gold_verdict(scorer, gold_text);
  Verdict v;
  v.scorer = std::string(scorer);
  v.detail = {{"gold", gold->value.to_string()}};
  if (!pred) {
    v.status = verdict_status::kNoAnswer;
    return v;
  }
  v.status = verdict_status::kOk;
  v.extracted = pred->value.to_string();
  v.detail["raw"] = pred->raw;
  // A percentage answer may be written without its sign ("答案是：40" for 40%).
  v.correct = pred->value == gold->value || (gold->percent && !pred->percent && pred->value == gold->written);
  return v;
}

}  // namespace

std::optional<CmathNumber> cmath_number(std::string_view text) {
  std::string s = to_halfwidth(text);
  std::string_view t = s;
  auto strip = [&](std::string_view chars) {
    while (!t.empty() && chars.find(t.front()) != std::string_view::npos) t.remove_prefix(1);
    while (!t.empty() && chars.find(t.back()) != std::string_view::npos) t.remove_suffix(1);
  };
  strip(" \t\n$.");
  re2::StringPiece input(t.data(), t.size());
  if (!RE2::FullMatch(input, number_re())) return std::nullopt;
  return parse_match(t);
}

std::optional<CmathNumber> cmath_gold(std::string_view gold) {
  if (auto n = cmath_number(gold)) return n;
  return cmath_extract_strict(gold);
}

std::optional<CmathNumber> cmath_extract_strict(std::string_view output) {
  std::string text = to_halfwidth(gsm8k_answer_region(output));
  auto answer = marked_answer(text);
  if (!answer) return std::nullopt;
  auto numbers = numbers_in(*answer);
  if (numbers.empty()) return std::nullopt;
  return numbers.front();
}

std::optional<CmathNumber> cmath_extract_flexible(std::string_view output) {
  std::string text = to_halfwidth(gsm8k_answer_region(output));
  auto numbers = numbers_in(text);
  if (numbers.empty()) return std::nullopt;
  return numbers.back();
}

std::vector<Verdict> grade_cmath(std::string_view output, std::string_view gold) {
  auto g = cmath_gold(gold);
  return {make_verdict(kCmathStrict, cmath_extract_strict(output), g, gold),
          make_verdict(kCmathFlexible, cmath_extract_flexible(output), g, gold)};
}

}  // namespace yardstick
