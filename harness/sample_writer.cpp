#include "harness/sample_writer.h"

#include <stdexcept>

#include "scorers/registry.h"

namespace yardstick {

SampleWriter::SampleWriter(Store& store, Progress& progress, std::function<int64_t()> open_run)
    : store_(store), progress_(progress), open_run_(std::move(open_run)), thread_([this] { loop(); }) {}

SampleWriter::~SampleWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    if (!failure_) failure_ = std::make_exception_ptr(std::runtime_error("sample writer abandoned"));
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SampleWriter::submit(std::string scorer_family, SampleRecord s) {
  {
    std::lock_guard lock(mu_);
    if (failure_ || stop_) return;
    if (!first_submitted_) first_submitted_ = Clock::now();
    queue_.emplace_back(std::move(scorer_family), std::move(s));
  }
  cv_.notify_one();
}

bool SampleWriter::failed() const {
  std::lock_guard lock(mu_);
  return failure_ != nullptr;
}

std::optional<SampleWriter::Clock::time_point> SampleWriter::first_submitted() const {
  std::lock_guard lock(mu_);
  return first_submitted_;
}

void SampleWriter::finish() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  if (failure_) std::rethrow_exception(failure_);
}

void SampleWriter::loop() {
  if (open_run_) {
    try {
      run_id_ = open_run_();
    } catch (...) {
      std::lock_guard guard(mu_);
      failure_ = std::current_exception();
      return;
    }
  }
  std::unique_lock lock(mu_);
  for (;;) {
    // Verdicts still being computed (the sandbox): look again soon even if nothing new comes.
    auto woken = [&] { return stop_ || failure_ || !queue_.empty(); };
    if (grading_.empty()) cv_.wait(lock, woken);
    else cv_.wait_for(lock, std::chrono::milliseconds(20), woken);
    if (failure_) return;
    std::deque<std::pair<std::string, SampleRecord>> batch;
    batch.swap(queue_);
    const bool stopping = stop_;
    lock.unlock();
    try {
      for (auto& [family, s] : batch) {
        auto verdicts = grade_async(family, s.output, s.gold);
        grading_.push_back({std::move(s), std::move(verdicts)});
      }
      // After the last hand-over (stop_ was set before this batch was taken), wait for all.
      store_ready(/*wait=*/stopping);
    } catch (...) {
      lock.lock();
      failure_ = std::current_exception();
      return;
    }
    lock.lock();
    if (stopping && queue_.empty() && grading_.empty()) return;
  }
}

void SampleWriter::store_ready(bool wait) {
  std::vector<std::pair<SampleRecord, std::vector<Verdict>>> ready;
  while (!grading_.empty()) {
    Graded& g = grading_.front();
    if (!wait && !g.verdicts.ready()) break;
    ready.emplace_back(std::move(g.sample), g.verdicts.get());
    if (open_run_) ready.back().first.run_id = run_id_;
    grading_.pop_front();
  }
  if (ready.empty()) return;
  written_ += store_.insert_samples(ready);
  int64_t tokens = 0;
  for (const auto& [s, v] : ready) tokens += s.output_tokens;
  tokens_ += tokens;
  progress_.advance(static_cast<int64_t>(ready.size()), tokens);
}

}  // namespace yardstick
