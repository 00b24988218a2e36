// Readers for the dataset file formats: JSON lines (plain or gzip), JSON, CSV. They read whole
// files (the largest benchmark file is a few MB) and report errors with the file and line.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace yardstick {

// The file's bytes; a name ending in ".gz" is gunzipped. Throws Error naming the file.
std::string read_file_bytes(const std::filesystem::path& path);

// One JSON value per non-blank line. Throws InputError "<file>:<line>: <problem>" on a bad line.
std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path);

// One JSON document (".gz" gunzipped). Throws InputError naming the file and the parse error.
nlohmann::json read_json(const std::filesystem::path& path);

// A CSV table: RFC 4180 quoting ("" inside a quoted field is one quote; quoted fields may hold
// commas and newlines), CRLF or LF line ends, UTF-8 passed through unchanged (a leading BOM is
// dropped), blank lines skipped. A quote inside an unquoted field is text, as Python's csv
// reads it. The first record is the header.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;   // each row has header.size() fields

  // Index of a header column, or throws InputError naming `name` and the known columns.
  size_t column(const std::string& name) const;
};

// Throws InputError "<file>:<line>: <problem>" on an unterminated quoted field, text after a
// closing quote, or a row whose field count differs from the header's.
CsvTable parse_csv(std::string_view text, const std::string& origin);
CsvTable read_csv(const std::filesystem::path& path);

}  // namespace yardstick
