#include "engine/cuda/device_buffer.h"

#include <utility>

#include <cuda_runtime.h>
#include <fmt/format.h>

#include "engine/cuda/cuda_check.h"

namespace yardstick::cuda {

template <MemoryKind Kind>
Buffer<Kind>::Buffer(size_t bytes, const std::string& what) : bytes_(bytes) {
  if (bytes == 0) return;
  const double gib = double(bytes) / double(1ull << 30);
  if constexpr (Kind == MemoryKind::Device) {
    check(cudaMalloc(&ptr_, bytes), fmt::format("allocating {:.3f} GiB of device memory for {}", gib, what));
  } else {
    check(cudaMallocHost(&ptr_, bytes),
          fmt::format("allocating {:.3f} GiB of pinned host memory for {}", gib, what));
  }
}

template <MemoryKind Kind>
void Buffer<Kind>::release() noexcept {
  // A destructor can't throw; a failed free only leaks.
  if (!ptr_) return;
  if constexpr (Kind == MemoryKind::Device) {
    cudaFree(ptr_);
  } else {
    cudaFreeHost(ptr_);
  }
  ptr_ = nullptr;
  bytes_ = 0;
}

template <MemoryKind Kind>
Buffer<Kind>::~Buffer() {
  release();
}

template <MemoryKind Kind>
Buffer<Kind>::Buffer(Buffer&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

template <MemoryKind Kind>
Buffer<Kind>& Buffer<Kind>::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

template class Buffer<MemoryKind::Device>;
template class Buffer<MemoryKind::PinnedHost>;

}  // namespace yardstick::cuda
