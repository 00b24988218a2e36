#include "engine/cuda/shared_prefix.h"

#include <algorithm>
#include <cstring>

namespace yardstick::cuda {

int64_t SharedPrefixPlan::blocks_saved() const {
  int64_t saved = 0;
  for (const SharedPrefixGroup& g : groups) saved += int64_t(g.count - 1) * g.shared_blocks;
  return saved;
}

namespace {

// The best grouping of the sorted candidates [lo, hi], given lcp[i] = the blocks candidates i
// and i + 1 share: appends its groups (first = lo of the range, count, shared_blocks) and
// returns the block reads they save. The range as one group shares its smallest lcp; its
// children are the ranges between the positions of that smallest value, each sharing more.
int64_t best_groups(const std::vector<int>& lcp, int lo, int hi, int min_shared, std::vector<SharedPrefixGroup>& out) {
  if (lo >= hi) return 0;
  const int shared = *std::min_element(lcp.begin() + lo, lcp.begin() + hi);
  const size_t mark = out.size();
  int64_t children = 0;
  for (int start = lo, p = lo; p <= hi; ++p) {
    if (p == hi || lcp[size_t(p)] == shared) {
      children += best_groups(lcp, start, p, min_shared, out);
      start = p + 1;
    }
  }
  const int64_t whole = shared >= min_shared ? int64_t(hi - lo) * shared : 0;
  if (whole > 0 && whole >= children) {   // on a tie one group: one partial per member instead of several
    out.resize(mark);
    out.push_back(SharedPrefixGroup{lo, hi - lo + 1, shared, 0});
    return whole;
  }
  return children;
}

}  // namespace

void plan_shared_prefix(std::span<const std::span<const int32_t>> tables, std::span<const int32_t> kv_len,
                        const SharedPrefixParams& params, SharedPrefixPlan& plan) {
  const int B = int(tables.size());
  plan.groups.clear();
  plan.members.clear();
  plan.items.clear();
  plan.skip_blocks.assign(size_t(B), 0);
  plan.num_partials.assign(size_t(B), 0);
  const int G = params.heads_per_kv_head;
  if (G < 1 || G > kSharedPrefixRows || params.block_size < 1) return;
  const int min_shared = std::max(1, params.min_shared_blocks);

  // Blocks each sequence may share: those wholly below its newest token, which is written this
  // step into block (kv_len - 1) / BS.
  std::vector<int> full(static_cast<size_t>(B));
  std::vector<int32_t> cand;
  for (int b = 0; b < B; ++b) {
    full[size_t(b)] = std::min(std::max(kv_len[size_t(b)] - 1, 0) / params.block_size, int(tables[size_t(b)].size()));
    if (full[size_t(b)] >= min_shared) cand.push_back(b);
  }
  if (cand.size() < 2) return;
  auto shareable = [&](int32_t b) { return tables[size_t(b)].first(size_t(full[size_t(b)])); };
  // Lexicographic by shareable blocks (ties by index, so the plan is the same every run):
  // sequences sharing k leading blocks end up adjacent. Any order of the block ids does that, so
  // memcmp's byte order serves (4x faster than comparing ids at 256 sequences sharing 47 blocks).
  std::sort(cand.begin(), cand.end(), [&](int32_t a, int32_t b) {
    const auto x = shareable(a), y = shareable(b);
    const size_t n = std::min(x.size(), y.size());
    if (const int c = n ? std::memcmp(x.data(), y.data(), n * sizeof(int32_t)) : 0; c != 0) return c < 0;
    return x.size() != y.size() ? x.size() < y.size() : a < b;
  });
  std::vector<int> lcp(cand.size() - 1);
  for (size_t i = 0; i + 1 < cand.size(); ++i) {
    const auto x = shareable(cand[i]), y = shareable(cand[i + 1]);
    lcp[i] = int(std::mismatch(x.begin(), x.end(), y.begin(), y.end()).first - x.begin());
  }
  std::vector<SharedPrefixGroup> found;
  best_groups(lcp, 0, int(cand.size()) - 1, min_shared, found);
  if (found.empty()) return;

  // Chunks: enough items to give every block of the grid one (a chunk's tiles re-read its
  // keys from L2, so tiles come first), each chunk at least min_chunk_blocks long.
  const int per_tile = kSharedPrefixRows / G;
  int tiles = 0;
  for (const SharedPrefixGroup& g : found) tiles += (g.count + per_tile - 1) / per_tile;
  const int want_chunks = std::clamp((params.blocks_x + tiles - 1) / tiles, 1, kMaxSharedPrefixChunks);
  for (SharedPrefixGroup g : found) {
    const int first = int(plan.members.size());
    for (int i = 0; i < g.count; ++i) plan.members.push_back(cand[size_t(g.first + i)]);
    g.first = first;
    g.chunks = std::clamp(g.shared_blocks / std::max(1, params.min_chunk_blocks), 1, want_chunks);
    for (int c = 0; c < g.chunks; ++c) {
      const int begin = int(int64_t(g.shared_blocks) * c / g.chunks);
      const int end = int(int64_t(g.shared_blocks) * (c + 1) / g.chunks);
      for (int m = 0; m < g.count; m += per_tile) {
        plan.items.push_back(SharedPrefixItem{first + m, std::min(per_tile, g.count - m), c, begin, end});
      }
    }
    for (int i = 0; i < g.count; ++i) {
      const int32_t b = plan.members[size_t(first + i)];
      plan.skip_blocks[size_t(b)] = g.shared_blocks;
      plan.num_partials[size_t(b)] = g.chunks;
    }
    plan.groups.push_back(g);
  }
}

}  // namespace yardstick::cuda
