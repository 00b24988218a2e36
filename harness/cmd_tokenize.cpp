// yardstick tokenize --tokenizer PATH [--input FILE]
// JSON lines {"text": s} -> {"ids": [...]} on stdout, in input order, without BOS. PATH is a
// tokenizer.json or a model directory. Blank lines are skipped; a malformed line stops the
// command with an error naming its line number (the lines before it are already written).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/tokenizer.h"
#include "harness/commands.h"

namespace yardstick::cli {

namespace {

struct TokenizeOptions {
  std::string tokenizer;
  std::string input;   // empty: stdin
};

void run_tokenize(const TokenizeOptions& opts) {
  const Tokenizer tok = Tokenizer::from_file(opts.tokenizer);

  std::ifstream file;
  if (!opts.input.empty()) {
    file.open(opts.input, std::ios::binary);
    if (!file) throw InputError(fmt::format("{}: cannot open input file", opts.input));
  }
  std::istream& in = opts.input.empty() ? std::cin : file;

  fmt::memory_buffer out;
  const auto flush = [&] {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    out.clear();
  };
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const auto it = row.is_object() ? row.find("text") : row.end();
    if (!row.is_object() || it == row.end() || !it->is_string()) {
      flush();
      throw InputError(fmt::format("input line {}: expected a JSON object with a string \"text\"", line_no));
    }
    const auto ids = tok.encode(it->get_ref<const std::string&>());
    fmt::format_to(std::back_inserter(out), "{{\"ids\": [{}]}}\n", fmt::join(ids, ", "));
    if (out.size() > (1 << 16)) flush();
  }
  flush();
  if (in.bad()) throw InputError(fmt::format("{}: read error", opts.input.empty() ? "stdin" : opts.input));
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand(
      "tokenize", "Tokenize JSON lines {\"text\": s} into {\"ids\": [...]} (no BOS added)");
  cmd->add_option("--tokenizer", opts->tokenizer, "a tokenizer.json or a model directory holding one")
      ->required();
  cmd->add_option("--input", opts->input, "JSONL input file (default: stdin)");
  cmd->callback([opts] { run_tokenize(*opts); });
}

}  // namespace yardstick::cli
