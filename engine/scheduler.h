// Continuous batching over a Backend. Each unit of work owns one sequence and says which tokens
// to feed next and which of their logits it wants; the scheduler packs the work of up to
// max_batch sequences into one forward call per step (decode tokens first, prompt tokens chunked
// to a budget), hands the logits back, and admits waiting work as running work finishes.
// Knows nothing of requests: engine.cpp builds the work.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "engine/backend.h"

namespace yardstick {

// One sequence's worth of work. The scheduler reads feed/fed/want_from and calls the hooks;
// everything else is the work's own business.
class SeqWork {
 public:
  virtual ~SeqWork() = default;

  // False while the work waits on another one (a sample waiting for its prompt's shared
  // prefill); the scheduler then admits later work first.
  virtual bool ready() const { return true; }
  // Called once on admission: open or fork the sequence and set up the first feed. The work
  // may finish right here (nothing to compute).
  virtual void start(Backend& backend) = 0;
  // The logits row of feed[i], for every i >= want_from, in order. The row of the last token
  // of `feed` comes last: the work then sets a new feed (fed = 0) or finishes.
  virtual void on_logits(Backend& backend, size_t i, std::span<const float> row) = 0;
  // Closes whatever sequences the work still holds (on finish, and on error unwinding).
  virtual void release(Backend& backend) = 0;

  bool done = false;
  SeqId seq = -1;
  std::vector<int32_t> feed;   // tokens to append to the sequence before the next decision
  size_t fed = 0;              // how many of them are in the sequence already
  size_t want_from = 0;        // feed index from which logits are wanted (<= feed.size() - 1)
};

struct SchedulerOptions {
  int max_batch = 16;             // sequences advanced per forward call
  int max_prefill_tokens = 512;   // tokens of multi-token feeds (prompts) per forward call
};

// Runs every work item to completion, in admission order as capacity allows. If the backend or
// a work hook throws, every work item still holding a sequence is released and the exception
// propagates.
void run_scheduler(Backend& backend, std::deque<std::unique_ptr<SeqWork>> waiting,
                   const SchedulerOptions& options);

}  // namespace yardstick
