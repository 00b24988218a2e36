#include "engine/thread_pool.h"

#include <algorithm>
#include <system_error>

#include <fmt/format.h>

#include "engine/error.h"

namespace yardstick {

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  workers_.reserve(size_t(threads - 1));
  try {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  } catch (const std::system_error& e) {
    // The workers already started wait on members about to be destroyed: stop and join them
    // first (the destructor does not run for a constructor that throws).
    const size_t started = workers_.size();
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (auto& w : workers_) w.join();
    throw Error(fmt::format("could not start {} threads (started {}): {}", threads, started + 1, e.what()));
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

// Range `index` of the current job; ranges are balanced to within one element.
void ThreadPool::run_range(int index) {
  if (index >= parts_) return;
  const int64_t begin = n_ * index / parts_;
  const int64_t end = n_ * (index + 1) / parts_;
  try {
    (*fn_)(begin, end);
  } catch (...) {
    std::lock_guard lock(mu_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    run_range(index);
    {
      std::lock_guard lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn,
                              int64_t grain) {
  if (n <= 0) return;
  const int parts = int(std::clamp<int64_t>(n / std::max<int64_t>(grain, 1), 1, size()));
  if (parts == 1) {
    fn(0, n);
    return;
  }
  {
    std::lock_guard lock(mu_);
    n_ = n;
    parts_ = parts;
    fn_ = &fn;
    error_ = nullptr;
    pending_ = int(workers_.size());
    ++generation_;
  }
  work_cv_.notify_all();
  run_range(0);
  std::exception_ptr error;
  {
    std::unique_lock lock(mu_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    error = error_;
    fn_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace yardstick
