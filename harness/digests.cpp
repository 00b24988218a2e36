#include "harness/digests.h"

#include <algorithm>
#include <chrono>

#include <fmt/core.h>

#include "engine/error.h"
#include "engine/sha256.h"

namespace yardstick {

namespace {

bool is_weight_file(const std::string& name) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".safetensors") || ends_with(".safetensors.index.json") ||
         (name.rfind("pytorch_model", 0) == 0 && (ends_with(".bin") || ends_with(".bin.index.json")));
}

std::string digest_of_files(Store& store, const std::vector<std::filesystem::path>& files) {
  std::string lines;
  for (const auto& f : files) lines += fmt::format("{} {}\n", f.filename().string(), cached_file_digest(store, f));
  return sha256_hex(lines);
}

std::string digest_of_present(Store& store, const std::filesystem::path& dir,
                              std::initializer_list<const char*> names) {
  std::vector<std::filesystem::path> files;
  for (const char* name : names)
    if (std::filesystem::is_regular_file(dir / name)) files.push_back(dir / name);
  return files.empty() ? std::string() : digest_of_files(store, files);
}

}  // namespace

std::string cached_file_digest(Store& store, const std::filesystem::path& file) {
  std::error_code ec;
  auto abs = std::filesystem::canonical(file, ec);
  if (ec) throw Error(fmt::format("{}: cannot be read: {}", file.string(), ec.message()));
  auto size = static_cast<int64_t>(std::filesystem::file_size(abs));
  auto mtime = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::filesystem::last_write_time(abs).time_since_epoch())
                                        .count());
  if (auto hit = store.cached_digest(abs.string(), size, mtime)) return *hit;
  std::string digest = sha256_file(abs);
  store.put_cached_digest(abs.string(), size, mtime, digest);
  return digest;
}

std::vector<std::filesystem::path> weight_files(const std::filesystem::path& model_dir) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(model_dir, ec))
    if (e.is_regular_file() && is_weight_file(e.path().filename().string())) files.push_back(e.path());
  if (ec) throw ModelFileError(fmt::format("{}: cannot list the model directory: {}", model_dir.string(), ec.message()));
  if (files.empty())
    throw ModelFileError(fmt::format("{}: no weight files (*.safetensors or pytorch_model*.bin)", model_dir.string()));
  std::sort(files.begin(), files.end());
  return files;
}

std::string weights_digest(Store& store, const std::filesystem::path& model_dir) {
  return digest_of_files(store, weight_files(model_dir));
}

std::string tokenizer_digest(Store& store, const std::filesystem::path& model_dir) {
  return digest_of_present(store, model_dir, {"tokenizer.json", "tokenizer_config.json"});
}

std::string model_config_digest(Store& store, const std::filesystem::path& model_dir) {
  return digest_of_present(store, model_dir, {"config.json", "generation_config.json"});
}

}  // namespace yardstick
