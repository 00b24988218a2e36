#include "engine/pre_tokenizer.h"

#include <optional>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <re2/re2.h>

#include "engine/error.h"
#include "engine/onig_regex.h"
#include "engine/unicode.h"

namespace yardstick {

using nlohmann::json;

struct PreTokenizer::Step {
  // Split(pattern, Isolated): matches and the gaps between them become pieces. Null for Digits.
  std::unique_ptr<RE2> regex;
  // Digits: numeric characters (Nd, Nl, No) become pieces, one per character or one per run.
  bool individual_digits = false;
};

namespace {

// HF behaviour for empty matches (onig's find_iter): an empty match right where the previous
// match ended is skipped; the search then moves on by one character.
void split_regex(const RE2& re, std::string_view text, std::vector<std::string_view>& out) {
  const re2::StringPiece input(text.data(), text.size());
  re2::StringPiece m;
  size_t pos = 0, prev = 0;
  std::optional<size_t> last_match_end;
  while (pos <= text.size() && re.Match(input, pos, text.size(), RE2::UNANCHORED, &m, 1)) {
    const size_t start = static_cast<size_t>(m.data() - text.data());
    const size_t end = start + m.size();
    if (start == end && last_match_end == end) {
      pos = end + (end < text.size() ? unicode::decode_utf8(text.substr(end)).length : 1);
      continue;
    }
    if (start != prev) out.push_back(text.substr(prev, start - prev));
    if (end != start) out.push_back(text.substr(start, end - start));   // empty pieces vanish
    prev = end;
    pos = end;
    last_match_end = end;
  }
  if (prev < text.size()) out.push_back(text.substr(prev));
}

void split_digits(bool individual, std::string_view text, std::vector<std::string_view>& out) {
  size_t start = 0;
  bool prev_numeric = false;
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<uint8_t>(text[i]);
    size_t len = 1;
    bool numeric;
    if (b < 0x80) {
      numeric = b >= '0' && b <= '9';
    } else {
      const auto d = unicode::decode_utf8(text.substr(i));
      len = d.length;
      numeric = d.valid && unicode::is_numeric(d.cp);
    }
    // A piece ends where numeric and non-numeric text meet, and (individual_digits) after
    // every numeric character.
    if (i != 0 && (numeric != prev_numeric || (numeric && individual))) {
      out.push_back(text.substr(start, i - start));
      start = i;
    }
    prev_numeric = numeric;
    i += len;
  }
  if (start < text.size()) out.push_back(text.substr(start));
}

// Missing keys take HF's serde defaults.
bool flag(const json& j, const char* key, bool fallback) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<bool>();
}

}  // namespace

PreTokenizer::PreTokenizer() = default;
PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

PreTokenizer PreTokenizer::from_json(const json& config) {
  if (config.is_null()) {
    throw ModelFileError("no pre_tokenizer: byte-level BPE needs a ByteLevel pre-tokenizer");
  }
  std::vector<json> items;
  if (config.at("type").get<std::string>() == "Sequence") {
    items = config.at("pretokenizers").get<std::vector<json>>();
  } else {
    items.push_back(config);
  }

  PreTokenizer p;
  bool saw_byte_level = false;
  for (const json& item : items) {
    const auto type = item.at("type").get<std::string>();
    if (saw_byte_level) {
      throw ModelFileError(fmt::format(
          "unsupported pre-tokenizer order: '{}' after ByteLevel (ByteLevel must be last)", type));
    }
    auto step = std::make_unique<Step>();
    if (type == "Split") {
      const auto behavior = item.at("behavior").get<std::string>();
      if (behavior != "Isolated") {
        throw ModelFileError(fmt::format("unsupported Split behavior '{}' (only Isolated)", behavior));
      }
      if (flag(item, "invert", false)) throw ModelFileError("unsupported Split with invert=true");
      const json& pat = item.at("pattern");
      std::string re2_pattern;
      if (pat.contains("Regex")) {
        re2_pattern = onig_to_re2(pat.at("Regex").get<std::string>());
      } else if (pat.contains("String")) {
        re2_pattern = RE2::QuoteMeta(pat.at("String").get<std::string>());
      } else {
        throw ModelFileError(fmt::format("unsupported Split pattern {}", pat.dump()));
      }
      RE2::Options options;
      options.set_log_errors(false);
      step->regex = std::make_unique<RE2>(re2_pattern, options);
      if (!step->regex->ok()) {
        throw ModelFileError(fmt::format("unsupported Split regex {}: RE2 cannot compile it ({})",
                                         pat.dump(), step->regex->error()));
      }
    } else if (type == "Digits") {
      step->individual_digits = flag(item, "individual_digits", false);
    } else if (type == "ByteLevel") {
      // The byte -> alphabet mapping itself is folded into the BPE model's initial symbols.
      if (flag(item, "add_prefix_space", true)) {
        throw ModelFileError("unsupported ByteLevel pre-tokenizer with add_prefix_space=true");
      }
      if (flag(item, "use_regex", true)) {
        throw ModelFileError(
            "unsupported ByteLevel pre-tokenizer with use_regex=true (the GPT-2 regex needs "
            "look-ahead, which RE2 lacks)");
      }
      saw_byte_level = true;
      continue;
    } else {
      throw ModelFileError(fmt::format("unsupported pre-tokenizer type '{}'", type));
    }
    p.steps_.push_back(std::move(step));
  }
  if (!saw_byte_level) {
    throw ModelFileError("unsupported pre-tokenizer without ByteLevel (only byte-level BPE is supported)");
  }
  return p;
}

void PreTokenizer::split_step(size_t step, std::string_view piece,
                              std::vector<std::string_view>& out) const {
  const Step& s = *steps_[step];
  if (s.regex) {
    split_regex(*s.regex, piece, out);
  } else {
    split_digits(s.individual_digits, piece, out);
  }
}

}  // namespace yardstick
