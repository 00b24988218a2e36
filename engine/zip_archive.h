// A read-only zip archive over bytes already in memory (an mmapped file): the central directory
// (zip64 included, for archives over 4 GB), and each entry's data, stored or deflated. PyTorch's
// .bin checkpoints are zip archives whose entries are stored, so most reads are views, not copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace yardstick {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;         // uncompressed
  uint64_t data_offset = 0;  // of the (compressed) data, from the archive's start
};

class ZipArchive {
 public:
  // Reads and validates the central directory and every local header. Throws ModelFileError
  // naming path (and the entry) for a truncated or corrupt archive.
  ZipArchive(std::span<const std::byte> bytes, std::filesystem::path path);
  ZipArchive(ZipArchive&&) noexcept = default;
  ZipArchive& operator=(ZipArchive&&) noexcept = default;

  const std::filesystem::path& path() const { return path_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // nullptr when the archive has no entry of that name.
  const ZipEntry* find(std::string_view name) const;

  // The entry's uncompressed bytes: a view into the archive for stored entries; deflated ones are
  // inflated once into a buffer this archive keeps. Throws ModelFileError on corrupt data.
  std::span<const std::byte> data(const ZipEntry& e) const;
  // Throws ModelFileError naming the entry when its bytes don't match the recorded CRC-32.
  void check_crc(const ZipEntry& e) const;

 private:
  std::span<const std::byte> bytes_;
  std::filesystem::path path_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, size_t, std::less<>> by_name_;
  mutable std::map<size_t, std::unique_ptr<std::vector<std::byte>>> inflated_;  // by entry index
};

}  // namespace yardstick
