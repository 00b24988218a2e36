// Progress lines: what they say, and that a log (not a terminal) gets plain lines that end with
// the finished state while a terminal gets one line redrawn in place.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "harness/progress.h"
#include "tests/captured_log.h"

namespace yardstick {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

using test::stream_contents;

TEST(ProgressFormat, ShowsDoneTotalRateAndEta) {
  EXPECT_EQ(format_progress("run", {25, 100, 500, 10.0}), "run 25/100 (25%) | 50.0 tok/s | ETA 30s");
  EXPECT_EQ(format_progress("run", {1, 4, 10, 150.0}), "run 1/4 (25%) | 0.1 tok/s | ETA 7m30s");
  EXPECT_EQ(format_progress("run", {1, 1000, 0, 4.0}), "run 1/1000 (0%) | ETA 1h06m");
}

TEST(ProgressFormat, NoEtaBeforeTheFirstSampleAndTotalTimeAtTheEnd) {
  EXPECT_EQ(format_progress("x", {0, 10, 0, 0.0}), "x 0/10 (0%)");
  EXPECT_EQ(format_progress("x", {10, 10, 0, 65.0}), "x 10/10 (100%) | 1m05s");
}

TEST(Progress, LogGetsPlainLinesEndingWithTheFinalState) {
  std::FILE* f = std::tmpfile();
  Progress p("job", 20, f, /*live=*/false);
  for (int i = 0; i < 20; ++i) p.advance(1, 0);
  p.finish();
  std::string out = stream_contents(f);
  std::fclose(f);
  EXPECT_THAT(out, Not(HasSubstr("\r")));
  EXPECT_THAT(out, HasSubstr("job 2/20 (10%)"));
  EXPECT_THAT(out, HasSubstr("job 10/20 (50%)"));
  EXPECT_THAT(out, Not(HasSubstr("job 3/20")));   // between 10% steps: quiet
  EXPECT_THAT(out, EndsWith("\n"));
  auto last = out.substr(out.rfind('\n', out.size() - 2) + 1);
  EXPECT_THAT(last, HasSubstr("job 20/20 (100%)"));
  EXPECT_EQ(out.find("job 20/20"), out.rfind("job 20/20")) << "the final state is written once";
}

TEST(Progress, TerminalGetsOneLineRedrawnInPlace) {
  std::FILE* f = std::tmpfile();
  Progress p("job", 3, f, /*live=*/true);
  p.advance(3, 30);
  p.finish();
  std::string out = stream_contents(f);
  std::fclose(f);
  EXPECT_THAT(out, HasSubstr("\rjob 3/3 (100%)"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

TEST(Progress, RestartingTheClockLeavesEarlierTimeOut) {
  // The time spent loading a model before the first sample must not count as generation time.
  std::FILE* f = std::tmpfile();
  Progress p("job", 2, f, /*live=*/false);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  p.restart_clock();
  p.advance(2, 10);
  p.finish();
  std::string out = stream_contents(f);
  std::fclose(f);
  auto last = out.substr(out.rfind('\n', out.size() - 2) + 1);
  EXPECT_THAT(last, HasSubstr("job 2/2 (100%)"));
  EXPECT_THAT(last, HasSubstr("| 0s")) << "the 1.2 s before restart_clock() were counted";
}

}  // namespace
}  // namespace yardstick
