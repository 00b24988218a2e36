// The thread pool's failure path: threads that can't be started are an error naming the count,
// not a hang (`--threads 100000` used to deadlock tearing down the workers already started).
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/error.h"
#include "engine/thread_pool.h"

namespace yardstick {
namespace {

// In a child process: an address-space limit leaves room for a few thread stacks only, so
// starting 4,000 threads fails part way. Exit 0: the pool threw Error naming the count; 1: it
// started them all; a hang is killed by the alarm (signal: the test fails).
void start_too_many_threads() {
  alarm(30);
  rlimit limit{};
  getrlimit(RLIMIT_AS, &limit);
  // What the process maps now, plus 256 MiB (thread stacks are 8 MiB each).
  long pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  limit.rlim_cur = rlim_t(pages) * rlim_t(sysconf(_SC_PAGESIZE)) + (rlim_t(256) << 20);
  setrlimit(RLIMIT_AS, &limit);
  try {
    ThreadPool pool(4000);
  } catch (const Error& e) {
    std::exit(std::string(e.what()).find("could not start 4000 threads") != std::string::npos ? 0 : 2);
  } catch (...) {
    std::exit(3);
  }
  std::exit(1);
}

TEST(ThreadPoolDeathTest, ThreadsThatCannotStartAreAnErrorNotAHang) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(start_too_many_threads(), ::testing::ExitedWithCode(0), "");
}

TEST(ThreadPool, RunsEveryRangeOnce) {
  ThreadPool pool(3);
  std::vector<int> hits(1000, 0);
  pool.parallel_for(1000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ++hits[size_t(i)];
  });
  for (int h : hits) ASSERT_EQ(h, 1);
}

}  // namespace
}  // namespace yardstick
