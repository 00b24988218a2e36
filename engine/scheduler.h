// Continuous batching over a Backend. Each unit of work owns one sequence and says which tokens
// to feed next and what it wants of each wanted position's logits (a TokenPick); the scheduler
// packs the work of up to max_batch sequences into one forward_pick call per step (decode
// tokens first, prompt tokens chunked to a budget), hands each PickedToken back, and admits
// waiting work as running work finishes.
//
// KV memory: before each step the scheduler counts the KV blocks the step adds (a chunk of n
// tokens on a sequence of len: ceil((len + n) / BS) - ceil(len / BS); a fork holds its own
// block table) and never asks the backend for more than kv_free_blocks(). Waiting work is
// admitted only while its whole first feed fits with a block of headroom per running sequence;
// prompt chunks shrink to what fits; when the running decodes alone don't fit, the most
// recently admitted work is preempted (its sequence closed, the work put back at the front of
// the queue, to re-feed everything it had on re-admission). Work whose sequence would need more
// blocks than the whole cache (as free when the scheduler starts) fails with a per-work error.
// Knows nothing of requests: engine.cpp builds the work.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/token_pick.h"

namespace yardstick {

// One sequence's worth of work. The scheduler reads feed/fed/want_from and calls the hooks;
// everything else is the work's own business.
class SeqWork {
 public:
  virtual ~SeqWork() = default;

  // False while the work waits on another one (a sample waiting for its prompt's shared
  // prefill); the scheduler then admits later work first.
  virtual bool ready() const { return true; }
  // KV blocks that start() and then the whole first feed take (admission control): the copy
  // of a partly filled block a fork takes, plus the blocks the feed adds.
  virtual int64_t admission_blocks(const Backend& backend) const = 0;
  // Called on admission (again after a preemption): open or fork the sequence and set up the
  // feed. The work may finish right here (nothing to compute).
  virtual void start(Backend& backend) = 0;
  // What to do with the logits row of feed[i], for i >= want_from.
  virtual TokenPick pick(size_t i) const = 0;
  // The reduced row of feed[i], for every i >= want_from, in order.
  virtual void on_picked(size_t i, const PickedToken& picked) = 0;
  // The whole feed is in the sequence and every wanted row was handed over: set a new feed
  // (fed = 0) or finish (done = true).
  virtual void advance(Backend& backend) = 0;
  // KV memory ran short: close the sequence. The next start() re-feeds everything the sequence
  // held and the work continues exactly where it was.
  virtual void preempt(Backend& backend) = 0;
  // The work can't run in this KV cache: close what it holds, report `error` as its result and
  // finish (done = true).
  virtual void fail(Backend& backend, const std::string& error) = 0;
  // Asked of waiting work when running work can't get the memory it needs otherwise: close KV
  // state kept for work that hasn't started (a shared prompt prefix); true if anything was.
  virtual bool drop_shared(Backend& backend) { return false; }
  // Closes whatever sequences the work still holds (on error unwinding).
  virtual void release(Backend& backend) = 0;

  bool done = false;
  SeqId seq = -1;
  std::vector<int32_t> feed;   // tokens to append to the sequence before the next decision
  size_t fed = 0;              // how many of them are in the sequence already
  size_t want_from = 0;        // feed index from which rows are wanted; feed.size(): none
};

struct SchedulerOptions {
  int max_batch = 16;             // sequences advanced per forward call
  int max_prefill_tokens = 512;   // tokens of multi-token feeds (prompts) per forward call
};

struct SchedulerStats {
  int64_t steps = 0;         // forward_pick calls
  int64_t preemptions = 0;   // works whose sequence was closed to free KV memory
  int64_t prefill_tokens = 0;   // tokens fed in chunks of 2+
  int64_t cached_tokens = 0;    // feed tokens attached from the backend's prefix cache
  int64_t decode_tokens = 0;    // tokens fed one per sequence
  double forward_seconds = 0;        // inside forward_pick
  double prefill_step_seconds = 0;   // of that, in steps with a chunk of 2+ tokens
  int64_t prefill_steps = 0;         // steps with a chunk of 2+ tokens
  double total_seconds = 0;          // the whole run_scheduler call
};

// KV blocks a sequence of len tokens adds to hold n more, in blocks of block_size tokens.
int64_t kv_blocks_to_grow(int64_t len, int64_t n, int block_size);

// Runs every work item to completion, in admission order as capacity allows. If the backend or
// a work hook throws, every work item still holding a sequence is released and the exception
// propagates.
SchedulerStats run_scheduler(Backend& backend, std::deque<std::unique_ptr<SeqWork>> waiting,
                             const SchedulerOptions& options);

}  // namespace yardstick
