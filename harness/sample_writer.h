// Grades and stores the samples of a run on a thread of its own, so the engine's completion
// callback only hands a sample over (a queue push) and never waits for a grader or SQLite.
// Crash safety: the thread wakes on every hand-over and commits, in one transaction, every
// sample whose verdicts are ready; so a sample is committed within milliseconds of finishing
// (a moment longer when code runs in the sandbox), and a SIGKILL loses at most the few in the
// queue. When samples arrive faster than one transaction takes, they batch up by themselves.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harness/progress.h"
#include "harness/store.h"
#include "scorers/registry.h"

namespace yardstick {

class SampleWriter {
 public:
  using Clock = std::chrono::steady_clock;

  // The store is used by the writer's thread only, from here until finish() returns.
  // open_run, when given, runs first on that thread (it may wait, e.g. for the weights' digest)
  // and returns the run's id, which replaces every submitted sample's run_id.
  SampleWriter(Store& store, Progress& progress, std::function<int64_t()> open_run = {});
  ~SampleWriter();   // stops the thread; what was not yet stored is dropped (call finish())
  SampleWriter(const SampleWriter&) = delete;
  SampleWriter& operator=(const SampleWriter&) = delete;

  // From any thread: grade `s.output` against `s.gold` with the scorer family, then store it.
  // Cheap. After a failure the sample is dropped (finish() reports the failure).
  void submit(std::string scorer_family, SampleRecord s);
  // Waits until everything submitted is graded and stored, and joins the thread. Rethrows the
  // first error the thread met (grading or storing). Once.
  void finish();
  // The thread has met an error: submitting more is useless.
  bool failed() const;

  // Valid after finish().
  int64_t written() const { return written_; }   // new rows (a row another process wrote first is not)
  int64_t tokens() const { return tokens_; }     // output tokens of the stored samples
  // When the first sample was handed over; nullopt when none was.
  std::optional<Clock::time_point> first_submitted() const;

 private:
  struct Graded {
    SampleRecord sample;
    PendingVerdicts verdicts;
  };
  void loop();
  void store_ready(bool wait);

  Store& store_;
  Progress& progress_;
  std::function<int64_t()> open_run_;
  int64_t run_id_ = -1;   // from open_run_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, SampleRecord>> queue_;   // handed over, not yet graded
  bool stop_ = false;
  std::exception_ptr failure_;
  std::optional<Clock::time_point> first_submitted_;
  // The writer thread's own:
  std::deque<Graded> grading_;   // oldest first; stored in this order
  int64_t written_ = 0;
  int64_t tokens_ = 0;
  std::thread thread_;
};

}  // namespace yardstick
