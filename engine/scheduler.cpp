#include "engine/scheduler.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <fmt/format.h>

namespace yardstick {

int64_t kv_blocks_to_grow(int64_t len, int64_t n, int block_size) {
  const int64_t bs = std::max(1, block_size);
  return (len + n + bs - 1) / bs - (len + bs - 1) / bs;
}

namespace {

using WorkPtr = std::unique_ptr<SeqWork>;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Planned {
  SeqWork* work;
  size_t begin, end;   // feed range going in now
};

class Scheduler {
 public:
  Scheduler(Backend& backend, const SchedulerOptions& options)
      : b_(backend),
        max_batch_(size_t(std::max(1, options.max_batch))),
        max_prefill_(std::max(1, options.max_prefill_tokens)),
        bs_(std::max(1, backend.kv_block_size())),
        // What this run may ever have: sequences held elsewhere are not ours to preempt.
        capacity_(backend.kv_free_blocks()) {}

  SchedulerStats run(std::deque<WorkPtr> waiting) {
    waiting_ = std::move(waiting);
    const auto started = Clock::now();
    try {
      for (;;) {
        const bool admitted = admit();
        if (active_.empty()) {
          if (waiting_.empty()) {
            stats_.total_seconds = seconds_since(started);
            return stats_;
          }
          if (admitted) continue;   // what was admitted finished (or failed) at once
          throw std::logic_error("scheduler: work is waiting on work that will never run");
        }
        const std::vector<Planned> plan = plan_step();
        if (!plan.empty()) run_step(plan);
        std::erase_if(active_, [](const WorkPtr& w) { return w->done; });
      }
    } catch (...) {
      release_all(active_);
      release_all(waiting_);
      throw;
    }
  }

 private:
  int64_t remaining(const SeqWork& w) const { return int64_t(w.feed.size() - w.fed); }

  // Blocks w's sequence holds once its whole feed is in (its own block table, shared or not).
  int64_t final_blocks(const SeqWork& w) const {
    return kv_blocks_to_grow(0, b_.sequence_length(w.seq) + remaining(w), bs_);
  }

  std::string too_big(int64_t blocks) const {
    return fmt::format("needs {} KV blocks of {} tokens, the cache has {}", blocks, bs_, capacity_);
  }

  bool drop_shared_of_waiting() {
    for (WorkPtr& w : waiting_)
      if (w->drop_shared(b_)) return true;
    return false;
  }

  // Admits waiting work, in order, into the free slots while its first feed fits. Work that
  // isn't ready yet keeps its place in the queue and lets later work pass; ready work that
  // doesn't fit stops admission, so that big prompts are not starved by small ones. True if
  // any work left the queue.
  bool admit() {
    bool progress = false;
    int64_t free = b_.kv_free_blocks();
    for (auto it = waiting_.begin(); it != waiting_.end() && active_.size() < max_batch_;) {
      SeqWork& w = **it;
      if (!w.ready()) {
        ++it;
        continue;
      }
      const int64_t need = w.admission_blocks(b_);
      if (need > capacity_) {
        w.fail(b_, too_big(need));
        it = waiting_.erase(it);
        progress = true;
        continue;
      }
      // Headroom: a block for each running sequence's next token, so that admitting work
      // doesn't force a preemption at the very next step.
      const int64_t reserve = int64_t(active_.size()) + 1;
      if (need > free - reserve) {
        if (!active_.empty()) break;
        // Alone, the work only waits on memory kept for work that hasn't started (a forked
        // prompt's prefix): let that go, and look at this work's cost again.
        if (need > free && drop_shared_of_waiting()) {
          free = b_.kv_free_blocks();
          continue;
        }
      }
      free -= need;
      active_.push_back(std::move(*it));
      it = waiting_.erase(it);
      progress = true;
      active_.back()->start(b_);
      if (active_.back()->done) active_.pop_back();
    }
    return progress;
  }

  // The chunks of the next forward call, within the token budget and the free KV blocks;
  // makes room (preempting, dropping shared prefixes, failing work too big for the cache) until
  // some work can go.
  std::vector<Planned> plan_step() {
    attach_cached_prefixes();
    for (;;) {
      for (WorkPtr& w : active_) {
        if (remaining(*w) <= 0) throw std::logic_error("scheduler: running work with nothing to feed");
        if (const int64_t blocks = final_blocks(*w); blocks > capacity_) w->fail(b_, too_big(blocks));
      }
      std::erase_if(active_, [](const WorkPtr& w) { return w->done; });
      if (active_.empty()) return {};
      if (std::vector<Planned> plan = try_plan(); !plan.empty()) return plan;
      make_room();
    }
  }

  // Work that has fed nothing into an empty sequence starts from the cached blocks its feed
  // begins with (all but the wanted rows and the last token, which are always computed).
  // A work that shares a prefix with one whose prefill is under way (a chunked few-shot header)
  // attaches nothing yet: it waits (try_plan) until all of their common blocks are in the cache,
  // instead of attaching the part computed so far and computing the rest itself.
  void attach_cached_prefixes() {
    if (!b_.prefix_caching()) return;
    for (WorkPtr& w : active_) {
      if (w->fed != 0 || w->feed.size() < 2 || b_.sequence_length(w->seq) != 0) continue;
      if (std::any_of(active_.begin(), active_.end(),
                      [&](const WorkPtr& f) { return prefilling(*f) && waits_for(*w, *f); }))
        continue;
      const size_t limit = attach_limit(*w);
      const int n = b_.attach_cached_prefix(w->seq, std::span<const int32_t>(w->feed).first(limit));
      if (n < 0 || size_t(n) > limit)
        throw std::logic_error(fmt::format("{}: attached {} cached tokens of {}", b_.name(), n, limit));
      w->fed = size_t(n);
      stats_.cached_tokens += n;
    }
  }

  // Empty when the single-token feeds (decodes, a prompt's last token), which always go
  // together, don't fit, or nothing fits at all.
  std::vector<Planned> try_plan() const {
    const int64_t free = b_.kv_free_blocks();
    int64_t single = 0;
    for (const WorkPtr& w : active_)
      if (remaining(*w) == 1) single += kv_blocks_to_grow(b_.sequence_length(w->seq), 1, bs_);
    if (single > free) return {};
    int64_t avail = free - single;
    int64_t budget = max_prefill_;
    std::vector<Planned> plan;
    // Feeds computing prompt tokens in this step or a later one: those under way, then the ones
    // planned here that start an empty sequence.
    std::vector<const SeqWork*> computing;
    if (b_.prefix_caching())
      for (const WorkPtr& w : active_)
        if (prefilling(*w)) computing.push_back(w.get());
    for (const WorkPtr& w : active_) {
      const int64_t rem = remaining(*w);
      int64_t n = 1;
      if (rem > 1) {
        // Longer feeds are chunked to what is left of the token budget and of the free blocks,
        // and wait for the next step when none is.
        const int64_t len = b_.sequence_length(w->seq);
        if (len == 0 && b_.prefix_caching()) {
          // A prompt that starts like one being computed (in this step or under way) waits and
          // then attaches that one's blocks, instead of computing the same prefix again (the
          // questions of a few-shot subject arrive together).
          if (std::any_of(computing.begin(), computing.end(), [&](const SeqWork* f) { return waits_for(*w, *f); }))
            continue;
          computing.push_back(w.get());
        }
        n = std::min(rem, budget);
        if (kv_blocks_to_grow(len, n, bs_) > avail)   // avail is small here: no overflow
          n = (kv_blocks_to_grow(0, len, bs_) + avail) * bs_ - len;
        if (n <= 0) continue;
        budget -= n;
        avail -= kv_blocks_to_grow(len, n, bs_);
      }
      plan.push_back({w.get(), w->fed, w->fed + size_t(n)});
    }
    return plan;
  }

  // The part of w's feed the scheduler may attach from the cache: all but the wanted rows and the
  // last token, which are always computed.
  static size_t attach_limit(const SeqWork& w) { return std::min(w.want_from, w.feed.size() - 1); }

  // Work whose sequence holds part of its feed and still has prompt tokens to compute.
  bool prefilling(const SeqWork& w) const { return w.fed > 0 && remaining(w) > 1; }

  // Whether w, which has fed nothing, should wait for f (prefilling, or about to start in this
  // step) to compute their common prefix: their feeds start with the same kMinSharedPrefix tokens
  // (enough to be worth a step) and f hasn't fed every whole block of the prefix w could attach.
  bool waits_for(const SeqWork& w, const SeqWork& f) const {
    constexpr size_t kMinSharedPrefix = 64;
    if (&w == &f || w.feed.size() <= kMinSharedPrefix || f.feed.size() <= kMinSharedPrefix ||
        !std::equal(w.feed.begin(), w.feed.begin() + kMinSharedPrefix, f.feed.begin()))
      return false;
    const size_t n = std::min(attach_limit(w), f.feed.size());
    const size_t common = size_t(std::mismatch(w.feed.begin(), w.feed.begin() + n, f.feed.begin()).first -
                                 w.feed.begin());
    return f.fed < common / size_t(bs_) * size_t(bs_);
  }

  // Frees KV memory for the running work: preempts the most recently admitted work; when only
  // one is running, drops shared prefixes kept for waiting work; failing that, the work can't
  // get the memory it needs and fails.
  void make_room() {
    if (active_.size() > 1) {
      active_.back()->preempt(b_);
      waiting_.push_front(std::move(active_.back()));
      active_.pop_back();
      ++stats_.preemptions;
      return;
    }
    if (drop_shared_of_waiting()) return;
    SeqWork& w = *active_.back();
    const int64_t held = kv_blocks_to_grow(0, b_.sequence_length(w.seq), bs_);
    w.fail(b_, fmt::format("needs {} KV blocks of {} tokens, and only {} of the cache's {} are free for it",
                           final_blocks(w), bs_, held + b_.kv_free_blocks(), capacity_));
    active_.pop_back();
  }

  void run_step(const std::vector<Planned>& plan) {
    std::vector<ForwardChunk> chunks;
    std::vector<TokenPick> picks;
    for (const Planned& p : plan) {
      const SeqWork& w = *p.work;
      const size_t from = std::clamp(w.want_from, p.begin, p.end);
      ForwardChunk c;
      c.seq = w.seq;
      c.tokens = std::span<const int32_t>(w.feed).subspan(p.begin, p.end - p.begin);
      c.logits_from = int(from - p.begin);
      chunks.push_back(c);
      for (size_t i = from; i < p.end; ++i) picks.push_back(w.pick(i));
    }
    bool prefill = false;
    for (const ForwardChunk& c : chunks) {
      if (c.tokens.size() >= 2) {
        prefill = true;
        stats_.prefill_tokens += int64_t(c.tokens.size());
      } else {
        stats_.decode_tokens += int64_t(c.tokens.size());
      }
    }
    std::vector<PickedToken> picked;
    const auto started = Clock::now();
    b_.forward_pick(chunks, picks, picked);
    const double took = seconds_since(started);
    stats_.forward_seconds += took;
    if (prefill) {
      stats_.prefill_step_seconds += took;
      ++stats_.prefill_steps;
    }
    ++stats_.steps;
    if (picked.size() != picks.size())
      throw std::logic_error(fmt::format("{}: forward_pick returned {} rows for {} picks", b_.name(),
                                         picked.size(), picks.size()));
    size_t row = 0;
    for (const Planned& p : plan) {
      SeqWork& w = *p.work;
      for (size_t i = std::clamp(w.want_from, p.begin, p.end); i < p.end; ++i) w.on_picked(i, picked[row++]);
      w.fed = p.end;
      if (w.fed == w.feed.size()) w.advance(b_);
    }
  }

  // Closes the sequences of work that is being abandoned because of an error.
  template <class Queue>
  void release_all(Queue& queue) {
    for (auto& w : queue) {
      try {
        if (w) w->release(b_);
      } catch (...) {   // the error that got us here is the one worth reporting
      }
    }
  }

  Backend& b_;
  const size_t max_batch_;
  const int64_t max_prefill_;
  const int bs_;
  const int64_t capacity_;
  std::deque<WorkPtr> waiting_;
  std::vector<WorkPtr> active_;   // in admission order: the last is preempted first
  SchedulerStats stats_;
};

}  // namespace

SchedulerStats run_scheduler(Backend& backend, std::deque<std::unique_ptr<SeqWork>> waiting,
                             const SchedulerOptions& options) {
  return Scheduler(backend, options).run(std::move(waiting));
}

}  // namespace yardstick
