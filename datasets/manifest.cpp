#include "datasets/manifest.h"

#include <fstream>
#include <mutex>
#include <sstream>
#include <tuple>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "datasets/checkout.h"
#include "datasets/readers.h"
#include "engine/error.h"
#include "engine/sha256.h"

namespace yardstick {
namespace {

// Digests already computed in this process. A file is hashed again only when its size or
// modification time changes, so a run that opens gsm8k/test.jsonl for every task reads it once.
struct DigestCache {
  using Key = std::tuple<std::string, uintmax_t, std::filesystem::file_time_type>;
  std::mutex mu;
  std::map<Key, std::string> digests;
};

DigestCache& digest_cache() {
  static DigestCache cache;
  return cache;
}

// The digest of the file's bytes, or of its gunzipped bytes when `gunzipped` (a file listed by
// its original name but stored as NAME.gz: the sums of newer folders are of the originals).
std::string cached_sha256(const std::filesystem::path& path, bool gunzipped) {
  namespace fs = std::filesystem;
  auto canonical = fs::weakly_canonical(path).string();
  if (gunzipped) canonical += " (gunzipped)";
  DigestCache::Key key{canonical, fs::file_size(path), fs::last_write_time(path)};
  auto& cache = digest_cache();
  {
    std::lock_guard lock(cache.mu);
    if (auto it = cache.digests.find(key); it != cache.digests.end()) return it->second;
  }
  // Outside the lock: hashing takes a while. Compressed data files are a few MB at most.
  std::string digest = gunzipped ? sha256_hex(read_file_bytes(path)) : sha256_file(path);
  std::lock_guard lock(cache.mu);
  cache.digests.emplace(key, digest);
  return digest;
}

std::string where_to_obtain(const ManifestEntry& e) {
  std::string s;
  if (!e.source_url.empty())
    s = fmt::format("obtain it from {} ({})", e.source_url, e.source);
  else if (!e.source.empty())
    s = fmt::format("its source: {}", e.source);
  else
    s = "the manifest names no source for it";
  if (!e.canonical_url.empty()) s += fmt::format("; official home: {}", e.canonical_url);
  return s;
}

std::string string_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Manifest Manifest::parse(std::string_view json_text, const std::string& origin) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", origin, e.what()));
  }
  auto files = doc.find("files");
  if (!doc.is_object() || files == doc.end() || !files->is_object())
    throw Error(fmt::format("{}: not a dataset manifest (no \"files\" object)", origin));
  Manifest m;
  m.origin_ = origin;
  for (const auto& [path, item] : files->items()) {
    auto digest = item.is_object() ? string_field(item, "sha256") : std::string();
    if (digest.size() != 64 || digest.find_first_not_of("0123456789abcdef") != std::string::npos)
      throw Error(fmt::format("{}: \"{}\" has no valid sha256", origin, path));
    ManifestEntry e;
    e.path = path;
    e.sha256 = digest;
    if (auto b = item.find("bytes"); b != item.end() && b->is_number_unsigned()) e.bytes = b->get<uint64_t>();
    e.source = string_field(item, "source");
    e.source_url = string_field(item, "source_url");
    e.canonical_url = string_field(item, "canonical_url");
    m.entries_.emplace(path, std::move(e));
  }
  return m;
}

Manifest Manifest::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot read the dataset manifest", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path.string());
}

const Manifest& Manifest::project() {
  static const Manifest manifest = [] {
    std::string tried;
    for (const auto& checkout : checkout_candidates()) {
      auto path = checkout / "datasets" / "manifest.json";
      std::error_code ec;
      if (std::filesystem::is_regular_file(path, ec)) return load(path);
      tried += "\n  " + path.string();
    }
    throw Error("the project's dataset manifest was not found; tried:" + tried);
  }();
  return manifest;
}

const ManifestEntry* Manifest::find(std::string_view relative_path) const {
  auto it = entries_.find(std::string(relative_path));
  return it == entries_.end() ? nullptr : &it->second;
}

std::filesystem::path Manifest::verified_path(const std::filesystem::path& data_dir,
                                              std::string_view relative_path) const {
  const ManifestEntry* e = find(relative_path);
  if (!e)
    throw Error(fmt::format("{}: not listed in the dataset manifest {}, so it can't be verified",
                            relative_path, origin_));
  // The file as listed, or else compressed beside it (NAME.gz, checked against the sum of the
  // uncompressed original; readers gunzip by the name). A download of the originals and the
  // shared folders' compressed copies both verify.
  auto path = data_dir / e->path;
  std::error_code ec;
  bool gunzipped = false;
  if (!std::filesystem::is_regular_file(path, ec) && !path.string().ends_with(".gz")) {
    auto compressed = path;
    compressed += ".gz";
    if (std::filesystem::is_regular_file(compressed, ec)) {
      path = std::move(compressed);
      gunzipped = true;
    }
  }
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error(fmt::format("{}: missing, and no {}.gz beside it (expected sha256 {}); {}",
                            (data_dir / e->path).string(), e->path, e->sha256, where_to_obtain(*e)));
  auto actual = cached_sha256(path, gunzipped);
  if (actual != e->sha256)
    throw Error(fmt::format(
        "{}: sha256 {}{} does not match the manifest's {} (the file was altered or is another "
        "version); {}",
        path.string(), actual, gunzipped ? " of its uncompressed bytes" : "", e->sha256, where_to_obtain(*e)));
  return path;
}

std::filesystem::path verified_path(const std::filesystem::path& data_dir,
                                    std::string_view relative_path) {
  return Manifest::project().verified_path(data_dir, relative_path);
}

}  // namespace yardstick
