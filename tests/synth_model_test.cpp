// yardstick synth-model: deterministic weights of the requested shape that the engine loads and
// runs, sharding that changes files but not values, and the tokenizer/vocab rules.
#include <cmath>
#include <fstream>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/model.h"
#include "engine/safetensors.h"
#include "engine/sha256.h"
#include "engine/weights.h"
#include "harness/synth_model.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

SynthShape small_shape() {
  SynthShape s;
  s.hidden = 32;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;
  s.intermediate = 48;
  s.vocab = 300;
  return s;
}

fs::path write(const char* tag, SynthShape shape, uint64_t seed, uint64_t shard_bytes = 2ull << 30) {
  SynthOptions o;
  o.out = test::make_temp_dir(tag) / "model";
  o.shape = shape;
  o.seed = seed;
  o.dtype = DType::F32;
  o.shard_bytes = shard_bytes;
  write_synth_model(o);
  return o.out;
}

std::vector<float> values(const Weights& w, const std::string& name) {
  const TensorView& t = w.get(name);
  std::vector<float> v(static_cast<size_t>(t.numel()));
  t.to_f32(v.data());
  return v;
}

TEST(SynthModel, SameSeedSameBytesOtherSeedOtherWeights) {
  auto a = write("synth-a", small_shape(), 7);
  auto b = write("synth-b", small_shape(), 7);
  auto c = write("synth-c", small_shape(), 8);
  EXPECT_EQ(sha256_file(a / "model.safetensors"), sha256_file(b / "model.safetensors"));
  EXPECT_NE(sha256_file(a / "model.safetensors"), sha256_file(c / "model.safetensors"));
}

TEST(SynthModel, ConfigDescribesTheShapeAndTheEngineAcceptsIt) {
  auto dir = write("synth-cfg", small_shape(), 1);
  ModelConfig cfg = load_model_config(dir);
  EXPECT_EQ(cfg.architecture, "LlamaForCausalLM");
  EXPECT_EQ(cfg.hidden_size, 32);
  EXPECT_EQ(cfg.num_layers, 2);
  EXPECT_EQ(cfg.num_heads, 4);
  EXPECT_EQ(cfg.num_kv_heads, 2);
  EXPECT_EQ(cfg.intermediate_size, 48);
  EXPECT_EQ(cfg.vocab_size, 300);
  Weights w = Weights::load(dir, cfg);   // checks every tensor's presence and shape
  EXPECT_EQ(w.get("model.layers.1.self_attn.k_proj.weight").shape, (std::vector<int64_t>{16, 32}));
  for (float x : values(w, "model.norm.weight")) EXPECT_EQ(x, 1.0f);
}

TEST(SynthModel, WeightsAreNormalWithTheStatedSpread) {
  SynthShape s = small_shape();
  s.intermediate = 512;
  auto dir = write("synth-stats", s, 3);
  Weights w = Weights::load_unchecked(dir);
  auto v = values(w, "model.layers.0.mlp.up_proj.weight");
  double sum = 0, sq = 0;
  for (float x : v) {
    sum += x;
    sq += double(x) * x;
  }
  double mean = sum / v.size(), sd = std::sqrt(sq / v.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(sd, 0.02, 0.001);
}

TEST(SynthModel, ShardingChangesFilesNotValues) {
  auto whole = write("synth-whole", small_shape(), 5);
  auto sharded = write("synth-shards", small_shape(), 5, /*shard_bytes=*/40000);
  EXPECT_FALSE(fs::exists(sharded / "model.safetensors"));
  ASSERT_TRUE(fs::exists(sharded / "model.safetensors.index.json"));
  std::ifstream in(sharded / "model.safetensors.index.json");
  auto index = nlohmann::json::parse(in);
  EXPECT_GT(index["weight_map"].size(), 0u);
  Weights a = Weights::load_unchecked(whole), b = Weights::load_unchecked(sharded);
  EXPECT_GT(b.files().size(), 2u);
  ASSERT_EQ(a.names(), b.names());
  for (const auto& name : a.names()) EXPECT_EQ(values(a, name), values(b, name)) << name;
}

TEST(SynthModel, BadShapesAreRefused) {
  SynthShape s = small_shape();
  s.kv_heads = 3;
  try {
    write("synth-bad", s, 0);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("kv-heads"));
  }
  EXPECT_THROW(synth_preset("13b"), InputError);
  EXPECT_EQ(synth_preset("7b").hidden, 4096);
  EXPECT_EQ(synth_preset("67b").kv_heads, 8);
}

fs::path reference_tokenizer() { return test::shared_dir() / "reference" / "tokenizer"; }

TEST(SynthModel, WithTheRealTokenizerTheVocabMustCoverIt) {
  SynthOptions o;
  o.out = test::make_temp_dir("synth-vocab") / "model";
  o.shape = small_shape();
  o.tokenizer = reference_tokenizer();
  try {
    write_synth_model(o);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("102400"));
  }
}

TEST(SynthModel, TinyPresetGeneratesTextOnTheCpu) {
  SynthOptions o;
  o.out = test::make_temp_dir("synth-tiny") / "tiny";
  o.shape = synth_preset("tiny");
  o.tokenizer = reference_tokenizer();
  write_synth_model(o);
  EXPECT_TRUE(fs::exists(o.out / "tokenizer.json"));
  EXPECT_TRUE(fs::exists(o.out / "tokenizer_config.json"));
  std::ifstream gc(o.out / "generation_config.json");
  auto gen = nlohmann::json::parse(gc);
  EXPECT_EQ(gen["bos_token_id"], 100000);
  EXPECT_EQ(gen["eos_token_id"], 100001);

  LoadedModel lm = open_model(o.out, ModelOptions{BackendKind::Cpu, 1, 4});
  ASSERT_TRUE(lm.tokenizer);
  std::vector<GenerateRequest> reqs(2);
  reqs[0].prompt_ids = {100000};
  auto a = lm.tokenizer->encode("Q: There are 15 trees in the grove.");
  reqs[0].prompt_ids.insert(reqs[0].prompt_ids.end(), a.begin(), a.end());
  reqs[1].prompt_ids = {100000};
  auto b = lm.tokenizer->encode("User: 你好，世界");
  reqs[1].prompt_ids.insert(reqs[1].prompt_ids.end(), b.begin(), b.end());
  for (auto& r : reqs) r.max_new_tokens = 24;
  auto results = lm.engine->generate(reqs);
  ASSERT_EQ(results.size(), 2u);
  std::set<int32_t> distinct;
  for (const auto& r : results) {
    const Completion& c = r.samples.at(0);
    EXPECT_EQ(c.ids.size(), 24u) << "stopped early: " << finish_reason_name(c.finish);
    for (int32_t id : c.ids) {
      EXPECT_LT(id, 100015) << "an id the tokenizer never produces";
      EXPECT_NE(id, 100000);
      distinct.insert(id);
    }
    EXPECT_FALSE(c.text.empty());
  }
  // Not degenerate: the two prompts continue differently and no single token repeats throughout.
  EXPECT_NE(results[0].samples[0].ids, results[1].samples[0].ids);
  EXPECT_GT(distinct.size(), 8u);
}

}  // namespace
}  // namespace yardstick
