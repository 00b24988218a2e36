// Plumbing shared by the model-running JSONL tools (`yardstick score`, `yardstick generate`):
// reading the input lines with their numbers, the model options, typed field access that names
// the line, and writing results in input order as they complete.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "engine/model.h"

namespace yardstick::cli {

struct ModelToolOptions {
  std::string model;   // model directory
  std::string input;   // JSONL file; empty or "-": stdin
  std::string backend = "cpu";
  int threads = 0;
  int max_batch = 16;
};
// Registers subcommand `name` with the options above; run() is called with them when it is used.
void register_model_tool(CLI::App& app, const char* name, const char* description,
                         void (*run)(const ModelToolOptions&));
ModelOptions model_options(const ModelToolOptions& opts);

// One non-blank input line: a JSON object, and its 1-based line number.
struct InputLine {
  size_t number = 0;
  nlohmann::json value;
};
// Reads every line first, so a malformed one stops the command before the model runs. Throws
// InputError "input line N: ..." for a line that isn't a JSON object, or one with a key outside
// `allowed` (a misspelt option must not silently change a result).
std::vector<InputLine> read_input_lines(const std::string& input,
                                        const std::vector<std::string>& allowed);

// Typed access to one field of an input line; errors name the line and the field.
class LineReader {
 public:
  explicit LineReader(const InputLine& line) : line_(line) {}
  bool has(const char* key) const { return line_.value.contains(key); }
  std::vector<int32_t> ids(const char* key) const;   // an array of token ids
  std::string string(const char* key) const;
  std::vector<std::string> strings(const char* key) const;   // a string or an array of them
  double number(const char* key) const;
  int64_t integer(const char* key, int64_t min, int64_t max) const;
  [[noreturn]] void fail(const std::string& what) const;

 private:
  const nlohmann::json& field(const char* key) const;
  const InputLine& line_;
};

// Prints one JSON line per input line on stdout, in input order: results that complete early
// wait for those before them.
class OrderedWriter {
 public:
  explicit OrderedWriter(size_t count) : pending_(count) {}
  void put(size_t index, const nlohmann::ordered_json& result);

 private:
  std::vector<std::optional<std::string>> pending_;
  size_t next_ = 0;
};

nlohmann::ordered_json error_json(const std::string& message);   // {"error": message}

}  // namespace yardstick::cli
