#include "engine/scheduler.h"

#include <algorithm>
#include <stdexcept>

namespace yardstick {

namespace {

// One step: a forward call over the feeds of the active work.
void step(Backend& backend, std::vector<std::unique_ptr<SeqWork>>& active,
          const SchedulerOptions& options) {
  struct Planned {
    SeqWork* work;
    size_t begin, end;   // feed range going in now
  };
  std::vector<Planned> plan;
  std::vector<ForwardChunk> chunks;
  int budget = std::max(1, options.max_prefill_tokens);
  for (auto& w : active) {
    const size_t remaining = w->feed.size() - w->fed;
    size_t n = remaining;
    // A single token (a decode step, or a prompt's last token) always goes; longer feeds are
    // chunked to what is left of the budget, and wait for the next step when none is.
    if (remaining > 1) {
      n = std::min(remaining, size_t(budget));
      if (n == 0) continue;
      budget -= int(n);
    }
    const size_t begin = w->fed, end = begin + n;
    ForwardChunk c;
    c.seq = w->seq;
    c.tokens = std::span<const int32_t>(w->feed).subspan(begin, n);
    c.logits_from = int(std::clamp(w->want_from, begin, end) - begin);
    chunks.push_back(c);
    plan.push_back({w.get(), begin, end});
  }

  std::vector<float> logits;   // [rows, V]
  backend.forward(chunks, logits);

  const size_t V = size_t(backend.config().vocab_size);
  size_t row = 0;
  for (const Planned& p : plan) {
    SeqWork& w = *p.work;
    const size_t from = std::clamp(w.want_from, p.begin, p.end);
    w.fed = p.end;
    // on_logits may replace the feed on the last row, so the range is fixed before the loop.
    for (size_t i = from; i < p.end; ++i, ++row) {
      if (row * V + V > logits.size())
        throw std::logic_error(backend.name() + ": forward returned fewer logits rows than asked");
      w.on_logits(backend, i, std::span<const float>(logits).subspan(row * V, V));
    }
  }
}

// Closes the sequences of work that is being abandoned because of an error.
template <class Queue>
void release_all(Backend& backend, Queue& queue) {
  for (auto& w : queue) {
    try {
      if (w) w->release(backend);
    } catch (...) {   // the error that got us here is the one worth reporting
    }
  }
}

}  // namespace

void run_scheduler(Backend& backend, std::deque<std::unique_ptr<SeqWork>> waiting,
                   const SchedulerOptions& options) {
  std::vector<std::unique_ptr<SeqWork>> active;
  const size_t max_batch = size_t(std::max(1, options.max_batch));
  try {
    for (;;) {
      // Admit waiting work, in order, into the free slots. Work that isn't ready yet keeps its
      // place in the queue and lets later work pass.
      for (auto it = waiting.begin(); it != waiting.end() && active.size() < max_batch;) {
        if (!(*it)->ready()) {
          ++it;
          continue;
        }
        active.push_back(std::move(*it));
        it = waiting.erase(it);
        active.back()->start(backend);
        if (active.back()->done) active.pop_back();
      }
      if (active.empty()) {
        if (waiting.empty()) return;
        throw std::logic_error("scheduler: work is waiting on work that will never run");
      }
      step(backend, active, options);
      std::erase_if(active, [](const std::unique_ptr<SeqWork>& w) { return w->done; });
    }
  } catch (...) {
    release_all(backend, active);
    release_all(backend, waiting);
    throw;
  }
}

}  // namespace yardstick
