#include "scorers/multiple_choice.h"

#include <algorithm>
#include <cctype>
#include <string>

#include <nlohmann/json.hpp>

#include "scorers/text_util.h"

namespace yardstick {

std::optional<int> parse_choice(std::string_view output) {
  std::string_view s = trim_ascii(output);
  if (s.starts_with("{")) {
    auto j = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("choice") && j.at("choice").is_number_integer()) {
      int c = j.at("choice").get<int>();
      return c >= 0 ? std::optional<int>(c) : std::nullopt;
    }
    return std::nullopt;
  }
  if (!s.empty() && s.size() <= 6 && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return std::stoi(std::string(s));
  if (s.starts_with("(") && s.ends_with(")")) s = trim_ascii(s.substr(1, s.size() - 2));
  if (s.ends_with(".")) s.remove_suffix(1);
  if (s.size() == 1 && s[0] >= 'A' && s[0] <= 'Z') return s[0] - 'A';
  return std::nullopt;
}

std::vector<Verdict> grade_multiple_choice(std::string_view output, std::string_view gold) {
  auto g = parse_choice(gold);
  if (!g) return {bad_gold_verdict(kChoiceAccuracy, gold)};
  Verdict v;
  v.scorer = std::string(kChoiceAccuracy);
  v.detail = {{"gold", *g}};
  auto c = parse_choice(output);
  if (!c) {
    v.status = verdict_status::kNoAnswer;
    return {v};
  }
  v.status = verdict_status::kOk;
  v.extracted = std::to_string(*c);
  v.correct = *c == *g;
  return {v};
}

}  // namespace yardstick
