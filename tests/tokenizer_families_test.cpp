// Byte-level BPE tokenizers beyond DeepSeek's against HF `tokenizers`: one small tokenizer per
// family (GPT-2's ByteLevel regex, with and without add_prefix_space; a Split before a ByteLevel
// that adds the prefix space; SmolLM2's Digits + ByteLevel with byte tokens missing; Llama-3's
// Split regex with ignore_merges; Qwen2's NFC normalizer and Split regex; GPT-4o's o200k Split
// regex) and the ids HF gives a few hundred texts, with and without the post-processor's special tokens. The fixtures are made by
// tests/fixtures/tokenizers/make_golden.py; every line must match exactly.
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/readers.h"
#include "engine/tokenizer.h"
#include "engine/unicode.h"
#include "tests/error_message.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

fs::path family_dir(const std::string& family) { return test::fixtures_dir() / "tokenizers" / family; }

struct GoldenLine {
  std::string text;
  std::vector<int32_t> ids;           // encode(text, add_special_tokens=False)
  std::vector<int32_t> ids_special;   // encode(text)
};

// A line is {"text", "ids", "before", "after"}, encode(text) being before + ids + after (an empty
// side left out), or has "ids_special" itself where it is not of that form.
std::vector<GoldenLine> read_family_golden(const std::string& family) {
  std::vector<GoldenLine> lines;
  for (const json& row : read_jsonl(family_dir(family) / "golden.jsonl")) {
    GoldenLine line{row.at("text").get<std::string>(), row.at("ids").get<std::vector<int32_t>>(), {}};
    if (row.contains("ids_special")) {
      line.ids_special = row.at("ids_special").get<std::vector<int32_t>>();
    } else {
      line.ids_special = row.value("before", std::vector<int32_t>());
      line.ids_special.insert(line.ids_special.end(), line.ids.begin(), line.ids.end());
      const auto after = row.value("after", std::vector<int32_t>());
      line.ids_special.insert(line.ids_special.end(), after.begin(), after.end());
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

class TokenizerFamily : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerFamily, ReproducesEveryGoldenLine) {
  const Tokenizer tok = Tokenizer::from_file(family_dir(GetParam()) / "tokenizer.json");
  const auto lines = read_family_golden(GetParam());
  ASSERT_GE(lines.size(), 280u);
  size_t mismatches = 0, special_mismatches = 0;
  for (const auto& line : lines) {
    const auto ids = tok.encode(line.text);
    if (ids != line.ids && ++mismatches <= 5) {
      ADD_FAILURE() << "text: " << json(line.text).dump() << "\n  expected: " << fmt::format("{}", line.ids)
                    << "\n  got:      " << fmt::format("{}", ids);
    }
    if (tok.encode_with_special_tokens(line.text) != line.ids_special && ++special_mismatches <= 5) {
      ADD_FAILURE() << "with special tokens, text: " << json(line.text).dump()
                    << "\n  expected: " << fmt::format("{}", line.ids_special);
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << lines.size() << " golden texts";
  EXPECT_EQ(special_mismatches, 0u) << "of " << lines.size() << " golden texts";
}

TEST_P(TokenizerFamily, DecodeInvertsEncode) {
  // Except where encoding changes the text: a prefix space added, a byte the vocab lacks dropped,
  // NFC (qwen2).
  if (GetParam() == "gpt2_prefix" || GetParam() == "split_prefix" || GetParam() == "smollm_missing" ||
      GetParam() == "qwen2")
    return;
  const Tokenizer tok = Tokenizer::from_file(family_dir(GetParam()) / "tokenizer.json");
  size_t failures = 0;
  for (const auto& line : read_family_golden(GetParam())) {
    if (tok.decode(line.ids) != line.text && ++failures <= 5) ADD_FAILURE() << json(line.text).dump();
  }
  EXPECT_EQ(failures, 0u);
}

INSTANTIATE_TEST_SUITE_P(HfFixtures, TokenizerFamily,
                         ::testing::Values("gpt2", "gpt2_prefix", "split_prefix", "smollm_missing", "llama3",
                                           "qwen2", "o200k"));

// ---------------------------------------------------------------- hand-made cases

// The fixture's GPT-2 tokenizer: how the look-ahead alternatives cut whitespace, seen as the
// concatenation of the pieces' own encodings (BPE never merges across pieces).
class Gpt2Family : public ::testing::Test {
 protected:
  std::vector<int32_t> concat(std::initializer_list<std::string_view> pieces) const {
    std::vector<int32_t> ids;
    for (std::string_view p : pieces) {
      const auto part = tok_.encode(p);
      ids.insert(ids.end(), part.begin(), part.end());
    }
    return ids;
  }
  Tokenizer tok_ = Tokenizer::from_file(family_dir("gpt2") / "tokenizer.json");
};

TEST_F(Gpt2Family, WhitespaceBeforeAWordGivesItsLastCharacterToTheWord) {
  EXPECT_EQ(tok_.encode("a   x"), concat({"a", "  ", " x"}));
  EXPECT_EQ(tok_.encode("a\n\n x"), concat({"a", "\n\n", " x"}));
}

TEST_F(Gpt2Family, OneWhitespaceCharacterBeforeANonSpaceIsAPieceOfItsOwn) {
  // \s+(?!\S) fails on it; the plain \s+ takes it.
  EXPECT_EQ(tok_.encode("a\tx"), concat({"a", "\t", "x"}));
}

TEST_F(Gpt2Family, WhitespaceAtTheEndStaysOneRun) {
  EXPECT_EQ(tok_.encode("a   "), concat({"a", "   "}));
}

TEST_F(Gpt2Family, MultiByteWhitespaceIsGivenBackWhole) {
  // U+3000 (3 bytes) is the run's last character: it leaves the run, and " ?\p{L}+" does not
  // take it (it is no ASCII space), so it is a piece of its own.
  EXPECT_EQ(tok_.encode("a \u3000x"), concat({"a", " ", "\u3000", "x"}));
}

// ---------------------------------------------------------------- loading

void write_file(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

json family_json(const std::string& family) { return read_json(family_dir(family) / "tokenizer.json"); }

class FamilyEdits : public ::testing::Test {
 protected:
  fs::path write(const json& j, const char* name = "tokenizer.json") {
    write_file(dir_ / name, j.dump());
    return dir_ / name;
  }
  fs::path dir_ = test::make_temp_dir("tokfam");
};

TEST_F(FamilyEdits, RefusesLookAheadOutsideTheTrailingWhitespaceAlternatives) {
  json j = family_json("llama3");
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\p{L}+(?=\\d)|\\s+";
  const fs::path file = write(j);
  const std::string err = test::model_file_error([&] { Tokenizer::from_file(file); });
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("unsupported look-ahead"));
}

TEST_F(FamilyEdits, TrailingAlternativesInsideAGroupAreNotEmulated) {
  json j = family_json("llama3");
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(?:\\p{L}+|\\s+(?!\\S)|\\s+)";
  const std::string err = test::model_file_error([&] { Tokenizer::from_file(write(j)); });
  EXPECT_THAT(err, HasSubstr("unsupported look-ahead"));
}

TEST_F(FamilyEdits, SpecialTokensAreTheOnesTransformersAddsBesideATokenizerConfig) {
  // tokenizer_configs.jsonl: transformers' tokenizer(text) beside tokenizer_config.json files
  // whose add_bos_token / add_eos_token disagree with the post-processor (transformers 5 keeps
  // the post-processor: Llama-3's BOS stays, GPT-2 and SmolLM2 get none).
  size_t cases = 0;
  for (const json& row : read_jsonl(family_dir("") / "tokenizer_configs.jsonl")) {
    const auto family = row.at("family").get<std::string>();
    write(family_json(family));
    write(row.at("tokenizer_config"), "tokenizer_config.json");
    const Tokenizer tok = Tokenizer::from_file(dir_);
    EXPECT_EQ(tok.encode_with_special_tokens(row.at("text").get<std::string>()),
              row.at("ids").get<std::vector<int32_t>>())
        << family << " with " << row.at("tokenizer_config").dump();
    ++cases;
  }
  EXPECT_GE(cases, 5u);
}

TEST_F(FamilyEdits, GptTwoAddsNoSpecialTokens) {
  const Tokenizer tok = Tokenizer::from_file(family_dir("gpt2") / "tokenizer.json");
  EXPECT_TRUE(tok.special_prefix().empty());
  EXPECT_TRUE(tok.special_suffix().empty());
}

TEST_F(FamilyEdits, DropsBytesTheVocabLacks) {
  const Tokenizer tok = Tokenizer::from_file(family_dir("smollm_missing") / "tokenizer.json");
  EXPECT_TRUE(tok.encode("\x04").empty());
  std::vector<int32_t> a_b = tok.encode("a");
  const auto b = tok.encode("b");
  a_b.insert(a_b.end(), b.begin(), b.end());
  EXPECT_EQ(tok.encode("a\x04" "b"), a_b);   // pieces "a", "\x04" (now empty), "b"
}

TEST_F(FamilyEdits, RefusesNormalizersOtherThanNfc) {
  json j = family_json("qwen2");
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "NFC"}}, {{"type", "NFKC"}}})}};
  const fs::path file = write(j);
  const std::string err = test::model_file_error([&] { Tokenizer::from_file(file); });
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("unsupported normalizer 'NFKC' (only NFC)"));
}

TEST(Nfc, ComposesOrdersAndKeepsWhatItMust) {
  EXPECT_EQ(unicode::nfc("cafe\u0301"), "caf\u00e9");
  EXPECT_EQ(unicode::nfc("\u212b"), "\u00c5");                          // a singleton
  EXPECT_EQ(unicode::nfc("a\u0307\u0323"), "\u1ea1\u0307");            // marks reordered, then composed
  EXPECT_EQ(unicode::nfc("\u0958"), "\u0915\u093c");                    // a composition exclusion
  EXPECT_EQ(unicode::nfc("\u1100\u1161\u11a8"), "\uac01");             // Hangul jamo
  EXPECT_EQ(unicode::nfc("e\u0301\u0301"), "\u00e9\u0301");            // the second mark is blocked
  EXPECT_EQ(unicode::nfc("\xff" "\u0301"), "\xff" "\u0301");           // an invalid byte is kept
  EXPECT_EQ(unicode::nfc("plain ASCII"), "plain ASCII");
}

TEST_F(FamilyEdits, RefusesUnknownPostProcessor) {
  json j = family_json("gpt2");
  j["post_processor"] = {{"type", "Mystery"}};
  const fs::path file = write(j);
  const std::string err = test::model_file_error([&] { Tokenizer::from_file(file); });
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("unsupported post_processor type 'Mystery'"));
}

}  // namespace
}  // namespace yardstick
