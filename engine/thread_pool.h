// A small fixed pool of worker threads for the CPU backend's data-parallel loops. The calling
// thread works too, so a pool of size 1 has no workers and runs everything inline. One caller at
// a time: parallel_for is not reentrant and not for concurrent use from several threads.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace yardstick {

class ThreadPool {
 public:
  // threads: total threads doing work, caller included; 0 = std::thread::hardware_concurrency().
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Calls fn(begin, end) on contiguous ranges that together cover [0, n), one range per thread,
  // each of at least `grain` items (so fewer ranges when n is small: waking a thread costs more
  // than a little work), and returns when all are done. The split depends only on n, grain and
  // size(), never on timing. The first exception thrown by fn is rethrown here.
  void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn,
                    int64_t grain = 1);

 private:
  void worker_loop(int index);
  void run_range(int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_;   // workers wait here for a new generation
  std::condition_variable done_cv_;   // the caller waits here for pending_ == 0
  uint64_t generation_ = 0;
  bool stopping_ = false;
  int pending_ = 0;   // workers that haven't finished the current job
  int64_t n_ = 0;
  int parts_ = 0;   // ranges in the current job
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  std::exception_ptr error_;
};

}  // namespace yardstick
