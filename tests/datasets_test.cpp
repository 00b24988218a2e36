// The data directory, the dataset manifest's integrity checks, and the file readers.
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>

#include <gtest/gtest.h>
#include <zlib.h>

#include "datasets/checkout.h"
#include "datasets/data_dir.h"
#include "datasets/manifest.h"
#include "datasets/readers.h"
#include "engine/error.h"
#include "engine/sha256.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;

constexpr const char* kGsm8kTestSha256 = "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// ---------------------------------------------------------------- data directory

// Sets or clears an environment variable for one test and puts it back afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_ ? setenv(name_, old_->c_str(), 1) : unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(DataDir, FlagWins) {
  auto dir = test::make_temp_dir("datadir-flag");
  ScopedEnv env("YARDSTICK_DATA", "/nonexistent");
  EXPECT_EQ(resolve_data_dir(dir), dir);
}

TEST(DataDir, FlagNamingAMissingDirectoryIsAnError) {
  auto msg = error_of([] { resolve_data_dir(fs::path("/nonexistent/data")); });
  EXPECT_NE(msg.find("/nonexistent/data"), std::string::npos) << msg;
}

TEST(DataDir, EnvironmentVariableComesNext) {
  auto dir = test::make_temp_dir("datadir-env");
  ScopedEnv env("YARDSTICK_DATA", dir.c_str());
  EXPECT_EQ(resolve_data_dir(), dir);
  ScopedEnv bad("YARDSTICK_DATA", "/nonexistent/env-data");
  auto msg = error_of([] { resolve_data_dir(); });
  EXPECT_NE(msg.find("YARDSTICK_DATA"), std::string::npos) << msg;
}

TEST(DataDir, DefaultsToSharedDatasetsBesideTheCheckout) {
  auto expected = test::source_dir() / ".." / "shared" / "datasets";
  if (!fs::is_directory(expected)) GTEST_SKIP() << "no " << expected;
  ScopedEnv env("YARDSTICK_DATA", nullptr);
  EXPECT_TRUE(fs::equivalent(resolve_data_dir(), expected));
}

TEST(Checkout, CandidatesIncludeTheSourceDirectory) {
  auto candidates = checkout_candidates();
  bool found = false;
  for (const auto& c : candidates) found |= fs::equivalent(c, test::source_dir());
  EXPECT_TRUE(found);
}

// ---------------------------------------------------------------- manifest

TEST(Manifest, ProjectManifestListsGsm8kWithItsDigestAndSource) {
  const ManifestEntry* e = Manifest::project().find("gsm8k/test.jsonl");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->sha256, kGsm8kTestSha256);
  EXPECT_EQ(e->bytes, 749738u);
  EXPECT_NE(e->source.find("openai/grade-school-math@3101c7d5072418e28b9008a6636bde82a006892c"),
            std::string::npos);
  EXPECT_NE(e->source_url.find("https://github.com/openai/grade-school-math/"), std::string::npos);
}

TEST(Manifest, CoversEveryFileOfEveryDatasetFolder) {
  auto data = test::shared_dir() / "datasets";
  if (!fs::is_directory(data)) GTEST_SKIP() << "no " << data;
  size_t listed = 0;
  for (const auto& folder : fs::directory_iterator(data)) {
    auto sums = folder.path() / "SHA256SUMS";
    if (!fs::exists(sums)) continue;
    std::ifstream in(sums);
    std::string digest, name;
    while (in >> digest >> name) {
      auto rel = folder.path().filename().string() + "/" + name;
      const ManifestEntry* e = Manifest::project().find(rel);
      ASSERT_NE(e, nullptr) << rel;
      EXPECT_EQ(e->sha256, digest) << rel;
      EXPECT_FALSE(e->source.empty()) << rel;
      ++listed;
    }
  }
  EXPECT_EQ(listed, Manifest::project().entries().size());
}

TEST(Manifest, VerifiesARealDatasetFile) {
  auto data = test::shared_dir() / "datasets";
  if (!fs::exists(data / "gsm8k" / "test.jsonl")) GTEST_SKIP() << "no gsm8k data";
  EXPECT_EQ(verified_path(data, "gsm8k/test.jsonl"), data / "gsm8k" / "test.jsonl");
}

// A one-file manifest over a temporary data directory.
struct TinyData {
  fs::path dir = test::make_temp_dir("manifest");
  std::string content = "{\"question\": \"q\", \"answer\": \"#### 1\"}\n";
  Manifest manifest = Manifest::parse(nlohmann::json{{"files",
                                                      {{"toy/test.jsonl",
                                                        {{"sha256", sha256_hex(content)},
                                                         {"source", "someone/toy@abc:data/test.jsonl"},
                                                         {"source_url", "https://example.org/toy/test.jsonl"},
                                                         {"canonical_url", "https://example.org/toy"}}}}}}
                                          .dump(),
                                      "tiny manifest");
};

TEST(Manifest, VerifiedPathReturnsAnIntactFile) {
  TinyData t;
  write(t.dir / "toy" / "test.jsonl", t.content);
  EXPECT_EQ(t.manifest.verified_path(t.dir, "toy/test.jsonl"), t.dir / "toy" / "test.jsonl");
}

TEST(Manifest, MissingFileNamesItTheDigestAndWhereToGetIt) {
  TinyData t;
  auto msg = error_of([&] { t.manifest.verified_path(t.dir, "toy/test.jsonl"); });
  EXPECT_NE(msg.find((t.dir / "toy" / "test.jsonl").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find(sha256_hex(t.content)), std::string::npos) << msg;
  EXPECT_NE(msg.find("https://example.org/toy/test.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("https://example.org/toy"), std::string::npos) << msg;
}

TEST(Manifest, AlteredFileNamesBothDigests) {
  TinyData t;
  std::string altered = t.content + "{\"question\": \"extra\", \"answer\": \"#### 2\"}\n";
  write(t.dir / "toy" / "test.jsonl", altered);
  auto msg = error_of([&] { t.manifest.verified_path(t.dir, "toy/test.jsonl"); });
  EXPECT_NE(msg.find(sha256_hex(altered)), std::string::npos) << msg;
  EXPECT_NE(msg.find(sha256_hex(t.content)), std::string::npos) << msg;
  EXPECT_NE(msg.find("https://example.org/toy/test.jsonl"), std::string::npos) << msg;
}

TEST(Manifest, AFileChangedAfterVerificationIsCheckedAgain) {
  TinyData t;
  auto path = t.dir / "toy" / "test.jsonl";
  write(path, t.content);
  t.manifest.verified_path(t.dir, "toy/test.jsonl");
  write(path, t.content + "\n");   // a different size: the cached digest no longer applies
  EXPECT_THROW(t.manifest.verified_path(t.dir, "toy/test.jsonl"), Error);
}

void write_gz(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
}

TEST(Manifest, AFileStoredCompressedVerifiesAgainstItsUncompressedSum) {
  TinyData t;   // the manifest lists toy/test.jsonl with the sum of the plain text
  write_gz(t.dir / "toy" / "test.jsonl.gz", t.content);
  const fs::path path = t.manifest.verified_path(t.dir, "toy/test.jsonl");
  EXPECT_EQ(path, t.dir / "toy" / "test.jsonl.gz");
  ASSERT_EQ(read_jsonl(path).size(), 1u);   // readers gunzip by the name
  // Where both forms are present the one listed wins.
  write(t.dir / "toy" / "test.jsonl", t.content);
  EXPECT_EQ(t.manifest.verified_path(t.dir, "toy/test.jsonl"), t.dir / "toy" / "test.jsonl");
}

TEST(Manifest, AnAlteredCompressedFileNamesItsUncompressedDigest) {
  TinyData t;
  const std::string altered = t.content + "{\"question\": \"extra\", \"answer\": \"#### 2\"}\n";
  write_gz(t.dir / "toy" / "test.jsonl.gz", altered);
  auto msg = error_of([&] { t.manifest.verified_path(t.dir, "toy/test.jsonl"); });
  EXPECT_NE(msg.find((t.dir / "toy" / "test.jsonl.gz").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find(sha256_hex(altered)), std::string::npos) << msg;
  EXPECT_NE(msg.find("uncompressed"), std::string::npos) << msg;
  EXPECT_NE(msg.find(sha256_hex(t.content)), std::string::npos) << msg;
}

TEST(Manifest, VerifiesARealCompressedDatasetFile) {
  auto data = test::shared_dir() / "datasets";
  if (!fs::exists(data / "arc" / "arc_easy.jsonl.gz")) GTEST_SKIP() << "no arc data";
  EXPECT_EQ(verified_path(data, "arc/arc_easy.jsonl"), data / "arc" / "arc_easy.jsonl.gz");
}

TEST(Manifest, UnlistedFileIsAnError) {
  TinyData t;
  auto msg = error_of([&] { t.manifest.verified_path(t.dir, "toy/other.jsonl"); });
  EXPECT_NE(msg.find("toy/other.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tiny manifest"), std::string::npos) << msg;
}

TEST(Manifest, MalformedManifestsAreErrors) {
  EXPECT_THROW(Manifest::parse("not json", "m"), Error);
  EXPECT_THROW(Manifest::parse("{}", "m"), Error);
  EXPECT_THROW(Manifest::parse(R"({"files": {"a": {"sha256": "xyz"}}})", "m"), Error);
}

// ---------------------------------------------------------------- JSON lines and JSON

TEST(Readers, JsonlSkipsBlankLines) {
  auto path = test::make_temp_dir("jsonl") / "a.jsonl";
  write(path, "{\"a\": 1}\n\n{\"a\": 2}\r\n");
  auto rows = read_jsonl(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["a"], 2);
}

TEST(Readers, JsonlErrorNamesFileAndLine) {
  auto path = test::make_temp_dir("jsonl") / "bad.jsonl";
  write(path, "{\"a\": 1}\n{\"a\": 2}\n{\"a\": \n");
  auto msg = error_of([&] { read_jsonl(path); });
  EXPECT_NE(msg.find(path.string() + ":3:"), std::string::npos) << msg;
  EXPECT_THROW(read_jsonl(path), InputError);
}

TEST(Readers, GzippedJsonl) {
  auto path = test::make_temp_dir("jsonl") / "a.jsonl.gz";
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::string text = "{\"id\": \"x\"}\n{\"id\": \"y\"}\n";
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
  auto rows = read_jsonl(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["id"], "x");
}

TEST(Readers, MissingFileIsAnError) {
  auto msg = error_of([] { read_file_bytes("/nonexistent/file.json"); });
  EXPECT_NE(msg.find("/nonexistent/file.json"), std::string::npos) << msg;
}

TEST(Readers, RealGzippedDatasets) {
  auto data = test::shared_dir() / "datasets";
  if (!fs::is_directory(data)) GTEST_SKIP() << "no " << data;
  EXPECT_EQ(read_jsonl(data / "humaneval" / "HumanEval.jsonl.gz").size(), 164u);
  EXPECT_EQ(read_jsonl(data / "gsm8k" / "train.jsonl.gz").size(), 7473u);
  EXPECT_EQ(read_json(data / "gsm8k" / "fewshot_cot_8shot.json").at("lm_evaluation_harness").at("num_fewshot"), 8);
}

// ---------------------------------------------------------------- CSV

TEST(Csv, QuotedFieldsHoldCommasNewlinesAndQuotes) {
  auto t = parse_csv("id,question,answer\r\n1,\"a, b\",A\r\n2,\"line1\nline2 \"\"quoted\"\"\",B\r\n", "t");
  ASSERT_EQ(t.header, (std::vector<std::string>{"id", "question", "answer"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1], "a, b");
  EXPECT_EQ(t.rows[1][1], "line1\nline2 \"quoted\"");
  EXPECT_EQ(t.rows[1][2], "B");
  EXPECT_EQ(t.column("answer"), 2u);
}

TEST(Csv, Utf8AndByteOrderMark) {
  auto t = parse_csv("\xEF\xBB\xBF,Question,Answer\n0,以下哪项正确？,C\n", "t");
  EXPECT_EQ(t.header[0], "");   // CMMLU's unnamed index column
  EXPECT_EQ(t.header[1], "Question");
  EXPECT_EQ(t.rows[0][1], "以下哪项正确？");
}

TEST(Csv, EmptyFieldsLastLineWithoutNewlineAndBlankLines) {
  auto t = parse_csv("a,b,c\n1,,3\n\n,,\n4,5,6", "t");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"1", "", "3"}));
  EXPECT_EQ(t.rows[1], (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(t.rows[2], (std::vector<std::string>{"4", "5", "6"}));
}

TEST(Csv, QuoteInsideAnUnquotedFieldIsText) {
  auto t = parse_csv("q,a\n他说\"好\",B\n", "t");
  EXPECT_EQ(t.rows[0][0], "他说\"好\"");
}

TEST(Csv, ErrorsNameTheOriginAndLine) {
  auto msg = error_of([] { parse_csv("a,b\n1,2\n3\n", "x.csv"); });
  EXPECT_NE(msg.find("x.csv:3:"), std::string::npos) << msg;
  msg = error_of([] { parse_csv("a,b\n1,\"open\n2,3\n", "x.csv"); });
  EXPECT_NE(msg.find("x.csv:2:"), std::string::npos) << msg;
  msg = error_of([] { parse_csv("a,b\n1,\"x\"y\n", "x.csv"); });
  EXPECT_NE(msg.find("x.csv:2:"), std::string::npos) << msg;
  EXPECT_THROW(parse_csv("", "x.csv"), InputError);
  EXPECT_THROW(parse_csv("a,b\n", "x.csv").column("c"), InputError);
}

TEST(Csv, EveryChineseBenchmarkCsvParsesWithTheDocumentedRowCounts) {
  auto data = test::shared_dir() / "datasets";
  if (!fs::is_directory(data / "cmmlu")) GTEST_SKIP() << "no " << data;
  auto rows_in = [&](const fs::path& folder) {
    size_t n = 0;
    for (const auto& f : fs::directory_iterator(folder)) n += read_csv(f.path()).rows.size();
    return n;
  };
  EXPECT_EQ(rows_in(data / "cmmlu" / "test"), 11582u);
  EXPECT_EQ(rows_in(data / "cmmlu" / "dev"), 335u);
  EXPECT_EQ(rows_in(data / "ceval" / "val"), 1346u);
  EXPECT_EQ(rows_in(data / "ceval" / "dev"), 260u);
  auto t = read_csv(data / "ceval" / "val" / "accountant_val.csv");
  EXPECT_EQ(t.header, (std::vector<std::string>{"id", "question", "A", "B", "C", "D", "answer"}));
}

}  // namespace
}  // namespace yardstick
