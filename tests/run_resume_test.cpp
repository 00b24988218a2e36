// `yardstick run` as a user drives it: a real process, SIGKILLed mid-run and resumed (every
// sample exactly once, metrics right), --rescore from stored outputs, run-name rules, and
// dataset files that are missing or altered.
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scorers/registry.h"
#include "tests/cli_process.h"
#include "tests/db_query.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using test::CliProcess;
using Result = test::CliResult;

Result yardstick(const std::vector<std::string>& args) { return test::run_cli(args); }

using test::query_int;

void exec_sql(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
}

std::string data_dir() { return (test::shared_dir() / "datasets").string(); }

// The run name is the first stdout line: "run <name>".
std::string run_name_of(const std::string& out) {
  auto line = out.substr(0, out.find('\n'));
  return line.rfind("run ", 0) == 0 ? line.substr(4) : "";
}

// The tiny synthetic model, written once per test binary.
const fs::path& tiny_model() {
  static const fs::path dir = [] {
    auto d = test::make_temp_dir("tiny-model") / "tiny";
    Result r = yardstick({"synth-model", "--out", d.string(), "--preset", "tiny", "--seed", "1"});
    EXPECT_EQ(r.code, 0) << r.err;
    return d;
  }();
  return dir;
}

TEST(RunResume, KilledMidRunThenResumedStoresEverySampleExactlyOnce) {
  auto db = test::make_temp_dir("resume") / "runs.db";
  const int limit = 8;
  // One sequence at a time, few tokens: samples finish one by one, so the kill lands between them.
  std::vector<std::string> args{"run", "--model", tiny_model().string(), "--tasks", "gsm8k", "--db", db.string(),
                                "--data-dir", data_dir(), "--limit", std::to_string(limit), "--max-batch", "1",
                                "--max-new-tokens", "24", "--threads", "1", "--run-name", "crash"};
  CliProcess first(args);
  int64_t stored = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (std::chrono::steady_clock::now() < deadline && first.running()) {
    stored = query_int(db, "SELECT COUNT(*) FROM samples");
    if (stored >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  first.kill9();
  EXPECT_EQ(first.wait(), -SIGKILL) << "the run ended before it could be killed:\n" << first.err();
  stored = query_int(db, "SELECT COUNT(*) FROM samples");
  ASSERT_GE(stored, 2);
  ASSERT_LT(stored, limit) << "every sample was already stored when the kill landed";
  // A sample is never without its verdicts: they were written in the same transaction.
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM samples s WHERE (SELECT COUNT(*) FROM verdicts v WHERE "
                          "v.sample_id = s.id) != 2"),
            0);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM runs WHERE status = 'running'"), 1);

  Result second = yardstick(args);
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_THAT(second.err, HasSubstr("resuming"));
  EXPECT_THAT(second.out, HasSubstr(std::to_string(stored) + " already stored"));
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM samples"), limit);
  EXPECT_EQ(query_int(db, "SELECT COUNT(DISTINCT doc_id) FROM samples"), limit);
  EXPECT_EQ(query_int(db, "SELECT MAX(CAST(doc_id AS INTEGER)) FROM samples"), limit - 1);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM verdicts"), 2 * limit);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM runs"), 1);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM runs WHERE status = 'finished'"), 1);
  // Metrics cover every sample, and agree with the verdicts.
  EXPECT_EQ(query_int(db, "SELECT n FROM metrics WHERE scorer = 'strict-match'"), limit);
  EXPECT_EQ(query_int(db, "SELECT CAST(ROUND(value * 1000) AS INTEGER) FROM metrics WHERE scorer = 'strict-match'"),
            query_int(db, "SELECT CAST(ROUND(AVG(correct) * 1000) AS INTEGER) FROM verdicts WHERE scorer = "
                          "'strict-match'"));

  // A third run of the same command has nothing left to do.
  Result third = yardstick(args);
  ASSERT_EQ(third.code, 0) << third.err;
  EXPECT_THAT(third.out, HasSubstr("0 written"));
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM samples"), limit);
}

std::vector<std::string> gold_args(const fs::path& db, int limit) {
  return {"run", "--model", "gold", "--tasks", "gsm8k", "--db", db.string(), "--data-dir", data_dir(),
          "--limit", std::to_string(limit)};
}

TEST(RunGold, ReferenceAnswersScoreFullMarksAndTheGeneratedNameIsPrinted) {
  auto db = test::make_temp_dir("gold") / "runs.db";
  Result r = yardstick(gold_args(db, 12));
  ASSERT_EQ(r.code, 0) << r.err;
  std::string name = run_name_of(r.out);
  EXPECT_THAT(name, ::testing::StartsWith("gold-gsm8k-"));
  EXPECT_THAT(r.out, HasSubstr("gsm8k strict-match acc: 100.00%"));
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM samples WHERE finish_reason = 'reference'"), 12);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM verdicts WHERE correct = 1"), 24);
  EXPECT_EQ(query_int(db, "SELECT n FROM metrics WHERE scorer = 'strict-match'"), 12);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM runs WHERE name = '" + name + "' AND status = 'finished'"), 1);

  // The same command again finds the same run by its derived name; a larger limit extends it.
  Result again = yardstick(gold_args(db, 15));
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(run_name_of(again.out), name);
  EXPECT_THAT(again.out, HasSubstr("15 planned, 12 already stored, 3 written"));
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM samples"), 15);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM runs"), 1);
}

TEST(RunGold, RescoreRegradesStoredOutputsWithoutAModel) {
  auto db = test::make_temp_dir("rescore") / "runs.db";
  auto args = gold_args(db, 5);
  args.insert(args.end(), {"--run-name", "r1"});
  ASSERT_EQ(yardstick(args).code, 0);
  // Tamper with what is stored: one output now answers wrongly, and every verdict says "wrong".
  exec_sql(db, "UPDATE samples SET output = 'Q: x\nA: The answer is 17.' WHERE doc_id = '0'");
  exec_sql(db, "UPDATE verdicts SET correct = 0");

  Result r = yardstick({"run", "--db", db.string(), "--run-name", "r1", "--rescore"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("re-scored 5 samples"));
  // Re-graded from the stored outputs: doc 0 is now wrong (17 != 18), the others right again.
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM verdicts WHERE correct = 1 AND scorer = 'strict-match'"), 4);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM verdicts"), 10);
  EXPECT_EQ(query_int(db, "SELECT CAST(ROUND(value * 100) AS INTEGER) FROM metrics WHERE scorer = 'strict-match'"), 80);

  // The same command plus --rescore works too (the run is found by its options).
  auto again = args;
  again.push_back("--rescore");
  Result r2 = yardstick(again);
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM samples"), 5);
}

TEST(RunGold, RescoreOfAnUnknownRunIsRefused) {
  auto db = test::make_temp_dir("rescore-missing") / "runs.db";
  ASSERT_EQ(yardstick(gold_args(db, 2)).code, 0);
  Result r = yardstick({"run", "--db", db.string(), "--run-name", "nope", "--rescore"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("no run named \"nope\""));
}

// Verdicts record the scorer version that made them; a run graded by another version is not
// resumed (the metrics would mix two graders) until --rescore has re-graded it.
TEST(RunGold, ARunGradedByAnOlderScorerVersionIsRescoredBeforeItResumes) {
  auto db = test::make_temp_dir("scorer-version") / "runs.db";
  std::vector<std::string> args{"run", "--model", "gold", "--tasks", "math", "--db", db.string(),
                                "--data-dir", data_dir(), "--run-name", "old", "--limit", "3"};
  Result first = yardstick(args);
  ASSERT_EQ(first.code, 0) << first.err;
  const std::string versioned = "SELECT COUNT(*) FROM verdicts WHERE json_extract(detail_json, '$.scorer_version') = " +
                                std::to_string(scorer_version("math"));
  ASSERT_GT(scorer_version("math"), 1);
  EXPECT_EQ(query_int(db, versioned), 6);
  // As a run stored before versions were recorded: no scorer_version, which counts as 1.
  exec_sql(db, "UPDATE verdicts SET detail_json = json_remove(detail_json, '$.scorer_version')");

  auto more = args;
  more.back() = "5";
  Result refused = yardstick(more);
  EXPECT_EQ(refused.code, 1);
  EXPECT_THAT(refused.err, HasSubstr("run \"old\""));
  EXPECT_THAT(refused.err, HasSubstr("math scorer version 1"));
  EXPECT_THAT(refused.err, HasSubstr("--rescore"));
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM samples"), 3);

  Result rescored = yardstick({"run", "--db", db.string(), "--run-name", "old", "--rescore"});
  ASSERT_EQ(rescored.code, 0) << rescored.err;
  EXPECT_EQ(query_int(db, versioned), 6);
  Result resumed = yardstick(more);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM samples"), 5);
  EXPECT_EQ(query_int(db, versioned), 10);
}

TEST(RunNames, ADifferentConfigurationUnderAnExistingNameIsRefused) {
  auto db = test::make_temp_dir("names") / "runs.db";
  auto args = gold_args(db, 3);
  args.insert(args.end(), {"--run-name", "mine"});
  ASSERT_EQ(yardstick(args).code, 0);

  auto fewer_shots = args;
  fewer_shots.insert(fewer_shots.end(), {"--shots", "4"});
  Result r = yardstick(fewer_shots);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("run \"mine\""));
  EXPECT_THAT(r.err, HasSubstr("different configuration"));
  EXPECT_THAT(r.err, HasSubstr("/tasks/0/shots"));

  // Another model under the same name is refused the same way, and nothing was written.
  auto other_model = args;
  other_model[2] = tiny_model().string();
  Result r2 = yardstick(other_model);
  EXPECT_EQ(r2.code, 1);
  EXPECT_THAT(r2.err, HasSubstr("/model/"));
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM samples"), 3);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM runs"), 1);
}

std::string query_text(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::string v;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
      if (auto* p = sqlite3_column_text(s, 0)) v = reinterpret_cast<const char*>(p);
    sqlite3_finalize(s);
  }
  sqlite3_close(h);
  return v;
}

fs::path synth(const char* tag, const std::vector<std::string>& extra) {
  auto dir = test::make_temp_dir(tag) / "model";
  std::vector<std::string> args{"synth-model", "--out", dir.string(), "--preset", "tiny"};
  args.insert(args.end(), extra.begin(), extra.end());
  Result r = yardstick(args);
  EXPECT_EQ(r.code, 0) << r.err;
  return dir;
}

TEST(RunStyles, ChatModelIsPromptedZeroShotThroughTheChatTemplate) {
  auto model = synth("chat-model", {"--chat"});
  auto db = test::make_temp_dir("chat") / "runs.db";
  Result r = yardstick({"run", "--model", model.string(), "--tasks", "gsm8k", "--db", db.string(), "--data-dir",
                        data_dir(), "--limit", "1", "--max-new-tokens", "4", "--threads", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string prompt = query_text(db, "SELECT prompt FROM samples");
  EXPECT_EQ(prompt.rfind("User: Janet", 0), 0u) << prompt;
  EXPECT_THAT(prompt, ::testing::EndsWith("\n\nAssistant:"));
  EXPECT_EQ(query_text(db, "SELECT json_extract(config_json, '$.prompt_style') FROM runs"), "chat");
  EXPECT_EQ(query_int(db, "SELECT json_extract(config_json, '$.tasks[0].shots') FROM runs"), 0);
  // BOS is an id in front of the prompt's tokens, counted with them.
  EXPECT_GT(query_int(db, "SELECT prompt_tokens FROM samples"), 10);
}

TEST(RunStyles, ABaseStyleCanBeForcedOnAChatModel) {
  auto model = synth("chat-model-base", {"--chat"});
  auto db = test::make_temp_dir("forced") / "runs.db";
  Result r = yardstick({"run", "--model", model.string(), "--tasks", "gsm8k", "--db", db.string(), "--data-dir",
                        data_dir(), "--limit", "1", "--max-new-tokens", "2", "--threads", "1", "--style", "base",
                        "--shots", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string prompt = query_text(db, "SELECT prompt FROM samples");
  EXPECT_EQ(prompt.rfind("Q: There are 15 trees", 0), 0u) << prompt;
  EXPECT_EQ(query_int(db, "SELECT json_extract(config_json, '$.tasks[0].shots') FROM runs"), 2);
}

TEST(RunFailures, APromptTooLongForTheModelIsARecordedSampleNotTheEndOfTheRun) {
  // A 512-token context cannot hold the ~850-token 8-shot prompt; the 0-shot one fits.
  auto model = synth("short-context", {"--max-positions", "512"});
  auto db = test::make_temp_dir("too-long") / "runs.db";
  Result r = yardstick({"run", "--model", model.string(), "--tasks", "gsm8k", "--db", db.string(), "--data-dir",
                        data_dir(), "--limit", "3", "--max-new-tokens", "4", "--threads", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM samples WHERE finish_reason = 'error' AND error != ''"), 3);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM verdicts WHERE correct = 0 AND status = 'no_answer'"), 6);
  EXPECT_EQ(query_int(db, "SELECT n FROM metrics WHERE scorer = 'strict-match'"), 3);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM runs WHERE status = 'finished'"), 1);
}

// A private copy of the gsm8k folder in a data directory of its own.
fs::path copy_gsm8k() {
  auto dir = test::make_temp_dir("data");
  fs::copy(test::shared_dir() / "datasets" / "gsm8k", dir / "gsm8k");
  for (const auto& e : fs::directory_iterator(dir / "gsm8k"))
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
  return dir;
}

TEST(RunData, AlteredDatasetFileIsAnErrorNamingIt) {
  auto data = copy_gsm8k();
  {
    std::fstream f(data / "gsm8k" / "test.jsonl", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('#');
  }
  auto args = gold_args(test::make_temp_dir("altered") / "runs.db", 2);
  args[8] = data.string();
  Result r = yardstick(args);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("gsm8k/test.jsonl"));
  EXPECT_THAT(r.err, HasSubstr("3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"));
  EXPECT_THAT(r.err, HasSubstr("openai/grade-school-math"));
}

TEST(RunData, MissingDatasetFileIsAnErrorNamingIt) {
  auto data = copy_gsm8k();
  fs::remove(data / "gsm8k" / "fewshot_cot_8shot.json");
  auto args = gold_args(test::make_temp_dir("missing") / "runs.db", 2);
  args[8] = data.string();
  Result r = yardstick(args);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("gsm8k/fewshot_cot_8shot.json"));
  EXPECT_THAT(r.err, HasSubstr("missing"));
}

TEST(RunData, UnknownTaskIsAnError) {
  Result r = yardstick({"run", "--model", "gold", "--tasks", "gsm9k", "--db",
                        (test::make_temp_dir("task") / "runs.db").string(), "--data-dir", data_dir()});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("unknown task \"gsm9k\""));
}

}  // namespace
}  // namespace yardstick
