// config.json parsing: shapes, both RoPE spellings, special-token precedence, and refusals.
#include "engine/model_config.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "tests/error_message.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

json llama_config() {
  return json::parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
    "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 3,
    "num_attention_heads": 8, "num_key_value_heads": 2, "max_position_embeddings": 256,
    "vocab_size": 300, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "rope_scaling": null,
    "tie_word_embeddings": false, "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2
  })");
}

// The message of the ModelFileError that parsing cfg throws ("" if none).
std::string refusal(const json& cfg) {
  return test::model_file_error([&] { parse_model_config(cfg, "/models/x/config.json"); });
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

std::filesystem::path config_fixture(const char* name) {
  return test::fixtures_dir() / "configs" / name;
}

TEST(ModelConfig, ReadsShapesFromConfigJson) {
  const ModelConfig c = parse_model_config(llama_config(), "config.json");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.intermediate_size, 172);
  EXPECT_EQ(c.num_layers, 3);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_EQ(c.vocab_size, 300);
  EXPECT_EQ(c.max_position_embeddings, 256);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "float32");
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_THAT(c.eos_token_ids, ElementsAre(2));
}

TEST(ModelConfig, KvHeadsDefaultToHeads) {
  json cfg = llama_config();
  cfg.erase("num_key_value_heads");
  EXPECT_EQ(parse_model_config(cfg, "config.json").num_kv_heads, 8);
  cfg["num_key_value_heads"] = nullptr;
  EXPECT_EQ(parse_model_config(cfg, "config.json").num_kv_heads, 8);
}

TEST(ModelConfig, ExplicitHeadDimWins) {
  json cfg = llama_config();
  cfg["head_dim"] = 16;
  EXPECT_EQ(parse_model_config(cfg, "config.json").head_dim, 16);
}

TEST(ModelConfig, RopeThetaFromTransformers5RopeParameters) {
  json cfg = llama_config();
  cfg.erase("rope_theta");
  cfg.erase("rope_scaling");
  cfg["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 123456.0}};
  cfg.erase("torch_dtype");
  cfg["dtype"] = "bfloat16";
  const ModelConfig c = parse_model_config(cfg, "config.json");
  EXPECT_DOUBLE_EQ(c.rope_theta, 123456.0);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
}

TEST(ModelConfig, RopeThetaDefaultsLikeTransformers) {
  json cfg = llama_config();
  cfg.erase("rope_theta");
  EXPECT_DOUBLE_EQ(parse_model_config(cfg, "config.json").rope_theta, 10000.0);
}

TEST(ModelConfig, EosMayBeAList) {
  json cfg = llama_config();
  cfg["eos_token_id"] = {2, 7};
  EXPECT_THAT(parse_model_config(cfg, "config.json").eos_token_ids, ElementsAre(2, 7));
  EXPECT_TRUE(parse_model_config(cfg, "config.json").is_eos(7));
  EXPECT_FALSE(parse_model_config(cfg, "config.json").is_eos(1));
}

TEST(ModelConfig, RefusesOtherArchitectures) {
  json cfg = llama_config();
  cfg["architectures"] = {"MistralForCausalLM"};
  EXPECT_THAT(refusal(cfg), HasSubstr("/models/x/config.json"));
  EXPECT_THAT(refusal(cfg), HasSubstr("unsupported architecture"));
  EXPECT_THAT(refusal(cfg), HasSubstr("MistralForCausalLM"));
  cfg = llama_config();
  cfg["model_type"] = "qwen2";
  EXPECT_THAT(refusal(cfg), HasSubstr("unsupported model_type \"qwen2\""));
}

TEST(ModelConfig, RefusesRopeScaling) {
  json cfg = llama_config();
  cfg["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  EXPECT_THAT(refusal(cfg), HasSubstr("unsupported RoPE scaling"));
  EXPECT_THAT(refusal(cfg), HasSubstr("linear"));
  cfg["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
  EXPECT_THAT(refusal(cfg), HasSubstr("llama3"));
  cfg = llama_config();
  cfg["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 10000.0}, {"factor", 4.0}};
  EXPECT_THAT(refusal(cfg), HasSubstr("unsupported RoPE scaling"));
  EXPECT_THAT(refusal(cfg), HasSubstr("yarn"));
}

TEST(ModelConfig, RefusesDisagreeingRopeThetas) {
  json cfg = llama_config();
  cfg["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 10000.0}};
  EXPECT_THAT(refusal(cfg), HasSubstr("disagrees"));
}

TEST(ModelConfig, RefusesOtherActivationsAndBiases) {
  json cfg = llama_config();
  cfg["hidden_act"] = "gelu";
  EXPECT_THAT(refusal(cfg), HasSubstr("unsupported hidden_act \"gelu\""));
  cfg = llama_config();
  cfg["attention_bias"] = true;
  EXPECT_THAT(refusal(cfg), HasSubstr("attention_bias"));
  cfg = llama_config();
  cfg["mlp_bias"] = true;
  EXPECT_THAT(refusal(cfg), HasSubstr("mlp_bias"));
  cfg = llama_config();
  cfg["attention_bias"] = false;
  cfg["mlp_bias"] = false;
  EXPECT_EQ(refusal(cfg), "");
}

TEST(ModelConfig, RefusesMissingOrBadFields) {
  for (const char* key : {"hidden_size", "intermediate_size", "num_hidden_layers",
                          "num_attention_heads", "vocab_size", "max_position_embeddings"}) {
    json cfg = llama_config();
    cfg.erase(key);
    EXPECT_THAT(refusal(cfg), HasSubstr(std::string("required field '") + key + "' is missing"));
  }
  json cfg = llama_config();
  cfg["hidden_size"] = -4;
  EXPECT_THAT(refusal(cfg), HasSubstr("'hidden_size' must be a positive integer"));
  cfg = llama_config();
  cfg["num_key_value_heads"] = 3;
  EXPECT_THAT(refusal(cfg), HasSubstr("not a multiple of num_key_value_heads"));
  cfg = llama_config();
  cfg["eos_token_id"] = 300;
  EXPECT_THAT(refusal(cfg), HasSubstr("eos token id 300 is outside the vocabulary"));
}

TEST(ModelConfig, DeepSeek7bBaseTakesSpecialTokensFromGenerationConfig) {
  const ModelConfig c = load_model_config(config_fixture("deepseek-llm-7b-base"));
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.intermediate_size, 11008);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.num_heads, 32);
  EXPECT_EQ(c.num_kv_heads, 32);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.vocab_size, 102400);
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(c.rope_theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  // config.json says 1 / 2; generation_config.json's 100000 / 100001 must win.
  EXPECT_EQ(c.bos_token_id, 100000);
  EXPECT_THAT(c.eos_token_ids, ElementsAre(100001));
}

TEST(ModelConfig, Transformers5FixtureConfig) {
  // Written by transformers 5: rope_parameters, "dtype", explicit head_dim, GQA with one KV head.
  const ModelConfig c = load_model_config(test::fixtures_dir() / "llama_gqa" / "single");
  EXPECT_EQ(c.hidden_size, 64);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, 1);
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_DOUBLE_EQ(c.rope_theta, 100000.0);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.torch_dtype, "float32");
  EXPECT_EQ(c.bos_token_id, 0);
  EXPECT_THAT(c.eos_token_ids, ElementsAre(1));
}

TEST(ModelConfig, DeepSeek67bShapes) {
  for (const char* name : {"deepseek-llm-67b-base", "deepseek-llm-67b-chat"}) {
    const ModelConfig c = load_model_config(config_fixture(name));
    EXPECT_EQ(c.hidden_size, 8192) << name;
    EXPECT_EQ(c.intermediate_size, 22016) << name;
    EXPECT_EQ(c.num_layers, 95) << name;
    EXPECT_EQ(c.num_heads, 64) << name;
    EXPECT_EQ(c.num_kv_heads, 8) << name;
    EXPECT_EQ(c.head_dim, 128) << name;
    EXPECT_EQ(c.bos_token_id, 100000) << name;
    EXPECT_THAT(c.eos_token_ids, ElementsAre(100001)) << name;
  }
}

TEST(ModelConfig, DeepSeek7bChat) {
  const ModelConfig c = load_model_config(config_fixture("deepseek-llm-7b-chat"));
  EXPECT_EQ(c.num_kv_heads, 32);
  EXPECT_EQ(c.bos_token_id, 100000);
  EXPECT_THAT(c.eos_token_ids, ElementsAre(100001));
}

// A model dir holding config.json (bos 1 / eos 2) and tokenizer_config.json, but no
// generation_config.json.
std::filesystem::path dir_with_tokenizer_config(const char* tag,
                                                const std::string& tokenizer_config) {
  const auto dir = test::make_temp_dir(tag);
  json cfg = llama_config();
  cfg["vocab_size"] = 102400;
  write_file(dir / "config.json", cfg.dump());
  write_file(dir / "tokenizer_config.json", tokenizer_config);
  return dir;
}

const char* kTinyTokenizerJson = R"({
  "added_tokens": [
    {"id": 100000, "content": "<｜begin▁of▁sentence｜>", "special": true},
    {"id": 100001, "content": "<｜end▁of▁sentence｜>", "special": true}],
  "model": {"type": "BPE", "vocab": {"<s>": 5, "</s>": 6}, "merges": []}
})";

TEST(ModelConfig, TokenizerConfigAddedTokenObjectsResolveThroughTokenizerJson) {
  // The real DeepSeek tokenizer_config.json: bos/eos as AddedToken objects.
  std::ifstream in(config_fixture("deepseek-llm-7b-base") / "tokenizer_config.json");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto dir = dir_with_tokenizer_config("cfg-tokobj", text);
  write_file(dir / "tokenizer.json", kTinyTokenizerJson);
  const ModelConfig c = load_model_config(dir);
  EXPECT_EQ(c.bos_token_id, 100000);
  EXPECT_THAT(c.eos_token_ids, ElementsAre(100001));
}

TEST(ModelConfig, TokenizerConfigStringTokensResolveThroughTokenizerJson) {
  const auto dir =
      dir_with_tokenizer_config("cfg-tokstr", R"({"bos_token": "<s>", "eos_token": "</s>"})");
  write_file(dir / "tokenizer.json", kTinyTokenizerJson);
  const ModelConfig c = load_model_config(dir);
  EXPECT_EQ(c.bos_token_id, 5);
  EXPECT_THAT(c.eos_token_ids, ElementsAre(6));
}

TEST(ModelConfig, RealTokenizerJsonResolvesDeepSeekSpecialTokens) {
  const auto real = test::shared_dir() / "reference" / "tokenizer" / "tokenizer.json";
  if (!std::filesystem::exists(real)) GTEST_SKIP() << real << " not present";
  std::ifstream in(config_fixture("deepseek-llm-7b-base") / "tokenizer_config.json");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto dir = dir_with_tokenizer_config("cfg-realtok", text);
  std::filesystem::copy_file(real, dir / "tokenizer.json");
  const ModelConfig c = load_model_config(dir);
  EXPECT_EQ(c.bos_token_id, 100000);
  EXPECT_THAT(c.eos_token_ids, ElementsAre(100001));
}

TEST(ModelConfig, GenerationConfigBeatsTokenizerConfig) {
  const auto dir =
      dir_with_tokenizer_config("cfg-gen", R"({"bos_token": "<s>", "eos_token": "</s>"})");
  write_file(dir / "tokenizer.json", kTinyTokenizerJson);
  write_file(dir / "generation_config.json",
             R"({"bos_token_id": 100000, "eos_token_id": [100001, 7]})");
  const ModelConfig c = load_model_config(dir);
  EXPECT_EQ(c.bos_token_id, 100000);
  EXPECT_THAT(c.eos_token_ids, ElementsAre(100001, 7));
}

TEST(ModelConfig, ConfigJsonIdsUsedWhenNothingElseSaysSo) {
  // tokenizer_config names tokens but there is no tokenizer.json to resolve them against.
  const auto dir =
      dir_with_tokenizer_config("cfg-plain", R"({"bos_token": "<s>", "eos_token": "</s>"})");
  const ModelConfig c = load_model_config(dir);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_THAT(c.eos_token_ids, ElementsAre(2));
}

TEST(ModelConfig, UnknownTokenizerConfigTokenIsAnError) {
  const auto dir =
      dir_with_tokenizer_config("cfg-unknown", R"({"bos_token": "<bos>", "eos_token": "</s>"})");
  write_file(dir / "tokenizer.json", kTinyTokenizerJson);
  const std::string err = test::model_file_error([&] { load_model_config(dir); });
  EXPECT_THAT(err, HasSubstr("tokenizer_config.json"));
  EXPECT_THAT(err, HasSubstr("<bos>"));
}

TEST(ModelConfig, MissingOrBrokenConfigJsonNamesTheFile) {
  const auto dir = test::make_temp_dir("cfg-missing");
  auto load = [&] { load_model_config(dir); };
  EXPECT_THAT(test::model_file_error(load), HasSubstr((dir / "config.json").string()));
  write_file(dir / "config.json", "{\"hidden_size\": ");
  EXPECT_THAT(test::model_file_error(load), HasSubstr((dir / "config.json").string()));
  EXPECT_THAT(test::model_file_error(load), HasSubstr("not valid JSON"));
}

}  // namespace
}  // namespace yardstick
