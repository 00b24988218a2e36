// Published numbers: loading, the benchmark-name mapping, and which record wins when sources
// disagree.
#include "reports/published.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/readers.h"
#include "engine/error.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

const PublishedNumbers& project_numbers() {
  static const PublishedNumbers numbers = PublishedNumbers::load(test::source_dir() / "configs" / "published");
  return numbers;
}

TEST(PublishedNumbers, DefaultDirIsTheCheckoutsConfigs) {
  auto dir = PublishedNumbers::default_dir();
  EXPECT_TRUE(std::filesystem::exists(dir / "deepseek_llm.json")) << dir;
}

TEST(PublishedNumbers, KeepsEveryRecordOfThePaper) {
  const auto& p = project_numbers();
  EXPECT_EQ(p.records().size(), 249u);
  auto models = p.models();
  EXPECT_NE(std::find(models.begin(), models.end(), "deepseek-llm-7b-base"), models.end());
  EXPECT_NE(std::find(models.begin(), models.end(), "deepseek-llm-67b-chat"), models.end());
}

TEST(PublishedNumbers, BaseModelGsm8kIsThePapersTable) {
  const PublishedRecord* r = project_numbers().lookup("deepseek-llm-7b-base", "gsm8k");
  ASSERT_NE(r, nullptr);
  EXPECT_DOUBLE_EQ(r->value, 17.4);
  EXPECT_EQ(r->benchmark, "GSM8K");
  EXPECT_EQ(r->source, "PAPER");
  EXPECT_TRUE(r->percent);
  EXPECT_EQ(r->unit, "percent");
  EXPECT_EQ(r->shots, 8);
  EXPECT_DOUBLE_EQ(project_numbers().lookup("deepseek-llm-67b-base", "gsm8k")->value, 63.4);
}

TEST(PublishedNumbers, ConfirmedReadmeBeatsUnconfirmedPaperValue) {
  // 7B chat GSM8K: paper Table 6 says 63.0 (not confirmed), README and more_results 62.6.
  auto all = project_numbers().candidates("deepseek-llm-7b-chat", "gsm8k");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_DOUBLE_EQ(all[0]->value, 62.6);
  EXPECT_EQ(all[0]->source, "GH_README");
  EXPECT_DOUBLE_EQ(all[1]->value, 63.0);
  EXPECT_EQ(all[1]->source, "PAPER");
}

TEST(PublishedNumbers, PaperBeatsReadmeWhenBothAreConfirmed) {
  auto all = project_numbers().candidates("deepseek-llm-67b-chat", "GSM8K");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]->source, "PAPER");
  EXPECT_DOUBLE_EQ(all[0]->value, 84.1);
}

TEST(PublishedNumbers, ANumberWithoutAUnitNeverWins) {
  // Pile-test for 7B base: the paper's 0.725 BPB (unconfirmed) and more_results' confirmed
  // 1.871 whose unit is not stated.
  const PublishedRecord* r = project_numbers().lookup("deepseek-llm-7b-base", "pile");
  ASSERT_NE(r, nullptr);
  EXPECT_DOUBLE_EQ(r->value, 0.725);
  EXPECT_EQ(r->unit, "bits per byte");
  EXPECT_FALSE(r->percent);
}

TEST(PublishedNumbers, NamesMatchCaseInsensitively) {
  const PublishedRecord* r = project_numbers().lookup("DeepSeek-LLM-7B-Base", "GSM8K");
  ASSERT_NE(r, nullptr);
  EXPECT_DOUBLE_EQ(r->value, 17.4);
}

TEST(PublishedNumbers, MapsTaskNamesToBenchmarkNames) {
  const auto& p = project_numbers();
  EXPECT_EQ(p.benchmark_name("gsm8k"), "GSM8K");
  EXPECT_EQ(p.benchmark_name("ceval"), "C-Eval");
  EXPECT_EQ(p.benchmark_name("c-eval"), "C-Eval");   // already a benchmark name
  EXPECT_EQ(p.benchmark_name("no-such-benchmark"), std::nullopt);
  EXPECT_EQ(p.lookup("deepseek-llm-7b-base", "no-such-benchmark"), nullptr);
  EXPECT_EQ(p.lookup("no-such-model", "gsm8k"), nullptr);
}

TEST(PublishedNumbers, EveryMappedTaskHasRecords) {
  auto mapping = read_json(test::source_dir() / "configs" / "published" / "task_benchmarks.json").at("tasks");
  for (const auto& [task, benchmark] : mapping.items()) {
    bool found = false;
    for (const auto& r : project_numbers().records()) found |= r.benchmark == benchmark.get<std::string>();
    EXPECT_TRUE(found) << task << " -> " << benchmark;
  }
}

TEST(PublishedNumbers, TranscriptionMatchesTheSharedSource) {
  auto source = test::shared_dir() / "reference" / "published" / "deepseek_llm.json";
  if (!std::filesystem::exists(source)) GTEST_SKIP() << "no " << source;
  auto records = read_json(source).at("records");
  const auto& ours = project_numbers().records();
  ASSERT_EQ(records.size(), ours.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].model, records[i].at("model").get<std::string>()) << i;
    EXPECT_EQ(ours[i].benchmark, records[i].at("benchmark").get<std::string>()) << i;
    EXPECT_DOUBLE_EQ(ours[i].value, records[i].at("value").get<double>()) << i;
    EXPECT_EQ(ours[i].source, records[i].at("source").get<std::string>()) << i;
    EXPECT_EQ(ours[i].confirmed_primary, records[i].at("confirmed_primary").get<bool>()) << i;
  }
}

// ---------------------------------------------------------------- a synthetic directory

std::filesystem::path write_dir(const nlohmann::json& records, const char* tag) {
  auto dir = test::make_temp_dir(tag);
  std::ofstream(dir / "numbers.json") << nlohmann::json{{"records", records}}.dump();
  std::ofstream(dir / "task_benchmarks.json") << R"({"tasks": {"mytask": "Bench"}})";
  return dir;
}

nlohmann::json record(const char* source, bool confirmed, double value, const char* unit = "percent") {
  return {{"model", "m"}, {"benchmark", "Bench"}, {"value", value}, {"metric", "acc"},
          {"unit", unit}, {"shots", 0}, {"source", source}, {"confirmed_primary", confirmed}};
}

TEST(PublishedRanking, UnitThenConfirmationThenSourceThenFileOrder) {
  auto dir = write_dir({record("OTHER", true, 1), record("GH_MORE", false, 2), record("PAPER", false, 3),
                        record("GH_MORE", true, 4, "unknown"), record("GH_README", true, 5),
                        record("PAPER", false, 6)},
                       "published-rank");
  auto p = PublishedNumbers::load(dir);
  std::vector<double> order;
  for (const auto* r : p.candidates("M", "mytask")) order.push_back(r->value);
  EXPECT_EQ(order, (std::vector<double>{5, 1, 3, 6, 2, 4}));
}

TEST(PublishedRanking, MalformedRecordNamesTheFile) {
  auto dir = write_dir({{{"model", "m"}, {"benchmark", "Bench"}}}, "published-bad");
  try {
    PublishedNumbers::load(dir);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("numbers.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("value"), std::string::npos) << e.what();
  }
  EXPECT_THROW(PublishedNumbers::load(dir / "no-such-dir"), Error);
}

}  // namespace
}  // namespace yardstick
