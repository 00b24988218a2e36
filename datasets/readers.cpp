#include "datasets/readers.h"

#include <fstream>
#include <sstream>

#include <fmt/core.h>
#include <zlib.h>

#include "engine/error.h"

namespace yardstick {
namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string gunzip_file(const std::filesystem::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw Error(fmt::format("{}: cannot open", path.string()));
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  int err = Z_OK;
  std::string message = n < 0 ? gzerror(f, &err) : "";
  gzclose(f);
  if (n < 0) throw Error(fmt::format("{}: not a readable gzip file: {}", path.string(), message));
  return out;
}

}  // namespace

std::string read_file_bytes(const std::filesystem::path& path) {
  if (ends_with(path.string(), ".gz")) return gunzip_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open", path.string()));
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("{}: read error", path.string()));
  return s.str();
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::string text = read_file_bytes(path);
  std::vector<nlohmann::json> out;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(fmt::format("{}:{}: not valid JSON: {}", path.string(), line_no, e.what()));
    }
  }
  return out;
}

nlohmann::json read_json(const std::filesystem::path& path) {
  try {
    return nlohmann::json::parse(read_file_bytes(path));
  } catch (const nlohmann::json::parse_error& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
  }
}

size_t CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  std::string known;
  for (const auto& h : header) known += (known.empty() ? "" : ", ") + ("\"" + h + "\"");
  throw InputError(fmt::format("CSV has no column \"{}\" (columns: {})", name, known));
}

CsvTable parse_csv(std::string_view text, const std::string& origin) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);   // UTF-8 byte order mark
  std::vector<std::vector<std::string>> records;
  std::vector<size_t> record_lines;   // the line each record starts on, for errors
  std::vector<std::string> record;
  std::string field;
  size_t line = 1, record_line = 1;
  bool in_quotes = false, quoted_field = false;

  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    quoted_field = false;
  };
  auto end_record = [&] {
    end_field();
    // A blank line is no record (RFC 4180 has none; files end with one newline or several).
    if (!(record.size() == 1 && record[0].empty())) {
      records.push_back(std::move(record));
      record_lines.push_back(record_line);
    }
    record.clear();
  };

  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    switch (c) {
      case '"':
        // A quote opens a quoted field only at its start; inside an unquoted field it is text,
        // as Python's csv module and pandas read it (the benchmark authors' readers).
        if (field.empty() && !quoted_field) {
          in_quotes = quoted_field = true;
        } else if (quoted_field) {
          throw InputError(fmt::format("{}:{}: a quote after a closing quote", origin, line));
        } else {
          field += c;
        }
        break;
      case ',':
        end_field();
        break;
      case '\r':
        if (i + 1 < text.size() && text[i + 1] == '\n') break;   // CRLF: the \n ends the record
        [[fallthrough]];
      case '\n':
        end_record();
        record_line = ++line;
        break;
      default:
        if (quoted_field)
          throw InputError(fmt::format("{}:{}: text after a closing quote", origin, line));
        field += c;
    }
  }
  if (in_quotes)
    throw InputError(fmt::format("{}:{}: a quoted field is never closed", origin, record_line));
  if (!field.empty() || quoted_field || !record.empty()) end_record();

  if (records.empty()) throw InputError(fmt::format("{}: empty CSV (no header row)", origin));
  CsvTable table;
  table.header = std::move(records[0]);
  for (size_t r = 1; r < records.size(); ++r) {
    if (records[r].size() != table.header.size())
      throw InputError(fmt::format("{}:{}: {} fields, the header has {}", origin, record_lines[r],
                                   records[r].size(), table.header.size()));
    table.rows.push_back(std::move(records[r]));
  }
  return table;
}

CsvTable read_csv(const std::filesystem::path& path) {
  return parse_csv(read_file_bytes(path), path.string());
}

}  // namespace yardstick
