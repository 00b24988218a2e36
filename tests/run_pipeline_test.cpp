// `yardstick run` around the engine: checks that fail before a weight is read, synthetic models
// (identity, resume, the same values as synth-model's checkpoint), the outcome's engine numbers,
// and multiple-choice questions stored one by one as they finish.
#include <chrono>
#include <fstream>
#include <map>
#include <thread>
#include <tuple>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/synthetic_model.h"
#include "engine/tokenizer.h"
#include "harness/run.h"
#include "harness/synth_model.h"
#include "tests/cli_process.h"
#include "tests/captured_log.h"
#include "tests/db_query.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using test::query_int;

fs::path data_dir() { return test::shared_dir() / "datasets"; }

// A run of --model synthetic:tiny, quick on a CPU.
RunOptions tiny_run(const fs::path& db, const std::string& model = "synthetic:tiny") {
  RunOptions o;
  o.model = model;
  o.tasks = {"gsm8k"};
  o.db = db;
  o.limit = 3;
  o.data_dir = data_dir();
  o.max_new_tokens = 6;
  o.style = PromptStyle::Base;
  o.threads = 2;
  return o;
}

// ------------------------------------------------------------------ fail fast

// A model directory whose one weight file is 64 GB (sparse: it takes no disk). Hashing it would
// take minutes; a check that fails first must leave no digest of it behind.
fs::path huge_model() {
  fs::path dir = test::make_temp_dir("huge-model");
  std::ofstream(dir / "config.json") << synthetic_config("tiny").dump();
  { std::ofstream create(dir / "model.safetensors"); }
  fs::resize_file(dir / "model.safetensors", 64ull << 30);
  return dir;
}

int64_t weight_digest_rows(const fs::path& db) {
  return query_int(db, "SELECT COUNT(*) FROM file_digests WHERE path LIKE '%model.safetensors'");
}

TEST(RunFailFast, AnUnknownTaskFailsBeforeAnyWeightFileIsRead) {
  fs::path model = huge_model();
  fs::path db = test::make_temp_dir("fail-fast-task") / "runs.db";
  auto r = test::run_cli({"run", "--model", model.string(), "--tasks", "gsm8k,no-such-task", "--db", db.string(),
                          "--data-dir", data_dir().string()});
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("no-such-task"));
  EXPECT_EQ(weight_digest_rows(db), 0);
  EXPECT_EQ(query_int(db, "SELECT COUNT(*) FROM runs"), 0);
}

// Out-of-range numbers are refused with the option named, never taken as "unset" (-1 used to
// mean "the default" for --limit, --shots and --max-new-tokens), before any weight is read.
TEST(RunFailFast, OutOfRangeOptionsAreRefusedNamingTheOption) {
  fs::path model = huge_model();
  fs::path db = test::make_temp_dir("fail-fast-ranges") / "runs.db";
  const std::vector<std::vector<std::string>> bad = {
      {"--limit", "-1", "must be >= 0"},          {"--shots", "-1", "must be >= 0"},
      {"--max-new-tokens", "-1", "must be >= 1"}, {"--max-new-tokens", "0", "must be >= 1"},
      {"--cap-new-tokens", "0", "must be >= 1"},  {"--max-batch", "0", "must be >= 1"},
      {"--max-prefill-tokens", "0", "must be >= 1"}, {"--threads", "100000", "4 x this machine's cores"},
      {"--threads", "-2", "4 x this machine's cores"}, {"--limit", "x", "not an integer"}};
  for (const auto& b : bad) {
    auto r = test::run_cli({"run", "--model", model.string(), "--tasks", "gsm8k", "--db", db.string(), "--data-dir",
                            data_dir().string(), b[0], b[1]});
    EXPECT_NE(r.code, 0) << b[0] << " " << b[1];
    EXPECT_THAT(r.err, HasSubstr(b[0])) << b[1];
    EXPECT_THAT(r.err, HasSubstr(b[2])) << b[0] << " " << b[1];
  }
  EXPECT_FALSE(fs::exists(db)) << "refused before the database is made";
  for (const auto& b : std::vector<std::vector<std::string>>{{"--max-batch", "0"}, {"--threads", "100000"}}) {
    auto r = test::run_cli({"generate", "--model", model.string(), b[0], b[1]});
    EXPECT_NE(r.code, 0) << "generate " << b[0] << " " << b[1];
    EXPECT_THAT(r.err, HasSubstr(b[0]));
  }
}

TEST(RunFailFast, TooManyShotsFailBeforeAnyWeightFileIsRead) {
  fs::path model = huge_model();
  fs::path db = test::make_temp_dir("fail-fast-shots") / "runs.db";
  auto r = test::run_cli({"run", "--model", model.string(), "--tasks", "gsm8k", "--shots", "100000", "--db",
                          db.string(), "--data-dir", data_dir().string()});
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.err, HasSubstr("exemplars"));
  EXPECT_EQ(weight_digest_rows(db), 0);
}

TEST(RunFailFast, AMissingDataDirectoryFailsBeforeAnyWeightFileIsRead) {
  fs::path model = huge_model();
  fs::path db = test::make_temp_dir("fail-fast-data") / "runs.db";
  auto r = test::run_cli({"run", "--model", model.string(), "--tasks", "gsm8k", "--db", db.string(), "--data-dir",
                          (db.parent_path() / "no-data").string()});
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(weight_digest_rows(db), 0);
}

TEST(RunFailFast, ABadSyntheticSpecIsAnErrorNamingIt) {
  fs::path db = test::make_temp_dir("fail-fast-spec") / "runs.db";
  RunOptions o = tiny_run(db, "synthetic:tiny,wings=2");
  try {
    run_benchmarks(o, stderr);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("wings=2"));
  }
}

// ------------------------------------------------------------------ synthetic models

TEST(RunSynthetic, TinyRunsAndItsIdentitySaysSyntheticAndUnhashed) {
  fs::path db = test::make_temp_dir("synthetic") / "runs.db";
  RunOutcome first = run_benchmarks(tiny_run(db), stderr);
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.written, 3);
  EXPECT_FALSE(first.weights_hashed);
  Store store(db);
  auto run = store.find_run(first.run_name);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->config.at("model").at("weights_digest"), "synthetic:tiny:seed=0:cpu");
  auto model = store.model(run->model_id);
  ASSERT_TRUE(model);
  EXPECT_EQ(model->config.at("synthetic").at("weights_hashed"), false);
  EXPECT_EQ(model->config.at("synthetic").at("spec"), "tiny");
  EXPECT_EQ(weight_digest_rows(db), 0);

  // The same spec again: the same run, nothing left to do.
  RunOutcome second = run_benchmarks(tiny_run(db), stderr);
  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.run_name, first.run_name);
  EXPECT_EQ(second.already_done, 3);
  EXPECT_EQ(second.written, 0);
  // Another weight seed is another model, so another run.
  RunOutcome other = run_benchmarks(tiny_run(db, "synthetic:tiny:seed=1"), stderr);
  EXPECT_TRUE(other.created);
  EXPECT_NE(other.run_name, first.run_name);
}

// A tiny checkpoint directory with the DeepSeek tokenizer (yardstick synth-model).
SynthOptions write_tiny_checkpoint(const fs::path& out, uint64_t seed) {
  SynthOptions so;
  so.out = out;
  so.seed = seed;
  so.tokenizer = default_tokenizer_dir();
  write_synth_model(so);
  return so;
}

// A checkpoint's first use in a database: the engine starts before the weights are hashed and
// the writer opens the run when the digest is done. The run and its samples are the ones an
// undeferred run makes: the same name (identity), resumed with nothing left to do once the
// digest is cached; and where the database has runs of the directory, the identity comes first.
TEST(RunSynthetic, AFirstUseStartsTheEngineBeforeTheDigestAndOpensTheSameRun) {
  fs::path dir = test::make_temp_dir("deferred-identity");
  const SynthOptions so = write_tiny_checkpoint(dir / "tiny", 5);
  const RunOptions o = tiny_run(dir / "runs.db", so.out.string());
  RunOutcome first;
  const std::string first_log = test::captured_log([&](std::FILE* log) { first = run_benchmarks(o, log); });
  EXPECT_THAT(first_log, HasSubstr("the run opens when the weights' digest is done"));
  EXPECT_TRUE(first.weights_hashed);
  EXPECT_TRUE(first.created);
  ASSERT_EQ(first.written, 3);
  Store store(o.db);
  auto run = store.find_run(first.run_name);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->status, "finished");
  EXPECT_EQ(run->config.at("model").at("weights_digest").get<std::string>().size(), 64u);
  EXPECT_EQ(query_int(o.db, "SELECT COUNT(*) FROM samples WHERE run_id = " + std::to_string(run->id)), 3);

  const RunOutcome again = run_benchmarks(o, stderr);   // digests cached
  EXPECT_EQ(again.run_name, first.run_name);
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.already_done, 3);
  EXPECT_EQ(again.written, 0);

  // New file times: hashed again, but this database knows the directory, so nothing is deferred
  // and the stored samples are kept.
  for (const auto& e : fs::directory_iterator(so.out))
    if (e.path().extension() == ".safetensors") fs::last_write_time(e.path(), fs::file_time_type::clock::now());
  RunOutcome touched;
  const std::string touched_log = test::captured_log([&](std::FILE* log) { touched = run_benchmarks(o, log); });
  EXPECT_TRUE(touched.weights_hashed);
  EXPECT_THAT(touched_log, ::testing::Not(HasSubstr("the run opens when")));
  EXPECT_EQ(touched.run_name, first.run_name);
  EXPECT_EQ(touched.already_done, 3);
  EXPECT_EQ(touched.written, 0);
}

TEST(RunSynthetic, TinyGeneratesWhatTheSynthModelCheckpointOfTheSameSeedGenerates) {
  fs::path dir = test::make_temp_dir("synthetic-same");
  const SynthOptions so = write_tiny_checkpoint(dir / "tiny", 4);
  RunOutcome from_disk = run_benchmarks(tiny_run(dir / "a.db", so.out.string()), stderr);
  RunOutcome in_memory = run_benchmarks(tiny_run(dir / "b.db", "synthetic:tiny:seed=4"), stderr);
  ASSERT_EQ(from_disk.written, 3);
  ASSERT_EQ(in_memory.written, 3);
  Store a(dir / "a.db"), b(dir / "b.db");
  auto sa = a.samples(a.find_run(from_disk.run_name)->id);
  auto sb = b.samples(b.find_run(in_memory.run_name)->id);
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].doc_id, sb[i].doc_id);
    EXPECT_EQ(sa[i].prompt_tokens, sb[i].prompt_tokens);
    EXPECT_EQ(sa[i].output, sb[i].output) << "doc " << sa[i].doc_id;
  }
}

TEST(RunSynthetic, PromptsGetExactlyTheSpecialTokensTheTokenizerAdds) {
  // DeepSeek's tokenizer puts BOS before a text; a GPT-2 style one (SmolLM2's kind) adds nothing,
  // and the prompt is then its bare encoding, though the model's config names a BOS.
  fs::path dir = test::make_temp_dir("synthetic-special");
  for (const auto& [name, tokenizer, extra] :
       {std::tuple{"deepseek", default_tokenizer_dir(), 1}, {"gpt2", test::fixtures_dir() / "tokenizers" / "gpt2", 0}}) {
    RunOptions o = tiny_run(dir / (std::string(name) + ".db"));
    o.tokenizer = tokenizer.string();
    const RunOutcome out = run_benchmarks(o, stderr);
    ASSERT_EQ(out.written, 3) << name;
    const Tokenizer tok = Tokenizer::from_file(tokenizer);
    Store store(o.db);
    for (const SampleRecord& s : store.samples(store.find_run(out.run_name)->id))
      EXPECT_EQ(s.prompt_tokens, static_cast<int64_t>(tok.encode(s.prompt).size()) + extra) << name << " " << s.doc_id;
  }
}

TEST(RunSynthetic, AMissingTokenizerIsAnErrorNamingIt) {
  fs::path dir = test::make_temp_dir("synthetic-no-tok");
  RunOptions o = tiny_run(dir / "runs.db");
  o.tokenizer = (dir / "nowhere").string();
  try {
    run_benchmarks(o, stderr);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr((dir / "nowhere").string()));
  }
}

// --cap-new-tokens lowers the limit of tasks above it and leaves the ones below it alone, and the
// limit each task got is in the run's identity.
TEST(RunSynthetic, CapNewTokensLowersOnlyTheLimitsAboveIt) {
  fs::path db = test::make_temp_dir("cap-new-tokens") / "runs.db";
  RunOptions o = tiny_run(db);
  o.tasks = {"gsm8k", "cluewsc"};   // the tasks' own limits: 512 and 16
  o.limit = 1;
  o.max_new_tokens.reset();
  o.cap_new_tokens = 24;
  RunOutcome r = run_benchmarks(o, stderr);
  Store store(db);
  auto run = store.find_run(r.run_name);
  ASSERT_TRUE(run);
  std::map<std::string, int> limits;
  for (const auto& t : run->config.at("tasks")) limits[t.at("name").get<std::string>()] = t.at("max_new_tokens");
  EXPECT_EQ(limits["gsm8k"], 24);
  EXPECT_EQ(limits["cluewsc"], 16);
  EXPECT_LE(query_int(db, "SELECT MAX(output_tokens) FROM samples"), 24);
  o.cap_new_tokens = 0;
  EXPECT_THROW(run_benchmarks(o, stderr), InputError);
}

// ------------------------------------------------------------------ the outcome's numbers

TEST(RunOutcomeNumbers, EngineCountersAndTimesAreConsistent) {
  fs::path db = test::make_temp_dir("outcome") / "runs.db";
  RunOutcome r = run_benchmarks(tiny_run(db), stderr);
  EXPECT_GT(r.engine_steps, 0);
  EXPECT_GT(r.generated_tokens, 0);
  // Generated tokens are fed back one by one, except each sample's last.
  EXPECT_LE(r.decode_tokens, r.generated_tokens);
  EXPECT_LE(r.prefill_step_seconds, r.forward_seconds);
  EXPECT_GE(r.prefix_hit_rate, 0.0);
  EXPECT_LE(r.prefix_hit_rate, 1.0);
  EXPECT_GT(r.first_result_seconds, 0.0);
  EXPECT_LE(r.first_result_seconds, r.wall_seconds);
  EXPECT_LE(r.load_seconds + r.generate_seconds, r.wall_seconds);
  EXPECT_EQ(query_int(db, "SELECT SUM(output_tokens) FROM samples"), r.generated_tokens);
}

TEST(RunOutcomeNumbers, PrefillAndDecodeRatesSplitTheForwardTime) {
  RunOutcome r;
  EXPECT_EQ(r.prefill_tokens_per_second(), 0.0);
  EXPECT_EQ(r.decode_tokens_per_second(), 0.0);
  r.prefill_tokens = 1000;
  r.decode_tokens = 300;
  r.forward_seconds = 5.0;
  r.prefill_step_seconds = 2.0;
  EXPECT_DOUBLE_EQ(r.prefill_tokens_per_second(), 500.0);
  EXPECT_DOUBLE_EQ(r.decode_tokens_per_second(), 100.0);
}

TEST(RunSummary, PrintsTheEngineLineAndTheTimeFromTheStart) {
  fs::path db = test::make_temp_dir("summary") / "runs.db";
  auto r = test::run_cli({"run", "--model", "synthetic:tiny", "--tasks", "gsm8k", "--limit", "2", "--max-new-tokens",
                          "4", "--db", db.string(), "--data-dir", data_dir().string(), "--threads", "2",
                          "--no-prefix-cache", "--max-prefill-tokens", "256"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("engine: prefill "));
  EXPECT_THAT(r.out, HasSubstr("time: "));
  EXPECT_THAT(r.out, HasSubstr("first sample finished at"));
}

// ------------------------------------------------------------------ multiple choice

// All questions go to the engine at once with a batch that holds them all; each is stored as it
// finishes, so a run killed in the middle has stored some and not all.
TEST(RunChoices, QuestionsAreStoredOneByOneAsTheyFinish) {
  if (!fs::exists(data_dir() / "ceval")) GTEST_SKIP() << "no C-Eval data";
  fs::path db = test::make_temp_dir("choice-progress") / "runs.db";
  const int limit = 40;
  test::CliProcess p({"run", "--model", "synthetic:tiny", "--tasks", "ceval", "--limit", std::to_string(limit),
                      "--max-batch", "64", "--threads", "1", "--db", db.string(), "--data-dir", data_dir().string(),
                      "--run-name", "mc"});
  int64_t stored = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (std::chrono::steady_clock::now() < deadline && p.running()) {
    stored = query_int(db, "SELECT COUNT(*) FROM samples");
    if (stored >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  p.kill9();
  EXPECT_EQ(p.wait(), -SIGKILL) << "the run ended before it could be killed:\n" << p.err();
  stored = query_int(db, "SELECT COUNT(*) FROM samples");
  EXPECT_GE(stored, 1);
  EXPECT_LT(stored, limit) << "every question was stored at once";
}

}  // namespace
}  // namespace yardstick
