// Which sequences of a decode step share the leading physical blocks of their KV block tables,
// and how attention_shared_prefix (attention.h) cuts the work: the host half of shared-prefix
// ("cascade") decode attention. Pure host code, run once per decode step.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/cuda/attention.h"

namespace yardstick::cuda {

struct SharedPrefixParams {
  int block_size = 16;          // BS
  int heads_per_kv_head = 1;    // G = NH / NKV: query rows per member and kv head
  int num_kv_heads = 1;         // NKV: the shared pass's grid.y
  int blocks_x = 1;             // the shared pass's grid.x (attention_shared_prefix_blocks)
  // A group pays only when its members share at least this many blocks: below ~64 tokens the
  // reads saved are a few KB a member and head, less than what the shared pass, its partials
  // and their merge cost in latency, and a 32-key stage of the pass would be mostly padding.
  int min_shared_blocks = 4;
  int min_chunk_blocks = 4;     // a chunk of the shared blocks spans at least this many
};

// Members [first, first + count) of SharedPrefixPlan::members read blocks [0, shared_blocks)
// of their (identical) tables once, cut into `chunks` chunks.
struct SharedPrefixGroup {
  int first = 0;
  int count = 0;
  int shared_blocks = 0;
  int chunks = 0;
};

struct SharedPrefixPlan {
  std::vector<SharedPrefixGroup> groups;
  std::vector<int32_t> members;        // sequence indices, group after group
  std::vector<int32_t> skip_blocks;    // [B] blocks the shared pass covers (0: in no group)
  std::vector<int32_t> num_partials;   // [B] its chunks (0: in no group)
  std::vector<SharedPrefixItem> items; // chunk-major within a group: a chunk's tiles run side by side, sharing L2
  bool empty() const { return items.empty(); }
  // Block reads of the shared blocks the plan saves per kv head and layer: sum of (count - 1) * shared_blocks.
  int64_t blocks_saved() const;
};

// Plans a decode step of tables.size() sequences: tables[b] is sequence b's block table,
// kv_len[b] its tokens once this step's is written. A sequence can share only blocks wholly
// below its newest token (never the block written this step). Groups are chosen to maximise the
// block reads saved: sequences sorted by table, so that those sharing k leading blocks are
// adjacent; the adjacent common prefixes then form a tree (a range splits where its smallest
// common prefix is), and each range is one group or the best split of its children.
void plan_shared_prefix(std::span<const std::span<const int32_t>> tables, std::span<const int32_t> kv_len,
                        const SharedPrefixParams& params, SharedPrefixPlan& plan);

}  // namespace yardstick::cuda
