// The tokenizer against Hugging Face `tokenizers` output: every line of the golden file, the 46
// llama.cpp/HF vectors, the added-token quirk; decoding, incremental decoding, the chat
// template, and loading errors.
#include "engine/tokenizer.h"

#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "datasets/readers.h"
#include "engine/bpe.h"
#include "engine/error.h"
#include "engine/unicode.h"
#include "tests/error_message.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

fs::path reference_dir() { return test::shared_dir() / "reference" / "tokenizer"; }

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<Case> read_cases(const std::vector<json>& rows) {
  std::vector<Case> cases;
  for (const auto& row : rows) {
    cases.push_back({row.at("text").get<std::string>(), row.at("ids").get<std::vector<int32_t>>()});
  }
  return cases;
}

std::vector<Case> read_golden() { return read_cases(read_jsonl(reference_dir() / "golden_public.jsonl.gz")); }

std::vector<Case> read_hf_vectors() {
  return read_cases(read_json(reference_dir() / "hf_ground_truth_vectors.json").at("cases"));
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto d = unicode::decode_utf8(s.substr(i));
    if (!d.valid) return false;
    i += d.length;
  }
  return true;
}

// The id of the single-byte token for byte `b` (its GPT-2 alphabet spelling).
int32_t byte_token(const Tokenizer& tok, uint8_t b) {
  std::string spelling;
  unicode::append_utf8(spelling, byte_level_char(b));
  return tok.token_to_id(spelling).value();
}

void write_file(const fs::path& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

class DeepSeekTokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tok_ = new Tokenizer(Tokenizer::from_file(reference_dir() / "tokenizer.json"));
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  static const Tokenizer& tok() { return *tok_; }
  static Tokenizer* tok_;
};
Tokenizer* DeepSeekTokenizer::tok_ = nullptr;

TEST_F(DeepSeekTokenizer, ReproducesEveryGoldenLine) {
  const auto cases = read_golden();
  ASSERT_EQ(cases.size(), 10129u);
  size_t mismatches = 0;
  for (const auto& c : cases) {
    const auto ids = tok().encode(c.text);
    if (ids == c.ids) continue;
    if (++mismatches <= 5) {
      ADD_FAILURE() << "text: " << json(c.text).dump() << "\n  expected: " << fmt::format("{}", c.ids)
                    << "\n  got:      " << fmt::format("{}", ids);
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << cases.size() << " golden texts";
}

TEST_F(DeepSeekTokenizer, ReproducesHfGroundTruthVectors) {
  const auto cases = read_hf_vectors();
  ASSERT_EQ(cases.size(), 46u);
  for (const auto& c : cases) {
    EXPECT_EQ(tok().encode(c.text), c.ids) << "text: " << json(c.text).dump();
  }
}

TEST_F(DeepSeekTokenizer, MatchesAddedSingleCharTokensInsideWords) {
  // HF matches the 13 added characters in the raw text first: ü is 100014, not bytes C3 BC.
  EXPECT_THAT(tok().encode("Führer"), ElementsAre(37, 100014, 71, 6245));
  // Characters that are not added tokens go through byte-level BPE.
  EXPECT_THAT(tok().encode("Äpfel"), ElementsAre(82077, 26723, 282));
}

TEST_F(DeepSeekTokenizer, MatchesSpecialTokensInText) {
  EXPECT_THAT(tok().encode("<｜begin▁of▁sentence｜>Hi<｜end▁of▁sentence｜>"),
              ElementsAre(100000, 11007, 100001));
}

TEST_F(DeepSeekTokenizer, SplitsDigitsIndividuallyIncludingOtherNumerics) {
  // ½ (U+00BD, category No) is numeric for Rust's char::is_numeric, so it is its own piece.
  EXPECT_THAT(tok().encode("ied 4 ½ months"), ElementsAre(1052, 207, 19, 207, 19109, 4223));
  EXPECT_THAT(tok().encode("12345"), ElementsAre(16, 17, 18, 19, 20));
}

TEST_F(DeepSeekTokenizer, KnowsSpecialIdsAndSizes) {
  EXPECT_EQ(tok().bos_id(), 100000);
  EXPECT_EQ(tok().eos_id(), 100001);
  EXPECT_EQ(tok().bos_token(), "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(tok().eos_token(), "<｜end▁of▁sentence｜>");
  EXPECT_EQ(tok().vocab_size(), 100015);
  EXPECT_EQ(tok().token_to_id("Ġthe"), 254);
  EXPECT_EQ(tok().token_to_id("ü"), 100014);   // added tokens take precedence
  EXPECT_EQ(tok().token_to_id("no such token"), std::nullopt);
  EXPECT_EQ(tok().token_bytes(254), " the");
  EXPECT_EQ(tok().token_bytes(100001), "<｜end▁of▁sentence｜>");
  EXPECT_EQ(tok().token_bytes(100020), "");   // embedding padding: no token
  // Its post-processor (TemplateProcessing) puts BOS before a text and nothing after.
  EXPECT_THAT(tok().special_prefix(), ElementsAre(100000));
  EXPECT_TRUE(tok().special_suffix().empty());
  EXPECT_THAT(tok().encode_with_special_tokens("Hi"), ElementsAre(100000, 11007));
}

TEST_F(DeepSeekTokenizer, DecodeInvertsEncodeOnGoldenTexts) {
  size_t failures = 0;
  for (const auto& c : read_golden()) {
    const std::string back = tok().decode(tok().encode(c.text));
    if (back != c.text && ++failures <= 5) {
      ADD_FAILURE() << "text:    " << json(c.text).dump() << "\n  decoded: " << json(back).dump();
    }
  }
  EXPECT_EQ(failures, 0u);
}

TEST_F(DeepSeekTokenizer, DecodeReplacesInvalidUtf8LikeHf) {
  const auto b = [&](uint8_t x) { return byte_token(tok(), x); };
  // A truncated 3-byte sequence is one maximal invalid subpart: one U+FFFD.
  EXPECT_EQ(tok().decode(std::vector<int32_t>{b(0xE2), b(0x82), b('A')}), "\xEF\xBF\xBD" "A");
  // Stray continuation bytes are replaced one by one.
  EXPECT_EQ(tok().decode(std::vector<int32_t>{b(0x80), b(0xBF)}), "\xEF\xBF\xBD\xEF\xBF\xBD");
  // An added token decodes to its content, even where its spelling is also the byte alphabet's
  // image of a byte (ü = 0xFC): that keeps decode(encode(x)) == x.
  EXPECT_EQ(tok().decode(std::vector<int32_t>{100014}), "ü");
  // A truncated character at the very end.
  EXPECT_EQ(tok().decode(std::vector<int32_t>{b('x'), b(0xF0), b(0x9F)}), "x\xEF\xBF\xBD");
  // Unknown ids contribute nothing, as HF skips them.
  EXPECT_EQ(tok().decode(std::vector<int32_t>{b('a'), 100020, -1, b('b')}), "ab");
}

TEST_F(DeepSeekTokenizer, IncrementalDecodingEqualsFullDecodingOnGoldenTexts) {
  size_t failures = 0;
  for (const auto& c : read_golden()) {
    IncrementalDecoder dec(tok());
    std::string streamed;
    bool valid = true;
    for (int32_t id : c.ids) {
      const std::string piece = dec.push(id);
      valid = valid && is_valid_utf8(piece);
      streamed += piece;
    }
    streamed += dec.flush();
    if ((!valid || streamed != tok().decode(c.ids)) && ++failures <= 5) {
      ADD_FAILURE() << "text: " << json(c.text).dump() << " valid pieces: " << valid;
    }
  }
  EXPECT_EQ(failures, 0u);
}

TEST_F(DeepSeekTokenizer, IncrementalDecodingHoldsBackSplitCharacters) {
  // 🦙 is F0 9F A6 99; feed it byte token by byte token.
  const auto b = [&](uint8_t x) { return byte_token(tok(), x); };
  IncrementalDecoder dec(tok());
  EXPECT_EQ(dec.push(b('a')), "a");
  EXPECT_EQ(dec.push(b(0xF0)), "");
  EXPECT_EQ(dec.push(b(0x9F)), "");
  EXPECT_EQ(dec.push(b(0xA6)), "");
  EXPECT_EQ(dec.push(b(0x99)), "🦙");
  // An incomplete character followed by something else is invalid at once, as in full decoding.
  EXPECT_EQ(dec.push(b(0xE2)), "");
  EXPECT_EQ(dec.push(b('z')), "\xEF\xBF\xBD" "z");
  // Whatever is still incomplete at the end becomes U+FFFD.
  EXPECT_EQ(dec.push(b(0xE2)), "");
  EXPECT_EQ(dec.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(dec.flush(), "");
}

// ---------------------------------------------------------------- chat template

TEST(ChatTemplate, RendersTheDerivedExamples) {
  const json examples = read_json(reference_dir() / "chat_template_examples.derived.json").at("cases");
  const std::string bos = "<｜begin▁of▁sentence｜>", eos = "<｜end▁of▁sentence｜>";
  const std::vector<std::vector<ChatMessage>> conversations = {
      {{"user", "Who are you?"}},
      {{"user", "Hi"}, {"assistant", "Hello! How can I help?"}, {"user", "What is 2+2?"}},
      {{"system", "You are a helpful assistant."}, {"user", "Hi"}},
  };
  ASSERT_GE(examples.size(), conversations.size());
  const Tokenizer tok = Tokenizer::from_file(reference_dir() / "tokenizer.json");
  for (size_t i = 0; i < conversations.size(); ++i) {
    const std::string rendered = render_chat(conversations[i], bos, eos, true);
    EXPECT_EQ(rendered, examples[i].at("rendered").get<std::string>()) << examples[i].at("desc");
  }
  // The ids are derived (not HF output), but they follow from the text: check them all.
  for (const auto& e : examples) {
    EXPECT_EQ(tok.encode(e.at("rendered").get<std::string>()), e.at("ids").get<std::vector<int32_t>>())
        << e.at("desc");
  }
}

TEST(ChatTemplate, OmitsGenerationPromptWhenNotAsked) {
  const std::vector<ChatMessage> messages = {{"user", "Hi"}, {"assistant", "Hello"}};
  EXPECT_EQ(render_chat(messages, "<s>", "</s>", false), "<s>User: Hi\n\nAssistant: Hello</s>");
}

TEST(ChatTemplate, IgnoresUnknownRolesLikeTheTemplate) {
  const std::vector<ChatMessage> messages = {{"tool", "x"}, {"user", "Hi"}};
  EXPECT_EQ(render_chat(messages, "<s>", "</s>", true), "<s>User: Hi\n\nAssistant:");
}

// ---------------------------------------------------------------- small synthetic tokenizers

// A byte-level BPE tokenizer.json with the 256 byte tokens, then `extra` tokens and `merges`.
json tiny_tokenizer(const std::vector<std::string>& extra, const std::vector<std::string>& merges) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) {
    std::string s;
    unicode::append_utf8(s, byte_level_char(static_cast<uint8_t>(b)));
    vocab[s] = b;
  }
  for (const auto& t : extra) vocab[t] = static_cast<int>(vocab.size());
  return json{
      {"version", "1.0"},
      {"added_tokens", json::array({{{"id", 1000}, {"content", "<eos>"}, {"special", true},
                                     {"normalized", false}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Split"}, {"pattern", {{"Regex", "\\s?[a-z]+"}}}, {"behavior", "Isolated"},
                       {"invert", false}},
                      {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
  };
}

class TinyTokenizer : public ::testing::Test {
 protected:
  fs::path write(const json& j, const char* name = "tokenizer.json") {
    const fs::path file = dir_ / name;
    write_file(file, j.dump());
    return file;
  }
  // The error message from loading `file`, or "" when it loads.
  static std::string load_error(const fs::path& file) {
    return test::model_file_error([&] { Tokenizer::from_file(file); });
  }
  fs::path dir_ = test::make_temp_dir("tok");
};

TEST_F(TinyTokenizer, MergesLowestRankFirstAndLeftmostOnTies) {
  const Tokenizer tok = Tokenizer::from_file(write(tiny_tokenizer({"aa", "ab", "aab"}, {"a a", "a b", "aa b"})));
  const auto id = [&](const char* t) { return tok.token_to_id(t).value(); };
  // "aaa": "a a" applies at the leftmost pair first.
  EXPECT_THAT(tok.encode("aaa"), ElementsAre(id("aa"), id("a")));
  // "aab": "a a" (rank 0) beats "a b" (rank 1), then "aa b" applies.
  EXPECT_THAT(tok.encode("aab"), ElementsAre(id("aab")));
  // Only listed merges apply: there is none for "Ġ a".
  EXPECT_THAT(tok.encode(" ab"), ElementsAre(id("Ġ"), id("ab")));
}

TEST_F(TinyTokenizer, AcceptsMergesAsPairs) {
  json j = tiny_tokenizer({"aa"}, {});
  j["model"]["merges"] = json::array({json::array({"a", "a"})});
  const Tokenizer tok = Tokenizer::from_file(write(j));
  EXPECT_THAT(tok.encode("aa"), ElementsAre(tok.token_to_id("aa").value()));
}

TEST_F(TinyTokenizer, LongPiecesMergeLikeShortOnes) {
  const Tokenizer tok = Tokenizer::from_file(write(tiny_tokenizer({"aa", "aaaa"}, {"a a", "aa aa"})));
  const int32_t a4 = tok.token_to_id("aaaa").value(), a2 = tok.token_to_id("aa").value();
  // 1002 letters: past the piece cache limit, 250 x "aaaa" then "aa".
  std::vector<int32_t> expected(250, a4);
  expected.push_back(a2);
  EXPECT_EQ(tok.encode(std::string(1002, 'a')), expected);
}

TEST_F(TinyTokenizer, ReadsBosEosFromTokenizerConfigBeside) {
  json j = tiny_tokenizer({}, {});
  j["added_tokens"].push_back({{"id", 1001}, {"content", "<go>"}, {"special", true}});
  write(j);
  write(json{{"bos_token", {{"__type", "AddedToken"}, {"content", "<go>"}}}, {"eos_token", "<eos>"}},
        "tokenizer_config.json");
  const Tokenizer tok = Tokenizer::from_file(dir_);   // a model directory
  EXPECT_EQ(tok.bos_id(), 1001);
  EXPECT_EQ(tok.eos_id(), 1000);
  EXPECT_EQ(tok.bos_token(), "<go>");
}

TEST_F(TinyTokenizer, FallsBackToWellKnownSpecialTokenNames) {
  const Tokenizer tok = Tokenizer::from_file(write(tiny_tokenizer({}, {})));
  EXPECT_EQ(tok.bos_id(), std::nullopt);
  EXPECT_EQ(tok.eos_id(), 1000);
  EXPECT_EQ(tok.vocab_size(), 1001);
}

TEST_F(TinyTokenizer, TreatsUnicodeWhitespaceAsOnigurumaDoes) {
  // "\s?" takes U+3000 (ideographic space) into the letter piece: Oniguruma's \s is Unicode.
  const Tokenizer tok = Tokenizer::from_file(write(tiny_tokenizer({}, {})));
  const std::vector<int32_t> ids = tok.encode("x\u3000ab");
  const std::vector<int32_t> joined = tok.encode("\u3000ab");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(std::vector<int32_t>(ids.begin() + 1, ids.end()), joined);
  EXPECT_EQ(tok.decode(ids), "x\u3000ab");
}

TEST_F(TinyTokenizer, DropsBytesWithoutAToken) {
  json j = tiny_tokenizer({}, {});
  j["model"]["vocab"].erase("Ġ");
  const Tokenizer tok = Tokenizer::from_file(write(j));
  EXPECT_EQ(tok.encode(" ab"), tok.encode("ab"));
}

TEST_F(TinyTokenizer, MissingFileErrorNamesThePath) {
  const fs::path missing = dir_ / "nope.json";
  EXPECT_THAT(load_error(missing), HasSubstr(missing.string()));
  EXPECT_THAT(load_error(dir_), HasSubstr("no tokenizer.json"));   // empty model directory
  EXPECT_FALSE(Tokenizer::present_in(dir_));
}

TEST_F(TinyTokenizer, BadJsonErrorNamesTheFile) {
  const fs::path file = dir_ / "tokenizer.json";
  write_file(file, "{\"model\": ");
  const std::string err = load_error(file);
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("invalid JSON"));
}

TEST_F(TinyTokenizer, RefusesUnsupportedModelType) {
  json j = tiny_tokenizer({}, {});
  j["model"]["type"] = "WordPiece";
  const fs::path file = write(j);
  const std::string err = load_error(file);
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("unsupported model type 'WordPiece'"));
}

TEST_F(TinyTokenizer, RefusesRegexesRe2CannotExpress) {
  json j = tiny_tokenizer({}, {});
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(a)\\1";   // a backreference
  const fs::path file = write(j);
  const std::string err = load_error(file);
  EXPECT_THAT(err, HasSubstr(file.string()));
  EXPECT_THAT(err, HasSubstr("RE2 cannot compile"));
}

TEST_F(TinyTokenizer, RefusesUnsupportedPieces) {
  const auto refuses = [&](const std::function<void(json&)>& edit, const char* what) {
    json j = tiny_tokenizer({}, {});
    edit(j);
    EXPECT_THAT(load_error(write(j)), HasSubstr(what));
  };
  refuses([](json& j) { j["normalizer"] = {{"type", "Lowercase"}}; }, "unsupported normalizer 'Lowercase'");
  refuses([](json& j) { j["decoder"] = {{"type", "WordPiece"}}; }, "unsupported decoder");
  refuses([](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"; },
          "unsupported Split behavior 'Removed'");
  refuses([](json& j) { j["pre_tokenizer"] = {{"type", "Whitespace"}}; },
          "unsupported pre-tokenizer type 'Whitespace'");
  refuses([](json& j) { j["model"]["merges"] = json::array({"a zz"}); }, "'zz' is not in the vocab");
  refuses(
      [](json& j) {
        for (int b = 0; b < 200; ++b) {
          std::string s;
          unicode::append_utf8(s, byte_level_char(static_cast<uint8_t>(b)));
          j["model"]["vocab"].erase(s);
        }
      },
      "not a byte-level BPE vocab: no token for 200 of the 256 bytes");
  refuses(
      [](json& j) {
        j["model"]["vocab"].erase("Ġ");
        j["model"]["unk_token"] = "<eos>";
      },
      "unsupported BPE unk_token");
  refuses([](json& j) { j["added_tokens"][0]["lstrip"] = true; }, "unsupported option lstrip=true");
}

}  // namespace
}  // namespace yardstick
