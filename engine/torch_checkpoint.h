// PyTorch checkpoints as torch.save writes them (pytorch_model*.bin; the official DeepSeek LLM
// weights are published this way): a zip archive holding <root>/data.pkl, a pickle of a dict
// name -> tensor, and each tensor storage's raw bytes in <root>/data/<key>.
//
// The pickle is interpreted by a small VM that knows exactly the opcodes and the few globals
// torch.save emits for a state dict (OrderedDict, _rebuild_tensor_v2, _rebuild_parameter,
// torch.*Storage). It never executes anything: any other opcode or global is an error.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <vector>

#include "engine/mmap_file.h"
#include "engine/tensor.h"
#include "engine/zip_archive.h"

namespace yardstick {

class TorchCheckpoint {
 public:
  // Throws ModelFileError naming the file (and the tensor, where one is at fault) for a
  // truncated or corrupt archive, an unsupported pickle, dtype or byte order, or a tensor whose
  // storage is missing or too small.
  explicit TorchCheckpoint(const std::filesystem::path& file);

  const std::filesystem::path& path() const { return map_.path(); }
  // In pickle order. Contiguous tensors point into the mapping; strided or deflated ones into
  // buffers this checkpoint owns.
  const std::vector<TensorView>& tensors() const { return tensors_; }

 private:
  MappedFile map_;
  std::unique_ptr<ZipArchive> zip_;                   // keeps inflated entries alive
  std::vector<std::unique_ptr<std::byte[]>> copies_;  // non-contiguous tensors made contiguous
  std::vector<TensorView> tensors_;
};

}  // namespace yardstick
