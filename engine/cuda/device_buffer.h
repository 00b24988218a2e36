// Owners of device memory and pinned host memory (RAII around cudaMalloc / cudaMallocHost).
#pragma once

#include <cstddef>
#include <string>

namespace yardstick::cuda {

enum class MemoryKind { Device, PinnedHost };

template <MemoryKind Kind>
class Buffer {
 public:
  Buffer() = default;
  // `what` names the buffer in the error if the allocation fails ("KV cache", "weights").
  Buffer(size_t bytes, const std::string& what);
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* get() const { return ptr_; }
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }
  size_t size() const { return bytes_; }

 private:
  void release() noexcept;

  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

using DeviceBuffer = Buffer<MemoryKind::Device>;
using PinnedBuffer = Buffer<MemoryKind::PinnedHost>;

extern template class Buffer<MemoryKind::Device>;
extern template class Buffer<MemoryKind::PinnedHost>;

}  // namespace yardstick::cuda
