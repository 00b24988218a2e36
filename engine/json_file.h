// Reading one JSON file of a model directory (config.json, an index, tokenizer_config.json).
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

namespace yardstick {

// Throws ModelFileError naming the file when it can't be read or isn't valid JSON.
nlohmann::json read_json_file(const std::filesystem::path& file);

}  // namespace yardstick
