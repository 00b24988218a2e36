// The PyTorch .bin reader: zip + pickle archives built byte by byte as torch.save writes them, the
// real torch-saved fixtures, and broken copies of both.
#include "engine/torch_checkpoint.h"

#include <cstring>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/checkpoint_writer.h"
#include "tests/error_message.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

fs::path write_archive(const char* tag, const std::string& bytes) {
  const fs::path file = test::make_temp_dir(tag) / "pytorch_model.bin";
  test::write_text(file, bytes);
  return file;
}

// The message of the ModelFileError that opening file throws ("" if none).
std::string open_error(const fs::path& file) {
  return test::model_file_error([&] { TorchCheckpoint c(file); });
}

std::vector<float> values(const TensorView& t) {
  std::vector<float> out(size_t(t.numel()));
  t.to_f32(out.data());
  return out;
}

// Two storages: a 2x3 f32 matrix and three bf16 values.
const std::vector<float> kMatrix = {1, 2, 3, 4, 5, 6};
const std::vector<uint16_t> kBf16 = {f32_to_bf16(0.5f), f32_to_bf16(-2.0f), f32_to_bf16(8.0f)};

std::vector<test::PickledTensor> two_tensors() {
  return {{"model.w", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
          {"model.norm.weight", "BFloat16Storage", "1", 3, 0, {3}, {1}}};
}

std::string two_tensor_archive(bool ordered = true, bool deflate = false, bool zip64 = false) {
  return test::zip_archive(
      test::torch_archive_members("archive", test::torch_state_dict_pickle(two_tensors(), ordered),
                                  {test::bytes_of(kMatrix), test::bytes_of(kBf16)}, deflate),
      zip64);
}

void expect_two_tensors(const TorchCheckpoint& c) {
  ASSERT_EQ(c.tensors().size(), 2u);
  const TensorView& w = c.tensors()[0];
  EXPECT_EQ(w.name, "model.w");
  EXPECT_EQ(w.dtype, DType::F32);
  EXPECT_THAT(w.shape, ElementsAre(2, 3));
  EXPECT_EQ(w.nbytes, 24u);
  EXPECT_THAT(values(w), ElementsAre(1, 2, 3, 4, 5, 6));
  const TensorView& n = c.tensors()[1];
  EXPECT_EQ(n.name, "model.norm.weight");
  EXPECT_EQ(n.dtype, DType::BF16);
  EXPECT_THAT(values(n), ElementsAre(0.5f, -2.0f, 8.0f));
}

TEST(TorchCheckpoint, ReadsAnOrderedDictStateDict) {
  const fs::path file = write_archive("pt-ordered", two_tensor_archive());
  const TorchCheckpoint c(file);
  EXPECT_EQ(c.path(), file);
  expect_two_tensors(c);
}

TEST(TorchCheckpoint, ReadsAPlainDict) {
  expect_two_tensors(TorchCheckpoint(write_archive("pt-dict", two_tensor_archive(false))));
}

TEST(TorchCheckpoint, StoredTensorsAreViewsIntoTheFile) {
  const std::string bytes = two_tensor_archive();
  const TorchCheckpoint c(write_archive("pt-view", bytes));
  // The view's bytes equal the storage's bytes where they lie in the archive.
  const size_t at = bytes.find(test::bytes_of(kMatrix));
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(std::memcmp(c.tensors()[0].data, bytes.data() + at, 24), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c.tensors()[0].data) % 64, at % 64);
}

TEST(TorchCheckpoint, ReadsProtocol4StackGlobals) {
  const std::string bytes = test::zip_archive(
      test::torch_archive_members("archive", test::torch_state_dict_pickle(two_tensors(), true, 4),
                                  {test::bytes_of(kMatrix), test::bytes_of(kBf16)}));
  expect_two_tensors(TorchCheckpoint(write_archive("pt-proto4", bytes)));
}

TEST(TorchCheckpoint, ReadsDeflatedEntries) {
  expect_two_tensors(TorchCheckpoint(write_archive("pt-deflate", two_tensor_archive(true, true))));
}

TEST(TorchCheckpoint, ReadsZip64Records) {
  expect_two_tensors(
      TorchCheckpoint(write_archive("pt-zip64", two_tensor_archive(true, false, true))));
}

TEST(TorchCheckpoint, ArchiveRootNameMayVary) {
  const std::string bytes = test::zip_archive(test::torch_archive_members(
      "pytorch_model-00001-of-00002", test::torch_state_dict_pickle(two_tensors()),
      {test::bytes_of(kMatrix), test::bytes_of(kBf16)}));
  expect_two_tensors(TorchCheckpoint(write_archive("pt-root", bytes)));
}

TEST(TorchCheckpoint, TensorsSharingAStorageUseItsOffset) {
  // lm_head-style views: two rows of one storage.
  const std::vector<test::PickledTensor> t = {{"a", "FloatStorage", "0", 6, 0, {3}, {1}},
                                              {"b", "FloatStorage", "0", 6, 3, {3}, {1}}};
  const std::string bytes = test::zip_archive(test::torch_archive_members(
      "archive", test::torch_state_dict_pickle(t), {test::bytes_of(kMatrix)}));
  const TorchCheckpoint c(write_archive("pt-offset", bytes));
  ASSERT_EQ(c.tensors().size(), 2u);
  EXPECT_THAT(values(c.tensors()[0]), ElementsAre(1, 2, 3));
  EXPECT_THAT(values(c.tensors()[1]), ElementsAre(4, 5, 6));
}

TEST(TorchCheckpoint, NonContiguousTensorsAreCopiedRowMajor) {
  // The transpose of the 2x3 matrix: size [3, 2], stride [1, 3].
  const std::vector<test::PickledTensor> t = {{"t", "FloatStorage", "0", 6, 0, {3, 2}, {1, 3}}};
  const std::string bytes = test::zip_archive(test::torch_archive_members(
      "archive", test::torch_state_dict_pickle(t), {test::bytes_of(kMatrix)}));
  const TorchCheckpoint c(write_archive("pt-strided", bytes));
  ASSERT_EQ(c.tensors().size(), 1u);
  EXPECT_THAT(c.tensors()[0].shape, ElementsAre(3, 2));
  EXPECT_THAT(values(c.tensors()[0]), ElementsAre(1, 4, 2, 5, 3, 6));
}

TEST(TorchCheckpoint, ManyTensorsUseLongMemoSlots) {
  // Over 256 memo entries: later BINPUT/BINGET become LONG_BINPUT/LONG_BINGET.
  std::vector<test::PickledTensor> t;
  for (int i = 0; i < 80; ++i)
    t.push_back({fmt::format("w{}", i), "FloatStorage", "0", 6, i % 6, {1}, {1}});
  const std::string bytes = test::zip_archive(test::torch_archive_members(
      "archive", test::torch_state_dict_pickle(t), {test::bytes_of(kMatrix)}));
  const TorchCheckpoint c(write_archive("pt-longmemo", bytes));
  ASSERT_EQ(c.tensors().size(), 80u);
  EXPECT_EQ(c.tensors()[79].name, "w79");
  EXPECT_THAT(values(c.tensors()[79]), ElementsAre(2));
}

TEST(TorchCheckpoint, RefusesGlobalsOutsideTheAllowList) {
  // What a malicious pickle looks like: GLOBAL os.system, a string, REDUCE.
  std::string pkl =
      "\x80\x02"
      "cos\nsystem\n"
      "X";
  test::put_le(pkl, 4, 4);
  pkl += "true\x85R.";
  const fs::path file =
      write_archive("pt-evil", test::zip_archive(test::torch_archive_members("archive", pkl, {})));
  const std::string err = open_error(file);
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("'os.system' is not allowed"));
}

TEST(TorchCheckpoint, RefusesUnknownOpcodes) {
  const std::string pkl(
      "\x80\x02}q\x00"
      "I12\n.",
      10);  // INT (protocol 0), never emitted by torch
  const fs::path file = write_archive(
      "pt-opcode", test::zip_archive(test::torch_archive_members("archive", pkl, {})));
  const std::string err = open_error(file);
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("unsupported pickle opcode 0x49 ('I')"));
}

TEST(TorchCheckpoint, RefusesATruncatedPickle) {
  std::string pkl = test::torch_state_dict_pickle(two_tensors());
  pkl.resize(pkl.size() / 2);
  const fs::path file = write_archive(
      "pt-shortpkl", test::zip_archive(test::torch_archive_members(
                         "archive", pkl, {test::bytes_of(kMatrix), test::bytes_of(kBf16)})));
  EXPECT_THAT(open_error(file), HasSubstr("pickle ends early"));
}

TEST(TorchCheckpoint, MissingStorageNamesTheTensor) {
  const fs::path file = write_archive(
      "pt-nostorage",
      test::zip_archive(test::torch_archive_members(
          "archive", test::torch_state_dict_pickle(two_tensors()), {test::bytes_of(kMatrix)})));
  const std::string err = open_error(file);
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("tensor 'model.norm.weight'"));
  EXPECT_THAT(err, HasSubstr("archive/data/1"));
}

TEST(TorchCheckpoint, ShortStorageNamesTheTensor) {
  const fs::path file = write_archive(
      "pt-shortstorage", test::zip_archive(test::torch_archive_members(
                             "archive", test::torch_state_dict_pickle(two_tensors()),
                             {test::bytes_of(kMatrix), test::bytes_of(kBf16).substr(2)})));
  const std::string err = open_error(file);
  EXPECT_THAT(err, HasSubstr("tensor 'model.norm.weight'"));
  EXPECT_THAT(err, HasSubstr("holds 4 bytes"));
}

TEST(TorchCheckpoint, TensorReachingPastItsStorageNamesTheTensor) {
  const std::vector<test::PickledTensor> t = {{"w", "FloatStorage", "0", 6, 2, {2, 3}, {3, 1}}};
  const fs::path file = write_archive(
      "pt-range", test::zip_archive(test::torch_archive_members(
                      "archive", test::torch_state_dict_pickle(t), {test::bytes_of(kMatrix)})));
  const std::string err = open_error(file);
  EXPECT_THAT(err, HasSubstr("tensor 'w'"));
  EXPECT_THAT(err, HasSubstr("reaches element 7"));
}

TEST(TorchCheckpoint, UnsupportedDtypeNamesTheTensor) {
  const std::vector<int64_t> ids = {1, 2, 3};
  const std::vector<test::PickledTensor> t = {{"position_ids", "LongStorage", "0", 3, 0, {3}, {1}}};
  const fs::path file = write_archive(
      "pt-long", test::zip_archive(test::torch_archive_members(
                     "archive", test::torch_state_dict_pickle(t), {test::bytes_of(ids)})));
  EXPECT_THAT(open_error(file), HasSubstr("tensor 'position_ids': unsupported dtype (LongStorage"));
}

TEST(TorchCheckpoint, TruncatedArchiveNamesTheFile) {
  std::string bytes = two_tensor_archive();
  bytes.resize(bytes.size() - 30);
  const fs::path file = write_archive("pt-trunc", bytes);
  const std::string err = open_error(file);
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("truncated"));
}

TEST(TorchCheckpoint, CorruptPickleFailsItsChecksum) {
  std::string bytes = two_tensor_archive();
  const size_t at = bytes.find("model.norm.weight");
  bytes[at] = 'M';
  const std::string err = open_error(write_archive("pt-crc", bytes));
  EXPECT_THAT(err, HasSubstr("data.pkl' is corrupt (CRC-32"));
}

TEST(TorchCheckpoint, CorruptCentralDirectoryIsRefused) {
  std::string bytes = two_tensor_archive();
  const size_t at = bytes.rfind(std::string("PK\x01\x02", 4));
  bytes[at + 2] = 9;
  EXPECT_THAT(open_error(write_archive("pt-cd", bytes)), HasSubstr("corrupt zip archive"));
}

TEST(TorchCheckpoint, LegacyAndNonZipFilesAreRefused) {
  EXPECT_THAT(
      open_error(write_archive("pt-legacy", std::string("\x80\x02\x8a\x0a", 4) + "lots of pickle")),
      HasSubstr("legacy"));
  EXPECT_THAT(open_error(write_archive("pt-notzip", std::string(100, 'x'))),
              HasSubstr("not a zip archive"));
  const fs::path file = write_archive("pt-nopkl", test::zip_archive({{"archive/other", "x"}}));
  EXPECT_THAT(open_error(file), HasSubstr("no <root>/data.pkl"));
}

TEST(TorchCheckpoint, BigEndianArchivesAreRefused) {
  auto members =
      test::torch_archive_members("archive", test::torch_state_dict_pickle(two_tensors()),
                                  {test::bytes_of(kMatrix), test::bytes_of(kBf16)});
  members[2].data = "big";
  EXPECT_THAT(open_error(write_archive("pt-be", test::zip_archive(members))),
              HasSubstr("byte order 'big'"));
}

// ---------------------------------------------------------------- the real torch.save fixtures

TEST(TorchCheckpoint, RealTorchSaveMatchesTheSafetensorsCopy) {
  for (const char* model : {"llama_mha", "llama_gqa"}) {
    const fs::path dir = test::fixtures_dir() / model;
    const TorchCheckpoint bin(dir / "bin" / "pytorch_model.bin");
    const SafetensorsFile st(dir / "single" / "model.safetensors");
    ASSERT_EQ(bin.tensors().size(), st.tensors().size()) << model;
    std::map<std::string, const TensorView*> by_name;
    for (const TensorView& t : st.tensors()) by_name[t.name] = &t;
    for (const TensorView& t : bin.tensors()) {
      ASSERT_TRUE(by_name.contains(t.name)) << model << " " << t.name;
      const TensorView& s = *by_name[t.name];
      EXPECT_EQ(t.dtype, s.dtype) << t.name;
      EXPECT_EQ(t.shape, s.shape) << t.name;
      ASSERT_EQ(t.nbytes, s.nbytes) << t.name;
      EXPECT_EQ(std::memcmp(t.data, s.data, t.nbytes), 0) << t.name;
    }
  }
}

TEST(TorchCheckpoint, TruncatedRealCheckpointNamesTheFile) {
  const fs::path src = test::fixtures_dir() / "llama_mha" / "bin" / "pytorch_model.bin";
  const fs::path file = test::make_temp_dir("pt-realtrunc") / "pytorch_model.bin";
  fs::copy_file(src, file);
  fs::resize_file(file, fs::file_size(file) / 2);
  const std::string err = open_error(file);
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("truncated"));
}

TEST(TorchCheckpoint, RealCheckpointWithCorruptStorageSizeNamesTheTensor) {
  // Make the central directory say storage 3 is 4 bytes shorter: its tensor no longer fits.
  const fs::path src = test::fixtures_dir() / "llama_mha" / "bin" / "pytorch_model.bin";
  std::ifstream in(src, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string name = "pytorch_model/data/3";
  size_t at = bytes.find(name);  // the local header's copy of the name comes first
  while (at != std::string::npos && (at < 46 || bytes.compare(at - 46, 4, "PK\x01\x02") != 0)) {
    at = bytes.find(name, at + 1);
  }
  ASSERT_NE(at, std::string::npos);
  const size_t header = at - 46;
  for (int off : {20, 24}) {  // compressed and uncompressed sizes
    uint32_t v;
    std::memcpy(&v, bytes.data() + header + off, 4);
    v -= 4;
    std::memcpy(bytes.data() + header + off, &v, 4);
  }
  const fs::path file = write_archive("pt-realcorrupt", bytes);
  const std::string err = open_error(file);
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("tensor '"));
  EXPECT_THAT(err, HasSubstr("pytorch_model/data/3"));
}

}  // namespace
}  // namespace yardstick
