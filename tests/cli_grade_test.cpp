// `yardstick grade` run as a user runs it: the real binary, JSONL in, JSONL out.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using nlohmann::json;

struct Result {
  int status;
  std::vector<json> out;   // one parsed JSON value per stdout line
  std::string err;
};

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CliGrade : public ::testing::Test {
 protected:
  // Runs `[env] yardstick grade --task gsm8k <args> --input <input>` from /, so nothing depends
  // on the working directory.
  Result run(const std::string& input, const std::string& args = "", const std::string& env = "") {
    const fs::path in = dir_ / "input.jsonl", out = dir_ / "stdout", err = dir_ / "stderr";
    std::ofstream(in, std::ios::binary) << input;
    const std::string cmd = "cd / && " + env + " '" + test::yardstick_binary().string() +
                            "' grade --task gsm8k " + args + " --input '" + in.string() + "' >'" +
                            out.string() + "' 2>'" + err.string() + "'";
    const int status = std::system(cmd.c_str());
    Result r{WIFEXITED(status) ? WEXITSTATUS(status) : -1, {}, slurp(err)};
    std::stringstream lines(slurp(out));
    for (std::string line; std::getline(lines, line);) r.out.push_back(json::parse(line));
    return r;
  }

  // A data directory holding only gsm8k/test.jsonl with `content`.
  fs::path data_dir_with(const std::string& content) {
    auto data = dir_ / "data";
    fs::create_directories(data / "gsm8k");
    std::ofstream(data / "gsm8k" / "test.jsonl", std::ios::binary) << content;
    return data;
  }

  bool have_gsm8k() const { return fs::exists(shared_data_ / "gsm8k" / "test.jsonl"); }

  const fs::path dir_ = test::make_temp_dir("cli-grade");
  const fs::path shared_data_ = test::shared_dir() / "datasets";
};

TEST_F(CliGrade, GradesAgainstTheGivenGoldAndEchoesTheDocId) {
  auto r = run(R"({"doc_id": "a", "prediction": "So 2 * $14.50 = $29.00. The answer is $29.00.", "gold": "29"})"
               "\n"
               R"({"doc_id": 7, "prediction": "3 + 4 = 7 apples", "gold": "#### 7"})"
               "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(r.out.size(), 2u);
  EXPECT_EQ(r.out[0]["doc_id"], "a");
  EXPECT_EQ(r.out[0]["correct"], true);
  EXPECT_EQ(r.out[0]["extracted"], "29");
  EXPECT_EQ(r.out[0]["status"], "ok");
  ASSERT_EQ(r.out[0]["verdicts"].size(), 2u);
  EXPECT_EQ(r.out[0]["verdicts"][0]["scorer"], "strict-match");
  EXPECT_EQ(r.out[0]["verdicts"][1]["scorer"], "flexible-extract");
  // The top level is the primary (strict) verdict; flexible-extract still finds the 7.
  EXPECT_EQ(r.out[1]["doc_id"], 7);
  EXPECT_EQ(r.out[1]["correct"], false);
  EXPECT_EQ(r.out[1]["status"], "no_answer");
  EXPECT_EQ(r.out[1]["verdicts"][1]["correct"], true);
}

TEST_F(CliGrade, CorrectIsAJsonBoolean) {
  auto r = run(R"({"prediction": "The answer is 5.", "gold": "6"})" "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_TRUE(r.out[0]["correct"].is_boolean());
  EXPECT_FALSE(r.out[0].contains("doc_id"));
}

TEST_F(CliGrade, GoldComesFromTheDatasetByLineIndex) {
  if (!have_gsm8k()) GTEST_SKIP() << "no " << shared_data_;
  // Doc 0 (Janet's ducks) has gold 18; doc 1 (the robe) has gold 3.
  auto r = run(R"({"doc_id": 0, "prediction": "The answer is 18."})" "\n"
               R"({"doc_id": "1", "prediction": "The answer is 18."})" "\n",
               "--data-dir '" + shared_data_.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(r.out.size(), 2u);
  EXPECT_EQ(r.out[0]["correct"], true);
  EXPECT_EQ(r.out[1]["correct"], false);
  EXPECT_EQ(r.out[1]["verdicts"][0]["detail"]["gold"], "3");
}

TEST_F(CliGrade, DataDirFromTheEnvironment) {
  if (!have_gsm8k()) GTEST_SKIP() << "no " << shared_data_;
  auto r = run(R"({"doc_id": 0, "prediction": "The answer is 18."})" "\n", "",
               "YARDSTICK_DATA='" + shared_data_.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.at(0)["correct"], true);
}

TEST_F(CliGrade, UnknownDocIdIsAnErrorNamingTheLine) {
  if (!have_gsm8k()) GTEST_SKIP() << "no " << shared_data_;
  auto r = run(R"({"doc_id": 0, "prediction": "1"})" "\n" R"({"doc_id": 1319, "prediction": "1"})" "\n",
               "--data-dir '" + shared_data_.string() + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("input line 2"));
  EXPECT_THAT(r.err, HasSubstr("1319"));
  EXPECT_TRUE(r.out.empty());   // nothing is graded when a line is bad
}

TEST_F(CliGrade, MalformedLinesNameTheirLineNumber) {
  auto r = run("{\"prediction\": \"1\", \"gold\": \"1\"}\n\nnot json\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("input line 3"));
  EXPECT_TRUE(r.out.empty());

  r = run("{\"prediction\": 5, \"gold\": \"5\"}\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("input line 1"));
  EXPECT_THAT(r.err, HasSubstr("prediction"));

  r = run("{\"prediction\": \"5\"}\n");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("gold"));
}

TEST_F(CliGrade, MissingDatasetFileSaysWhereToGetIt) {
  auto data = dir_ / "empty-data";
  fs::create_directories(data);
  auto r = run(R"({"doc_id": 0, "prediction": "1"})" "\n", "--data-dir '" + data.string() + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("gsm8k/test.jsonl"));
  EXPECT_THAT(r.err, HasSubstr("missing"));
  EXPECT_THAT(r.err, HasSubstr("github.com/openai/grade-school-math"));
}

TEST_F(CliGrade, AlteredDatasetFileIsRefused) {
  auto data = data_dir_with("{\"question\": \"q\", \"answer\": \"#### 1\"}\n");
  auto r = run(R"({"doc_id": 0, "prediction": "The answer is 1."})" "\n", "--data-dir '" + data.string() + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.err, HasSubstr("does not match"));
  EXPECT_THAT(r.err, HasSubstr("3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"));
  EXPECT_TRUE(r.out.empty());
}

TEST_F(CliGrade, LinesWithGoldNeverTouchTheDataDirectory) {
  auto r = run(R"({"doc_id": 0, "prediction": "The answer is 1.", "gold": "1"})" "\n",
               "--data-dir '" + (dir_ / "no-such-dir").string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.at(0)["correct"], true);
}

}  // namespace
}  // namespace yardstick
