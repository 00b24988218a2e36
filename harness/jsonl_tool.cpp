#include "harness/jsonl_tool.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <limits>

#include <fmt/core.h>

#include "engine/error.h"
#include "harness/commands.h"

namespace yardstick::cli {

using nlohmann::json;

void register_model_tool(CLI::App& app, const char* name, const char* description,
                         void (*run)(const ModelToolOptions&)) {
  auto opts = std::make_shared<ModelToolOptions>();
  auto* cmd = app.add_subcommand(name, description);
  cmd->add_option("--model", opts->model, "model directory (config.json, weights, tokenizer.json)")
      ->required();
  cmd->add_option("--input", opts->input, "JSONL input file (default: stdin)");
  cmd->add_option("--backend", opts->backend, "cpu or cuda")->capture_default_str();
  cmd->add_option("--threads", opts->threads, "CPU backend threads (0: all cores)")
      ->capture_default_str()
      ->check(thread_count());
  cmd->add_option("--max-batch", opts->max_batch, "sequences advanced together")
      ->capture_default_str()
      ->check(at_least(1));
  cmd->callback([opts, run] { run(*opts); });
}

ModelOptions model_options(const ModelToolOptions& opts) {
  ModelOptions o;
  o.backend = parse_backend_kind(opts.backend);
  o.threads = opts.threads;
  o.max_batch = opts.max_batch;
  return o;
}

std::vector<InputLine> read_input_lines(const std::string& input,
                                        const std::vector<std::string>& allowed) {
  const bool use_stdin = input.empty() || input == "-";
  std::ifstream file;
  if (!use_stdin) {
    file.open(input, std::ios::binary);
    if (!file) throw InputError(fmt::format("{}: cannot open input file", input));
  }
  std::istream& in = use_stdin ? std::cin : file;
  std::vector<InputLine> lines;
  std::string text;
  for (size_t number = 1; std::getline(in, text); ++number) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    InputLine line{number, json::parse(text, nullptr, /*allow_exceptions=*/false)};
    if (!line.value.is_object())
      throw InputError(fmt::format("input line {}: not a JSON object", number));
    for (const auto& [key, value] : line.value.items())
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        throw InputError(fmt::format("input line {}: unknown field \"{}\" (known: {})", number, key,
                                     fmt::join(allowed, ", ")));
    lines.push_back(std::move(line));
  }
  if (in.bad()) throw InputError(fmt::format("{}: read error", use_stdin ? "stdin" : input));
  return lines;
}

void LineReader::fail(const std::string& what) const {
  throw InputError(fmt::format("input line {}: {}", line_.number, what));
}

const json& LineReader::field(const char* key) const {
  auto it = line_.value.find(key);
  if (it == line_.value.end()) fail(fmt::format("missing \"{}\"", key));
  return *it;
}

std::vector<int32_t> LineReader::ids(const char* key) const {
  const json& v = field(key);
  if (!v.is_array()) fail(fmt::format("\"{}\" must be an array of token ids", key));
  std::vector<int32_t> ids;
  for (const json& x : v) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 ||
        x.get<int64_t>() > std::numeric_limits<int32_t>::max())
      fail(fmt::format("\"{}\" must be an array of token ids (non-negative integers)", key));
    ids.push_back(int32_t(x.get<int64_t>()));
  }
  return ids;
}

std::string LineReader::string(const char* key) const {
  const json& v = field(key);
  if (!v.is_string()) fail(fmt::format("\"{}\" must be a string", key));
  return v.get<std::string>();
}

std::vector<std::string> LineReader::strings(const char* key) const {
  const json& v = field(key);
  if (v.is_string()) return {v.get<std::string>()};
  std::vector<std::string> out;
  if (v.is_array())
    for (const json& x : v) {
      if (!x.is_string()) break;
      out.push_back(x.get<std::string>());
    }
  if (!v.is_array() || out.size() != v.size())
    fail(fmt::format("\"{}\" must be a string or an array of strings", key));
  return out;
}

double LineReader::number(const char* key) const {
  const json& v = field(key);
  if (!v.is_number()) fail(fmt::format("\"{}\" must be a number", key));
  return v.get<double>();
}

int64_t LineReader::integer(const char* key, int64_t min, int64_t max) const {
  const json& v = field(key);
  if (!v.is_number_integer()) fail(fmt::format("\"{}\" must be an integer", key));
  // Unsigned values above INT64_MAX are out of any range we accept.
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
    fail(fmt::format("\"{}\" must be in [{}, {}]", key, min, max));
  const int64_t x = v.get<int64_t>();
  if (x < min || x > max) fail(fmt::format("\"{}\" must be in [{}, {}]", key, min, max));
  return x;
}

void OrderedWriter::put(size_t index, const nlohmann::ordered_json& result) {
  pending_.at(index) =
      result.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  bool wrote = false;
  for (; next_ < pending_.size() && pending_[next_]; ++next_) {
    std::fputs(pending_[next_]->c_str(), stdout);
    std::fputc('\n', stdout);
    pending_[next_].reset();
    wrote = true;
  }
  if (wrote) std::fflush(stdout);
}

nlohmann::ordered_json error_json(const std::string& message) {
  return nlohmann::ordered_json{{"error", message}};
}

}  // namespace yardstick::cli
