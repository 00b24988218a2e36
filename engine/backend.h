// What a compute backend (CPU reference, CUDA) offers the engine: sequences whose KV state it
// keeps, and a forward pass over chunks of new tokens for several sequences at once.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/model_config.h"
#include "engine/token_pick.h"

namespace yardstick {

using SeqId = int32_t;

// Counters of a backend's prefix cache over its lifetime.
struct PrefixCacheStats {
  int64_t lookups = 0;          // attach_cached_prefix calls
  int64_t blocks_reused = 0;    // blocks attached by them
  int64_t tokens_reused = 0;    // tokens those blocks hold
  int64_t blocks_cached = 0;    // blocks in the cache now (held by sequences or not)
  int64_t evictions = 0;        // cached blocks given up to make room
};

// The cached blocks a sequence's tokens start with: how many tokens they hold, and how many of
// them no sequence holds now (attaching those takes them from the free blocks).
struct CachedPrefix {
  int tokens = 0;
  int64_t blocks_from_free = 0;
};

struct ForwardChunk {
  SeqId seq = -1;
  std::span<const int32_t> tokens;   // appended to the sequence's KV state
  int logits_from = 0;               // logits for chunk positions [logits_from, tokens.size())
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const ModelConfig& config() const = 0;
  virtual std::string name() const = 0;          // "cpu", "cuda"
  // Where the start-up time went (device set-up, weight upload, cache allocation), one line for
  // the run's log; empty where the backend has nothing to say.
  virtual std::string startup_report() const { return {}; }
  // Tokens one sequence may hold (the model's context window, or less if memory is short).
  virtual int max_sequence_length() const = 0;

  virtual SeqId open_sequence() = 0;
  virtual void close_sequence(SeqId seq) = 0;
  virtual int sequence_length(SeqId seq) const = 0;
  // Forgets the KV state past the first n tokens (n <= sequence_length).
  virtual void truncate(SeqId seq, int n) = 0;
  // Optional: a new sequence whose KV state is a copy of seq's, so that n samples of one prompt
  // share a single prefill. Only called when can_fork() is true.
  virtual bool can_fork() const { return false; }
  virtual SeqId fork_sequence(SeqId seq) {
    throw std::logic_error(name() + ": fork_sequence is not supported");
  }

  // Runs the model over every chunk. Writes fp32 logits, one row of config().vocab_size per
  // requested position, chunk after chunk, into `logits` (resized by the backend).
  virtual void forward(std::span<const ForwardChunk> chunks, std::vector<float>& logits) = 0;

  // Like forward(), but each requested logits row is reduced where the logits are
  // (engine/token_pick.h): picks holds one TokenPick per requested row, in forward()'s row
  // order, and out gets one PickedToken for each. A GPU backend does this on the device and
  // copies a few bytes per row instead of a vocabulary-sized row; this default runs forward()
  // and reduces on the host.
  virtual void forward_pick(std::span<const ForwardChunk> chunks, std::span<const TokenPick> picks,
                            std::vector<PickedToken>& out) {
    std::vector<float> logits;
    forward(chunks, logits);
    pick_tokens_on_host(logits, config().vocab_size, picks, out);
  }

  // Paged KV memory, for admission control: a sequence of n tokens holds ceil(n / block size)
  // blocks, and a forward call that needs more blocks than are free is refused. Backends
  // without a paged cache report one-token blocks and no limit.
  virtual int kv_block_size() const { return 1; }
  virtual int64_t kv_free_blocks() const { return std::numeric_limits<int64_t>::max(); }

  // Prefix caching (optional): the KV state of every full block a sequence computes is kept,
  // identified by the exact token chain from the sequence's start through the block, after the
  // sequence closes (cached blocks no sequence holds count as free and are evicted least
  // recently used first when blocks are needed), and is attached to a new sequence whose tokens
  // start with the same chain instead of being computed again. A token's result is the same
  // whether its prefix was computed or attached.
  virtual bool prefix_caching() const { return false; }   // supported and switched on
  // For a sequence that holds no tokens yet: attaches the longest run of whole cached blocks
  // that `tokens` starts with and returns how many tokens it holds now (whole blocks of the
  // cache's own size, at most tokens.size()). The caller feeds the rest.
  virtual int attach_cached_prefix(SeqId seq, std::span<const int32_t> tokens) { return 0; }
  // What attach_cached_prefix would attach now (a look-up; nothing changes).
  virtual CachedPrefix find_cached_prefix(std::span<const int32_t> tokens) const { return {}; }
  virtual PrefixCacheStats prefix_cache_stats() const { return {}; }
};

}  // namespace yardstick
