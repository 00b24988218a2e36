// Digests that identify a model in the run record: the weights (sha256 of every weight file,
// cached in the store by path + size + mtime so a re-run does not re-hash 14 GB) and the
// tokenizer files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "harness/store.h"

namespace yardstick {

// sha256 of one file, from the store's cache when its absolute path, size and mtime match.
std::string cached_file_digest(Store& store, const std::filesystem::path& file);

// The checkpoint files of a model directory (*.safetensors, pytorch_model*.bin and their
// *.index.json), sorted by name. Throws ModelFileError when there are none.
std::vector<std::filesystem::path> weight_files(const std::filesystem::path& model_dir);

// sha256 over the lines "<file name> <sha256>\n" of weight_files(model_dir).
std::string weights_digest(Store& store, const std::filesystem::path& model_dir);

// sha256 over the lines "<file name> <sha256>\n" of tokenizer.json and tokenizer_config.json
// (those present); "" when the directory has neither.
std::string tokenizer_digest(Store& store, const std::filesystem::path& model_dir);

// The same over config.json and generation_config.json (shapes and special token ids).
std::string model_config_digest(Store& store, const std::filesystem::path& model_dir);

}  // namespace yardstick
