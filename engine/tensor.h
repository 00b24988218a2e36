// A read-only view of one checkpoint tensor: dtype, shape, and the bytes where they lie
// (inside an mmapped file or a buffer owned by Weights).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace yardstick {

enum class DType { F32, F16, BF16 };

std::string_view dtype_name(DType d);
size_t dtype_size(DType d);

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;   // row-major, as in the checkpoint
  const std::byte* data = nullptr;
  size_t nbytes = 0;

  int64_t numel() const;
  // Element i converted to float (f16 and bf16 upcast exactly).
  float at(int64_t i) const;
  // Writes all elements as f32 into out (out.size() must equal numel()).
  void to_f32(float* out) const;
};

float bf16_to_f32(uint16_t v);
float f16_to_f32(uint16_t v);
uint16_t f32_to_bf16(float v);   // round to nearest even
uint16_t f32_to_f16(float v);    // round to nearest even

}  // namespace yardstick
