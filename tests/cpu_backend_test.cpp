// The CPU reference backend against Hugging Face transformers:
// tests/fixtures/<model>/reference.json holds what transformers computes in float64 on the
// fixtures' fp32 weights (made by tests/fixtures/make_reference.py). Every checkpoint layout must
// give the same answers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/cpu_backend.h"
#include "engine/engine.h"
#include "engine/error.h"
#include "engine/model_config.h"
#include "engine/safetensors.h"
#include "engine/sampler.h"
#include "engine/weights.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kLogprobTolerance = 1e-4;   // issue 2: per-token |difference| <= 1e-4

json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

std::unique_ptr<CpuBackend> load_backend(const fs::path& dir, int threads = 2) {
  const ModelConfig cfg = load_model_config(dir);
  CpuBackendOptions o;
  o.threads = threads;
  return std::make_unique<CpuBackend>(cfg, Weights::load(dir, cfg), o);
}

// Feeds ids to a fresh sequence in one chunk and returns the logits rows from logits_from on.
std::vector<float> prefill(Backend& b, std::span<const int32_t> ids, int logits_from = 0) {
  const SeqId s = b.open_sequence();
  std::vector<float> logits;
  const ForwardChunk c{s, ids, logits_from};
  b.forward(std::span(&c, 1), logits);
  b.close_sequence(s);
  return logits;
}

std::span<const float> row(const std::vector<float>& logits, size_t r, size_t V) {
  return std::span<const float>(logits).subspan(r * V, V);
}

struct Layout {
  std::string model;    // llama_mha, llama_gqa
  std::string layout;   // single, sharded, bin, bin_sharded
};
void PrintTo(const Layout& l, std::ostream* os) { *os << l.model << "/" << l.layout; }

class CpuBackendVsHf : public ::testing::TestWithParam<Layout> {
 protected:
  fs::path model_dir() const { return test::fixtures_dir() / GetParam().model / GetParam().layout; }
  json reference() const {
    return read_json(test::fixtures_dir() / GetParam().model / "reference.json");
  }
};

TEST_P(CpuBackendVsHf, PromptLogprobsMatchAtEveryPosition) {
  auto backend = load_backend(model_dir());
  const size_t V = size_t(backend->config().vocab_size);
  for (const json& p : reference()["prompts"]) {
    const auto ids = p["ids"].get<std::vector<int32_t>>();
    const auto want = p["logprobs"].get<std::vector<double>>();
    const auto logits = prefill(*backend, ids);
    ASSERT_EQ(logits.size(), ids.size() * V);
    for (size_t t = 0; t + 1 < ids.size(); ++t) {
      const auto r = row(logits, t, V);
      const double lp = double(r[size_t(ids[t + 1])]) - logsumexp(r);
      EXPECT_NEAR(lp, want[t], kLogprobTolerance)
          << "prompt of " << ids.size() << ", position " << t;
    }
    // The whole distribution at the last position.
    const auto last = row(logits, ids.size() - 1, V);
    const double lse = logsumexp(last);
    const auto want_last = p["last_logprobs"].get<std::vector<double>>();
    ASSERT_EQ(want_last.size(), V);
    for (size_t v = 0; v < V; ++v)
      EXPECT_NEAR(double(last[v]) - lse, want_last[v], kLogprobTolerance) << "token " << v;
  }
}

TEST_P(CpuBackendVsHf, GreedyDecodingThroughTheKvCacheMatches) {
  auto backend = load_backend(model_dir());
  const size_t V = size_t(backend->config().vocab_size);
  for (const json& p : reference()["prompts"]) {
    const auto ids = p["ids"].get<std::vector<int32_t>>();
    const auto want = p["greedy"].get<std::vector<int32_t>>();
    const SeqId s = backend->open_sequence();
    std::vector<float> logits;
    ForwardChunk c{s, ids, int(ids.size()) - 1};
    backend->forward(std::span(&c, 1), logits);
    std::vector<int32_t> got;
    while (got.size() < want.size()) {
      got.push_back(argmax(row(logits, 0, V)));
      c = {s, std::span(&got.back(), 1), 0};
      backend->forward(std::span(&c, 1), logits);
    }
    backend->close_sequence(s);
    EXPECT_EQ(got, want) << "prompt of " << ids.size();
  }
}

TEST_P(CpuBackendVsHf, EngineGreedyGenerationMatchesUpToEos) {
  auto backend = load_backend(model_dir());
  const ModelConfig cfg = backend->config();
  Engine engine(std::move(backend), nullptr, EngineOptions{3, 16});
  std::vector<GenerateRequest> reqs;
  std::vector<std::vector<int32_t>> wants;
  for (const json& p : reference()["prompts"]) {
    GenerateRequest r;
    r.prompt_ids = p["ids"].get<std::vector<int32_t>>();
    auto want = p["greedy"].get<std::vector<int32_t>>();
    r.max_new_tokens = int(want.size());
    reqs.push_back(r);
    wants.push_back(want);
  }
  const auto out = engine.generate(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    const auto& want = wants[i];
    auto eos = std::find_if(want.begin(), want.end(), [&](int32_t t) { return cfg.is_eos(t); });
    const Completion& got = out[i].samples[0];
    EXPECT_EQ(got.ids, std::vector<int32_t>(want.begin(), eos)) << i;
    EXPECT_EQ(got.finish, eos == want.end() ? FinishReason::Length : FinishReason::Eos) << i;
  }
}

TEST_P(CpuBackendVsHf, LoglikelihoodMatches) {
  Engine engine(load_backend(model_dir()), nullptr, EngineOptions{2, 8});
  for (const json& ll : reference()["loglikelihood"]) {
    LoglikelihoodRequest r;
    r.context_ids = ll["context"].get<std::vector<int32_t>>();
    for (const json& c : ll["continuations"])
      r.continuations.push_back(c["ids"].get<std::vector<int32_t>>());
    const auto out = engine.loglikelihood(std::vector{r});
    ASSERT_TRUE(out[0].error.empty()) << out[0].error;
    ASSERT_EQ(out[0].scores.size(), r.continuations.size());
    for (size_t j = 0; j < r.continuations.size(); ++j) {
      const json& want = ll["continuations"][j];
      const auto want_lp = want["logprobs"].get<std::vector<double>>();
      const ContinuationScore& got = out[0].scores[j];
      ASSERT_EQ(got.logprobs.size(), want_lp.size());
      for (size_t k = 0; k < want_lp.size(); ++k)
        EXPECT_NEAR(got.logprobs[k], want_lp[k], kLogprobTolerance) << j << "/" << k;
      EXPECT_NEAR(got.sum_logprob, want["sum"].get<double>(),
                  kLogprobTolerance * double(want_lp.size()));
      EXPECT_EQ(got.is_greedy, want["is_greedy"].get<bool>()) << j;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, CpuBackendVsHf,
    ::testing::Values(Layout{"llama_mha", "single"}, Layout{"llama_mha", "sharded"},
                      Layout{"llama_mha", "bin"}, Layout{"llama_mha", "bin_sharded"},
                      Layout{"llama_gqa", "single"}, Layout{"llama_gqa", "sharded"},
                      Layout{"llama_gqa", "bin"}, Layout{"llama_gqa", "bin_sharded"}),
    [](const auto& info) { return info.param.model + "_" + info.param.layout; });

// ---------------------------------------------------------------- KV cache and batching

std::vector<int32_t> longest_prompt(const std::string& model) {
  const json ref = read_json(test::fixtures_dir() / model / "reference.json");
  return ref["prompts"].back()["ids"].get<std::vector<int32_t>>();
}

TEST(CpuBackend, ChunkingAndBatchingDoNotChangeLogits) {
  for (const char* model : {"llama_mha", "llama_gqa"}) {
    auto b = load_backend(test::fixtures_dir() / model / "single");
    const auto ids = longest_prompt(model);
    const auto whole = prefill(*b, ids);

    // Token by token, and in chunks of 7, with another sequence sharing each forward call.
    for (size_t chunk : {size_t(1), size_t(7)}) {
      const SeqId s = b->open_sequence(), other = b->open_sequence();
      std::vector<float> got, logits;
      for (size_t at = 0; at < ids.size(); at += chunk) {
        const size_t n = std::min(chunk, ids.size() - at);
        const std::vector<ForwardChunk> cs{
            {other, std::span(ids).subspan(ids.size() - 1 - at / chunk, 1), 0},
            {s, std::span(ids).subspan(at, n), 0}};
        b->forward(cs, logits);
        const size_t V = size_t(b->config().vocab_size);
        got.insert(got.end(), logits.begin() + ptrdiff_t(V), logits.end());
      }
      EXPECT_EQ(got, whole) << model << " chunk " << chunk;
      b->close_sequence(s);
      b->close_sequence(other);
    }
  }
}

TEST(CpuBackend, ThreadCountDoesNotChangeLogits) {
  const fs::path dir = test::fixtures_dir() / "llama_gqa" / "single";
  const auto ids = longest_prompt("llama_gqa");
  auto one = load_backend(dir, 1);
  auto three = load_backend(dir, 3);
  EXPECT_EQ(prefill(*one, ids), prefill(*three, ids));
}

TEST(CpuBackend, TruncateForgetsThePastTokens) {
  auto b = load_backend(test::fixtures_dir() / "llama_mha" / "single");
  const auto ids = longest_prompt("llama_mha");
  const size_t V = size_t(b->config().vocab_size);
  std::vector<int32_t> other(ids.begin(), ids.begin() + 40);
  std::reverse(other.begin() + 10, other.end());

  const SeqId s = b->open_sequence();
  std::vector<float> logits;
  ForwardChunk c{s, std::span(ids).first(40), 0};
  b->forward(std::span(&c, 1), logits);
  b->truncate(s, 10);
  EXPECT_EQ(b->sequence_length(s), 10);
  c = {s, std::span(other).subspan(10), 0};
  b->forward(std::span(&c, 1), logits);
  const auto fresh = prefill(*b, other, 10);
  EXPECT_EQ(logits, fresh);
  EXPECT_EQ(logits.size(), 30 * V);
  b->close_sequence(s);
}

TEST(CpuBackend, ForkCopiesTheKvState) {
  auto b = load_backend(test::fixtures_dir() / "llama_mha" / "single");
  const auto ids = longest_prompt("llama_mha");
  const SeqId s = b->open_sequence();
  std::vector<float> a, c;
  ForwardChunk chunk{s, std::span(ids).first(50), 50};
  b->forward(std::span(&chunk, 1), a);
  const SeqId f = b->fork_sequence(s);
  chunk = {s, std::span(ids).subspan(50), 0};
  b->forward(std::span(&chunk, 1), a);
  chunk = {f, std::span(ids).subspan(50), 0};
  b->forward(std::span(&chunk, 1), c);
  EXPECT_EQ(a, c);
  EXPECT_EQ(a, prefill(*b, ids, 50));
}

TEST(CpuBackend, RejectsBadChunksWithoutChangingState) {
  auto b = load_backend(test::fixtures_dir() / "llama_mha" / "single");
  const SeqId s = b->open_sequence();
  std::vector<float> logits;
  const std::vector<int32_t> bad{3, 256};
  ForwardChunk c{s, bad, 0};
  EXPECT_THROW(b->forward(std::span(&c, 1), logits), InputError);
  const std::vector<int32_t> too_long(257, 3);
  c = {s, too_long, 0};
  EXPECT_THROW(b->forward(std::span(&c, 1), logits), InputError);
  c = {s + 100, std::span(bad).first(1), 0};
  EXPECT_THROW(b->forward(std::span(&c, 1), logits), InputError);
  EXPECT_EQ(b->sequence_length(s), 0);
}

// ---------------------------------------------------------------- dtypes and tied embeddings

// Copies the single-file fixture into dir with every tensor passed through `convert`, and
// config.json edited by `edit_config`.
template <class Convert>
void write_variant(const fs::path& dir, const std::string& model, Convert convert,
                   const std::function<void(json&)>& edit_config = {}) {
  const fs::path src = test::fixtures_dir() / model / "single";
  fs::create_directories(dir);
  SafetensorsFile in(src / "model.safetensors");
  std::vector<std::vector<std::byte>> buffers;
  std::vector<TensorToWrite> out;
  for (const TensorView& t : in.tensors()) {
    std::vector<float> f(size_t(t.numel()));
    t.to_f32(f.data());
    TensorToWrite w{t.name, DType::F32, t.shape, {}};
    buffers.push_back(convert(t.name, f, w.dtype));
    out.push_back(w);
  }
  // Pointed at after the loop: `buffers` may reallocate while it grows.
  for (size_t i = 0; i < out.size(); ++i) out[i].bytes = buffers[i];
  write_safetensors(dir / "model.safetensors", out);
  json cfg = read_json(src / "config.json");
  if (edit_config) edit_config(cfg);
  std::ofstream(dir / "config.json") << cfg.dump(2);
  fs::copy_file(src / "generation_config.json", dir / "generation_config.json");
}

template <class T>
std::vector<std::byte> as_bytes(const std::vector<T>& v) {
  std::vector<std::byte> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(CpuBackend, HalfPrecisionWeightsAreUpcastExactly) {
  const fs::path root = test::make_temp_dir("cpu-dtypes");
  const auto ids = longest_prompt("llama_gqa");
  for (DType half : {DType::BF16, DType::F16}) {
    auto round = [half](float x) {
      return half == DType::BF16 ? bf16_to_f32(f32_to_bf16(x)) : f16_to_f32(f32_to_f16(x));
    };
    const fs::path h = root / std::string(dtype_name(half)),
                   f = root / (std::string(dtype_name(half)) + "-as-f32");
    write_variant(h, "llama_gqa", [&](const std::string&, const std::vector<float>& x, DType& dt) {
      dt = half;
      std::vector<uint16_t> v(x.size());
      for (size_t i = 0; i < x.size(); ++i)
        v[i] = half == DType::BF16 ? f32_to_bf16(x[i]) : f32_to_f16(x[i]);
      return as_bytes(v);
    });
    write_variant(f, "llama_gqa", [&](const std::string&, const std::vector<float>& x, DType&) {
      std::vector<float> v(x.size());
      for (size_t i = 0; i < x.size(); ++i) v[i] = round(x[i]);
      return as_bytes(v);
    });
    EXPECT_EQ(prefill(*load_backend(h), ids), prefill(*load_backend(f), ids)) << dtype_name(half);
  }
  fs::remove_all(root);
}

TEST(CpuBackend, TiedEmbeddingsUseTheEmbeddingAsLmHead) {
  const fs::path root = test::make_temp_dir("cpu-tied");
  // Untied, with lm_head.weight replaced by the embedding; and tied, without lm_head.weight.
  SafetensorsFile src(test::fixtures_dir() / "llama_mha" / "single" / "model.safetensors");
  std::vector<float> embed;
  for (const TensorView& t : src.tensors())
    if (t.name == "model.embed_tokens.weight") {
      embed.resize(size_t(t.numel()));
      t.to_f32(embed.data());
    }
  ASSERT_FALSE(embed.empty());
  write_variant(root / "untied", "llama_mha",
                [&](const std::string& name, const std::vector<float>& x, DType&) {
                  return as_bytes(name == "lm_head.weight" ? embed : x);
                });
  write_variant(
      root / "tied", "llama_mha",
      [&](const std::string&, const std::vector<float>& x, DType&) { return as_bytes(x); },
      [](json& c) { c["tie_word_embeddings"] = true; });
  // The tied copy still has an lm_head.weight (HF ignores it when tied): it must be ignored.
  const auto ids = longest_prompt("llama_mha");
  const auto untied = prefill(*load_backend(root / "untied"), ids);
  const auto tied = prefill(*load_backend(root / "tied"), ids);
  EXPECT_EQ(untied, tied);
  fs::remove_all(root);
}

}  // namespace
}  // namespace yardstick
