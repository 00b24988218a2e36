// ggml's tensor types as GGUF files store them, and their dequantization to f32, bit-exact to
// the block layouts ggml defines (ggml-common.h: block_q4_0, block_q4_K, ...). A quantized row
// of n elements is n / block_size blocks laid end to end; every block carries its own scale(s).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace yardstick {

// The numbering is ggml's (enum ggml_type); GGUF tensor infos carry these values.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

// "Q4_K", "F16", ...; "type 5" for a number ggml does not (or no longer) define.
std::string ggml_type_name(uint32_t type);

// Elements per block and bytes per block, for the types this engine can size (every type above
// but the removed 4 and 5); nullopt for a number it does not know.
struct GgmlBlock {
  int64_t elements = 0;
  size_t bytes = 0;
};
std::optional<GgmlBlock> ggml_block(uint32_t type);

// True for the types dequantize_row implements: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
bool ggml_can_dequantize(GgmlType type);

// Dequantizes n elements (a multiple of the type's block size) from src, which holds
// n / elements * bytes bytes, into dst. The type must be one ggml_can_dequantize accepts.
void dequantize_row(GgmlType type, const std::byte* src, float* dst, int64_t n);

}  // namespace yardstick
