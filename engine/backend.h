// What a compute backend (CPU reference, CUDA) offers the engine: sequences whose KV state it
// keeps, and a forward pass over chunks of new tokens for several sequences at once.
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/model_config.h"

namespace yardstick {

using SeqId = int32_t;

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
};

}  // namespace yardstick
