// Helpers shared by the GPU tests: skipping without a device, moving vectors to and from it,
// bf16 values on the host, and fresh random inputs with their seed in the failure message.
#pragma once

#ifdef YARDSTICK_HAVE_CUDA

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "engine/cuda/device_buffer.h"
#include "engine/tensor.h"

namespace yardstick::test {

inline bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

#define YARDSTICK_SKIP_WITHOUT_GPU() \
  if (!::yardstick::test::have_gpu()) GTEST_SKIP() << "no CUDA device"

template <class T>
cuda::DeviceBuffer to_device(const std::vector<T>& v) {
  cuda::DeviceBuffer b(std::max<size_t>(v.size(), 1) * sizeof(T), "a test input");
  EXPECT_EQ(cudaMemcpy(b.get(), v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  return b;
}

template <class T>
std::vector<T> to_host(const cuda::DeviceBuffer& b, size_t n) {
  std::vector<T> v(n);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(v.data(), b.get(), n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
  return v;
}

// bf16 bits on the host and their float values.
struct Bf16Vector {
  std::vector<uint16_t> bits;
  std::vector<float> values;
};

inline Bf16Vector random_bf16(size_t n, std::mt19937_64& rng, float stddev = 1.0f) {
  std::normal_distribution<float> dist(0.f, stddev);
  Bf16Vector v;
  v.bits.resize(n);
  v.values.resize(n);
  for (size_t i = 0; i < n; ++i) {
    v.bits[i] = f32_to_bf16(dist(rng));
    v.values[i] = bf16_to_f32(v.bits[i]);
  }
  return v;
}

// A fresh seed per run (METHOD: new random inputs every check); the test prints it on failure.
inline uint64_t fresh_seed() { return (uint64_t(std::random_device{}()) << 32) | std::random_device{}(); }

}  // namespace yardstick::test

#endif  // YARDSTICK_HAVE_CUDA
