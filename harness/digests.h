// Digests that identify a model in the run record: the weights (sha256 of every weight file, the
// value Hugging Face lists per file, cached in the store by path + size + mtime so a re-run does
// not re-hash 14 GB) and the tokenizer files. Files not in the cache are hashed in parallel, and
// PendingWeightsDigest does it in the background while the caller loads the model.
#pragma once

#include <atomic>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "harness/store.h"

namespace yardstick {

// sha256 of one file, from the store's cache when its absolute path, size and mtime match.
std::string cached_file_digest(Store& store, const std::filesystem::path& file);

// sha256 of each file (in the order given), hashed on up to max_threads threads at once (0: one
// per core), one thread per file. Touches no store. Throws Error naming a file that can't be read.
// *cancel (when given) stops it between chunks with an Error.
std::vector<std::string> sha256_files(const std::vector<std::filesystem::path>& files, int max_threads = 0,
                                      const std::atomic<bool>* cancel = nullptr);

// The checkpoint files of a model directory (*.safetensors, pytorch_model*.bin and their
// *.index.json), sorted by name; of a GGUF model (a .gguf file, or a directory holding one and no
// config.json), the .gguf file. Throws ModelFileError when there are none.
std::vector<std::filesystem::path> weight_files(const std::filesystem::path& model_dir);

// sha256 over the lines "<file name> <sha256>\n" of weight_files(model_dir).
std::string weights_digest(Store& store, const std::filesystem::path& model_dir);

// weights_digest, computed in the background. The store is used only by the thread that calls
// the constructor (cache look-ups) and get() (cache writes for what was hashed), never by the
// hashing threads, so the caller may go on using it in between as long as it does so on that
// thread.
class PendingWeightsDigest {
 public:
  PendingWeightsDigest(Store& store, const std::filesystem::path& model_dir, int max_threads = 0);
  ~PendingWeightsDigest();   // stops the hashing threads (within a chunk) and waits for them
  PendingWeightsDigest(const PendingWeightsDigest&) = delete;
  PendingWeightsDigest& operator=(const PendingWeightsDigest&) = delete;

  // Every weight file was in the cache: get() returns at once.
  bool all_cached() const { return to_hash_.empty(); }
  // Joins the hashing, records the new digests in the store, returns weights_digest(). Once.
  std::string get();

 private:
  struct FileKey {
    std::string name;             // in the model directory
    std::filesystem::path path;   // canonical
    int64_t size = 0;
    int64_t mtime_ns = 0;
  };
  Store& store_;
  std::vector<FileKey> files_;
  std::vector<std::string> digests_;   // per file; "" until hashed
  std::vector<size_t> to_hash_;        // indices into files_ not in the cache
  std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);
  std::future<std::vector<std::string>> hashing_;
};

// sha256 over the lines "<file name> <sha256>\n" of tokenizer.json, tokenizer_config.json and
// chat_template.jinja (those present; the template only beside tokenizer_config.json, where it is
// used); "" when the directory has none. Of a GGUF model, sha256 of its tokenizer.ggml.* metadata
// restated as those two files (engine/gguf_tokenizer.h); "" when it has no tokenizer.
std::string tokenizer_digest(Store& store, const std::filesystem::path& model_dir);

// The same over config.json and generation_config.json (shapes and special token ids).
std::string model_config_digest(Store& store, const std::filesystem::path& model_dir);

}  // namespace yardstick
