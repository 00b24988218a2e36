#include "engine/json_file.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "engine/error.h"

namespace yardstick {

nlohmann::json read_json_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ModelFileError(fmt::format("{}: cannot open", file.string()));
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw ModelFileError(fmt::format("{}: not valid JSON: {}", file.string(), e.what()));
  }
}

}  // namespace yardstick
