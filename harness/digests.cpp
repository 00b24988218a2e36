#include "harness/digests.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include <fmt/core.h>

#include "engine/error.h"
#include "engine/gguf.h"
#include "engine/gguf_tokenizer.h"
#include "engine/sha256.h"

namespace yardstick {

namespace {

bool is_weight_file(const std::string& name) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".safetensors") || ends_with(".safetensors.index.json") ||
         (name.rfind("pytorch_model", 0) == 0 && (ends_with(".bin") || ends_with(".bin.index.json")));
}

// "<file name> <sha256>\n" per file, hashed: the digest of a set of files.
std::string digest_of_lines(const std::vector<std::filesystem::path>& files, const std::vector<std::string>& digests) {
  std::string lines;
  for (size_t i = 0; i < files.size(); ++i) lines += fmt::format("{} {}\n", files[i].filename().string(), digests[i]);
  return sha256_hex(lines);
}

std::string digest_of_files(Store& store, const std::vector<std::filesystem::path>& files) {
  std::vector<std::string> digests;
  for (const auto& f : files) digests.push_back(cached_file_digest(store, f));
  return digest_of_lines(files, digests);
}

std::string digest_of_present(Store& store, const std::filesystem::path& dir,
                              std::initializer_list<const char*> names) {
  std::vector<std::filesystem::path> files;
  for (const char* name : names)
    if (std::filesystem::is_regular_file(dir / name)) files.push_back(dir / name);
  return files.empty() ? std::string() : digest_of_files(store, files);
}

struct StatKey {
  std::filesystem::path abs;
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

StatKey stat_file(const std::filesystem::path& file) {
  std::error_code ec;
  StatKey k;
  k.abs = std::filesystem::canonical(file, ec);
  if (ec) throw Error(fmt::format("{}: cannot be read: {}", file.string(), ec.message()));
  k.size = static_cast<int64_t>(std::filesystem::file_size(k.abs));
  k.mtime_ns = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::filesystem::last_write_time(k.abs).time_since_epoch())
                                        .count());
  return k;
}

}  // namespace

std::string cached_file_digest(Store& store, const std::filesystem::path& file) {
  StatKey k = stat_file(file);
  if (auto hit = store.cached_digest(k.abs.string(), k.size, k.mtime_ns)) return *hit;
  std::string digest = sha256_file(k.abs);
  store.put_cached_digest(k.abs.string(), k.size, k.mtime_ns, digest);
  return digest;
}

std::vector<std::string> sha256_files(const std::vector<std::filesystem::path>& files, int max_threads,
                                      const std::atomic<bool>* cancel) {
  std::vector<std::string> out(files.size());
  if (files.empty()) return out;
  // One file per thread: a file is read sequentially (the disk's read-ahead works best), and
  // shards are similar in size, so threads finish together.
  unsigned threads = max_threads > 0 ? unsigned(max_threads) : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min<unsigned>(threads, unsigned(files.size()));
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::exception_ptr failure;
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < files.size();) {
      try {
        out[i] = sha256_file(files[i], cancel);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!failure) failure = std::current_exception();
        next = files.size();   // the others stop after their current file
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
  return out;
}

std::vector<std::filesystem::path> weight_files(const std::filesystem::path& model_dir) {
  if (const auto gguf = gguf_model_file(model_dir)) {
    if (!std::filesystem::is_regular_file(*gguf)) throw ModelFileError(fmt::format("{}: no such file", gguf->string()));
    return {*gguf};
  }
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(model_dir, ec))
    if (e.is_regular_file() && is_weight_file(e.path().filename().string())) files.push_back(e.path());
  if (ec) throw ModelFileError(fmt::format("{}: cannot list the model directory: {}", model_dir.string(), ec.message()));
  if (files.empty())
    throw ModelFileError(fmt::format("{}: no weight files (*.safetensors or pytorch_model*.bin)", model_dir.string()));
  std::sort(files.begin(), files.end());
  return files;
}

std::string weights_digest(Store& store, const std::filesystem::path& model_dir) {
  return PendingWeightsDigest(store, model_dir).get();
}

PendingWeightsDigest::PendingWeightsDigest(Store& store, const std::filesystem::path& model_dir, int max_threads)
    : store_(store) {
  std::vector<std::filesystem::path> paths;
  for (const auto& f : weight_files(model_dir)) {
    StatKey k = stat_file(f);
    files_.push_back({f.filename().string(), k.abs, k.size, k.mtime_ns});
    digests_.push_back(store.cached_digest(k.abs.string(), k.size, k.mtime_ns).value_or(""));
    if (digests_.back().empty()) {
      to_hash_.push_back(files_.size() - 1);
      paths.push_back(k.abs);
    }
  }
  if (!paths.empty())
    hashing_ = std::async(std::launch::async, [paths = std::move(paths), max_threads, cancel = cancel_] {
      return sha256_files(paths, max_threads, cancel.get());
    });
}

PendingWeightsDigest::~PendingWeightsDigest() {
  cancel_->store(true);
  if (hashing_.valid()) hashing_.wait();
}

std::string PendingWeightsDigest::get() {
  if (hashing_.valid()) {
    std::vector<std::string> hashed = hashing_.get();
    for (size_t k = 0; k < to_hash_.size(); ++k) {
      const FileKey& f = files_[to_hash_[k]];
      digests_[to_hash_[k]] = hashed[k];
      store_.put_cached_digest(f.path.string(), f.size, f.mtime_ns, hashed[k]);
    }
  }
  // Named as in the directory: a link into a blob store (the HF cache) keeps its file's name.
  std::vector<std::filesystem::path> names;
  for (const auto& f : files_) names.push_back(f.name);
  return digest_of_lines(names, digests_);
}

std::string tokenizer_digest(Store& store, const std::filesystem::path& model_dir) {
  if (const auto gguf = gguf_model_file(model_dir)) {
    // The tokenizer is a part of the file (whose digest is the weights digest): what it says.
    const std::optional<GgufTokenizerFiles> t = gguf_tokenizer_files(GgufFile(*gguf));
    return t ? sha256_hex(t->tokenizer.dump() + "\n" + t->config.dump()) : std::string();
  }
  // chat_template.jinja counts where it is used: beside tokenizer_config.json (find_chat_template).
  // A folder without one keeps the digest it always had.
  if (std::filesystem::is_regular_file(model_dir / "tokenizer_config.json"))
    return digest_of_present(store, model_dir, {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja"});
  return digest_of_present(store, model_dir, {"tokenizer.json", "tokenizer_config.json"});
}

std::string model_config_digest(Store& store, const std::filesystem::path& model_dir) {
  return digest_of_present(store, model_dir, {"config.json", "generation_config.json"});
}

}  // namespace yardstick
