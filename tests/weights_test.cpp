// Weights: format choice, the four checkpoint layouts of the reference fixtures, and the checks
// against config.json, with errors that name the file and the tensor.
#include "engine/weights.h"

#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/error.h"
#include "tests/checkpoint_writer.h"
#include "tests/error_message.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// The message of the ModelFileError that loading dir throws ("" if none).
std::string load_error(const fs::path& dir) {
  return test::model_file_error([&] { Weights::load(dir, load_model_config(dir)); });
}

// A tiny model dir: config.json and its random tensors, minus `drop`, in `shards` files.
fs::path tiny_model(const char* tag, int shards = 1, const std::string& drop = "",
                    nlohmann::json cfg = test::tiny_llama_config_json()) {
  const fs::path dir = test::make_temp_dir(tag);
  test::write_text(dir / "config.json", cfg.dump());
  std::vector<test::OwnedTensor> tensors =
      test::random_llama_tensors(parse_model_config(cfg, "config.json"), 7);
  std::erase_if(tensors, [&](const test::OwnedTensor& t) { return t.name == drop; });
  test::write_safetensors_checkpoint(dir, tensors, shards);
  return dir;
}

TEST(Weights, ExpectedTensorsFollowHfLlamaNamesAndShapes) {
  const ModelConfig cfg = parse_model_config(test::tiny_llama_config_json(), "config.json");
  const std::vector<ExpectedTensor> e = expected_tensors(cfg);
  ASSERT_EQ(e.size(), 1u + 2 * 9 + 2);
  EXPECT_EQ(e[0].name, "model.embed_tokens.weight");
  EXPECT_THAT(e[0].shape, ElementsAre(32, 16));
  EXPECT_EQ(e[2].name, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_THAT(e[2].shape, ElementsAre(16, 16));
  EXPECT_EQ(e[3].name, "model.layers.0.self_attn.k_proj.weight");
  EXPECT_THAT(e[3].shape, ElementsAre(8, 16));  // NKV * HD = 2 * 4
  EXPECT_EQ(e[5].name, "model.layers.0.self_attn.o_proj.weight");
  EXPECT_EQ(e[9].name, "model.layers.0.mlp.down_proj.weight");
  EXPECT_THAT(e[9].shape, ElementsAre(16, 24));
  EXPECT_EQ(e.back().name, "lm_head.weight");
  ModelConfig tied = cfg;
  tied.tie_word_embeddings = true;
  EXPECT_EQ(expected_tensors(tied).back().name, "model.norm.weight");
}

TEST(Weights, FourFixtureLayoutsGiveIdenticalTensors) {
  for (const char* model : {"llama_mha", "llama_gqa"}) {
    const fs::path root = test::fixtures_dir() / model;
    const ModelConfig cfg = load_model_config(root / "single");
    const Weights ref = Weights::load(root / "single", cfg);
    EXPECT_EQ(ref.names().size(), expected_tensors(cfg).size()) << model;
    for (const char* layout : {"sharded", "bin", "bin_sharded"}) {
      const Weights w = Weights::load(root / layout, load_model_config(root / layout));
      ASSERT_EQ(w.names(), ref.names()) << model << "/" << layout;
      for (const std::string& name : ref.names()) {
        const TensorView& a = ref.get(name);
        const TensorView& b = w.get(name);
        EXPECT_EQ(a.dtype, b.dtype) << layout << " " << name;
        EXPECT_EQ(a.shape, b.shape) << layout << " " << name;
        ASSERT_EQ(a.nbytes, b.nbytes) << layout << " " << name;
        EXPECT_EQ(std::memcmp(a.data, b.data, a.nbytes), 0) << layout << " " << name;
      }
    }
  }
}

TEST(Weights, ShardedCheckpointsListEveryShardInOrder) {
  const fs::path dir = test::fixtures_dir() / "llama_gqa" / "bin_sharded";
  const Weights w = Weights::load_unchecked(dir);
  EXPECT_THAT(w.files(), ElementsAre(dir / "pytorch_model-00001-of-00003.bin",
                                     dir / "pytorch_model-00002-of-00003.bin",
                                     dir / "pytorch_model-00003-of-00003.bin"));
  EXPECT_EQ(w.file_of("lm_head.weight"), dir / "pytorch_model-00003-of-00003.bin");
}

TEST(Weights, SafetensorsPreferredWhenBothFormatsExist) {
  const fs::path src = test::fixtures_dir() / "llama_mha";
  const fs::path dir = test::make_temp_dir("w-both");
  for (const char* f : {"config.json", "generation_config.json"})
    fs::copy_file(src / "single" / f, dir / f);
  fs::copy_file(src / "bin" / "pytorch_model.bin", dir / "pytorch_model.bin");
  fs::copy_file(src / "single" / "model.safetensors", dir / "model.safetensors");
  EXPECT_THAT(Weights::load_unchecked(dir).files(), ElementsAre(dir / "model.safetensors"));
  fs::remove(dir / "model.safetensors");
  EXPECT_THAT(Weights::load_unchecked(dir).files(), ElementsAre(dir / "pytorch_model.bin"));
}

TEST(Weights, MissingTensorNamesFileAndTensor) {
  const fs::path dir = tiny_model("w-missing", 1, "model.layers.1.mlp.up_proj.weight");
  const std::string err = load_error(dir);
  EXPECT_THAT(err, HasSubstr((dir / "model.safetensors").string()));
  EXPECT_THAT(err, HasSubstr("'model.layers.1.mlp.up_proj.weight' is missing"));
}

TEST(Weights, MissingLmHeadIsAnErrorUnlessTied) {
  const fs::path dir = tiny_model("w-nohead", 1, "lm_head.weight");
  EXPECT_THAT(load_error(dir), HasSubstr("'lm_head.weight' is missing"));
  nlohmann::json cfg = test::tiny_llama_config_json();
  cfg["tie_word_embeddings"] = true;
  EXPECT_EQ(load_error(tiny_model("w-tied", 1, "lm_head.weight", cfg)), "");
}

TEST(Weights, MisshapenTensorNamesFileTensorAndShapes) {
  const fs::path dir = tiny_model("w-shape", 2);
  nlohmann::json cfg = test::tiny_llama_config_json();
  cfg["num_key_value_heads"] = 4;  // the checkpoint's k/v projections are GQA-sized
  test::write_text(dir / "config.json", cfg.dump());
  const std::string err = load_error(dir);
  EXPECT_THAT(err, HasSubstr("model-0000"));
  EXPECT_THAT(err, HasSubstr("'model.layers.0.self_attn.k_proj.weight' has shape [8, 16] but "
                             "config.json implies [16, 16]"));
}

TEST(Weights, ExtraTensorsAreIgnored) {
  const fs::path dir = test::make_temp_dir("w-extra");
  const nlohmann::json cfg = test::tiny_llama_config_json();
  test::write_text(dir / "config.json", cfg.dump());
  auto tensors = test::random_llama_tensors(parse_model_config(cfg, "config.json"), 1);
  tensors.push_back(
      {"model.layers.0.self_attn.rotary_emb.inv_freq", DType::F32, {2}, std::vector<std::byte>(8)});
  test::write_safetensors_checkpoint(dir, tensors);
  const Weights w = Weights::load(dir, load_model_config(dir));
  EXPECT_TRUE(w.has("model.layers.0.self_attn.rotary_emb.inv_freq"));
}

TEST(Weights, MissingShardNamesIndexAndShard) {
  const fs::path dir = tiny_model("w-noshard", 3);
  fs::remove(dir / "model-00002-of-00003.safetensors");
  const std::string err = load_error(dir);
  EXPECT_THAT(err, HasSubstr((dir / "model.safetensors.index.json").string()));
  EXPECT_THAT(err, HasSubstr("model-00002-of-00003.safetensors"));
  EXPECT_THAT(err, HasSubstr("is missing"));
}

TEST(Weights, TensorMissingFromTheShardItsIndexNamesIsAnError) {
  const fs::path dir = tiny_model("w-wrongshard", 2);
  auto index = nlohmann::json::parse(std::ifstream(dir / "model.safetensors.index.json"));
  index["weight_map"]["model.norm.weight"] =
      index["weight_map"]["model.norm.weight"] == "model-00001-of-00002.safetensors"
          ? "model-00002-of-00002.safetensors"
          : "model-00001-of-00002.safetensors";
  test::write_text(dir / "model.safetensors.index.json", index.dump());
  const std::string err = load_error(dir);
  EXPECT_THAT(err, HasSubstr("tensor 'model.norm.weight' is missing"));
  EXPECT_THAT(err, HasSubstr("model.safetensors.index.json"));
}

TEST(Weights, TensorInTwoShardsIsAnError) {
  const fs::path dir = tiny_model("w-dup", 2);
  const std::vector<float> v(16, 1.0f);
  write_safetensors(dir / "model-00002-of-00002.safetensors",
                    {{"model.embed_tokens.weight", DType::F32, {16}, std::as_bytes(std::span(v))}});
  EXPECT_THAT(load_error(dir), HasSubstr("'model.embed_tokens.weight' is also in"));
}

TEST(Weights, IndexPointingOutsideTheModelDirIsRefused) {
  const fs::path dir = tiny_model("w-escape", 2);
  auto index = nlohmann::json::parse(std::ifstream(dir / "model.safetensors.index.json"));
  index["weight_map"]["model.norm.weight"] = "../elsewhere.safetensors";
  test::write_text(dir / "model.safetensors.index.json", index.dump());
  EXPECT_THAT(load_error(dir), HasSubstr("not a file beside the index"));
}

TEST(Weights, TruncatedShardNamesTheShard) {
  const fs::path src = test::fixtures_dir() / "llama_gqa" / "bin_sharded";
  const fs::path dir = test::make_temp_dir("w-binshard");
  fs::copy(src, dir, fs::copy_options::recursive);
  const fs::path shard = dir / "pytorch_model-00002-of-00003.bin";
  fs::resize_file(shard, fs::file_size(shard) - 100);
  const std::string err = load_error(dir);
  EXPECT_THAT(err, HasSubstr(shard.string()));
  EXPECT_THAT(err, HasSubstr("truncated"));
}

TEST(Weights, CorruptSafetensorsShardNamesTheShardAndTensor) {
  const fs::path src = test::fixtures_dir() / "llama_mha" / "sharded";
  const fs::path dir = test::make_temp_dir("w-stshard");
  fs::copy(src, dir, fs::copy_options::recursive);
  const fs::path shard = dir / "model-00003-of-00003.safetensors";
  fs::permissions(shard, fs::perms::owner_write, fs::perm_options::add);
  fs::resize_file(shard, fs::file_size(shard) - 4);
  const std::string err = load_error(dir);
  EXPECT_THAT(err, HasSubstr(shard.string()));
  EXPECT_THAT(err, HasSubstr("tensor '"));
  EXPECT_THAT(err, HasSubstr("truncated"));
}

TEST(Weights, NoCheckpointNamesTheDirectory) {
  const fs::path dir = test::make_temp_dir("w-none");
  test::write_text(dir / "config.json", test::tiny_llama_config_json().dump());
  const std::string err = load_error(dir);
  EXPECT_THAT(err, HasSubstr(dir.string()));
  EXPECT_THAT(err, HasSubstr("no weights found"));
}

TEST(Weights, GetOfAnAbsentTensorNamesIt) {
  const Weights w = Weights::load_unchecked(test::fixtures_dir() / "llama_mha" / "single");
  EXPECT_FALSE(w.has("nope"));
  const std::string err = test::model_file_error([&] { w.get("nope"); });
  EXPECT_THAT(err, HasSubstr("'nope' is missing"));
  EXPECT_THAT(err, HasSubstr("model.safetensors"));
}

TEST(Weights, MovedWeightsKeepTheirViews) {
  Weights a = Weights::load_unchecked(test::fixtures_dir() / "llama_gqa" / "bin");
  const std::byte* data = a.get("model.norm.weight").data;
  const float first = a.get("model.norm.weight").at(0);
  const Weights b = std::move(a);
  EXPECT_EQ(b.get("model.norm.weight").data, data);
  EXPECT_EQ(b.get("model.norm.weight").at(0), first);
}

}  // namespace
}  // namespace yardstick
