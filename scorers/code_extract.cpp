#include "scorers/code_extract.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace yardstick {
namespace {

struct FencedBlock {
  std::string info;   // the info string's first word, lower case ("python", "" for a bare fence)
  std::string code;
};

std::string normalize_newlines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out.push_back(text[i]);
  }
  return out;
}

size_t leading_spaces(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && (line[n] == ' ' || line[n] == '\t')) ++n;
  return n;
}

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool is_identifier_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Every ``` block of `text` (newlines already normalized), in order.
std::vector<FencedBlock> fenced_blocks(std::string_view text) {
  std::vector<FencedBlock> blocks;
  std::optional<FencedBlock> open;
  size_t indent = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    const size_t lead = leading_spaces(line);
    std::string_view rest = line.substr(lead);
    if (!open) {
      if (!rest.starts_with("```")) continue;
      std::string_view info = trim(rest.substr(std::min(rest.find_first_not_of('`'), rest.size())));
      info = info.substr(0, std::min(info.find_first_of(" \t{"), info.size()));   // ```python title=x
      open = FencedBlock{};
      for (char c : info) open->info.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      indent = lead;
      continue;
    }
    if (std::string_view t = trim(rest); t.size() >= 3 && t.find_first_not_of('`') == std::string_view::npos) {
      blocks.push_back(std::move(*open));
      open.reset();
      continue;
    }
    // A block inside a list item is indented as the fence is; the code is not.
    open->code.append(line.substr(std::min(lead, indent)));
    open->code.push_back('\n');
  }
  if (open) blocks.push_back(std::move(*open));   // cut off by the token limit
  return blocks;
}

bool is_python_info(std::string_view info) {
  return info.empty() || info == "python" || info == "py" || info == "python3" || info == "py3";
}

}  // namespace

std::string_view truncate_at_stop(std::string_view text, std::span<const std::string_view> stops) {
  size_t cut = text.size();
  for (std::string_view stop : stops) {
    if (stop.empty()) continue;
    cut = std::min(cut, text.find(stop));
  }
  return text.substr(0, cut);
}

bool defines_function(std::string_view code, std::string_view name) {
  if (name.empty()) return false;
  size_t pos = 0;
  while (pos < code.size()) {
    size_t end = code.find('\n', pos);
    std::string_view line = code.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? code.size() : end + 1;
    if (line.starts_with("async ")) line = trim(line.substr(6));
    if (!line.starts_with("def ")) continue;
    std::string_view after = trim(line.substr(4));
    if (after.starts_with(name) && trim(after.substr(name.size())).starts_with('(')) return true;
  }
  return false;
}

std::string extract_code(std::string_view reply, std::string_view function_name) {
  const std::string text = normalize_newlines(reply);
  const std::vector<FencedBlock> blocks = fenced_blocks(text);
  if (blocks.empty()) return text;
  const FencedBlock* first_python = nullptr;
  for (const auto& b : blocks) {
    if (!is_python_info(b.info)) continue;
    if (defines_function(b.code, function_name)) return b.code;
    if (first_python == nullptr) first_python = &b;
  }
  return first_python != nullptr ? first_python->code : blocks.front().code;
}

std::string humaneval_completion_from_reply(std::string_view prompt, std::string_view reply,
                                            std::string_view entry_point) {
  std::string code = extract_code(reply, entry_point);
  if (defines_function(code, entry_point)) return (prompt.ends_with('\n') ? "\n" : "\n\n") + code;
  return code;
}

std::string mbpp_code_from_completion(std::string_view completion, std::string_view function_name) {
  std::string_view code = truncate_at_stop(completion, kMbppStopSequences);
  if (size_t begin = code.rfind("[BEGIN]"); begin != std::string_view::npos) code = code.substr(begin + 7);
  if (code.find("```") != std::string_view::npos) return extract_code(code, function_name);
  std::string out = normalize_newlines(trim(code));
  if (!out.empty()) out.push_back('\n');
  return out;
}

std::string mbpp_function_name(std::span<const std::string> tests) {
  for (const std::string& test : tests) {
    size_t at = test.find("assert");
    if (at == std::string::npos) continue;
    size_t i = at + 6;
    while (i < test.size() && (test[i] == ' ' || test[i] == '(')) ++i;
    size_t start = i;
    while (i < test.size() && is_identifier_char(test[i])) ++i;
    if (i == start || std::isdigit(static_cast<unsigned char>(test[start]))) continue;
    size_t j = i;
    while (j < test.size() && test[j] == ' ') ++j;
    if (j < test.size() && test[j] == '(') return test.substr(start, i - start);
  }
  return "";
}

}  // namespace yardstick
