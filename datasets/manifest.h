// The dataset manifest: for every file of every dataset folder, its sha256 and where it comes
// from. Generated into datasets/manifest.json by scripts/gen_dataset_manifest.py from the
// SHA256SUMS and SOURCES.md files of the data directory; a file is used only after its digest
// matches, so a run's numbers always belong to the bytes the manifest names.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace yardstick {

struct ManifestEntry {
  std::string path;            // relative to the data directory, '/'-separated: "gsm8k/test.jsonl"
  std::string sha256;          // lower-case hex of the file's bytes as stored (a .gz is hashed compressed)
  std::optional<uint64_t> bytes;
  std::string source;          // where these bytes were copied from: "owner/repo@commit:path", or prose
  std::string source_url;      // a URL for `source` ("" when none is known)
  std::string canonical_url;   // the dataset's official home when it differs from `source` ("" if none)
};

class Manifest {
 public:
  // Parses manifest JSON text; `origin` names it in errors. Throws Error on a malformed manifest.
  static Manifest parse(std::string_view json_text, const std::string& origin);
  // Reads and parses a manifest file. Throws Error naming the file.
  static Manifest load(const std::filesystem::path& path);

  // The manifest the project ships, datasets/manifest.json, found beside the running executable's
  // checkout (`<checkout>/<build dir>/yardstick`) or else in the compile-time source directory.
  // Loaded once per process. Throws Error naming the places tried.
  static const Manifest& project();

  const ManifestEntry* find(std::string_view relative_path) const;   // nullptr when not listed
  const std::map<std::string, ManifestEntry>& entries() const { return entries_; }
  const std::string& origin() const { return origin_; }

  // `data_dir / relative_path` after checking that the manifest lists it, that it exists, and
  // that its sha256 matches. A file missing in that form but present as `relative_path.gz`
  // verifies by the sum of its uncompressed bytes (the shared folders store their files
  // compressed, their sums are of the originals) and that .gz path is returned. Digests are computed once per (path, size, mtime) per process.
  // Throws Error naming the file, the expected and actual digest (or "missing"), and where the
  // file can be obtained.
  std::filesystem::path verified_path(const std::filesystem::path& data_dir,
                                      std::string_view relative_path) const;

 private:
  std::string origin_;
  std::map<std::string, ManifestEntry> entries_;   // keyed by ManifestEntry::path
};

// Manifest::project().verified_path(data_dir, relative_path).
std::filesystem::path verified_path(const std::filesystem::path& data_dir,
                                    std::string_view relative_path);

}  // namespace yardstick
