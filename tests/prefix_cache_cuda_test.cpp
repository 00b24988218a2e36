// Prefix caching in the CUDA backend's paged KV cache: full blocks outlive their sequences and
// count as free, a new sequence attaches exactly the blocks whose token chain it starts with,
// eviction makes room when blocks run short, and the engine's results with the cache agree with
// those without it within the bf16 tolerance of the GPU tests (the attached keys and values come
// from another step's batch, whose shapes round differently). Skips without a GPU.
#include <gtest/gtest.h>

#ifdef YARDSTICK_HAVE_CUDA

#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <random>
#include <vector>

#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/kv_cache.h"
#include "engine/engine.h"
#include "engine/model_config.h"
#include "engine/weights.h"
#include "tests/cuda_test_util.h"
#include "tests/test_paths.h"

namespace yardstick::test {
namespace {

constexpr int kBlock = 16;
constexpr double kMaxLogprobDifference = 0.05;   // as scheduler_cuda_test: bf16 paths, same weights
constexpr double kMinTokenAgreement = 0.75;

std::unique_ptr<CudaBackend> gqa_backend(bool prefix_cache, int64_t kv_blocks = 0) {
  const auto dir = fixtures_dir() / "llama_gqa" / "single";
  const ModelConfig cfg = load_model_config(dir);
  CudaBackendOptions o;
  o.kv_block_size = kBlock;
  o.prefix_cache = prefix_cache;
  if (kv_blocks > 0) {
    const cuda::KvCacheShape shape{cfg.num_layers, cfg.num_kv_heads, cfg.head_dim, kBlock};
    o.kv_max_bytes = int64_t(cuda::KvCache::bytes_per_block(shape)) * kv_blocks;
  }
  return std::make_unique<CudaBackend>(cfg, Weights::load(dir, cfg), o);
}

std::vector<int32_t> random_tokens(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> tok(2, 255);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = tok(rng);
  return t;
}

// Feeds `rest` in one chunk; the log-prob of each next token of `rest` (the last row scores
// token 7, a placeholder).
std::vector<float> score_rest(CudaBackend& b, SeqId seq, std::span<const int32_t> rest) {
  ForwardChunk c{seq, rest, 0};
  std::vector<TokenPick> picks(rest.size());
  for (size_t i = 0; i + 1 < rest.size(); ++i) picks[i].target = rest[i + 1];
  picks.back().target = 7;
  std::vector<PickedToken> out;
  b.forward_pick(std::span<const ForwardChunk>(&c, 1), picks, out);
  std::vector<float> lp;
  for (const auto& p : out) lp.push_back(p.target_logprob);
  return lp;
}

TEST(CudaPrefixCache, FreedBlocksStayCachedCountAsFreeAndAreAttachedAgain) {
  YARDSTICK_SKIP_WITHOUT_GPU();
  auto b = gqa_backend(true, 64);
  const std::vector<int32_t> prompt = random_tokens(70, 1);
  const int64_t total = b->kv_free_blocks();

  SeqId a = b->open_sequence();
  EXPECT_EQ(b->attach_cached_prefix(a, prompt), 0);   // nothing cached yet
  const std::vector<float> first = score_rest(*b, a, prompt);
  b->close_sequence(a);
  EXPECT_EQ(b->kv_free_blocks(), total);   // cached blocks no sequence holds count as free
  EXPECT_EQ(b->prefix_cache_stats().blocks_cached, 4);   // 70 tokens: 4 whole blocks

  const CachedPrefix found = b->find_cached_prefix(prompt);
  EXPECT_EQ(found.tokens, 64);
  EXPECT_EQ(found.blocks_from_free, 4);
  SeqId s = b->open_sequence();
  ASSERT_EQ(b->attach_cached_prefix(s, prompt), 64);
  EXPECT_EQ(b->sequence_length(s), 64);
  EXPECT_EQ(b->kv_free_blocks(), total - 4);
  const std::vector<float> again = score_rest(*b, s, std::span<const int32_t>(prompt).subspan(64));
  // The rows after the attached prefix equal those computed with it, within bf16 rounding.
  ASSERT_EQ(again.size(), 6u);
  for (size_t i = 0; i + 1 < again.size(); ++i)
    EXPECT_NEAR(again[i], first[64 + i], kMaxLogprobDifference) << "position " << 64 + i;
  b->close_sequence(s);
  EXPECT_EQ(b->prefix_cache_stats().blocks_reused, 4);
}

TEST(CudaPrefixCache, AttachStopsAtTheFirstBlockWhoseTokensDiffer) {
  YARDSTICK_SKIP_WITHOUT_GPU();
  auto b = gqa_backend(true, 64);
  const std::vector<int32_t> prompt = random_tokens(70, 2);
  SeqId a = b->open_sequence();
  score_rest(*b, a, prompt);
  b->close_sequence(a);

  std::vector<int32_t> other = prompt;
  other[31] = other[31] == 3 ? 4 : 3;   // the last token of the second block
  SeqId s = b->open_sequence();
  EXPECT_EQ(b->attach_cached_prefix(s, other), 16);
  b->close_sequence(s);
  // A chain is matched from the start: the same later blocks after another first block don't.
  std::vector<int32_t> shifted = prompt;
  shifted[0] = shifted[0] == 3 ? 4 : 3;
  s = b->open_sequence();
  EXPECT_EQ(b->attach_cached_prefix(s, shifted), 0);
  b->close_sequence(s);
}

TEST(CudaPrefixCache, TruncatingIntoACachedBlockLeavesTheCachedCopyIntact) {
  YARDSTICK_SKIP_WITHOUT_GPU();
  auto b = gqa_backend(true, 64);
  const std::vector<int32_t> prompt = random_tokens(40, 3);
  SeqId a = b->open_sequence();
  const std::vector<float> first = score_rest(*b, a, prompt);
  // Rewrite the sequence from token 20 on (inside its second cached block) with other tokens.
  b->truncate(a, 20);
  score_rest(*b, a, random_tokens(20, 4));
  b->close_sequence(a);
  SeqId s = b->open_sequence();
  // The second block was forgotten before being overwritten; only the first can be attached.
  ASSERT_EQ(b->attach_cached_prefix(s, prompt), 16);
  const std::vector<float> again = score_rest(*b, s, std::span<const int32_t>(prompt).subspan(16));
  for (size_t i = 0; i + 1 < again.size(); ++i)
    EXPECT_NEAR(again[i], first[16 + i], kMaxLogprobDifference) << "position " << 16 + i;
  b->close_sequence(s);
}

// Few-shot-like work: prompts sharing a 150-token prefix, each with its own tail.
std::vector<GenerateRequest> shared_prefix_work(int n) {
  const std::vector<int32_t> prefix = random_tokens(150, 5);
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < n; ++i) {
    GenerateRequest r;
    r.prompt_ids = prefix;
    const auto tail = random_tokens(5 + i % 17, 100 + uint32_t(i));
    r.prompt_ids.insert(r.prompt_ids.end(), tail.begin(), tail.end());
    r.max_new_tokens = 24;
    reqs.push_back(std::move(r));
  }
  return reqs;
}

// Share of tokens equal up to each sample's first difference.
double token_agreement(const std::vector<GenerateResult>& a, const std::vector<GenerateResult>& b) {
  size_t same = 0, all = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto& x = a[i].samples[0].ids;
    const auto& y = b[i].samples[0].ids;
    all += x.size();
    size_t k = 0;
    while (k < x.size() && k < y.size() && x[k] == y[k]) ++k;
    same += k;
  }
  return all ? double(same) / double(all) : 1.0;
}

TEST(CudaPrefixCache, EngineResultsAgreeWithAndWithoutTheCache) {
  YARDSTICK_SKIP_WITHOUT_GPU();
  const auto reqs = shared_prefix_work(48);
  Engine off(gqa_backend(false), nullptr, EngineOptions{16, 256});
  Engine on(gqa_backend(true), nullptr, EngineOptions{16, 256});
  const auto want = off.generate(reqs);
  const auto got = on.generate(reqs);
  for (const auto& r : got) EXPECT_NE(r.samples[0].finish, FinishReason::Error) << r.samples[0].error;
  const double agree = token_agreement(want, got);
  std::cout << "[ metrics ] prefix cache on vs off: token agreement " << agree << ", cached tokens "
            << on.stats().cached_tokens << " of " << on.stats().cached_tokens + on.stats().prefill_tokens
            << " prompt tokens\n";
  EXPECT_GE(agree, kMinTokenAgreement);
  EXPECT_EQ(off.stats().cached_tokens, 0);
  // Every prompt after the first few finds the 144 tokens of whole blocks its prefix holds.
  EXPECT_GE(on.stats().cached_tokens, 144 * 40);
}

TEST(CudaPrefixCache, ATightCacheEvictsAndRecomputesWithoutErrors) {
  YARDSTICK_SKIP_WITHOUT_GPU();
  // 48 different 100-token prompts, each generating 20: 8 blocks a sequence, 30 in the cache.
  std::vector<GenerateRequest> reqs;
  for (int i = 0; i < 48; ++i) {
    GenerateRequest r;
    r.prompt_ids = random_tokens(100, 1000 + uint32_t(i % 24));   // each prompt twice
    r.max_new_tokens = 20;
    reqs.push_back(std::move(r));
  }
  Engine roomy(gqa_backend(false), nullptr, EngineOptions{8, 256});
  auto tight_backend = gqa_backend(true, 30);
  CudaBackend* tight_raw = tight_backend.get();
  Engine tight(std::move(tight_backend), nullptr, EngineOptions{8, 256});
  const auto want = roomy.generate(reqs);
  const auto got = tight.generate(reqs);
  for (const auto& r : got) EXPECT_NE(r.samples[0].finish, FinishReason::Error) << r.samples[0].error;
  EXPECT_GE(token_agreement(want, got), kMinTokenAgreement);
  EXPECT_GT(tight.stats().prefix_cache.evictions, 0);
  EXPECT_EQ(tight_raw->kv_free_blocks(), tight_raw->kv_total_blocks());
}

}  // namespace
}  // namespace yardstick::test

#endif  // YARDSTICK_HAVE_CUDA
