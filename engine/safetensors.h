// The safetensors format: an 8-byte little-endian header length, a JSON header mapping each
// tensor name to {dtype, shape, data_offsets} (plus an optional "__metadata__" of strings), then
// the tensors' bytes back to back. Read through mmap without copying; written atomically.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "engine/mmap_file.h"
#include "engine/tensor.h"

namespace yardstick {

// One parsed .safetensors file. Every header entry is validated on open (header length vs file
// size, offsets in range, contiguous and consistent with dtype x shape, supported dtype), so the
// views it hands out are always in bounds.
class SafetensorsFile {
 public:
  // Throws ModelFileError naming the file (and the tensor, where one is at fault).
  explicit SafetensorsFile(const std::filesystem::path& file);

  const std::filesystem::path& path() const { return map_.path(); }
  // In the order their bytes lie in the file; data points into the mapping.
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  MappedFile map_;
  std::vector<TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;  // numel(shape) * dtype_size(dtype) bytes, row-major
};

// Writes tensors (in the given order) to file: a temp file beside it, then a rename, so a reader
// never sees half a file. Throws Error on a tensor whose bytes don't match its shape, a duplicate
// name, or an I/O failure.
void write_safetensors(const std::filesystem::path& file, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace yardstick
