#include "scorers/gsm8k.h"

#include <cctype>

#include <re2/re2.h>

namespace yardstick {
namespace {

using u128 = unsigned __int128;

// ---------------------------------------------------------------- number syntax
// A number as models write it: a sign and/or a dollar sign, an integer with or without
// thousands separators, decimals (`29.00`, `.5`), or an integer fraction (`3/4`). A separator
// must group by three, so "1,2,3" is three numbers, as in a list.
#define YS_INT R"((?:\d{1,3}(?:,\d{3})+|\d+))"
#define YS_DEC "(?:" YS_INT R"((?:\.\d+)?|\.\d+))"
#define YS_NUMBER R"((?:-\$?|\$\s?-?)?(?:)" YS_INT "/" R"(\d+|)" YS_DEC ")"

const RE2& number_re() {
  static const RE2 re("(" YS_NUMBER ")");
  return re;
}

// strict-match: "The answer is N" as the paper's exemplars end, with the variants models
// produce around it ("The answer is: 18.", "The answer is **$18**"), or the dataset's own
// "#### N" line.
const RE2& strict_re() {
  static const RE2 re(R"((?i)(?:the answer is|####)[\s:]*(?:\*\*|__)?\s*()" YS_NUMBER ")");
  return re;
}

#undef YS_NUMBER
#undef YS_DEC
#undef YS_INT

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string strip_leading_zeros(std::string_view digits) {
  size_t i = digits.find_first_not_of('0');
  return i == std::string_view::npos ? "0" : std::string(digits.substr(i));
}

// An integer with thousands separators grouped by three ("1,000"), or plain digits.
std::optional<std::string> integer_digits(std::string_view s) {
  if (s.find(',') == std::string_view::npos) return all_digits(s) ? std::optional(std::string(s)) : std::nullopt;
  std::string out;
  size_t first = s.find(',');
  if (first == 0 || first > 3) return std::nullopt;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ',') {
      if (i + 4 > s.size() || !all_digits(s.substr(i + 1, 3)) || (i + 4 < s.size() && s[i + 4] != ','))
        return std::nullopt;
    } else if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
      return std::nullopt;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<u128> to_u128(const std::string& digits) {
  if (digits.size() > 38) return std::nullopt;   // 10^38 < 2^128
  u128 v = 0;
  for (char c : digits) v = v * 10 + static_cast<unsigned>(c - '0');
  return v;
}

std::string to_string(u128 v) {
  if (v == 0) return "0";
  std::string s;
  for (; v; v /= 10) s.insert(s.begin(), char('0' + int(v % 10)));
  return s;
}

u128 gcd(u128 a, u128 b) {
  while (b) {
    u128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

std::string with_sign(bool negative, std::string magnitude) {
  return negative && magnitude != "0" ? "-" + magnitude : magnitude;
}

// "int.frac" with leading integer zeros and trailing fractional zeros removed.
std::string canonical_decimal(bool negative, std::string_view int_part, std::string_view frac_part) {
  size_t end = frac_part.find_last_not_of('0');
  std::string frac = end == std::string_view::npos ? "" : std::string(frac_part.substr(0, end + 1));
  std::string out = strip_leading_zeros(int_part);
  if (!frac.empty()) out += "." + frac;
  return with_sign(negative, out);
}

// p/q reduced, as an integer or terminating decimal when it is one, else "p/q".
std::optional<std::string> canonical_fraction(bool negative, const std::string& p_digits,
                                              const std::string& q_digits) {
  auto p = to_u128(p_digits), q = to_u128(q_digits);
  if (q && *q == 0) return std::nullopt;
  if (!p || !q)   // too long to reduce: compare as written
    return with_sign(negative, strip_leading_zeros(p_digits) + "/" + strip_leading_zeros(q_digits));
  u128 g = gcd(*p, *q);
  u128 num = g ? *p / g : 0, den = g ? *q / g : 1;
  // A denominator of the form 2^a 5^b gives a terminating decimal with max(a, b) places.
  u128 rest = den;
  int twos = 0, fives = 0;
  while (rest % 2 == 0) rest /= 2, ++twos;
  while (rest % 5 == 0) rest /= 5, ++fives;
  int places = std::max(twos, fives);
  if (rest == 1 && places <= 30) {
    u128 scale = 1;
    for (int i = 0; i < places; ++i) scale *= 10;
    u128 factor = scale / den;
    if (num <= (~u128(0)) / factor) {
      std::string digits = to_string(num * factor);
      if (places == 0) return with_sign(negative, digits);
      if (digits.size() <= size_t(places)) digits.insert(0, size_t(places) + 1 - digits.size(), '0');
      return canonical_decimal(negative, digits.substr(0, digits.size() - places),
                               digits.substr(digits.size() - places));
    }
  }
  return with_sign(negative, to_string(num) + "/" + to_string(den));
}

// The answer part of an output: cut before a line that starts a new exemplar.
size_t answer_region_end(std::string_view output) {
  for (size_t pos = 0; pos < output.size();) {
    size_t start = output.find_first_not_of(" \t", pos);
    if (start != std::string_view::npos && output.substr(start, 2) == "Q:" && start > 0) return pos;
    size_t nl = output.find('\n', pos);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return output.size();
}

// A '-' glued to a preceding letter or digit is a hyphen or a minus between operands
// ("COVID-19", "10-5"), not the number's sign.
std::string_view drop_hyphen(std::string_view text, const char* match_begin, std::string_view raw) {
  if (!raw.empty() && raw.front() == '-' && match_begin > text.data() &&
      std::isalnum(static_cast<unsigned char>(match_begin[-1])))
    raw.remove_prefix(1);
  return raw;
}

std::optional<NumberMatch> to_match(std::string_view raw) {
  auto canonical = canonical_number(raw);
  if (!canonical) return std::nullopt;
  return NumberMatch{std::string(raw), *canonical};
}

Verdict make_verdict(std::string_view scorer, const std::optional<NumberMatch>& match,
                     const std::optional<std::string>& gold, std::string_view gold_text) {
  Verdict v;
  v.scorer = std::string(scorer);
  if (!gold) {
    v.status = verdict_status::kBadGold;
    v.detail = {{"gold_text", std::string(gold_text.substr(0, 200))}};
    return v;
  }
  v.detail = {{"gold", *gold}};
  if (!match) {
    v.status = verdict_status::kNoAnswer;
    return v;
  }
  v.status = verdict_status::kOk;
  v.extracted = match->canonical;
  v.correct = match->canonical == *gold;
  v.detail["raw"] = match->raw;
  return v;
}

}  // namespace

std::optional<std::string> canonical_number(std::string_view text) {
  std::string_view s = trim(text);
  // Decoration around the number: markdown emphasis, a sentence's period, a percent sign.
  while (!s.empty() && (s.front() == '*' || s.front() == '_')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '*' || s.back() == '_')) s.remove_suffix(1);
  s = trim(s);
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (!s.empty() && s.back() == '%') s.remove_suffix(1);
  s = trim(s);

  bool negative = false;
  for (bool again = true; again && !s.empty();) {   // "-$5", "$-5", "$ 5", "+5"
    again = false;
    if ((s.front() == '-' || s.front() == '+') && !negative) {
      negative = s.front() == '-';
      s.remove_prefix(1);
      again = true;
    } else if (s.front() == '$') {
      s = trim(s.substr(1));
      again = true;
    }
  }
  if (s.empty()) return std::nullopt;

  if (size_t slash = s.find('/'); slash != std::string_view::npos) {
    auto p = integer_digits(s.substr(0, slash));
    std::string_view q = s.substr(slash + 1);
    if (!p || !all_digits(q)) return std::nullopt;
    return canonical_fraction(negative, *p, std::string(q));
  }
  size_t dot = s.find('.');
  std::string_view int_part = s.substr(0, dot);
  std::string_view frac_part = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (dot != std::string_view::npos && !all_digits(frac_part)) return std::nullopt;
  std::optional<std::string> digits = int_part.empty() && !frac_part.empty()
                                          ? std::optional<std::string>("0")
                                          : integer_digits(int_part);
  if (!digits) return std::nullopt;
  return canonical_decimal(negative, *digits, frac_part);
}

std::optional<std::string> gsm8k_gold(std::string_view gold) {
  size_t marker = gold.rfind("####");
  if (marker != std::string_view::npos) gold = gold.substr(marker + 4);
  return canonical_number(gold);
}

std::string_view gsm8k_answer_region(std::string_view output) {
  return output.substr(0, answer_region_end(output));
}

std::optional<NumberMatch> gsm8k_extract_strict(std::string_view output) {
  std::string_view region = gsm8k_answer_region(output);
  re2::StringPiece input(region.data(), region.size());
  re2::StringPiece number;
  if (!RE2::PartialMatch(input, strict_re(), &number)) return std::nullopt;
  return to_match(std::string_view(number.data(), number.size()));
}

std::optional<NumberMatch> gsm8k_extract_flexible(std::string_view output) {
  std::string_view region = gsm8k_answer_region(output);
  re2::StringPiece input(region.data(), region.size());
  re2::StringPiece number;
  std::optional<NumberMatch> last;
  while (RE2::FindAndConsume(&input, number_re(), &number)) {
    auto raw = drop_hyphen(region, number.data(), std::string_view(number.data(), number.size()));
    if (auto m = to_match(raw)) last = std::move(m);
  }
  return last;
}

std::vector<Verdict> grade_gsm8k(std::string_view output, std::string_view gold) {
  auto gold_number = gsm8k_gold(gold);
  return {make_verdict(kGsm8kStrict, gsm8k_extract_strict(output), gold_number, gold),
          make_verdict(kGsm8kFlexible, gsm8k_extract_flexible(output), gold_number, gold)};
}

}  // namespace yardstick
