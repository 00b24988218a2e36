// The writer thread of `yardstick run`: every sample handed over (from any thread) is graded and
// stored, and an error on the writer's side reaches the run.
#include "harness/sample_writer.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include <gtest/gtest.h>

#include "tests/test_paths.h"

namespace yardstick {
namespace {

int64_t make_run(Store& store) {
  ModelRecord m;
  m.name = "m";
  m.weights_digest = "w";
  m.config = nlohmann::json::object();
  RunRecord r;
  r.name = "writer";
  r.model_id = store.upsert_model(m);
  r.tasks = "gsm8k";
  r.config = nlohmann::json::object();
  r.config_digest = "d";
  r.engine_build = "test";
  r.status = "running";
  return store.create_run(r);
}

SampleRecord sample(int64_t run_id, int doc, const std::string& output) {
  SampleRecord s;
  s.run_id = run_id;
  s.task = "gsm8k";
  s.doc_id = std::to_string(doc);
  s.prompt = "Q" + s.doc_id;
  s.output = output;
  s.gold = "#### 7";
  s.output_tokens = 3;
  s.finish_reason = "stop";
  return s;
}

TEST(SampleWriter, StoresEverySampleHandedOverFromSeveralThreadsWithItsVerdicts) {
  auto dir = test::make_temp_dir("writer");
  Store store(dir / "runs.db");
  const int64_t run_id = make_run(store);
  std::FILE* log = std::tmpfile();
  Progress progress("writer", 200, log, false);
  SampleWriter writer(store, progress);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) writer.submit("gsm8k", sample(run_id, t * 50 + i, i % 2 ? "The answer is 7." : "8"));
    });
  for (auto& t : threads) t.join();
  writer.finish();
  EXPECT_EQ(writer.written(), 200);
  EXPECT_EQ(writer.tokens(), 600);
  EXPECT_TRUE(writer.first_submitted().has_value());
  auto stored = store.samples(run_id);
  ASSERT_EQ(stored.size(), 200u);
  int right = 0;   // samples with a correct verdict: those that said 7
  for (const auto& s : stored) {
    auto v = store.verdicts(s.id);
    ASSERT_FALSE(v.empty()) << s.doc_id;
    right += std::any_of(v.begin(), v.end(), [](const Verdict& x) { return x.correct; }) ? 1 : 0;
  }
  EXPECT_EQ(right, 100);
  std::fclose(log);
}

TEST(SampleWriter, AGradingErrorOnTheWriterThreadReachesFinish) {
  auto dir = test::make_temp_dir("writer-error");
  Store store(dir / "runs.db");
  const int64_t run_id = make_run(store);
  std::FILE* log = std::tmpfile();
  Progress progress("writer", 2, log, false);
  SampleWriter writer(store, progress);
  writer.submit("no-such-scorer", sample(run_id, 0, "1"));
  for (int i = 0; i < 1000 && !writer.failed(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_TRUE(writer.failed());
  writer.submit("gsm8k", sample(run_id, 1, "7"));   // dropped: the writer has failed
  EXPECT_THROW(writer.finish(), std::exception);
  EXPECT_TRUE(store.samples(run_id).empty());
  std::fclose(log);
}

}  // namespace
}  // namespace yardstick
