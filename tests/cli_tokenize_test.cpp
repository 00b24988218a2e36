// `yardstick tokenize` run as a user runs it: the real binary, JSONL in, JSONL out.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli_process.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class CliTokenize : public ::testing::Test {
 protected:
  fs::path write_input(const std::string& content) {
    const fs::path file = dir_ / "input.jsonl";
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }
  test::CliResult tokenize(const fs::path& tokenizer, const fs::path& input) {
    return test::run_cli({"tokenize", "--tokenizer", tokenizer.string(), "--input", input.string()});
  }

  const fs::path tokenizer_ = test::shared_dir() / "reference" / "tokenizer" / "tokenizer.json";
  const fs::path dir_ = test::make_temp_dir("cli-tokenize");
  const std::string input_ =
      "{\"text\": \"Hello world\"}\n"
      "{\"text\": \"F\\u00fchrer\", \"id\": 7}\n"
      "\n"
      "{\"text\": \"\"}\n";
};

TEST_F(CliTokenize, WritesIdsPerLineInInputOrder) {
  const auto r = tokenize(tokenizer_, write_input(input_));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(lines(r.out), ElementsAre(R"({"ids": [17464, 1843]})", R"({"ids": [37, 100014, 71, 6245]})",
                                        R"({"ids": []})"));
}

TEST_F(CliTokenize, ReadsStdinWhenNoInputIsGiven) {
  // Through the shell, for the redirection.
  const fs::path out = dir_ / "stdout";
  const std::string cmd = "'" + test::yardstick_binary().string() + "' tokenize --tokenizer '" +
                          tokenizer_.string() + "' < '" + write_input(input_).string() + "' > '" +
                          out.string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const auto got = lines(test::read_text(out));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], R"({"ids": [17464, 1843]})");
}

TEST_F(CliTokenize, AcceptsAModelDirectory) {
  const fs::path model = dir_ / "model";
  fs::create_directories(model);
  fs::create_symlink(tokenizer_, model / "tokenizer.json");
  const auto r = tokenize(model, write_input(input_));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines(r.out).size(), 3u);
}

TEST_F(CliTokenize, NamesTheLineOfAMalformedInput) {
  const auto r = tokenize(tokenizer_, write_input("{\"text\": \"a\"}\n{\"text\": \"b\"}\n{\"txt\": \"c\"}\n{\"text\": \"d\"}\n"));
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("input line 3: expected a JSON object with a string \"text\""));
  EXPECT_EQ(lines(r.out).size(), 2u);   // the lines before it were answered

  const auto bad_json = tokenize(tokenizer_, write_input("{\"text\": \"a\"}\nnot json\n"));
  EXPECT_EQ(bad_json.code, 1);
  EXPECT_THAT(bad_json.err, HasSubstr("input line 2"));
}

TEST_F(CliTokenize, NamesAMissingTokenizer) {
  const auto r = tokenize(dir_ / "missing.json", write_input(input_));
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr((dir_ / "missing.json").string()));
}

}  // namespace
}  // namespace yardstick
