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
  enum class Kind { Regex, Digits, Whole };
  Kind kind = Kind::Whole;
  // Split(pattern, Isolated), or ByteLevel's GPT-2 regex: matches and the gaps between them
  // become pieces.
  std::unique_ptr<RE2> regex;
  // The RE2 capture group that stands for the pattern's trailing \s+(?!\S)|\s+ (see
  // strip_trailing_space_lookahead); 0 when the pattern has none.
  int space_run_group = 0;
  // Digits: numeric characters (Nd, Nl, No) become pieces, one per character or one per run.
  bool individual_digits = false;
  // ByteLevel(add_prefix_space): a piece not starting with ' ' gets one before it is split.
  bool prefix_space = false;

  // Sets `regex` to an Oniguruma pattern compiled for RE2, its trailing look-ahead alternatives
  // (if any) replaced by a capture group that split_regex shortens as Oniguruma would.
  void compile(std::string_view onig_pattern);
};

namespace {

bool all_whitespace(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto d = unicode::decode_utf8(s.substr(i));
    if (!d.valid || !unicode::is_whitespace(d.cp)) return false;
    i += d.length;
  }
  return true;
}

// HF behaviour for empty matches (onig's find_iter): an empty match right where the previous
// match ended is skipped; the search then moves on by one character.
// `space_run_group`: the capture group of the emulated trailing \s+(?!\S)|\s+ alternatives. RE2
// matches there the whole whitespace run (greedy, and nothing follows the group); Oniguruma's
// \s+(?!\S) backtracks one character when a non-space follows, and only a lone whitespace
// character before a non-space falls through to the plain \s+. So a run of two or more
// characters that does not reach the end of the text ends one character early, and the next
// search starts on that character (where " ?\p{L}+" and the like may take it). The start of every
// match, and which alternative matches there, are the same in both engines: they differ only in
// how far this last alternative reaches. Matches are found without capture groups (RE2's fast
// DFA path); only a run of two or more whitespace characters before a non-space is matched again
// with them, to learn whether the emulated group or an earlier alternative (Llama-3's
// \s*[\r\n]+) took it.
void split_regex(const RE2& re, int space_run_group, std::string_view text,
                 std::vector<std::string_view>& out) {
  const re2::StringPiece input(text.data(), text.size());
  thread_local std::vector<re2::StringPiece> subs;
  subs.resize(static_cast<size_t>(space_run_group + 1));
  size_t pos = 0, prev = 0;
  std::optional<size_t> last_match_end;
  while (pos <= text.size() && re.Match(input, pos, text.size(), RE2::UNANCHORED, subs.data(), 1)) {
    const size_t start = static_cast<size_t>(subs[0].data() - text.data());
    size_t end = start + subs[0].size();
    if (space_run_group > 0 && end < text.size()) {
      size_t last = end - 1;   // the start of the match's last character
      while (last > start && (static_cast<uint8_t>(text[last]) & 0xC0) == 0x80) --last;
      if (last > start && all_whitespace(text.substr(start, end - start)) &&
          re.Match(input, start, text.size(), RE2::ANCHOR_START, subs.data(), space_run_group + 1) &&
          subs[space_run_group].data() != nullptr) {
        end = last;
      }
    }
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

// The regex HF's ByteLevel pre-tokenizer splits with when use_regex=true (GPT-2's).
constexpr std::string_view kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Missing keys take HF's serde defaults.
bool flag(const json& j, const char* key, bool fallback) {
  const auto it = j.find(key);
  return it == j.end() || it->is_null() ? fallback : it->get<bool>();
}

}  // namespace

void PreTokenizer::Step::compile(std::string_view onig_pattern) {
  std::string re2_pattern;
  const auto core = strip_trailing_space_lookahead(onig_pattern);
  if (core) {
    re2_pattern = onig_to_re2(core->empty() ? std::string("(\\s+)") : std::string(*core) + "|(\\s+)");
  } else {
    if (onig_pattern.find("(?!") != std::string_view::npos || onig_pattern.find("(?=") != std::string_view::npos) {
      throw ModelFileError(fmt::format(
          "unsupported look-ahead in regex '{}': RE2 has none, and yardstick emulates only the "
          "trailing alternatives \\s+(?!\\S)|\\s+ of the GPT-2 family's patterns",
          onig_pattern));
    }
    re2_pattern = onig_to_re2(onig_pattern);
  }
  RE2::Options options;
  options.set_log_errors(false);
  regex = std::make_unique<RE2>(re2_pattern, options);
  if (!regex->ok()) {
    throw ModelFileError(fmt::format("unsupported regex '{}': RE2 cannot compile it ({})", onig_pattern,
                                     regex->error()));
  }
  // The emulated group is the last one opened, so it has the highest number.
  if (core) space_run_group = regex->NumberOfCapturingGroups();
  kind = Kind::Regex;
}

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
      if (pat.contains("Regex")) {
        step->compile(pat.at("Regex").get<std::string>());
      } else if (pat.contains("String")) {
        step->kind = Step::Kind::Regex;
        step->regex = std::make_unique<RE2>(RE2::QuoteMeta(pat.at("String").get<std::string>()));
      } else {
        throw ModelFileError(fmt::format("unsupported Split pattern {}", pat.dump()));
      }
    } else if (type == "Digits") {
      step->kind = Step::Kind::Digits;
      step->individual_digits = flag(item, "individual_digits", false);
    } else if (type == "ByteLevel") {
      // The byte -> alphabet mapping itself is folded into the BPE model's initial symbols; what
      // is left is the prefix space and the GPT-2 split, applied to each piece in turn.
      saw_byte_level = true;
      step->prefix_space = flag(item, "add_prefix_space", true);
      if (flag(item, "use_regex", true)) step->compile(kGpt2Pattern);
      if (!step->prefix_space && !step->regex) continue;
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
  switch (s.kind) {
    case Step::Kind::Regex: split_regex(*s.regex, s.space_run_group, piece, out); break;
    case Step::Kind::Digits: split_digits(s.individual_digits, piece, out); break;
    case Step::Kind::Whole: out.push_back(piece); break;
  }
}

bool PreTokenizer::adds_prefix_space(size_t step) const { return steps_[step]->prefix_space; }

}  // namespace yardstick
