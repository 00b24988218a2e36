// GGUF: the reader (v2/v3 headers, every metadata type, alignment, data offsets), its errors on
// bad input, dequantization of each supported ggml type against gguf-py's decoders (a fixture
// file) and against a reference written here from the block layouts, a llama GGUF presented
// under HF names with q/k rows un-permuted, and the weights digest over the file.
#include "engine/gguf.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "datasets/readers.h"
#include "engine/error.h"
#include "engine/ggml_quants.h"
#include "engine/gguf_tokenizer.h"
#include "engine/gguf_weights.h"
#include "engine/model.h"
#include "engine/model_config.h"
#include "engine/sha256.h"
#include "engine/tokenizer.h"
#include "engine/weights.h"
#include "harness/digests.h"
#include "tests/checkpoint_writer.h"
#include "tests/cli_process.h"
#include "tests/db_query.h"
#include "tests/error_message.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

fs::path write_file(const char* tag, const std::vector<std::byte>& bytes, const char* name = "model.gguf") {
  const fs::path file = test::make_temp_dir(tag) / name;
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  return file;
}

std::string open_error(const fs::path& file) {
  return test::model_file_error([&] { GgufFile g(file); });
}

std::vector<std::byte> bytes_of(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int b : v) out.push_back(std::byte(b));
  return out;
}

// ---------------------------------------------------------------- the reader

GgufToWrite every_metadata_type(uint32_t version) {
  GgufToWrite g;
  g.version = version;
  g.metadata = {
      {"u8", {GgufValueType::Uint8, GgufValueType::Uint8, uint64_t(200)}},
      {"i8", {GgufValueType::Int8, GgufValueType::Uint8, int64_t(-100)}},
      {"u16", {GgufValueType::Uint16, GgufValueType::Uint8, uint64_t(65000)}},
      {"i16", {GgufValueType::Int16, GgufValueType::Uint8, int64_t(-32000)}},
      {"u32", gguf_u32(4000000000u)},
      {"i32", gguf_i32(-2000000000)},
      {"f32", gguf_f32(0.1f)},
      {"bool", gguf_bool(true)},
      {"str", gguf_string("héllo")},
      {"arr", gguf_array(GgufValueType::Int32, {gguf_i32(1), gguf_i32(-2), gguf_i32(3)})},
      {"u64", {GgufValueType::Uint64, GgufValueType::Uint8, uint64_t(1) << 60}},
      {"i64", {GgufValueType::Int64, GgufValueType::Uint8, -(int64_t(1) << 60)}},
      {"f64", {GgufValueType::Float64, GgufValueType::Uint8, 0.1}},
      {"nested", gguf_array(GgufValueType::Array, {gguf_array(GgufValueType::String, {gguf_string("a")})})},
  };
  return g;
}

TEST(Gguf, ReadsEveryMetadataTypeInVersions2And3) {
  for (uint32_t version : {2u, 3u}) {
    const fs::path file = write_file("gguf-meta", encode_gguf(every_metadata_type(version)));
    const GgufFile g(file);
    EXPECT_EQ(g.version(), version);
    EXPECT_EQ(g.metadata().size(), 14u);
    EXPECT_EQ(g.find("u8")->as_int(), 200);
    EXPECT_EQ(g.find("i8")->as_int(), -100);
    EXPECT_EQ(g.find("u16")->as_int(), 65000);
    EXPECT_EQ(g.find("i16")->as_int(), -32000);
    EXPECT_EQ(g.find("u32")->as_int(), 4000000000LL);
    EXPECT_EQ(g.find("i32")->as_int(), -2000000000);
    EXPECT_EQ(g.find("f32")->as_number(), double(0.1f));
    EXPECT_EQ(g.find("f32")->type, GgufValueType::Float32);
    EXPECT_EQ(std::get<bool>(g.find("bool")->value), true);
    EXPECT_EQ(*g.find("str")->as_string(), "héllo");
    const auto* arr = g.find("arr")->as_array();
    ASSERT_NE(arr, nullptr);
    EXPECT_EQ(g.find("arr")->element_type, GgufValueType::Int32);
    ASSERT_EQ(arr->size(), 3u);
    EXPECT_EQ((*arr)[1].as_int(), -2);
    EXPECT_EQ(g.find("u64")->as_int(), int64_t(1) << 60);
    EXPECT_EQ(g.find("i64")->as_int(), -(int64_t(1) << 60));
    EXPECT_EQ(g.find("f64")->as_number(), 0.1);
    EXPECT_EQ(*(*g.find("nested")->as_array())[0].as_array()->at(0).as_string(), "a");
    EXPECT_EQ(g.find("absent"), nullptr);
  }
}

TEST(Gguf, TensorInfosAndDataOffsetsFollowTheAlignment) {
  for (uint64_t alignment : {32u, 64u}) {
    GgufToWrite w;
    w.alignment = alignment;
    w.metadata = {{"general.name", gguf_string("x")}};
    std::vector<std::byte> a(3 * 4), b(2 * 5 * 4);
    for (size_t i = 0; i < a.size(); ++i) a[i] = std::byte(i + 1);
    for (size_t i = 0; i < b.size(); ++i) b[i] = std::byte(100 + i);
    w.tensors = {{"a", {3}, uint32_t(GgmlType::F32), a}, {"b", {5, 2}, uint32_t(GgmlType::F32), b}};
    const GgufFile g(write_file("gguf-align", encode_gguf(w)));
    EXPECT_EQ(g.alignment(), alignment);
    EXPECT_EQ(g.data_offset() % alignment, 0u);
    ASSERT_EQ(g.tensors().size(), 2u);
    const GgufTensorInfo& tb = *g.find_tensor("b");
    EXPECT_EQ(tb.offset, alignment);   // "a" (12 bytes) padded to one alignment unit
    EXPECT_EQ(tb.dims, (std::vector<int64_t>{5, 2}));
    EXPECT_EQ(tb.shape(), (std::vector<int64_t>{2, 5}));
    EXPECT_EQ(tb.nbytes, 40u);
    const auto data = g.tensor_data(tb);
    EXPECT_EQ(std::memcmp(data.data(), b.data(), b.size()), 0);
    const auto da = g.tensor_data(*g.find_tensor("a"));
    EXPECT_EQ(std::memcmp(da.data(), a.data(), a.size()), 0);
  }
}

TEST(Gguf, QuantizedTensorSizesComeFromTheirBlocks) {
  GgufToWrite w;
  w.tensors = {{"q", {512, 3}, uint32_t(GgmlType::Q4_K), std::vector<std::byte>(2 * 3 * 144)},
               {"r", {64, 2}, uint32_t(GgmlType::Q8_0), std::vector<std::byte>(2 * 2 * 34)}};
  const GgufFile g(write_file("gguf-qsize", encode_gguf(w)));
  EXPECT_EQ(g.find_tensor("q")->nbytes, 2u * 3 * 144);
  EXPECT_EQ(g.find_tensor("r")->nbytes, 2u * 2 * 34);
}

// ---------------------------------------------------------------- bad input

TEST(Gguf, WrongMagicIsRefused) {
  std::vector<std::byte> bytes = encode_gguf(every_metadata_type(3));
  std::memcpy(bytes.data(), "GGML", 4);
  const fs::path file = write_file("gguf-magic", bytes);
  EXPECT_THAT(open_error(file), AllOf(HasSubstr(file.string()), HasSubstr("magic"), HasSubstr("not a GGUF file")));
}

TEST(Gguf, UnsupportedVersionIsRefused) {
  for (uint32_t version : {1u, 4u}) {
    std::vector<std::byte> bytes = encode_gguf(every_metadata_type(version));
    const fs::path file = write_file("gguf-version", bytes);
    EXPECT_THAT(open_error(file), AllOf(HasSubstr(file.string()), HasSubstr("version"))) << version;
  }
}

TEST(Gguf, TruncatedFileNamesTheFieldItEndsIn) {
  GgufToWrite w = every_metadata_type(3);
  w.tensors = {{"weights", {8}, uint32_t(GgmlType::F32), std::vector<std::byte>(32)}};
  const std::vector<std::byte> full = encode_gguf(w);
  // Cut inside the header (tensor count), inside the first key, inside the "str" value, and
  // inside the tensor info.
  const std::pair<size_t, const char*> cuts[] = {
      {10, "tensor_count"}, {4 + 4 + 8 + 8 + 8 + 1, "metadata entry 0 (key)"}, {0, "metadata 'str'"},
      {0, "tensor"}};
  for (auto [cut, field] : cuts) {
    if (std::string_view(field) == "metadata 'str'") {
      const std::string needle = "h\xc3\xa9llo";
      auto it = std::search(full.begin(), full.end(), reinterpret_cast<const std::byte*>(needle.data()),
                            reinterpret_cast<const std::byte*>(needle.data() + needle.size()));
      cut = size_t(it - full.begin()) + 2;
    } else if (std::string_view(field) == "tensor") {
      const std::string needle = "weights";
      auto it = std::search(full.begin(), full.end(), reinterpret_cast<const std::byte*>(needle.data()),
                            reinterpret_cast<const std::byte*>(needle.data() + needle.size()));
      cut = size_t(it - full.begin()) + needle.size() + 6;
    }
    const fs::path file = write_file("gguf-trunc", {full.begin(), full.begin() + long(cut)});
    EXPECT_THAT(open_error(file), AllOf(HasSubstr(file.string()), HasSubstr(field), HasSubstr("truncated")))
        << "cut at " << cut;
  }
}

TEST(Gguf, TensorDataPastTheEndOfTheFileIsRefused) {
  GgufToWrite w;
  w.tensors = {{"blk.0.attn_q.weight", {64}, uint32_t(GgmlType::F32), std::vector<std::byte>(256)}};
  const std::vector<std::byte> full = encode_gguf(w);
  const fs::path file = write_file("gguf-past", {full.begin(), full.end() - 1});
  EXPECT_THAT(open_error(file), AllOf(HasSubstr(file.string()), HasSubstr("tensor 'blk.0.attn_q.weight'"),
                                      HasSubstr("runs past the end of the file")));
}

TEST(Gguf, UnknownMetadataValueTypeIsRefused) {
  GgufToWrite w;
  w.metadata = {{"general.name", gguf_string("x")}};
  std::vector<std::byte> bytes = encode_gguf(w);
  // magic, version, tensor count, kv count, then the key (8-byte length + 12 bytes), its type.
  const size_t type_at = 4 + 4 + 8 + 8 + 8 + std::string_view("general.name").size();
  const uint32_t bad = 13;
  std::memcpy(bytes.data() + type_at, &bad, 4);
  const fs::path file = write_file("gguf-type", bytes);
  EXPECT_THAT(open_error(file), AllOf(HasSubstr(file.string()), HasSubstr("metadata 'general.name'"),
                                      HasSubstr("unknown value type 13")));
}

TEST(Gguf, UnknownTensorTypeIsRefused) {
  GgufToWrite w;
  w.tensors = {{"t", {32}, 99, std::vector<std::byte>(64)}};
  const fs::path file = write_file("gguf-ttype", encode_gguf(w));
  EXPECT_THAT(open_error(file), AllOf(HasSubstr(file.string()), HasSubstr("tensor 't'"), HasSubstr("unknown ggml type 99")));
}

TEST(Gguf, RowsThatAreNotWholeBlocksAreRefused) {
  GgufToWrite w;
  w.tensors = {{"t", {48, 2}, uint32_t(GgmlType::Q8_0), std::vector<std::byte>(3 * 34)}};
  const fs::path file = write_file("gguf-blocks", encode_gguf(w));
  EXPECT_THAT(open_error(file), AllOf(HasSubstr("tensor 't'"), HasSubstr("not whole Q8_0 blocks")));
}

TEST(Gguf, AHugeArrayCountIsTruncationNotAnAllocation) {
  GgufToWrite w;
  w.metadata = {{"tokenizer.ggml.tokens", gguf_array(GgufValueType::String, {gguf_string("a")})}};
  std::vector<std::byte> bytes = encode_gguf(w);
  const size_t count_at = 4 + 4 + 8 + 8 + 8 + std::string_view("tokenizer.ggml.tokens").size() + 4 + 4;
  const uint64_t huge = uint64_t(1) << 60;
  std::memcpy(bytes.data() + count_at, &huge, 8);
  const fs::path file = write_file("gguf-count", bytes);
  EXPECT_THAT(open_error(file), AllOf(HasSubstr("metadata 'tokenizer.ggml.tokens' (array length)"), HasSubstr("truncated")));
}

// ---------------------------------------------------------------- dequantization

float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// Reference values, element by element, written from ggml-common.h's block structs and the
// meaning of each field (not from the loops of the implementation).
float ref_element(GgmlType type, const uint8_t* b, int i) {
  switch (type) {
    case GgmlType::Q4_0: {   // {d, qs[16]}; element i < 16: low nibble of qs[i], else high of qs[i-16]
      const int q = i < 16 ? b[2 + i] & 15 : b[2 + i - 16] >> 4;
      return float(q - 8) * f16_at(b);
    }
    case GgmlType::Q4_1: {   // {d, m, qs[16]}
      const int q = i < 16 ? b[4 + i] & 15 : b[4 + i - 16] >> 4;
      return float(q) * f16_at(b) + f16_at(b + 2);
    }
    case GgmlType::Q5_0: {   // {d, qh (u32: bit i = fifth bit of element i), qs[16]}
      const uint32_t qh = uint32_t(b[2]) | uint32_t(b[3]) << 8 | uint32_t(b[4]) << 16 | uint32_t(b[5]) << 24;
      const int q = (i < 16 ? b[6 + i] & 15 : b[6 + i - 16] >> 4) + int((qh >> i) & 1) * 16;
      return float(q - 16) * f16_at(b);
    }
    case GgmlType::Q5_1: {   // {d, m, qh, qs[16]}
      const uint32_t qh = uint32_t(b[4]) | uint32_t(b[5]) << 8 | uint32_t(b[6]) << 16 | uint32_t(b[7]) << 24;
      const int q = (i < 16 ? b[8 + i] & 15 : b[8 + i - 16] >> 4) + int((qh >> i) & 1) * 16;
      return float(q) * f16_at(b) + f16_at(b + 2);
    }
    case GgmlType::Q8_0:   // {d, int8 qs[32]}
      return float(int8_t(b[2 + i])) * f16_at(b);
    case GgmlType::Q2_K: {   // {scales[16], qs[64], d, dmin}; 2-bit planes of 32 per 128 elements
      const int half = i / 128, plane = (i % 128) / 32, pos = i % 32;
      const int q = (b[16 + 32 * half + pos] >> (2 * plane)) & 3;
      const uint8_t sc = b[i / 16];
      const float dl = f16_at(b + 80) * float(sc & 15), ml = f16_at(b + 82) * float(sc >> 4);
      return dl * float(q) - ml;
    }
    case GgmlType::Q3_K: {   // {hmask[32], qs[64], scales[12], d}
      const int half = i / 128, plane = (i % 128) / 32, pos = i % 32;
      const int low = (b[32 + 32 * half + pos] >> (2 * plane)) & 3;
      const bool high = (b[pos] >> (4 * half + plane)) & 1;
      // The 16 6-bit scales, unpacked the way ggml does it: four u32 words and two masks.
      uint32_t aux[4];
      std::memcpy(aux, b + 96, 12);
      const uint32_t tmp = aux[2], kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
      aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
      aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
      aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
      aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
      int8_t scales[16];
      std::memcpy(scales, aux, 16);
      const float dl = f16_at(b + 108) * float(scales[i / 16] - 32);
      return dl * float(low - (high ? 0 : 4));
    }
    case GgmlType::Q4_K:
    case GgmlType::Q5_K: {   // {d, dmin, scales[12], (qh[32],) qs[128]}
      const uint8_t* s = b + 4;
      const int g = i / 32;   // group of 32
      int sc, m;
      if (g < 4) {
        sc = s[g] & 63;
        m = s[g + 4] & 63;
      } else {
        sc = (s[g + 4] & 15) | (s[g - 4] >> 6) << 4;
        m = (s[g + 4] >> 4) | (s[g] >> 6) << 4;
      }
      const uint8_t* qs = b + (type == GgmlType::Q4_K ? 16 : 48);
      const int chunk = i / 64, pos = i % 32;
      int q = (g % 2 == 0) ? qs[32 * chunk + pos] & 15 : qs[32 * chunk + pos] >> 4;
      if (type == GgmlType::Q5_K) q += ((b[16 + pos] >> g) & 1) * 16;
      const float d1 = f16_at(b) * float(sc), m1 = f16_at(b + 2) * float(m);
      return d1 * float(q) - m1;
    }
    case GgmlType::Q6_K: {   // {ql[128], qh[64], int8 scales[16], d}
      const int n = i / 128, quarter = (i % 128) / 32, l = i % 32;
      const uint8_t lb = b[64 * n + l + (quarter % 2) * 32];
      const int low = quarter < 2 ? lb & 15 : lb >> 4;
      const int high = (b[128 + 32 * n + l] >> (2 * quarter)) & 3;
      const int8_t sc = int8_t(b[192 + i / 16]);
      return f16_at(b + 208) * float(sc) * float((low | high << 4) - 32);
    }
    default:
      ADD_FAILURE() << "no reference for " << ggml_type_name(uint32_t(type));
      return 0;
  }
}

// Where each type keeps its f16 scale fields (random bytes there could be NaN or huge).
std::vector<size_t> half_fields(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: return {0};
    case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K: return {0, 2};
    case GgmlType::Q2_K: return {80, 82};
    case GgmlType::Q3_K: return {108};
    case GgmlType::Q6_K: return {208};
    default: return {};
  }
}

std::vector<std::byte> random_blocks(GgmlType type, int blocks, uint32_t seed) {
  const GgmlBlock b = *ggml_block(uint32_t(type));
  std::mt19937 rng(seed);
  std::vector<std::byte> out(b.bytes * size_t(blocks));
  for (auto& x : out) x = std::byte(rng() & 0xff);
  std::uniform_real_distribution<float> scale(-2.0f, 2.0f);
  for (int k = 0; k < blocks; ++k)
    for (size_t off : half_fields(type)) {
      const uint16_t h = f32_to_f16(scale(rng));
      std::memcpy(out.data() + size_t(k) * b.bytes + off, &h, 2);
    }
  return out;
}

const GgmlType kQuantTypes[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                                GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

TEST(GgmlQuants, EachQuantTypeMatchesTheReferenceBitForBit) {
  for (GgmlType type : kQuantTypes) {
    const GgmlBlock b = *ggml_block(uint32_t(type));
    const int blocks = 6;
    const std::vector<std::byte> data = random_blocks(type, blocks, 1234 + uint32_t(type));
    std::vector<float> got(size_t(blocks * b.elements));
    dequantize_row(type, data.data(), got.data(), int64_t(got.size()));
    int mismatches = 0;
    for (int k = 0; k < blocks; ++k) {
      const auto* block = reinterpret_cast<const uint8_t*>(data.data()) + size_t(k) * b.bytes;
      for (int i = 0; i < b.elements; ++i) {
        const float want = ref_element(type, block, i);
        const float have = got[size_t(k * b.elements + i)];
        if (std::memcmp(&want, &have, 4) != 0 && mismatches++ < 3)
          ADD_FAILURE() << ggml_type_name(uint32_t(type)) << " block " << k << " element " << i << ": " << have
                        << " != " << want;
      }
    }
    EXPECT_EQ(mismatches, 0) << ggml_type_name(uint32_t(type));
  }
}

// tests/fixtures/gguf/quants.gguf (tests/fixtures/make_gguf_quants.py): each type next to what
// gguf-py's numpy dequantizers decode it to — a reference independent of this code.
TEST(GgmlQuants, EveryTypeMatchesGgufPyBitForBit) {
  const GgufFile g(test::fixtures_dir() / "gguf" / "quants.gguf");
  const char* types[] = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                         "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"};
  for (const char* name : types) {
    const GgufTensorInfo* t = g.find_tensor(name);
    const GgufTensorInfo* e = g.find_tensor(std::string(name) + ".expected");
    ASSERT_TRUE(t && e) << name;
    EXPECT_EQ(ggml_type_name(t->type), name);
    ASSERT_EQ(e->type, uint32_t(GgmlType::F32));
    ASSERT_EQ(t->dims, e->dims) << name;
    std::vector<float> got(size_t(t->numel()));
    dequantize_row(GgmlType(t->type), g.tensor_data(*t).data(), got.data(), t->numel());
    const auto want = g.tensor_data(*e);
    ASSERT_EQ(want.size(), got.size() * 4);
    int mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      float w;
      std::memcpy(&w, want.data() + 4 * i, 4);
      if (std::memcmp(&w, &got[i], 4) != 0 && mismatches++ < 3)
        ADD_FAILURE() << name << " element " << i << ": " << got[i] << " != " << w;
    }
    EXPECT_EQ(mismatches, 0) << name;
    // The quantized types were made from known data: the values must also be near it (a
    // decoder and a reference wrong the same way would not be).
    if (const GgufTensorInfo* s = g.find_tensor(std::string(name) + ".source")) {
      const auto src = g.tensor_data(*s);
      double max_err = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        float x;
        std::memcpy(&x, src.data() + 4 * i, 4);
        max_err = std::max(max_err, double(std::fabs(x - got[i])));
      }
      EXPECT_LT(max_err, 0.35) << name;   // 4-bit steps of ~3.5 / 15 at most
    }
  }
  // The F32 tensors the gguf-py writer put beside them read back as written.
  const GgufTensorInfo* src = g.find_tensor("Q8_0.source");
  ASSERT_NE(src, nullptr);
  EXPECT_EQ(src->dims, (std::vector<int64_t>{512, 3}));
}

TEST(GgmlQuants, HandMadeBlocksGiveTheirValues) {
  // Q4_0, d = 0.5: qs[0] = 0x3A -> element 0 is (10 - 8) * 0.5, element 16 (3 - 8) * 0.5.
  std::vector<std::byte> q4(18);
  const uint16_t half = f32_to_f16(0.5f);
  std::memcpy(q4.data(), &half, 2);
  q4[2] = std::byte(0x3A);
  std::vector<float> y(32);
  dequantize_row(GgmlType::Q4_0, q4.data(), y.data(), 32);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[16], -2.5f);
  EXPECT_EQ(y[1], -4.0f);   // nibble 0

  // Q6_K, d = 1, scale 0 = 3: element 0's quant is ql low nibble 5 | qh bits 2 << 4 = 37 -> 5.
  std::vector<std::byte> q6(210);
  const uint16_t one = f32_to_f16(1.0f);
  std::memcpy(q6.data() + 208, &one, 2);
  q6[0] = std::byte(0x05);
  q6[128] = std::byte(0x02);
  q6[192] = std::byte(3);
  std::vector<float> z(256);
  dequantize_row(GgmlType::Q6_K, q6.data(), z.data(), 256);
  EXPECT_EQ(z[0], 15.0f);   // 3 * (37 - 32)
  EXPECT_EQ(z[1], -96.0f);  // 3 * (0 - 32)

  // BF16 and F16 upcast exactly.
  const auto bf = bytes_of({0x80, 0x3f, 0x00, 0xc0});   // 1.0, -2.0
  std::vector<float> w(2);
  dequantize_row(GgmlType::BF16, bf.data(), w.data(), 2);
  EXPECT_EQ(w[0], 1.0f);
  EXPECT_EQ(w[1], -2.0f);
  const auto f16 = bytes_of({0x00, 0x3c, 0x00, 0xb8});   // 1.0, -0.5
  dequantize_row(GgmlType::F16, f16.data(), w.data(), 2);
  EXPECT_EQ(w[0], 1.0f);
  EXPECT_EQ(w[1], -0.5f);
}

TEST(GgmlQuants, TypeNamesAndSupport) {
  EXPECT_EQ(ggml_type_name(12), "Q4_K");
  EXPECT_EQ(ggml_type_name(5), "type 5");
  EXPECT_TRUE(ggml_can_dequantize(GgmlType::Q6_K));
  EXPECT_FALSE(ggml_can_dequantize(GgmlType::IQ2_XS));
  EXPECT_FALSE(ggml_block(5).has_value());
}

// ---------------------------------------------------------------- llama GGUF models

TEST(GgufWeights, HfNamesOfLlamaTensors) {
  EXPECT_EQ(hf_tensor_name("token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(hf_tensor_name("output_norm.weight"), "model.norm.weight");
  EXPECT_EQ(hf_tensor_name("output.weight"), "lm_head.weight");
  EXPECT_EQ(hf_tensor_name("blk.12.attn_q.weight"), "model.layers.12.self_attn.q_proj.weight");
  EXPECT_EQ(hf_tensor_name("blk.0.attn_output.weight"), "model.layers.0.self_attn.o_proj.weight");
  EXPECT_EQ(hf_tensor_name("blk.3.ffn_norm.weight"), "model.layers.3.post_attention_layernorm.weight");
  EXPECT_EQ(hf_tensor_name("blk.3.ffn_down.weight"), "model.layers.3.mlp.down_proj.weight");
  EXPECT_EQ(hf_tensor_name("blk.x.attn_q.weight"), std::nullopt);
  EXPECT_EQ(hf_tensor_name("blk.01.attn_q.weight"), std::nullopt);
  EXPECT_EQ(hf_tensor_name("blk.0.attn_q.bias"), std::nullopt);
  EXPECT_EQ(hf_tensor_name("rope_freqs.weight"), std::nullopt);
}

// A llama config whose rows are whole Q8_0 blocks: C=64, F=96, L=2, NH=4, NKV=2, HD=16, V=40.
nlohmann::json block_llama_config_json() {
  nlohmann::json cfg = test::tiny_llama_config_json();
  cfg["hidden_size"] = 64;
  cfg["intermediate_size"] = 96;
  cfg["vocab_size"] = 40;
  cfg["rope_theta"] = 50000.0;
  cfg["rms_norm_eps"] = 1e-5;
  return cfg;
}

std::string gguf_name_of(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  const std::pair<const char*, const char*> names[] = {
      {"input_layernorm.weight", "attn_norm.weight"}, {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},   {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},    {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"}};
  const int layer = std::stoi(hf.substr(std::string("model.layers.").size()));
  const std::string rest = hf.substr(hf.find('.', std::string("model.layers.").size()) + 1);
  for (auto [h, g] : names)
    if (rest == h) return fmt::format("blk.{}.{}", layer, g);
  ADD_FAILURE() << hf;
  return hf;
}

// llama.cpp's converter: w.reshape(n_head, 2, rows / n_head / 2, cols).swapaxes(1, 2): HF row
// (h, j, i) moves to (h, i, j).
std::vector<std::byte> permute_rows_like_llama_cpp(const std::vector<std::byte>& rows_bytes, int64_t rows,
                                                   int heads) {
  const size_t row_bytes = rows_bytes.size() / size_t(rows);
  const int64_t hd = rows / heads, half = hd / 2;
  std::vector<std::byte> out(rows_bytes.size());
  for (int h = 0; h < heads; ++h)
    for (int j = 0; j < 2; ++j)
      for (int64_t i = 0; i < half; ++i) {
        const int64_t from = h * hd + j * half + i, to = h * hd + i * 2 + j;
        std::memcpy(out.data() + size_t(to) * row_bytes, rows_bytes.data() + size_t(from) * row_bytes, row_bytes);
      }
  return out;
}

// Q8_0 as ggml's reference quantizer makes it: d = amax / 127 (as f16), q = round(x / d).
std::vector<std::byte> quantize_q8_0(const float* x, int64_t n) {
  std::vector<std::byte> out;
  for (int64_t k = 0; k < n; k += 32) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[k + i]));
    const float d = amax / 127.0f, id = d != 0 ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_f16(d);
    out.push_back(std::byte(h & 0xff));
    out.push_back(std::byte(h >> 8));
    for (int i = 0; i < 32; ++i) out.push_back(std::byte(int8_t(std::lround(x[k + i] * id))));
  }
  return out;
}

struct TinyGguf {
  fs::path file;
  ModelConfig cfg;
  std::vector<test::OwnedTensor> hf;   // the HF tensors the GGUF was made from
};

// No tokenizer: a model that is used through ids (DESIGN.md: ids need no tokenizer).
GgufToWrite llama_metadata(const ModelConfig& c) {
  GgufToWrite w;
  w.metadata = {{"general.architecture", gguf_string("llama")},
                {"llama.block_count", gguf_u32(uint32_t(c.num_layers))},
                {"llama.context_length", gguf_u32(uint32_t(c.max_position_embeddings))},
                {"llama.embedding_length", gguf_u32(uint32_t(c.hidden_size))},
                {"llama.feed_forward_length", gguf_u32(uint32_t(c.intermediate_size))},
                {"llama.attention.head_count", gguf_u32(uint32_t(c.num_heads))},
                {"llama.attention.head_count_kv", gguf_u32(uint32_t(c.num_kv_heads))},
                {"llama.attention.layer_norm_rms_epsilon", gguf_f32(float(c.rms_norm_eps))},
                {"llama.rope.freq_base", gguf_f32(float(c.rope_theta))},
                {"llama.rope.dimension_count", gguf_u32(uint32_t(c.head_dim))},
                {"tokenizer.ggml.bos_token_id", gguf_u32(0)},
                {"tokenizer.ggml.eos_token_id", gguf_u32(1)}};
  return w;
}

// The model as llama.cpp's converter would write it: GGUF names, dims reversed, q/k permuted;
// quantized to Q8_0 when `q8` (the expected values, in `hf`, are then the dequantized ones).
TinyGguf tiny_gguf(const char* tag, bool q8, const char* file_name = "model.gguf") {
  TinyGguf t;
  t.cfg = parse_model_config(block_llama_config_json(), "config.json");
  t.hf = test::random_llama_tensors(t.cfg, 11);
  GgufToWrite w = llama_metadata(t.cfg);
  for (test::OwnedTensor& h : t.hf) {
    const int64_t cols = h.shape.back(), rows = int64_t(h.bytes.size() / 4) / cols;
    std::vector<std::byte> bytes = h.bytes;
    uint32_t type = uint32_t(GgmlType::F32);
    if (q8 && h.shape.size() == 2) {
      bytes = quantize_q8_0(reinterpret_cast<const float*>(h.bytes.data()), rows * cols);
      type = uint32_t(GgmlType::Q8_0);
      std::vector<float> deq(size_t(rows * cols));
      for (int64_t r = 0; r < rows; ++r)   // reference values, block by block
        for (int64_t k = 0; k < cols; k += 32)
          for (int i = 0; i < 32; ++i)
            deq[size_t(r * cols + k + i)] =
                ref_element(GgmlType::Q8_0, reinterpret_cast<const uint8_t*>(bytes.data()) + (r * cols + k) / 32 * 34, i);
      std::memcpy(h.bytes.data(), deq.data(), h.bytes.size());
    }
    int heads = 0;
    if (h.name.ends_with("q_proj.weight")) heads = t.cfg.num_heads;
    if (h.name.ends_with("k_proj.weight")) heads = t.cfg.num_kv_heads;
    if (heads > 0) bytes = permute_rows_like_llama_cpp(bytes, rows, heads);
    std::vector<int64_t> dims(h.shape.rbegin(), h.shape.rend());
    w.tensors.push_back({gguf_name_of(h.name), dims, type, std::move(bytes)});
  }
  t.file = write_file(tag, encode_gguf(w), file_name);
  return t;
}

// The tiny model's file as a GgufToWrite again, for tests that change a tensor of it.
GgufToWrite rewritable(const TinyGguf& t) {
  const GgufFile g(t.file);
  GgufToWrite w = llama_metadata(t.cfg);
  for (const GgufTensorInfo& ti : g.tensors()) {
    const auto data = g.tensor_data(ti);
    w.tensors.push_back({ti.name, ti.dims, ti.type, {data.begin(), data.end()}});
  }
  return w;
}

TEST(GgufWeights, ConfigComesFromLlamaMetadata) {
  const TinyGguf t = tiny_gguf("gguf-cfg", false);
  const ModelConfig c = load_model_config(t.file);
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 96);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.vocab_size, 40);
  EXPECT_EQ(c.max_position_embeddings, 64);
  EXPECT_EQ(c.rms_norm_eps, double(1e-5f));
  EXPECT_EQ(c.rope_theta, 50000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 0);
  EXPECT_EQ(c.eos_token_ids, std::vector<int32_t>{1});
  // A directory holding the file (and no config.json) names the same model.
  EXPECT_EQ(load_model_config(t.file.parent_path()).num_layers, 2);
}

TEST(GgufWeights, F32TensorsMatchTheHfCheckpointExactlyWithQkUnpermuted) {
  const TinyGguf t = tiny_gguf("gguf-f32", false);
  const Weights w = Weights::load(t.file, load_model_config(t.file));
  EXPECT_EQ(w.files(), std::vector<fs::path>{t.file});
  for (const test::OwnedTensor& h : t.hf) {
    const TensorView& v = w.get(h.name);
    EXPECT_EQ(v.shape, h.shape) << h.name;
    std::vector<float> got(size_t(v.numel()));
    v.to_f32(got.data());
    EXPECT_EQ(std::memcmp(got.data(), h.bytes.data(), h.bytes.size()), 0) << h.name;
  }
}

TEST(GgufWeights, Q8_0TensorsDequantizeToTheReferenceWithQkUnpermuted) {
  const TinyGguf t = tiny_gguf("gguf-q8", true);
  const Weights w = Weights::load(t.file, load_model_config(t.file));
  for (const test::OwnedTensor& h : t.hf) {
    const TensorView& v = w.get(h.name);
    EXPECT_EQ(v.dtype, DType::F32);
    ASSERT_EQ(v.nbytes, h.bytes.size()) << h.name;
    EXPECT_EQ(std::memcmp(v.data, h.bytes.data(), h.bytes.size()), 0) << h.name;
  }
  // And into bf16 for a GPU arena: each value rounded once.
  const Weights b = Weights::load(t.file, load_model_config(t.file), DType::BF16);
  const TensorView& q = b.get("model.layers.1.self_attn.q_proj.weight");
  EXPECT_EQ(q.dtype, DType::BF16);
  const auto& ref = *std::find_if(t.hf.begin(), t.hf.end(), [](auto& h) { return h.name == "model.layers.1.self_attn.q_proj.weight"; });
  for (int64_t i = 0; i < q.numel(); ++i) {
    float f;
    std::memcpy(&f, ref.bytes.data() + i * 4, 4);
    ASSERT_EQ(q.at(i), bf16_to_f32(f32_to_bf16(f))) << i;
  }
}

// F16 matrices: those that need no row permutation are read in place (F16 views into the
// mapping), q/k are decoded and un-permuted; both give the f16 values of the HF tensors.
TEST(GgufWeights, F16TensorsAreReadInPlaceOrUnpermuted) {
  const TinyGguf t = tiny_gguf("gguf-f16", false);
  GgufToWrite w = rewritable(t);
  for (GgufTensorToWrite& ti : w.tensors) {
    if (ti.dims.size() != 2) continue;
    std::vector<std::byte> half(ti.bytes.size() / 2);
    for (size_t i = 0; i < ti.bytes.size() / 4; ++i) {
      float f;
      std::memcpy(&f, ti.bytes.data() + 4 * i, 4);
      const uint16_t h = f32_to_f16(f);
      std::memcpy(half.data() + 2 * i, &h, 2);
    }
    ti.bytes = std::move(half);
    ti.type = uint32_t(GgmlType::F16);
  }
  const fs::path file = write_file("gguf-f16b", encode_gguf(w));
  const Weights weights = Weights::load(file, load_model_config(file));
  for (const test::OwnedTensor& h : t.hf) {
    const TensorView& v = weights.get(h.name);
    const bool qk = h.name.ends_with("q_proj.weight") || h.name.ends_with("k_proj.weight");
    if (h.shape.size() == 2) EXPECT_EQ(v.dtype, qk ? DType::F32 : DType::F16) << h.name;
    std::vector<float> got(size_t(v.numel()));
    v.to_f32(got.data());
    for (size_t i = 0; i < got.size(); ++i) {
      float f;
      std::memcpy(&f, h.bytes.data() + 4 * i, 4);
      const float want = h.shape.size() == 2 ? f16_to_f32(f32_to_f16(f)) : f;
      ASSERT_EQ(got[i], want) << h.name << " " << i;
    }
  }
}

TEST(GgufWeights, ATensorWithNoLlamaCounterpartIsNamed) {
  GgufToWrite w = rewritable(tiny_gguf("gguf-extra", false));
  w.tensors.push_back({"blk.0.attn_q.bias", {64}, uint32_t(GgmlType::F32), std::vector<std::byte>(256)});
  const fs::path file = write_file("gguf-extra2", encode_gguf(w));
  EXPECT_THAT(test::model_file_error([&] { Weights::load(file, load_model_config(file)); }),
              AllOf(HasSubstr(file.string()), HasSubstr("tensor 'blk.0.attn_q.bias'"),
                    HasSubstr("no LlamaForCausalLM tensor")));
}

TEST(GgufWeights, TheSameModelScoresTheSameAsSafetensorsAndGguf) {
  const TinyGguf t = tiny_gguf("gguf-e2e", false);
  const fs::path dir = test::make_temp_dir("gguf-e2e-hf");
  test::write_text(dir / "config.json", block_llama_config_json().dump());
  test::write_safetensors_checkpoint(dir, t.hf);
  LoadedModel a = open_model(dir, {});
  LoadedModel b = open_model(t.file, {});
  const std::vector<LoglikelihoodRequest> req = {{{0, 5, 7, 3, 9, 12}, {{4, 8, 2}, {30}}}};
  const auto ra = a.engine->loglikelihood(req), rb = b.engine->loglikelihood(req);
  ASSERT_EQ(ra[0].scores.size(), 2u);
  for (size_t c = 0; c < 2; ++c) EXPECT_EQ(ra[0].scores[c].logprobs, rb[0].scores[c].logprobs) << c;
}

TEST(GgufWeights, TheWeightsDigestCoversTheGgufFile) {
  const TinyGguf t = tiny_gguf("gguf-digest", false);
  Store store(t.file.parent_path() / "runs.db");
  // The file itself and the directory holding it name the same weights.
  EXPECT_EQ(weight_files(t.file), std::vector<fs::path>{t.file});
  EXPECT_EQ(weight_files(t.file.parent_path()), std::vector<fs::path>{t.file});
  const std::string digest = weights_digest(store, t.file);
  EXPECT_EQ(digest, sha256_hex(fmt::format("model.gguf {}\n", sha256_file(t.file))));
  EXPECT_EQ(weights_digest(store, t.file.parent_path()), digest);

  // One metadata byte changed (the file's size and the tensors stay): another digest.
  const TinyGguf u = tiny_gguf("gguf-digest2", false);
  EXPECT_EQ(sha256_file(u.file), sha256_file(t.file));   // the same model, written again
  std::vector<char> bytes;
  {
    std::ifstream in(u.file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const std::string key = "llama.context_length";
  auto it = std::search(bytes.begin(), bytes.end(), key.begin(), key.end());
  ASSERT_NE(it, bytes.end());
  it[long(key.size()) + 4] ^= 1;   // the u32 value after the value type
  std::ofstream(u.file, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
  Store store2(u.file.parent_path() / "runs.db");
  EXPECT_NE(weights_digest(store2, u.file), digest);
}

TEST(GgufWeights, UnsupportedQuantTypeNamesTheTensorAndTheType) {
  // The same tensors, one of them as IQ2_XS (a type this engine does not dequantize).
  GgufToWrite w = rewritable(tiny_gguf("gguf-iq", false));
  for (auto& ti : w.tensors)
    if (ti.name == "blk.1.ffn_up.weight") {
      ti.dims = {256, 24};   // the type needs 256-element rows; the shape check never runs
      ti.type = uint32_t(GgmlType::IQ2_XS);
      ti.bytes.assign(24 * 74, std::byte(0));
    }
  const fs::path file = write_file("gguf-iq2", encode_gguf(w));
  EXPECT_THAT(test::model_file_error([&] { Weights::load(file, load_model_config(file)); }),
              AllOf(HasSubstr(file.string()), HasSubstr("tensor 'blk.1.ffn_up.weight'"),
                    HasSubstr("type IQ2_XS is not supported")));
}

TEST(GgufWeights, UnsupportedArchitectureIsRefused) {
  GgufToWrite w = llama_metadata(parse_model_config(block_llama_config_json(), "config.json"));
  w.metadata[0].second = gguf_string("qwen2");
  const fs::path file = write_file("gguf-arch", encode_gguf(w));
  EXPECT_THAT(test::model_file_error([&] { load_model_config(file); }),
              AllOf(HasSubstr(file.string()), HasSubstr("general.architecture"), HasSubstr("qwen2")));
}

TEST(GgufWeights, AMissingKeyIsNamed) {
  GgufToWrite w = llama_metadata(parse_model_config(block_llama_config_json(), "config.json"));
  std::erase_if(w.metadata, [](auto& kv) { return kv.first == "llama.feed_forward_length"; });
  const fs::path file = write_file("gguf-key", encode_gguf(w));
  EXPECT_THAT(test::model_file_error([&] { load_model_config(file); }),
              AllOf(HasSubstr(file.string()), HasSubstr("llama.feed_forward_length"), HasSubstr("missing")));
}

TEST(GgufWeights, ADirectoryWithSeveralGgufFilesIsAmbiguous) {
  const TinyGguf t = tiny_gguf("gguf-two", false);
  fs::copy_file(t.file, t.file.parent_path() / "other.gguf");
  EXPECT_THAT(test::model_file_error([&] { load_model_config(t.file.parent_path()); }),
              AllOf(HasSubstr("several GGUF files"), HasSubstr("model.gguf"), HasSubstr("other.gguf")));
}

// ---------------------------------------------------------------- the tokenizer in the metadata

fs::path deepseek_reference_dir() { return test::shared_dir() / "reference" / "tokenizer"; }

// DeepSeek LLM's vocabulary as llama.cpp's converter writes it (tokens by id; the 100,000 BPE
// tokens NORMAL, BOS/EOS CONTROL, the 13 added characters USER_DEFINED; merges; pre
// "deepseek-llm"), taken from the HF tokenizer.json in shared/, plus a chat template.
GgufToWrite deepseek_vocab_gguf(const std::string& pre = "deepseek-llm") {
  const nlohmann::json tj = read_json(deepseek_reference_dir() / "tokenizer.json");
  std::vector<std::string> text(100015);
  std::vector<int> type(text.size(), 1);
  for (const auto& [token, id] : tj.at("model").at("vocab").items()) text.at(id.get<size_t>()) = token;
  for (const auto& t : tj.at("added_tokens")) {
    text.at(t.at("id").get<size_t>()) = t.at("content");
    type.at(t.at("id").get<size_t>()) = t.at("special").get<bool>() ? 3 : 4;
  }
  std::vector<GgufValue> tokens, types, merges;
  for (size_t i = 0; i < text.size(); ++i) {
    tokens.push_back(gguf_string(text[i]));
    types.push_back(gguf_i32(type[i]));
  }
  for (const auto& m : tj.at("model").at("merges")) merges.push_back(gguf_string(m.get<std::string>()));
  GgufToWrite w;
  w.metadata = {{"general.architecture", gguf_string("llama")},
                {"tokenizer.ggml.model", gguf_string("gpt2")},
                {"tokenizer.ggml.pre", gguf_string(pre)},
                {"tokenizer.ggml.tokens", gguf_array(GgufValueType::String, std::move(tokens))},
                {"tokenizer.ggml.token_type", gguf_array(GgufValueType::Int32, std::move(types))},
                {"tokenizer.ggml.merges", gguf_array(GgufValueType::String, std::move(merges))},
                {"tokenizer.ggml.bos_token_id", gguf_u32(100000)},
                {"tokenizer.ggml.eos_token_id", gguf_u32(100001)},
                {"tokenizer.ggml.add_bos_token", gguf_bool(true)},
                {"tokenizer.chat_template", gguf_string("{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}")}};
  return w;
}

TEST(GgufTokenizer, DeepseekVocabEncodesAsHfDoes) {
  const fs::path file = write_file("gguf-tok-deepseek", encode_gguf(deepseek_vocab_gguf()));
  ASSERT_TRUE(Tokenizer::present_in(file));
  const Tokenizer tok = Tokenizer::from_file(file);
  EXPECT_EQ(tok.vocab_size(), 100015);
  EXPECT_EQ(tok.bos_id(), 100000);
  EXPECT_EQ(tok.eos_id(), 100001);
  EXPECT_EQ(tok.bos_token(), "<\uFF5Cbegin\u2581of\u2581sentence\uFF5C>");
  EXPECT_EQ(tok.token_to_id("\u00FC"), 100014);   // a USER_DEFINED token: an added token, not byte 0xFC
  // The 46 llama.cpp test strings, with the ids HF transformers gives them.
  const nlohmann::json cases = read_json(deepseek_reference_dir() / "hf_ground_truth_vectors.json").at("cases");
  ASSERT_EQ(cases.size(), 46u);
  for (const auto& c : cases) {
    const std::string text = c.at("text");
    EXPECT_EQ(tok.encode(text), c.at("ids").get<std::vector<int32_t>>()) << text;
    EXPECT_EQ(tok.decode(tok.encode(text)), text);
  }
  // And the first public golden texts (HumanEval, GSM8K, MATH, CMMLU, Unicode).
  const std::vector<nlohmann::json> golden = read_jsonl(deepseek_reference_dir() / "golden_public.jsonl.gz");
  for (size_t i = 0; i < golden.size(); i += 20)
    EXPECT_EQ(tok.encode(golden[i].at("text").get<std::string>()), golden[i].at("ids").get<std::vector<int32_t>>())
        << "golden line " << i;
}

TEST(GgufTokenizer, SpecialTokensAndTheChatTemplateComeFromTheMetadata) {
  const fs::path file = write_file("gguf-tok-meta", encode_gguf(deepseek_vocab_gguf()));
  const GgufFile g(file);
  const std::optional<GgufTokenizerFiles> f = gguf_tokenizer_files(g);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->config.at("bos_token"), "<\uFF5Cbegin\u2581of\u2581sentence\uFF5C>");
  EXPECT_EQ(f->config.at("eos_token"), "<\uFF5Cend\u2581of\u2581sentence\uFF5C>");
  EXPECT_EQ(f->config.at("add_bos_token"), true);
  EXPECT_FALSE(f->config.contains("pad_token"));
  EXPECT_EQ(f->tokenizer.at("added_tokens").size(), 15u);
  EXPECT_EQ(f->tokenizer.at("model").at("vocab").size(), 100000u);
  EXPECT_EQ(gguf_chat_template(g), "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}");
  EXPECT_EQ(f->config.at("chat_template"), *gguf_chat_template(g));
  // A GGUF without the keys has no template and no tokenizer.
  const fs::path none = write_file("gguf-tok-none", encode_gguf(llama_metadata(parse_model_config(
                                                      block_llama_config_json(), "config.json"))));
  EXPECT_EQ(gguf_chat_template(GgufFile(none)), std::nullopt);
  EXPECT_EQ(gguf_tokenizer_files(GgufFile(none)), std::nullopt);
  EXPECT_FALSE(Tokenizer::present_in(none));
}

TEST(GgufTokenizer, TheTokenizerDigestIsOfTheTokenizerMetadata) {
  const fs::path file = write_file("gguf-tok-digest", encode_gguf(deepseek_vocab_gguf()));
  Store store(file.parent_path() / "runs.db");
  const std::string digest = tokenizer_digest(store, file);
  const GgufTokenizerFiles f = *gguf_tokenizer_files(GgufFile(file));
  EXPECT_EQ(digest, sha256_hex(f.tokenizer.dump() + "\n" + f.config.dump()));
  EXPECT_EQ(tokenizer_digest(store, file.parent_path()), digest);
  GgufToWrite w = deepseek_vocab_gguf();
  for (auto& [key, v] : w.metadata)
    if (key == "tokenizer.chat_template") v = gguf_string("{{ messages[0]['content'] }}");
  const fs::path other = write_file("gguf-tok-digest2", encode_gguf(w));
  EXPECT_NE(tokenizer_digest(store, other), digest);
  const TinyGguf t = tiny_gguf("gguf-tok-digest3", false);   // no tokenizer in it
  EXPECT_EQ(tokenizer_digest(store, t.file), "");
}

TEST(GgufTokenizer, EachKnownPreTokenizerName) {
  for (const char* pre : {"default", "gpt-2", "smollm", "deepseek-llm", "llama-bpe", "qwen2"})
    EXPECT_TRUE(gguf_known_pre_tokenizer(pre)) << pre;
  EXPECT_FALSE(gguf_known_pre_tokenizer("falcon"));
}

TEST(GgufTokenizer, AnUnknownPreTokenizerIsNamed) {
  const fs::path file = write_file("gguf-tok-pre", encode_gguf(deepseek_vocab_gguf("falcon")));
  EXPECT_THAT(test::model_file_error([&] { Tokenizer::from_file(file); }),
              AllOf(HasSubstr(file.string()), HasSubstr("tokenizer.ggml.pre"), HasSubstr("\"falcon\"")));
}

TEST(GgufTokenizer, SentencePieceIsRefusedByName) {
  GgufToWrite w = deepseek_vocab_gguf();
  for (auto& [key, v] : w.metadata)
    if (key == "tokenizer.ggml.model") v = gguf_string("llama");
  const fs::path file = write_file("gguf-tok-spm", encode_gguf(w));
  EXPECT_THAT(test::model_file_error([&] { Tokenizer::from_file(file); }),
              AllOf(HasSubstr(file.string()), HasSubstr("tokenizer.ggml.model"), HasSubstr("SentencePiece")));
}

TEST(GgufTokenizer, ASpecialTokenIdOutsideTheTokensIsNamed) {
  GgufToWrite w = deepseek_vocab_gguf();
  for (auto& [key, v] : w.metadata)
    if (key == "tokenizer.ggml.eos_token_id") v = gguf_u32(200000);
  const fs::path file = write_file("gguf-tok-eos", encode_gguf(w));
  EXPECT_THAT(test::model_file_error([&] { Tokenizer::from_file(file); }),
              AllOf(HasSubstr(file.string()), HasSubstr("tokenizer.ggml.eos_token_id"), HasSubstr("200000")));
}

TEST(GgufCli, ScoreAndTokenizeTakeAGgufFileOrItsDirectory) {
  const TinyGguf t = tiny_gguf("gguf-cli", false);
  const fs::path dir = test::make_temp_dir("gguf-cli-hf");
  test::write_text(dir / "config.json", block_llama_config_json().dump());
  test::write_safetensors_checkpoint(dir, t.hf);
  const fs::path input = dir / "score.jsonl";
  test::write_text(input, R"({"context_ids": [0, 5, 7], "continuation_ids": [4, 8, 2]})" "\n");
  const test::CliResult hf = test::run_cli({"score", "--model", dir.string(), "--input", input.string()});
  ASSERT_EQ(hf.code, 0) << hf.err;
  for (const fs::path& model : {t.file, t.file.parent_path()}) {
    const test::CliResult g = test::run_cli({"score", "--model", model.string(), "--input", input.string()});
    ASSERT_EQ(g.code, 0) << g.err;
    EXPECT_EQ(g.out, hf.out) << model;
  }

  const fs::path vocab = write_file("gguf-cli-tok", encode_gguf(deepseek_vocab_gguf()));
  const fs::path text = dir / "tokenize.jsonl";
  test::write_text(text, R"({"text": "Hello, 世界 123"})" "\n");
  const test::CliResult a = test::run_cli({"tokenize", "--tokenizer", vocab.string(), "--input", text.string()});
  const test::CliResult b =
      test::run_cli({"tokenize", "--tokenizer", deepseek_reference_dir().string(), "--input", text.string()});
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
}

// A small random llama (C=32, one layer) with DeepSeek's vocabulary, quantized to Q8_0 as a
// GGUF: `yardstick run` takes the file, and the run record names it and its digests.
TEST(GgufCli, RunOfAGgufModelRecordsTheFileAndItsDigests) {
  const fs::path data = test::shared_dir() / "datasets";
  GgufToWrite w = deepseek_vocab_gguf();
  const int64_t C = 32, F = 64, V = 100015;
  const std::pair<const char*, uint32_t> hparams[] = {
      {"llama.block_count", 1},        {"llama.context_length", 2048},     {"llama.embedding_length", C},
      {"llama.feed_forward_length", F}, {"llama.attention.head_count", 2}, {"llama.attention.head_count_kv", 1}};
  for (auto [key, v] : hparams) w.metadata.push_back({key, gguf_u32(v)});
  w.metadata.push_back({"llama.attention.layer_norm_rms_epsilon", gguf_f32(1e-6f)});
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  auto matrix = [&](const char* name, int64_t rows, int64_t cols) {
    std::vector<float> x(size_t(rows * cols));
    for (float& v : x) v = normal(rng);
    w.tensors.push_back({name, {cols, rows}, uint32_t(GgmlType::Q8_0), quantize_q8_0(x.data(), rows * cols)});
  };
  auto ones = [&](const char* name) {
    const float one = 1.0f;
    std::vector<std::byte> b(size_t(C) * 4);
    for (int64_t i = 0; i < C; ++i) std::memcpy(b.data() + 4 * i, &one, 4);
    w.tensors.push_back({name, {C}, uint32_t(GgmlType::F32), std::move(b)});
  };
  matrix("token_embd.weight", V, C);
  ones("output_norm.weight");
  ones("blk.0.attn_norm.weight");
  ones("blk.0.ffn_norm.weight");
  matrix("blk.0.attn_q.weight", C, C);
  matrix("blk.0.attn_k.weight", C / 2, C);
  matrix("blk.0.attn_v.weight", C / 2, C);
  matrix("blk.0.attn_output.weight", C, C);
  matrix("blk.0.ffn_gate.weight", F, C);
  matrix("blk.0.ffn_up.weight", F, C);
  matrix("blk.0.ffn_down.weight", C, F);
  const fs::path file = write_file("gguf-run", encode_gguf(w), "tiny-deepseek.gguf");
  const fs::path db = file.parent_path() / "runs.db";

  const test::CliResult r = test::run_cli({"run", "--model", file.string(), "--tasks", "gsm8k", "--limit", "1",
                                           "--max-new-tokens", "4", "--db", db.string(), "--data-dir", data.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  Store store(file.parent_path() / "digests.db");
  const std::string weights = sha256_hex(fmt::format("tiny-deepseek.gguf {}\n", sha256_file(file)));
  EXPECT_EQ(test::query_int(db, fmt::format("select count(*) from models where name = 'tiny-deepseek' and path = '{}' "
                                            "and weights_digest = '{}' and tokenizer_digest = '{}'",
                                            fs::canonical(file).string(), weights, tokenizer_digest(store, file))),
            1);
  EXPECT_EQ(test::query_int(db, "select count(*) from samples"), 1);
}

}  // namespace
}  // namespace yardstick
