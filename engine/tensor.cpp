#include "engine/tensor.h"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace yardstick {

std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
  }
  return "?";
}

size_t dtype_size(DType d) { return d == DType::F32 ? 4 : 2; }

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

float bf16_to_f32(uint16_t v) { return std::bit_cast<float>(uint32_t(v) << 16); }

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do { ++e; mant <<= 1; } while ((mant & 0x400) == 0);
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

uint16_t f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}

uint16_t f32_to_f16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  uint32_t sign = (u >> 16) & 0x8000;
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) return uint16_t(sign | 0x7e00);                 // NaN
  if (absu >= 0x477ff000u) return uint16_t(sign | 0x7c00);                // overflow -> inf
  if (absu < 0x38800000u) {                                               // subnormal / zero
    float a = std::bit_cast<float>(absu);
    // 2^-24 is the f16 subnormal unit; rint rounds to nearest even.
    uint32_t m = uint32_t(__builtin_rintf(a * 16777216.0f));
    return uint16_t(sign | m);
  }
  uint32_t e = ((absu >> 23) - 127 + 15);
  uint32_t m = absu & 0x7fffff;
  uint32_t h = (e << 10) | (m >> 13);
  uint32_t rem = m & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  return uint16_t(sign | h);
}

float TensorView::at(int64_t i) const {
  switch (dtype) {
    case DType::F32: {
      float v;
      std::memcpy(&v, data + i * 4, 4);
      return v;
    }
    case DType::F16: {
      uint16_t v;
      std::memcpy(&v, data + i * 2, 2);
      return f16_to_f32(v);
    }
    case DType::BF16: {
      uint16_t v;
      std::memcpy(&v, data + i * 2, 2);
      return bf16_to_f32(v);
    }
  }
  throw std::logic_error("bad dtype");
}

void TensorView::to_f32(float* out) const {
  const int64_t n = numel();
  if (dtype == DType::F32) {
    std::memcpy(out, data, size_t(n) * 4);
    return;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = at(i);
}

}  // namespace yardstick
