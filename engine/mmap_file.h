// A read-only memory mapping of a whole file, released when the owner goes away. Checkpoint
// tensors point straight into it, so weights are never copied on the way in.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace yardstick {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws ModelFileError naming the file when it can't be opened or mapped.
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // The file's bytes; the address stays the same when the MappedFile is moved.
  std::span<const std::byte> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }

 private:
  void release();

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace yardstick
