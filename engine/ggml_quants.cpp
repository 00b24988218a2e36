#include "engine/ggml_quants.h"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "engine/tensor.h"

namespace yardstick {

namespace {

constexpr int64_t QK = 32;     // elements per block of the simple formats
constexpr int64_t QK_K = 256;  // elements per super-block of the k-quants

float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

struct TypeInfo {
  GgmlType type;
  const char* name;
  int64_t elements;
  size_t bytes;
};

// Block sizes as ggml-common.h lays the structs out (no padding: every member is a byte, a half,
// or an array of them).
constexpr TypeInfo kTypes[] = {
    {GgmlType::F32, "F32", 1, 4},
    {GgmlType::F16, "F16", 1, 2},
    {GgmlType::Q4_0, "Q4_0", QK, 2 + QK / 2},
    {GgmlType::Q4_1, "Q4_1", QK, 2 + 2 + QK / 2},
    {GgmlType::Q5_0, "Q5_0", QK, 2 + 4 + QK / 2},
    {GgmlType::Q5_1, "Q5_1", QK, 2 + 2 + 4 + QK / 2},
    {GgmlType::Q8_0, "Q8_0", QK, 2 + QK},
    {GgmlType::Q8_1, "Q8_1", QK, 2 + 2 + QK},
    {GgmlType::Q2_K, "Q2_K", QK_K, QK_K / 16 + QK_K / 4 + 2 + 2},
    {GgmlType::Q3_K, "Q3_K", QK_K, QK_K / 8 + QK_K / 4 + 12 + 2},
    {GgmlType::Q4_K, "Q4_K", QK_K, 2 + 2 + 12 + QK_K / 2},
    {GgmlType::Q5_K, "Q5_K", QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2},
    {GgmlType::Q6_K, "Q6_K", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2},
    {GgmlType::Q8_K, "Q8_K", QK_K, 4 + QK_K + QK_K / 16 * 2},
    {GgmlType::IQ2_XXS, "IQ2_XXS", QK_K, 2 + QK_K / 4},
    {GgmlType::IQ2_XS, "IQ2_XS", QK_K, 2 + QK_K / 4 + QK_K / 32},
    {GgmlType::IQ3_XXS, "IQ3_XXS", QK_K, 2 + 3 * QK_K / 8},
    {GgmlType::IQ1_S, "IQ1_S", QK_K, 2 + QK_K / 8 + QK_K / 16},
    {GgmlType::IQ4_NL, "IQ4_NL", QK, 2 + QK / 2},
    {GgmlType::IQ3_S, "IQ3_S", QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 8 + QK_K / 64},
    {GgmlType::IQ2_S, "IQ2_S", QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 32},
    {GgmlType::IQ4_XS, "IQ4_XS", QK_K, 2 + 2 + QK_K / 64 + QK_K / 2},
    {GgmlType::I8, "I8", 1, 1},
    {GgmlType::I16, "I16", 1, 2},
    {GgmlType::I32, "I32", 1, 4},
    {GgmlType::I64, "I64", 1, 8},
    {GgmlType::F64, "F64", 1, 8},
    {GgmlType::IQ1_M, "IQ1_M", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32},
    {GgmlType::BF16, "BF16", 1, 2},
    {GgmlType::TQ1_0, "TQ1_0", QK_K, (QK_K - 4 * QK_K / 64) / 5 + QK_K / 64 + 2},
    {GgmlType::TQ2_0, "TQ2_0", QK_K, QK_K / 4 + 2},
    {GgmlType::MXFP4, "MXFP4", QK, 1 + QK / 2},
};

const TypeInfo* find_type(uint32_t type) {
  for (const TypeInfo& t : kTypes)
    if (uint32_t(t.type) == type) return &t;
  return nullptr;
}

// ---------------------------------------------------------------- 32-element blocks

// block_q4_0 {half d; uint8 qs[16]}: element j is the low nibble of qs[j], element j+16 the
// high one; value (q - 8) * d.
void dequant_q4_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < QK / 2; ++j) {
    y[j] = float((qs[j] & 0x0F) - 8) * d;
    y[j + QK / 2] = float((qs[j] >> 4) - 8) * d;
  }
}

// block_q4_1 {half d; half m; uint8 qs[16]}: value q * d + m.
void dequant_q4_1(const uint8_t* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < QK / 2; ++j) {
    y[j] = float(qs[j] & 0x0F) * d + m;
    y[j + QK / 2] = float(qs[j] >> 4) * d + m;
  }
}

// block_q5_0 {half d; uint8 qh[4]; uint8 qs[16]}: the fifth bit of element i is bit i of qh
// (little-endian u32); value (q - 16) * d.
void dequant_q5_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const uint8_t* qs = b + 6;
  for (int j = 0; j < QK / 2; ++j) {
    const int lo = int(qs[j] & 0x0F) | int((qh >> j) & 1) << 4;
    const int hi = int(qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
    y[j] = float(lo - 16) * d;
    y[j + QK / 2] = float(hi - 16) * d;
  }
}

// block_q5_1 {half d; half m; uint8 qh[4]; uint8 qs[16]}: value q * d + m.
void dequant_q5_1(const uint8_t* b, float* y) {
  const float d = half_at(b), m = half_at(b + 2);
  uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const uint8_t* qs = b + 8;
  for (int j = 0; j < QK / 2; ++j) {
    const int lo = int(qs[j] & 0x0F) | int((qh >> j) & 1) << 4;
    const int hi = int(qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
    y[j] = float(lo) * d + m;
    y[j + QK / 2] = float(hi) * d + m;
  }
}

// block_q8_0 {half d; int8 qs[32]}: value q * d.
void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = half_at(b);
  for (int j = 0; j < QK; ++j) y[j] = float(int8_t(b[2 + j])) * d;
}

// ---------------------------------------------------------------- 256-element super-blocks

// block_q2_K {uint8 scales[16]; uint8 qs[64]; half d; half dmin}: 16 groups of 16; a scale byte
// holds the group's 4-bit scale (low) and 4-bit min (high); value d*sc * q - dmin*m. The 2-bit
// quants of each 128-element half lie in 32 bytes, four bit planes of 32 elements each.
void dequant_q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* q = b + 16;
  const float d = half_at(b + 16 + 64), dmin = half_at(b + 16 + 64 + 2);
  int is = 0;
  for (int half = 0; half < 2; ++half, q += 32) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int g = 0; g < 2; ++g) {   // two groups of 16 per bit plane
        const uint8_t sc = scales[is++];
        const float dl = d * float(sc & 0x0F), ml = dmin * float(sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * float((q[16 * g + l] >> shift) & 3) - ml;
      }
    }
  }
}

// block_q3_K {uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; half d}: 16 groups of 16 with
// 6-bit signed scales (stored +32): the low 4 bits of scale k are nibble k%8 of bytes 0..7 (low
// nibbles first), the high 2 bits are bits 2*(k/4) of byte 8 + k%4. A quant is 2 low bits (laid
// out as in Q2_K) minus 4 when its hmask bit is clear; value d * (scale - 32) * q.
void dequant_q3_k(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* q = b + 32;
  const uint8_t* packed = b + 32 + 64;
  const float d = half_at(b + 32 + 64 + 12);
  int scales[16];
  for (int k = 0; k < 16; ++k) {
    const int low = k < 8 ? packed[k] & 0x0F : packed[k - 8] >> 4;
    const int high = (packed[8 + k % 4] >> (2 * (k / 4))) & 3;
    scales[k] = (low | high << 4) - 32;
  }
  int is = 0;
  uint8_t m = 1;
  for (int half = 0; half < 2; ++half, q += 32) {
    for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
      for (int g = 0; g < 2; ++g) {
        const float dl = d * float(scales[is++]);
        for (int l = 16 * g; l < 16 * g + 16; ++l) {
          const int v = int((q[l] >> shift) & 3) - ((hmask[l] & m) ? 0 : 4);
          *y++ = dl * float(v);
        }
      }
    }
  }
}

// The 6-bit scale and min of group j (0..7) of Q4_K/Q5_K, packed in 12 bytes: groups 0..3 in
// the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); groups 4..7 take their low 4 bits from
// the nibbles of bytes 8..11 and their high 2 bits from the top bits of bytes 0..7.
void scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = uint8_t((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
    *m = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// block_q4_K {half d; half dmin; uint8 scales[12]; uint8 qs[128]}: 8 groups of 32; each 64
// elements share 32 bytes, low nibbles first. Value d*sc * q - dmin*m.
void dequant_q4_k(const uint8_t* b, float* y) {
  const float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  for (int j = 0; j < 8; j += 2, q += 32) {
    uint8_t sc, m;
    scale_min_k4(j, scales, &sc, &m);
    const float d1 = d * float(sc), m1 = dmin * float(m);
    scale_min_k4(j + 1, scales, &sc, &m);
    const float d2 = d * float(sc), m2 = dmin * float(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * float(q[l] & 0x0F) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * float(q[l] >> 4) - m2;
  }
}

// block_q5_K {half d; half dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]}: Q4_K plus a
// fifth bit, bit j of qh[l] for element l of group j.
void dequant_q5_k(const uint8_t* b, float* y) {
  const float d = half_at(b), dmin = half_at(b + 2);
  const uint8_t* scales = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* ql = b + 48;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < 8; j += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
    uint8_t sc, m;
    scale_min_k4(j, scales, &sc, &m);
    const float d1 = d * float(sc), m1 = dmin * float(m);
    scale_min_k4(j + 1, scales, &sc, &m);
    const float d2 = d * float(sc), m2 = dmin * float(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0x0F) + ((qh[l] & u1) ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
  }
}

// block_q6_K {uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d}: 16 groups of 16 with 8-bit
// signed scales; a quant is 4 low bits from ql and 2 high bits from qh, minus 32. Each 128
// elements use 64 bytes of ql, 32 of qh and 8 scales. Value d * scale * q.
void dequant_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 128 + 64);
  const float d = half_at(b + 128 + 64 + 16);
  for (int n = 0; n < 2; ++n, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = int((ql[l] & 0x0F) | ((qh[l] >> 0) & 3) << 4) - 32;
      const int q2 = int((ql[l + 32] & 0x0F) | ((qh[l] >> 2) & 3) << 4) - 32;
      const int q3 = int((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
      const int q4 = int((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
      y[l] = d * float(sc[is]) * float(q1);
      y[l + 32] = d * float(sc[is + 2]) * float(q2);
      y[l + 64] = d * float(sc[is + 4]) * float(q3);
      y[l + 96] = d * float(sc[is + 6]) * float(q4);
    }
  }
}

}  // namespace

std::string ggml_type_name(uint32_t type) {
  if (const TypeInfo* t = find_type(type)) return t->name;
  return fmt::format("type {}", type);
}

std::optional<GgmlBlock> ggml_block(uint32_t type) {
  if (const TypeInfo* t = find_type(type)) return GgmlBlock{t->elements, t->bytes};
  return std::nullopt;
}

bool ggml_can_dequantize(GgmlType type) {
  switch (type) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: case GgmlType::Q8_0:
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1:
    case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K:
    case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

void dequantize_row(GgmlType type, const std::byte* src, float* dst, int64_t n) {
  const TypeInfo* info = find_type(uint32_t(type));
  if (!info || !ggml_can_dequantize(type))
    throw std::logic_error(fmt::format("dequantize_row: {} is not supported", ggml_type_name(uint32_t(type))));
  if (n % info->elements != 0)
    throw std::logic_error(fmt::format("dequantize_row: {} elements is not a whole number of {} blocks", n,
                                       info->name));
  const auto* p = reinterpret_cast<const uint8_t*>(src);
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst, p, size_t(n) * 4);
      return;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = half_at(p + 2 * i);
      return;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        dst[i] = bf16_to_f32(v);
      }
      return;
    default:
      break;
  }
  void (*block)(const uint8_t*, float*) = nullptr;
  switch (type) {
    case GgmlType::Q4_0: block = dequant_q4_0; break;
    case GgmlType::Q4_1: block = dequant_q4_1; break;
    case GgmlType::Q5_0: block = dequant_q5_0; break;
    case GgmlType::Q5_1: block = dequant_q5_1; break;
    case GgmlType::Q8_0: block = dequant_q8_0; break;
    case GgmlType::Q2_K: block = dequant_q2_k; break;
    case GgmlType::Q3_K: block = dequant_q3_k; break;
    case GgmlType::Q4_K: block = dequant_q4_k; break;
    case GgmlType::Q5_K: block = dequant_q5_k; break;
    case GgmlType::Q6_K: block = dequant_q6_k; break;
    default: break;
  }
  for (int64_t i = 0; i < n / info->elements; ++i) block(p + size_t(i) * info->bytes, dst + i * info->elements);
}

}  // namespace yardstick
