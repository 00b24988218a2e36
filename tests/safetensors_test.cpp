// The safetensors reader and writer: round trips, and every way a file can be broken.
#include "engine/safetensors.h"

#include <cstring>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/error.h"
#include "tests/error_message.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

template <class T>
std::span<const std::byte> as_bytes(const std::vector<T>& v) {
  return std::as_bytes(std::span(v));
}

// A file with the given header text and data bytes, laid out as safetensors.
void write_raw(const fs::path& file, const std::string& header, const std::string& data,
               uint64_t declared_len = UINT64_MAX) {
  const uint64_t len = declared_len == UINT64_MAX ? header.size() : declared_len;
  std::ofstream out(file, std::ios::binary);
  for (int i = 0; i < 8; ++i) out.put(char(len >> (8 * i) & 0xff));
  out << header << data;
}

// The message of the ModelFileError that opening file throws ("" if none).
std::string open_error(const fs::path& file) {
  return test::model_file_error([&] { SafetensorsFile f(file); });
}

TEST(Safetensors, RoundTripKeepsDtypeShapeBytesAndMetadata) {
  const fs::path file = test::make_temp_dir("st-roundtrip") / "m.safetensors";
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -1e-3f};
  const std::vector<uint16_t> b = {f32_to_bf16(1.0f), f32_to_bf16(-0.5f)};
  const std::vector<uint16_t> c = {f32_to_f16(2.0f), f32_to_f16(0.25f), f32_to_f16(-8.0f)};
  write_safetensors(file,
                    {{"a", DType::F32, {2, 3}, as_bytes(a)},
                     {"b.weight", DType::BF16, {2}, as_bytes(b)},
                     {"c", DType::F16, {3, 1}, as_bytes(c)}},
                    {{"format", "pt"}});
  const SafetensorsFile f(file);
  EXPECT_EQ(f.path(), file);
  EXPECT_THAT(f.metadata(), ElementsAre(std::pair<const std::string, std::string>("format", "pt")));
  ASSERT_EQ(f.tensors().size(), 3u);
  const TensorView& ta = f.tensors()[0];
  EXPECT_EQ(ta.name, "a");
  EXPECT_EQ(ta.dtype, DType::F32);
  EXPECT_THAT(ta.shape, ElementsAre(2, 3));
  ASSERT_EQ(ta.nbytes, 24u);
  EXPECT_EQ(std::memcmp(ta.data, a.data(), 24), 0);
  const TensorView& tb = f.tensors()[1];
  EXPECT_EQ(tb.name, "b.weight");
  EXPECT_EQ(tb.dtype, DType::BF16);
  EXPECT_FLOAT_EQ(tb.at(1), -0.5f);
  const TensorView& tc = f.tensors()[2];
  EXPECT_EQ(tc.dtype, DType::F16);
  EXPECT_THAT(tc.shape, ElementsAre(3, 1));
  EXPECT_FLOAT_EQ(tc.at(2), -8.0f);
}

TEST(Safetensors, WriterPadsHeaderSoDataIsEightByteAligned) {
  const fs::path file = test::make_temp_dir("st-align") / "m.safetensors";
  const std::vector<float> a = {1, 2, 3};
  write_safetensors(file, {{"odd_name_x", DType::F32, {3}, as_bytes(a)}});
  const SafetensorsFile f(file);
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.tensors()[0].data) % 8, 0u);
}

TEST(Safetensors, WriterLeavesNoTempFiles) {
  const fs::path dir = test::make_temp_dir("st-atomic");
  const std::vector<float> a = {1, 2};
  write_safetensors(dir / "m.safetensors", {{"a", DType::F32, {2}, as_bytes(a)}});
  write_safetensors(dir / "m.safetensors", {{"a", DType::F32, {1}, as_bytes(a).first(4)}});
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  EXPECT_THAT(names, ElementsAre("m.safetensors"));
  EXPECT_THAT(SafetensorsFile(dir / "m.safetensors").tensors()[0].shape, ElementsAre(1));
}

TEST(Safetensors, WriterRefusesBytesThatDontMatchTheShape) {
  const fs::path dir = test::make_temp_dir("st-badwrite");
  const std::vector<float> a = {1, 2, 3};
  EXPECT_THROW(write_safetensors(dir / "m.safetensors", {{"a", DType::F32, {2, 2}, as_bytes(a)}}),
               Error);
  EXPECT_THROW(write_safetensors(dir / "m.safetensors", {{"a", DType::F32, {3}, as_bytes(a)},
                                                         {"a", DType::F32, {3}, as_bytes(a)}}),
               Error);
  EXPECT_FALSE(fs::exists(dir / "m.safetensors"));
}

TEST(Safetensors, EmptyAndZeroSizedTensorsAreFine) {
  const fs::path dir = test::make_temp_dir("st-empty");
  write_safetensors(dir / "none.safetensors", {});
  EXPECT_TRUE(SafetensorsFile(dir / "none.safetensors").tensors().empty());
  write_safetensors(dir / "zero.safetensors", {{"z", DType::BF16, {0, 4}, {}}});
  const SafetensorsFile f(dir / "zero.safetensors");
  ASSERT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensors()[0].numel(), 0);
}

TEST(Safetensors, TruncatedFileNamesFileAndTensor) {
  const fs::path file = test::make_temp_dir("st-trunc") / "m.safetensors";
  const std::vector<float> a(16, 1.0f), b(16, 2.0f);
  write_safetensors(file, {{"first", DType::F32, {16}, as_bytes(a)},
                           {"second", DType::F32, {4, 4}, as_bytes(b)}});
  fs::resize_file(file, fs::file_size(file) - 10);
  const std::string err = open_error(file);
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("'second'"));
  EXPECT_THAT(err, HasSubstr("truncated"));
}

TEST(Safetensors, FileShorterThanTheLengthFieldIsRefused) {
  const fs::path file = test::make_temp_dir("st-short") / "m.safetensors";
  std::ofstream(file, std::ios::binary) << "abc";
  EXPECT_THAT(open_error(file), HasSubstr("too short"));
  EXPECT_THAT(open_error(file), HasSubstr(file.string()));
}

TEST(Safetensors, HeaderLengthBeyondTheFileIsRefused) {
  const fs::path file = test::make_temp_dir("st-hlen") / "m.safetensors";
  write_raw(file, "{}", "", 1000);
  EXPECT_THAT(open_error(file), HasSubstr("header length 1000 exceeds the file size"));
  write_raw(file, "{}", "", uint64_t(1) << 60);
  EXPECT_THAT(open_error(file), HasSubstr("implausible"));
}

TEST(Safetensors, CorruptHeaderJsonIsRefused) {
  const fs::path file = test::make_temp_dir("st-json") / "m.safetensors";
  write_raw(file, R"({"a": {"dtype": "F32", "sha)", "");
  EXPECT_THAT(open_error(file), HasSubstr("corrupt header"));
  write_raw(file, "[1, 2]", "");
  EXPECT_THAT(open_error(file), HasSubstr("not a JSON object"));
  write_raw(file, R"({"a": {"dtype": "F32", "shape": [1]}})", "abcd");
  EXPECT_THAT(open_error(file), HasSubstr("'a': header entry has no data_offsets"));
  write_raw(file, R"({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", "abcd");
  EXPECT_THAT(open_error(file), HasSubstr("'a': bad shape"));
}

TEST(Safetensors, OffsetsInconsistentWithShapeAreRefused) {
  const fs::path file = test::make_temp_dir("st-size") / "m.safetensors";
  write_raw(file, R"({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}})",
            std::string(12, 'x'));
  const std::string err = open_error(file);
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("'w'"));
  EXPECT_THAT(err, HasSubstr("hold 12 bytes but dtype F32 and shape [2,2] need 16"));
}

TEST(Safetensors, OffsetsEndingBeforeTheyBeginAreRefused) {
  const fs::path file = test::make_temp_dir("st-rev") / "m.safetensors";
  write_raw(file, R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})",
            std::string(8, 'x'));
  EXPECT_THAT(open_error(file), HasSubstr("'w': bad data_offsets [8, 4]"));
}

TEST(Safetensors, OverlappingOrGappedTensorsAreRefused) {
  const fs::path file = test::make_temp_dir("st-overlap") / "m.safetensors";
  write_raw(file,
            R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
            std::string(12, 'x'));
  EXPECT_THAT(open_error(file), HasSubstr("'b': bad data_offsets [4, 12]"));
  EXPECT_THAT(open_error(file), HasSubstr("overlap"));
  write_raw(file,
            R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}})",
            std::string(16, 'x'));
  EXPECT_THAT(open_error(file), HasSubstr("gap"));
}

TEST(Safetensors, BytesBeyondTheLastTensorAreRefused) {
  const fs::path file = test::make_temp_dir("st-trail") / "m.safetensors";
  write_raw(file, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
            std::string(9, 'x'));
  EXPECT_THAT(open_error(file), HasSubstr("5 bytes after the last tensor"));
}

TEST(Safetensors, UnsupportedDtypesAreNamed) {
  const fs::path file = test::make_temp_dir("st-dtype") / "m.safetensors";
  write_raw(file, R"({"ids": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}})",
            std::string(8, 'x'));
  EXPECT_THAT(open_error(file), HasSubstr("'ids': unsupported dtype I64"));
  write_raw(file, R"({"ids": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 8]}})",
            std::string(8, 'x'));
  EXPECT_THAT(open_error(file), HasSubstr("'ids': unknown dtype 'Q4'"));
}

TEST(Safetensors, MissingFileNamesIt) {
  const fs::path file = test::make_temp_dir("st-missing") / "nope.safetensors";
  EXPECT_THAT(open_error(file), HasSubstr(file.string()));
}

}  // namespace
}  // namespace yardstick
