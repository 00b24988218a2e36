// `yardstick score` and `yardstick generate`, run as a user would: the real binary on the
// fixture models, JSON lines in, JSON lines out (the contracts of DESIGN.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/tokenizer.h"
#include "tests/cli_process.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

struct CliRun {
  int rc = -1;
  std::vector<json> lines;   // stdout, one JSON value per line
  std::string err;
};

// Runs `yardstick <command> --model DIR --threads 2 --input FILE` with `input` written to FILE.
CliRun yardstick(const std::string& command, const fs::path& model, const std::string& input) {
  static const fs::path dir = test::make_temp_dir("cli-input");
  static int n = 0;
  const fs::path in = dir / ("in" + std::to_string(++n));
  std::ofstream(in) << input;
  const test::CliResult res =
      test::run_cli({command, "--model", model.string(), "--threads", "2", "--input", in.string()});
  CliRun r;
  r.rc = res.code;
  r.err = res.err;
  std::istringstream lines(res.out);
  for (std::string line; std::getline(lines, line);) r.lines.push_back(json::parse(line));
  return r;
}

fs::path fixture(const char* model, const char* layout = "single") {
  return test::fixtures_dir() / model / layout;
}

json reference(const char* model) {
  std::ifstream in(test::fixtures_dir() / model / "reference.json");
  return json::parse(in);
}

std::string jsonl(const std::vector<json>& rows) {
  std::string s;
  for (const json& r : rows) s += r.dump() + "\n";
  return s;
}

TEST(CliScore, IdsGiveHfLogprobs) {
  for (const char* model : {"llama_mha", "llama_gqa"}) {
    const json ref = reference(model);
    const json& ll = ref["loglikelihood"][0];
    std::vector<json> rows;
    for (const json& c : ll["continuations"])
      rows.push_back({{"context_ids", ll["context"]}, {"continuation_ids", c["ids"]}});
    // A prompt scored from its first token: its per-token reference log-probs.
    const json& p = ref["prompts"][2];
    std::vector<int> ids = p["ids"];
    rows.push_back({{"context_ids", {ids[0]}},
                    {"continuation_ids", std::vector<int>(ids.begin() + 1, ids.end())}});

    CliRun r = yardstick("score", fixture(model, "bin"), jsonl(rows));
    ASSERT_EQ(r.rc, 0) << r.err;
    ASSERT_EQ(r.lines.size(), rows.size());
    for (size_t i = 0; i < ll["continuations"].size(); ++i) {
      const json& want = ll["continuations"][i];
      const json& got = r.lines[i];
      ASSERT_EQ(got["logprobs"].size(), want["logprobs"].size());
      for (size_t k = 0; k < want["logprobs"].size(); ++k)
        EXPECT_NEAR(got["logprobs"][k].get<double>(), want["logprobs"][k].get<double>(), 1e-4);
      EXPECT_NEAR(got["sum_logprob"].get<double>(), want["sum"].get<double>(), 1e-3);
      EXPECT_EQ(got["is_greedy"], want["is_greedy"]);
    }
    const json& got = r.lines.back();
    for (size_t k = 0; k < p["logprobs"].size(); ++k)
      EXPECT_NEAR(got["logprobs"][k].get<double>(), p["logprobs"][k].get<double>(), 1e-4);
  }
}

TEST(CliGenerate, GreedyIdsFollowHfUntilEos) {
  const json ref = reference("llama_gqa");
  std::vector<json> rows;
  for (const json& p : ref["prompts"])
    rows.push_back({{"prompt_ids", p["ids"]}, {"max_new_tokens", 24}});
  CliRun r = yardstick("generate", fixture("llama_gqa", "sharded"), jsonl(rows));
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.lines.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<int> want = ref["prompts"][i]["greedy"];
    auto eos = std::find(want.begin(), want.end(), 1);   // the fixtures' EOS id
    EXPECT_EQ(r.lines[i]["ids"].get<std::vector<int>>(), std::vector<int>(want.begin(), eos)) << i;
    EXPECT_EQ(r.lines[i]["finish_reason"], eos == want.end() ? "length" : "eos") << i;
    EXPECT_EQ(r.lines[i]["text"], "");   // no tokenizer in the fixture
  }
}

TEST(CliGenerate, PerLineErrorsKeepTheOthersAndTheOrder) {
  const json too_long = {{"prompt_ids", std::vector<int>(300, 7)}};   // the window is 256
  const std::string input =
      R"({"prompt_ids": [5, 6], "max_new_tokens": 3})"
      "\n"
      "\n"   // blank lines are skipped
      + too_long.dump() + "\n" +
      R"({"prompt_ids": [9], "max_new_tokens": 2, "temperature": 0.8, "seed": 5})"
      "\n";
  CliRun r = yardstick("generate", fixture("llama_mha"), input);
  ASSERT_EQ(r.rc, 0) << r.err;
  ASSERT_EQ(r.lines.size(), 3u);
  EXPECT_THAT(r.lines[0]["finish_reason"].get<std::string>(), ::testing::AnyOf("length", "eos"));
  EXPECT_LE(r.lines[0]["ids"].size(), 3u);
  EXPECT_THAT(r.lines[1]["error"].get<std::string>(), HasSubstr("context window of 256"));
  EXPECT_FALSE(r.lines[2].contains("error"));
  EXPECT_LE(r.lines[2]["ids"].size(), 2u);
  // The same sampled request again gives the same tokens.
  CliRun again =
      yardstick("generate", fixture("llama_mha"),
                R"({"prompt_ids": [9], "max_new_tokens": 2, "temperature": 0.8, "seed": 5})"
                "\n");
  EXPECT_EQ(again.lines.at(0)["ids"], r.lines[2]["ids"]);
}

TEST(CliScoreGenerate, MalformedLinesAreReportedWithTheirNumber) {
  const std::string good = R"({"context_ids": [5], "continuation_ids": [6]})"
                           "\n";
  CliRun r = yardstick("score", fixture("llama_mha"), good + "\n" + "{not json\n");
  EXPECT_NE(r.rc, 0);
  EXPECT_THAT(r.err, HasSubstr("input line 3"));
  r = yardstick("score", fixture("llama_mha"),
                good + R"({"context_ids": [5], "continuation_ids": "6"})"
                       "\n");
  EXPECT_NE(r.rc, 0);
  EXPECT_THAT(r.err, HasSubstr("input line 2"));
  EXPECT_THAT(r.err, HasSubstr("continuation_ids"));
  r = yardstick("generate", fixture("llama_mha"), R"({"prompt_ids": [5], "max_tokens": 3})"
                                                      "\n");
  EXPECT_NE(r.rc, 0);
  EXPECT_THAT(r.err, HasSubstr("input line 1: unknown field \"max_tokens\""));
}

TEST(CliScoreGenerate, TextWithoutATokenizerIsAClearError) {
  CliRun r = yardstick("score", fixture("llama_mha"), R"({"context": "a", "continuation": "b"})"
                                                          "\n");
  EXPECT_NE(r.rc, 0);
  EXPECT_THAT(r.err, HasSubstr("input line 1: text inputs need a tokenizer"));
  r = yardstick("generate", fixture("llama_mha"), R"({"prompt_ids": [5], "stop": ["x"]})"
                                                      "\n");
  EXPECT_NE(r.rc, 0);
  EXPECT_THAT(r.err, HasSubstr("stop strings need a tokenizer"));
}

TEST(CliScoreGenerate, IdInputsIgnoreATokenizerThatCannotBeLoaded) {
  // The fixture model beside a tokenizer.json yardstick refuses (ids need no tokenizer).
  const fs::path dir = test::make_temp_dir("cli-badtok") / "model";
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(fixture("llama_mha")))
    fs::copy_file(entry.path(), dir / entry.path().filename());
  std::ofstream(dir / "tokenizer.json") << R"({"normalizer": {"type": "NFKC"}, "model": {}})";
  const std::string ids = R"({"context_ids": [5, 7], "continuation_ids": [6, 9]})" "\n";
  CliRun with_bad = yardstick("score", dir, ids);
  CliRun without = yardstick("score", fixture("llama_mha"), ids);
  ASSERT_EQ(with_bad.rc, 0) << with_bad.err;
  ASSERT_EQ(without.rc, 0) << without.err;
  EXPECT_EQ(with_bad.lines, without.lines);
  EXPECT_THAT(with_bad.err, HasSubstr("unsupported normalizer 'NFKC'"));

  const std::string prompt = R"({"prompt_ids": [5, 7], "max_new_tokens": 4})" "\n";
  CliRun gen = yardstick("generate", dir, prompt);
  ASSERT_EQ(gen.rc, 0) << gen.err;
  EXPECT_EQ(gen.lines.at(0)["ids"], yardstick("generate", fixture("llama_mha"), prompt).lines.at(0)["ids"]);

  // Text still needs the tokenizer: the error says what is wrong with it.
  CliRun text = yardstick("score", dir, R"({"context": "a", "continuation": "b"})" "\n");
  EXPECT_NE(text.rc, 0);
  EXPECT_THAT(text.err, HasSubstr("cannot be loaded"));
  EXPECT_THAT(text.err, HasSubstr((dir / "tokenizer.json").string()));
  EXPECT_THAT(text.err, HasSubstr("unsupported normalizer 'NFKC'"));
}

// ---------------------------------------------------------------- text, on a synthesized model

// A tiny random model with the DeepSeek tokenizer, made by `yardstick synth-model`; empty when
// that command isn't available in this build.
fs::path synth_model_dir() {
  static const fs::path dir = [] {
    const fs::path d = test::make_temp_dir("cli-synth") / "tiny";
    const auto res = test::run_cli({"synth-model", "--out", d.string(), "--preset", "tiny",
                                    "--tokenizer",
                                    (test::shared_dir() / "reference" / "tokenizer").string()});
    return res.code == 0 ? d : fs::path();
  }();
  return dir;
}

TEST(CliText, TextInputsEqualTheirIdEncodings) {
  const fs::path dir = synth_model_dir();
  if (dir.empty()) GTEST_SKIP() << "yardstick synth-model is not available";
  const Tokenizer tok = Tokenizer::from_file(dir);
  const int bos = *tok.bos_id();
  std::vector<int32_t> ctx{bos};
  for (int32_t id : tok.encode("The capital of France")) ctx.push_back(id);
  const auto cont = tok.encode(" is Paris.");

  CliRun text = yardstick("score", dir,
                          R"({"context": "The capital of France", "continuation": " is Paris."})"
                          "\n");
  CliRun ids = yardstick("score", dir, jsonl({{{"context_ids", ctx}, {"continuation_ids", cont}}}));
  ASSERT_EQ(text.rc, 0) << text.err;
  ASSERT_EQ(ids.rc, 0) << ids.err;
  EXPECT_EQ(text.lines.at(0), ids.lines.at(0));

  CliRun gen_text =
      yardstick("generate", dir, R"({"prompt": "The capital of France", "max_new_tokens": 12})"
                                 "\n");
  CliRun gen_ids =
      yardstick("generate", dir, jsonl({{{"prompt_ids", ctx}, {"max_new_tokens", 12}}}));
  ASSERT_EQ(gen_text.rc, 0) << gen_text.err;
  EXPECT_EQ(gen_text.lines.at(0), gen_ids.lines.at(0));
  const auto out_ids = gen_text.lines[0]["ids"].get<std::vector<int32_t>>();
  EXPECT_EQ(gen_text.lines[0]["text"], tok.decode(out_ids));
}

TEST(CliText, TextInputsGetTheSpecialTokensTheTokenizerAdds) {
  // A GPT-2 style tokenizer adds no BOS (HF's tokenizer(text) gives the bare ids), so neither do
  // score's contexts and generate's prompts; the model's config has a BOS all the same.
  const fs::path dir = test::make_temp_dir("cli-synth-gpt2") / "tiny";
  const auto made = test::run_cli({"synth-model", "--out", dir.string(), "--preset", "tiny", "--tokenizer",
                                   (test::fixtures_dir() / "tokenizers" / "gpt2").string()});
  if (made.code != 0) GTEST_SKIP() << "yardstick synth-model failed: " << made.err;
  const Tokenizer tok = Tokenizer::from_file(dir);
  ASSERT_TRUE(tok.special_prefix().empty());
  const auto ctx = tok.encode("The quick brown fox");
  const auto cont = tok.encode(" jumps");
  CliRun text = yardstick("score", dir, R"({"context": "The quick brown fox", "continuation": " jumps"})" "\n");
  CliRun ids = yardstick("score", dir, jsonl({{{"context_ids", ctx}, {"continuation_ids", cont}}}));
  ASSERT_EQ(text.rc, 0) << text.err;
  ASSERT_EQ(ids.rc, 0) << ids.err;
  EXPECT_EQ(text.lines.at(0), ids.lines.at(0));

  CliRun gen_text = yardstick("generate", dir, R"({"prompt": "The quick brown fox", "max_new_tokens": 6})" "\n");
  CliRun gen_ids = yardstick("generate", dir, jsonl({{{"prompt_ids", ctx}, {"max_new_tokens", 6}}}));
  ASSERT_EQ(gen_text.rc, 0) << gen_text.err;
  EXPECT_EQ(gen_text.lines.at(0), gen_ids.lines.at(0));
}

TEST(CliText, StopStringCutsTheText) {
  const fs::path dir = synth_model_dir();
  if (dir.empty()) GTEST_SKIP() << "yardstick synth-model is not available";
  CliRun free = yardstick("generate", dir, R"({"prompt": "Once upon a time", "max_new_tokens": 24})"
                                           "\n");
  ASSERT_EQ(free.rc, 0) << free.err;
  const std::string text = free.lines.at(0)["text"];
  ASSERT_GE(text.size(), 12u) << text;
  // A stop string from the middle of what the model writes anyway.
  size_t at = 6;
  while (at < text.size() && (text[at] & 0xC0) == 0x80) ++at;   // start on a character
  size_t end = at + 3;
  while (end < text.size() && (text[end] & 0xC0) == 0x80) ++end;
  const std::string stop = text.substr(at, end - at);
  CliRun cut = yardstick("generate", dir,
      jsonl({{{"prompt", "Once upon a time"}, {"max_new_tokens", 24}, {"stop", {stop}}}}));
  ASSERT_EQ(cut.rc, 0) << cut.err;
  EXPECT_EQ(cut.lines.at(0)["finish_reason"], "stop");
  EXPECT_EQ(cut.lines[0]["text"], text.substr(0, text.find(stop)));
}

}  // namespace
}  // namespace yardstick
