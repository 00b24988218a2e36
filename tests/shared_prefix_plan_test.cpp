// The host half of shared-prefix decode attention (engine/cuda/shared_prefix.h): which sequences
// of a decode step are grouped, over how many blocks, and how the work is cut into items. Pure
// host code: runs without a GPU (in a build with the CUDA backend).
#include <gtest/gtest.h>

#ifdef YARDSTICK_HAVE_CUDA

#include <algorithm>
#include <numeric>
#include <set>
#include <span>
#include <vector>

#include "engine/cuda/shared_prefix.h"

namespace yardstick::test {
namespace {

using cuda::SharedPrefixParams;
using cuda::SharedPrefixPlan;

constexpr int kBS = 16;

// A decode step's sequences: block tables and kv lengths (this step's token included).
struct Step {
  std::vector<std::vector<int32_t>> tables;
  std::vector<int32_t> kv_len;
  int next_block = 1000;   // private blocks come from here

  // A sequence whose first blocks are `shared`, then private blocks up to kv_len tokens.
  int add(const std::vector<int32_t>& shared, int kv) {
    std::vector<int32_t> t = shared;
    while (int(t.size()) * kBS < kv) t.push_back(next_block++);
    tables.push_back(t);
    kv_len.push_back(kv);
    return int(tables.size()) - 1;
  }
  SharedPrefixPlan plan(SharedPrefixParams p = {}) const {
    std::vector<std::span<const int32_t>> spans(tables.begin(), tables.end());
    p.block_size = kBS;
    SharedPrefixPlan out;
    cuda::plan_shared_prefix(spans, kv_len, p, out);
    return out;
  }
};

std::vector<int32_t> blocks(int first, int n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), first);
  return v;
}

std::set<int32_t> members_of(const SharedPrefixPlan& plan, const cuda::SharedPrefixGroup& g) {
  return {plan.members.begin() + g.first, plan.members.begin() + g.first + g.count};
}

// Every item belongs to one group, its members are that group's, its blocks lie in the shared
// range, and each group's (tile, chunk) items cover every member against every shared block once.
void expect_consistent(const SharedPrefixPlan& plan, int heads_per_kv_head) {
  for (const auto& g : plan.groups) {
    std::vector<int> covered(size_t(g.count) * size_t(g.shared_blocks), 0);
    for (const auto& it : plan.items) {
      if (it.member_begin < g.first || it.member_begin >= g.first + g.count) continue;
      EXPECT_LE(it.member_begin + it.num_members, g.first + g.count);
      EXPECT_LE(it.num_members * heads_per_kv_head, cuda::kSharedPrefixRows);
      EXPECT_GE(it.num_members, 1);
      EXPECT_LT(it.chunk, g.chunks);
      EXPECT_LE(0, it.block_begin);
      EXPECT_LT(it.block_begin, it.block_end);
      EXPECT_LE(it.block_end, g.shared_blocks);
      for (int m = it.member_begin; m < it.member_begin + it.num_members; ++m)
        for (int blk = it.block_begin; blk < it.block_end; ++blk) ++covered[size_t(m - g.first) * g.shared_blocks + blk];
    }
    EXPECT_TRUE(std::all_of(covered.begin(), covered.end(), [](int c) { return c == 1; }))
        << "a group's members x shared blocks are not covered exactly once";
    for (int i = 0; i < g.count; ++i) {
      const int32_t b = plan.members[size_t(g.first + i)];
      EXPECT_EQ(plan.skip_blocks[size_t(b)], g.shared_blocks);
      EXPECT_EQ(plan.num_partials[size_t(b)], g.chunks);
    }
    EXPECT_GE(g.chunks, 1);
    EXPECT_LE(g.chunks, cuda::kMaxSharedPrefixChunks);
  }
  EXPECT_LE(int(plan.items.size()), cuda::attention_shared_prefix_items(int(plan.skip_blocks.size())));
}

TEST(SharedPrefixPlan, ForksOfOnePromptFormOneGroupOverTheirCommonFullBlocks) {
  Step s;
  const auto prefix = blocks(0, 6);   // a 100-token prompt: 6 full blocks, the 7th copied by each fork
  for (int i = 0; i < 40; ++i) s.add(prefix, 101 + i % 3);
  const SharedPrefixPlan plan = s.plan();
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].count, 40);
  EXPECT_EQ(plan.groups[0].shared_blocks, 6);
  EXPECT_EQ(plan.blocks_saved(), 39 * 6);
  expect_consistent(plan, 1);
}

TEST(SharedPrefixPlan, NeverSharesTheBlockBeingWrittenThisStep) {
  Step s;
  // Both tables hold the same 5 blocks, but the newest token (position 79) lies in block 4.
  s.add(blocks(0, 5), 80);
  s.add(blocks(0, 5), 80);
  SharedPrefixParams p;
  p.min_shared_blocks = 1;
  SharedPrefixPlan plan = s.plan(p);
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].shared_blocks, 4);
  // One token later block 4 is full and below the newest token (80, in block 5).
  s.tables[0].push_back(900);
  s.tables[1].push_back(901);
  s.kv_len = {81, 81};
  plan = s.plan(p);
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].shared_blocks, 5);
}

TEST(SharedPrefixPlan, SharingFewerBlocksThanTheMinimumDoesNotPay) {
  Step s;
  for (int i = 0; i < 8; ++i) s.add(blocks(0, 3), 3 * kBS + 5);
  EXPECT_TRUE(s.plan().empty());
  SharedPrefixParams p;
  p.min_shared_blocks = 3;
  EXPECT_EQ(s.plan(p).groups.size(), 1u);
}

TEST(SharedPrefixPlan, ASingleSequenceOrUnrelatedSequencesAreNoGroup) {
  Step one;
  one.add(blocks(0, 10), 170);
  EXPECT_TRUE(one.plan().empty());
  Step unrelated;
  for (int i = 0; i < 5; ++i) unrelated.add(blocks(100 * i, 10), 170);
  const SharedPrefixPlan plan = unrelated.plan();
  EXPECT_TRUE(plan.empty());
  EXPECT_EQ(plan.skip_blocks, std::vector<int32_t>(5, 0));
  EXPECT_EQ(plan.num_partials, std::vector<int32_t>(5, 0));
}

TEST(SharedPrefixPlan, AnOutlierSharingAShortPrefixDoesNotShrinkTheLargeGroup) {
  // 30 sequences share 47 blocks; one more shares only their first 5 (same first tokens, other
  // few-shot examples). Its sixth block id decides at which end of them it sorts: try both.
  for (int32_t sixth : {-1, 0, 1 << 30}) {
    SCOPED_TRACE(sixth);
    Step s;
    std::vector<int32_t> outlier = blocks(0, 5);
    outlier.push_back(sixth);
    const int o = s.add(outlier, 47 * kBS + 30);
    std::vector<int> group;
    for (int i = 0; i < 30; ++i) group.push_back(s.add(blocks(0, 47), 47 * kBS + 1 + i));
    const SharedPrefixPlan plan = s.plan();
    ASSERT_EQ(plan.groups.size(), 1u);
    EXPECT_EQ(plan.groups[0].shared_blocks, 47);
    EXPECT_EQ(members_of(plan, plan.groups[0]), std::set<int32_t>(group.begin(), group.end()));
    EXPECT_EQ(plan.skip_blocks[size_t(o)], 0);
    expect_consistent(plan, 1);
  }
}

// `singles` sequences behind a 10-block prefix, and 4 pairs behind the same prefix whose
// members share `pair_blocks` blocks in all.
Step nested(int singles, int pair_blocks) {
  Step s;
  for (int i = 0; i < singles; ++i) s.add(blocks(0, 10), 10 * kBS + 3);
  for (int p = 0; p < 4; ++p) {
    std::vector<int32_t> t = blocks(0, 10);
    for (int j = 10; j < pair_blocks; ++j) t.push_back(5000 + 100 * p + j);
    s.add(t, pair_blocks * kBS + 2);
    s.add(t, pair_blocks * kBS + 9);
  }
  return s;
}

TEST(SharedPrefixPlan, NestedSharingPrefersTheGrouping) {
  // 20 sequences share 10 blocks; 4 pairs among them share 40. One group of 20 over 10 blocks
  // saves 190 reads; the pairs alone would save 4 x 40 = 160.
  SharedPrefixPlan plan = nested(12, 40).plan();
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].count, 20);
  EXPECT_EQ(plan.groups[0].shared_blocks, 10);
  // Where the pairs share much more (11 x 10 = 110 against 4 x 100), they are worth more apart.
  const Step t = nested(3, 100);
  plan = t.plan();
  ASSERT_EQ(plan.groups.size(), 4u);
  for (const auto& g : plan.groups) {
    EXPECT_EQ(g.count, 2);
    EXPECT_EQ(g.shared_blocks, 100);
  }
  expect_consistent(plan, 1);
}

TEST(SharedPrefixPlan, DisjointPrefixesFormSeparateGroupsWhateverTheBatchOrder) {
  Step s;
  std::vector<int> a, b;
  for (int i = 0; i < 10; ++i) {
    a.push_back(s.add(blocks(0, 8), 8 * kBS + 1 + i));
    b.push_back(s.add(blocks(50, 12), 12 * kBS + 7));
  }
  const SharedPrefixPlan plan = s.plan();
  ASSERT_EQ(plan.groups.size(), 2u);
  std::set<std::set<int32_t>> got = {members_of(plan, plan.groups[0]), members_of(plan, plan.groups[1])};
  std::set<std::set<int32_t>> want = {std::set<int32_t>(a.begin(), a.end()), std::set<int32_t>(b.begin(), b.end())};
  EXPECT_EQ(got, want);
  for (const auto& g : plan.groups) EXPECT_EQ(g.shared_blocks, members_of(plan, g).count(a[0]) ? 8 : 12);
  expect_consistent(plan, 1);
}

TEST(SharedPrefixPlan, TilesHoldAsManyMembersAsTheirRowsAllowAndChunksFillTheGrid) {
  Step s;
  for (int i = 0; i < 300; ++i) s.add(blocks(0, 47), 47 * kBS + 1 + i % 150);
  for (int heads : {1, 8, 64}) {
    SharedPrefixParams p;
    p.heads_per_kv_head = heads;
    p.blocks_x = 1;   // one item per grid block would do: a single chunk
    SharedPrefixPlan plan = s.plan(p);
    ASSERT_EQ(plan.groups.size(), 1u);
    EXPECT_EQ(plan.groups[0].chunks, 1);
    const int per_tile = cuda::kSharedPrefixRows / heads;
    EXPECT_EQ(int(plan.items.size()), (300 + per_tile - 1) / per_tile);
    expect_consistent(plan, heads);
    p.blocks_x = 100000;   // as many chunks as allowed
    plan = s.plan(p);
    EXPECT_EQ(plan.groups[0].chunks, cuda::kMaxSharedPrefixChunks);
    expect_consistent(plan, heads);
  }
  SharedPrefixParams too_many;
  too_many.heads_per_kv_head = cuda::kSharedPrefixRows + 1;
  EXPECT_TRUE(s.plan(too_many).empty());
}

TEST(SharedPrefixPlan, ChunksSpanAtLeastTheMinimumBlocks) {
  Step s;
  for (int i = 0; i < 4; ++i) s.add(blocks(0, 9), 9 * kBS + 4);
  SharedPrefixParams p;
  p.blocks_x = 100000;
  const SharedPrefixPlan plan = s.plan(p);
  ASSERT_EQ(plan.groups.size(), 1u);
  EXPECT_EQ(plan.groups[0].chunks, 2);   // 9 blocks, >= 4 each
  expect_consistent(plan, 1);
}

TEST(SharedPrefixPlan, ThePlanIsTheSameEveryRun) {
  Step s;
  for (int i = 0; i < 50; ++i) s.add(blocks(0, 5 + i % 3), 8 * kBS + 1);
  const SharedPrefixPlan a = s.plan(), b = s.plan();
  EXPECT_EQ(a.members, b.members);
  EXPECT_EQ(a.skip_blocks, b.skip_blocks);
  ASSERT_EQ(a.items.size(), b.items.size());
}

}  // namespace
}  // namespace yardstick::test

#else

TEST(SharedPrefixPlan, SkippedWithoutCuda) { GTEST_SKIP() << "built without the CUDA backend"; }

#endif  // YARDSTICK_HAVE_CUDA
