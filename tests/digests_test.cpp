// Checkpoint digests: files hashed in parallel give the sequential result, the store's cache is
// filled and then used, a linked file keeps its name, and hashing in the background can be
// abandoned; the tokenizer's digest covers its chat_template.jinja.
#include "harness/digests.h"

#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <fmt/core.h>

#include "engine/sha256.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;

void write_random(const fs::path& file, size_t bytes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string data(bytes, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  std::ofstream(file, std::ios::binary) << data;
}

// A sharded-looking checkpoint: shards of different sizes (one over a read chunk) and an index.
fs::path make_checkpoint(const char* tag) {
  fs::path dir = test::make_temp_dir(tag);
  write_random(dir / "model-00001-of-00003.safetensors", (9u << 20) + 123, 1);
  write_random(dir / "model-00002-of-00003.safetensors", 1000, 2);
  write_random(dir / "model-00003-of-00003.safetensors", 0, 3);
  std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map": {}})";
  std::ofstream(dir / "config.json") << "{}";   // not a weight file: not in the digest
  return dir;
}

std::string sequential_digest(const fs::path& dir) {
  std::string lines;
  for (const auto& f : weight_files(dir)) lines += fmt::format("{} {}\n", f.filename().string(), sha256_file(f));
  return sha256_hex(lines);
}

TEST(WeightsDigest, ParallelHashingEqualsTheSequentialResult) {
  fs::path dir = make_checkpoint("digest-parallel");
  Store store(dir / "runs.db");
  EXPECT_EQ(weights_digest(store, dir), sequential_digest(dir));
  auto files = weight_files(dir);
  ASSERT_EQ(files.size(), 4u);
  std::vector<std::string> one_by_one;
  for (const auto& f : files) one_by_one.push_back(sha256_file(f));
  EXPECT_EQ(sha256_files(files, 3), one_by_one);
  EXPECT_EQ(sha256_files(files, 1), one_by_one);
}

TEST(WeightsDigest, TheCacheIsFilledThenUsed) {
  fs::path dir = make_checkpoint("digest-cache");
  Store store(dir / "runs.db");
  const std::string expected = sequential_digest(dir);
  {
    PendingWeightsDigest first(store, dir);
    EXPECT_FALSE(first.all_cached());
    EXPECT_EQ(first.get(), expected);
  }
  for (const auto& f : weight_files(dir)) {
    auto abs = fs::canonical(f);
    auto mtime = std::chrono::duration_cast<std::chrono::nanoseconds>(fs::last_write_time(abs).time_since_epoch());
    EXPECT_EQ(store.cached_digest(abs.string(), int64_t(fs::file_size(abs)), mtime.count()), sha256_file(abs))
        << f;
  }
  PendingWeightsDigest second(store, dir);
  EXPECT_TRUE(second.all_cached());
  EXPECT_EQ(second.get(), expected);
}

TEST(WeightsDigest, ALinkIntoABlobStoreIsNamedAsInTheModelDirectory) {
  fs::path blobs = test::make_temp_dir("digest-blobs");
  write_random(blobs / "3f2a9c", 5000, 9);
  fs::path dir = test::make_temp_dir("digest-link");
  fs::create_symlink(blobs / "3f2a9c", dir / "model.safetensors");
  Store store(blobs / "runs.db");
  EXPECT_EQ(weights_digest(store, dir),
            sha256_hex(fmt::format("model.safetensors {}\n", sha256_file(blobs / "3f2a9c"))));
}

TEST(WeightsDigest, AnAbandonedDigestStoresNothing) {
  fs::path dir = make_checkpoint("digest-abandoned");
  Store store(dir / "runs.db");
  { PendingWeightsDigest pending(store, dir); }   // e.g. loading the model failed meanwhile
  PendingWeightsDigest again(store, dir);
  EXPECT_FALSE(again.all_cached());
  EXPECT_EQ(again.get(), sequential_digest(dir));
}

// "<name> <sha256>\n" lines of these files of dir, hashed.
std::string listed_digest(const fs::path& dir, std::initializer_list<const char*> names) {
  std::string lines;
  for (const char* name : names) lines += fmt::format("{} {}\n", name, sha256_file(dir / name));
  return sha256_hex(lines);
}

TEST(TokenizerDigest, ChatTemplateJinjaCountsWhereItIsTheTokenizersTemplate) {
  fs::path dir = test::make_temp_dir("digest-template");
  Store store(dir / "runs.db");
  std::ofstream(dir / "tokenizer.json") << "{}";
  std::ofstream(dir / "chat_template.jinja") << "{{ messages }}";
  // Without tokenizer_config.json the template is not the tokenizer's (find_chat_template): left out.
  EXPECT_EQ(tokenizer_digest(store, dir), listed_digest(dir, {"tokenizer.json"}));
  std::ofstream(dir / "tokenizer_config.json") << "{}";
  const std::string with = tokenizer_digest(store, dir);
  EXPECT_EQ(with, listed_digest(dir, {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"}));
  fs::remove(dir / "chat_template.jinja");
  EXPECT_EQ(tokenizer_digest(store, dir), listed_digest(dir, {"tokenizer.json", "tokenizer_config.json"}));
}

TEST(Sha256File, AnUnreadableFileIsAnErrorNamingIt) {
  fs::path missing = test::make_temp_dir("digest-missing") / "nope.safetensors";
  try {
    sha256_files({missing}, 2);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace yardstick
