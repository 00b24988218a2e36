// The prefix cache: the index that matches token chains block by block (exactly, whatever the
// hashes do), its LRU of evictable blocks, and the engine over the CPU backend with caching on
// and off — the outputs must be bitwise the same, and the cache must actually serve.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include "engine/cpu_backend.h"
#include "engine/engine.h"
#include "engine/model_config.h"
#include "engine/prefix_cache.h"
#include "engine/weights.h"
#include "tests/engine_results.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

using test::ids_of;
using test::logprobs_of;

std::vector<int32_t> block_of(int32_t first, int n = 4) {
  std::vector<int32_t> b;
  for (int i = 0; i < n; ++i) b.push_back(first + i);
  return b;
}

// ---------------------------------------------------------------- the index

TEST(PrefixIndex, FindsAChainBlockByBlock) {
  PrefixIndex idx(4, 8);
  const uint64_t s0 = idx.insert(PrefixIndex::kRoot, block_of(10), 3);
  const uint64_t s1 = idx.insert(s0, block_of(20), 5);
  auto m0 = idx.find(PrefixIndex::kRoot, block_of(10));
  ASSERT_TRUE(m0);
  EXPECT_EQ(m0->block, 3);
  EXPECT_EQ(m0->serial, s0);
  auto m1 = idx.find(m0->serial, block_of(20));
  ASSERT_TRUE(m1);
  EXPECT_EQ(m1->block, 5);
  EXPECT_EQ(m1->serial, s1);
  EXPECT_EQ(idx.entries(), 2);
}

TEST(PrefixIndex, SameTokensAfterAnotherParentDoNotMatch) {
  PrefixIndex idx(4, 8);
  const uint64_t a = idx.insert(PrefixIndex::kRoot, block_of(10), 0);
  const uint64_t b = idx.insert(PrefixIndex::kRoot, block_of(30), 1);
  idx.insert(a, block_of(20), 2);
  EXPECT_FALSE(idx.find(b, block_of(20)));
  EXPECT_FALSE(idx.find(PrefixIndex::kRoot, block_of(20)));   // not a first block
  EXPECT_FALSE(idx.find(a, block_of(21)));                    // one token differs
  EXPECT_FALSE(idx.find(a, block_of(20, 3)));                 // not a whole block
}

TEST(PrefixIndex, AChainWhoseParentWasEvictedCanNotBeMatchedAgain) {
  PrefixIndex idx(4, 8);
  const uint64_t a = idx.insert(PrefixIndex::kRoot, block_of(10), 0);
  idx.insert(a, block_of(20), 1);
  idx.release(0);
  ASSERT_EQ(idx.evict(), 0);
  // Block 0 comes back holding other tokens; the same chain is entered again under a new serial.
  const uint64_t again = idx.insert(PrefixIndex::kRoot, block_of(10), 0);
  EXPECT_NE(again, a);
  EXPECT_FALSE(idx.find(again, block_of(20)));   // block 1 was computed after the old block 0
}

TEST(PrefixIndex, ADuplicateChainKeepsTheCachedBlockAndItsSerial) {
  PrefixIndex idx(4, 8);
  const uint64_t a = idx.insert(PrefixIndex::kRoot, block_of(10), 0);
  EXPECT_EQ(idx.insert(PrefixIndex::kRoot, block_of(10), 6), a);
  EXPECT_TRUE(idx.contains(0));
  EXPECT_FALSE(idx.contains(6));
  EXPECT_EQ(idx.entries(), 1);
}

TEST(PrefixIndex, EveryKeyCollidingStillMatchesOnlyTheExactChain) {
  PrefixIndex idx(4, 16, [](uint64_t, std::span<const int32_t>) { return uint64_t(42); });
  const uint64_t a = idx.insert(PrefixIndex::kRoot, block_of(10), 0);
  const uint64_t b = idx.insert(PrefixIndex::kRoot, block_of(11), 1);
  const uint64_t a2 = idx.insert(a, block_of(20), 2);
  const uint64_t b2 = idx.insert(b, block_of(20), 3);   // same tokens, other parent
  EXPECT_EQ(idx.entries(), 4);
  EXPECT_EQ(idx.find(PrefixIndex::kRoot, block_of(10))->block, 0);
  EXPECT_EQ(idx.find(PrefixIndex::kRoot, block_of(11))->block, 1);
  EXPECT_EQ(idx.find(a, block_of(20))->serial, a2);
  EXPECT_EQ(idx.find(b, block_of(20))->serial, b2);
  EXPECT_FALSE(idx.find(PrefixIndex::kRoot, block_of(12)));
  idx.erase(2);
  EXPECT_FALSE(idx.find(a, block_of(20)));
  EXPECT_EQ(idx.find(b, block_of(20))->block, 3);
}

TEST(PrefixIndex, EvictsTheLeastRecentlyReleasedBlockAndNeverAHeldOne) {
  PrefixIndex idx(4, 8);
  for (int b = 0; b < 4; ++b) idx.insert(PrefixIndex::kRoot, block_of(100 * b), b);
  idx.release(2);
  idx.release(0);
  idx.release(3);
  idx.acquire(0);   // held again
  EXPECT_EQ(idx.evictable_count(), 2);
  EXPECT_EQ(idx.evict(), 2);
  EXPECT_EQ(idx.evict(), 3);
  EXPECT_EQ(idx.evict(), std::nullopt);
  EXPECT_TRUE(idx.contains(0));
  EXPECT_TRUE(idx.contains(1));
  EXPECT_FALSE(idx.find(PrefixIndex::kRoot, block_of(200)));
}

TEST(PrefixIndex, ErasedAndClearedBlocksAreForgotten) {
  PrefixIndex idx(4, 8);
  idx.insert(PrefixIndex::kRoot, block_of(10), 0);
  idx.insert(PrefixIndex::kRoot, block_of(20), 1);
  idx.release(1);
  idx.erase(0);
  EXPECT_FALSE(idx.find(PrefixIndex::kRoot, block_of(10)));
  idx.clear();
  EXPECT_EQ(idx.entries(), 0);
  EXPECT_EQ(idx.evictable_count(), 0);
  EXPECT_FALSE(idx.find(PrefixIndex::kRoot, block_of(20)));
}

// ---------------------------------------------------------------- the engine on the CPU backend

std::unique_ptr<Backend> gqa_backend(bool prefix_cache, int64_t cache_bytes = int64_t(64) << 20) {
  const std::filesystem::path dir = test::fixtures_dir() / "llama_gqa" / "single";
  const ModelConfig cfg = load_model_config(dir);
  CpuBackendOptions o;
  o.threads = 1;
  o.prefix_cache = prefix_cache;
  o.prefix_cache_bytes = cache_bytes;
  return std::make_unique<CpuBackend>(cfg, Weights::load(dir, cfg), o);
}

// Few-shot-like prompts: one shared 70-token prefix, then each prompt's own tail.
std::vector<std::vector<int32_t>> shared_prefix_prompts(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> tok(2, 255);
  std::vector<int32_t> prefix(70);
  for (auto& t : prefix) t = tok(rng);
  std::vector<std::vector<int32_t>> out;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> p = prefix;
    const int tail = 3 + i % 20;
    for (int j = 0; j < tail; ++j) p.push_back(tok(rng));
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<GenerateRequest> generation_requests() {
  std::vector<GenerateRequest> reqs;
  int i = 0;
  for (auto& p : shared_prefix_prompts(14, 7)) {
    GenerateRequest r;
    r.prompt_ids = p;
    r.max_new_tokens = 24;
    if (i % 3 == 1) {   // some sampled, some with several samples (forked prefill)
      r.sampling.temperature = 0.9f;
      r.sampling.seed = uint64_t(i);
      r.n = 1 + i % 2;
    }
    reqs.push_back(std::move(r));
    ++i;
  }
  return reqs;
}

std::vector<LoglikelihoodRequest> scoring_requests() {
  std::vector<LoglikelihoodRequest> reqs;
  int i = 0;
  for (auto& p : shared_prefix_prompts(10, 11)) {
    LoglikelihoodRequest r;
    r.context_ids = p;
    r.continuations = {{int32_t(5 + i)}, {int32_t(9 + i), 17, 33}, {int32_t(40 + i)}};
    reqs.push_back(std::move(r));
    ++i;
  }
  return reqs;
}

TEST(EnginePrefixCache, GenerationsAreBitwiseTheSameWithAndWithoutTheCache) {
  const auto reqs = generation_requests();
  // A small batch and prefill budget: work admitted behind a prompt finds its blocks cached.
  Engine off(gqa_backend(false), nullptr, EngineOptions{4, 48});
  Engine on(gqa_backend(true), nullptr, EngineOptions{4, 48});
  const auto want = ids_of(off.generate(reqs));
  EXPECT_EQ(ids_of(on.generate(reqs)), want);
  EXPECT_EQ(off.stats().cached_tokens, 0);
  EXPECT_GT(on.stats().cached_tokens, 0);
  EXPECT_GT(on.stats().prefix_cache.blocks_reused, 0);
  EXPECT_LT(on.stats().prefill_tokens, off.stats().prefill_tokens);
  // Every prompt token is either computed or attached, on and off alike.
  EXPECT_EQ(on.stats().prefill_tokens + on.stats().cached_tokens + on.stats().decode_tokens,
            off.stats().prefill_tokens + off.stats().decode_tokens);
}

TEST(EnginePrefixCache, LogprobsAreBitwiseTheSameWithAndWithoutTheCache) {
  const auto reqs = scoring_requests();
  Engine off(gqa_backend(false), nullptr, EngineOptions{3, 40});
  Engine on(gqa_backend(true), nullptr, EngineOptions{3, 40});
  const auto want = logprobs_of(off.loglikelihood(reqs));
  EXPECT_EQ(logprobs_of(on.loglikelihood(reqs)), want);
  EXPECT_GT(on.stats().cached_tokens, 0);
  EXPECT_GT(on.stats().prefix_hit_rate(), 0.0);
}

TEST(EnginePrefixCache, BlocksOutliveTheirSequencesAndServeALaterCall) {
  Engine on(gqa_backend(true), nullptr, EngineOptions{8, 512});
  std::vector<GenerateRequest> one(1);
  one[0].prompt_ids = shared_prefix_prompts(1, 3)[0];
  one[0].max_new_tokens = 4;
  const auto first = ids_of(on.generate(one));
  EXPECT_EQ(on.stats().cached_tokens, 0);
  const auto second = ids_of(on.generate(one));
  EXPECT_EQ(second, first);
  // 70 + 3 prompt tokens: the first 64 are four whole 16-token blocks, attached this time.
  EXPECT_EQ(on.stats().cached_tokens, 64);
}

TEST(EnginePrefixCache, PromptsStartingAlikeWaitForAllOfTheFirstOnesPrefixBlocks) {
  // With room for every prompt in the first step, without waiting each would compute the shared
  // prefix itself; with 24 prompt tokens a step, the first prompt's 70-token prefix takes three
  // steps, and the others wait for all of its 4 whole blocks rather than attach the part computed
  // so far and compute the rest themselves.
  std::vector<GenerateRequest> reqs;
  for (auto& p : shared_prefix_prompts(14, 5)) reqs.push_back(GenerateRequest{p, 4});
  for (const int step_tokens : {4096, 24}) {
    SCOPED_TRACE(step_tokens);
    Engine off(gqa_backend(false), nullptr, EngineOptions{16, step_tokens});
    Engine on(gqa_backend(true), nullptr, EngineOptions{16, step_tokens});
    EXPECT_EQ(ids_of(on.generate(reqs)), ids_of(off.generate(reqs)));
    EXPECT_EQ(on.stats().cached_tokens, 13 * 64);   // the 4 whole blocks of the 70-token prefix
  }
}

TEST(EnginePrefixCache, EvictedPrefixesAreRecomputedNotAnError) {
  const auto reqs = generation_requests();
  Engine off(gqa_backend(false), nullptr, EngineOptions{4, 48});
  // Room for two cached blocks (2 layers x 2 (k, v) x 16 tokens x 8 floats x 4 bytes each): the
  // chains evict each other all the time.
  Engine tiny(gqa_backend(true, 2 * 2048), nullptr, EngineOptions{4, 48});
  EXPECT_EQ(ids_of(tiny.generate(reqs)), ids_of(off.generate(reqs)));
  EXPECT_GT(tiny.stats().prefix_cache.evictions, 0);
  EXPECT_LE(tiny.stats().prefix_cache.blocks_cached, 2);
}

}  // namespace
}  // namespace yardstick
