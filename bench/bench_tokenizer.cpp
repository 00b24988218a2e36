// Tokenizer encode speed on one core, in MB of UTF-8 text per second and tokens per second.
//
//   bench_tokenizer [--tokenizer PATH] [--shared DIR] [--repeats N]
//
// Corpora: the 10,129 golden texts (shared/reference/tokenizer/golden_public.jsonl.gz) and
// GSM8K test questions + answers (shared/datasets/gsm8k/test.jsonl). "cold" is the first pass
// of a freshly loaded tokenizer (empty piece cache); "warm" passes reuse the cache, as a long
// run does. Each figure is the best of N passes. Speeds are given per second of this thread's
// CPU time (one core, robust to a busy machine) and per second of wall time.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "datasets/readers.h"
#include "engine/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Every string value of the named fields, one text per JSONL row and field.
std::vector<std::string> read_texts(const fs::path& file, const std::vector<std::string>& fields) {
  std::vector<std::string> texts;
  for (const json& row : yardstick::read_jsonl(file)) {
    for (const auto& f : fields) {
      if (row.contains(f)) texts.push_back(row[f].get<std::string>());
    }
  }
  return texts;
}

// CPU time of this thread: on a busy machine, wall time also counts time spent waiting for a core.
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

struct Pass {
  double wall_s = 1e30;
  double cpu_s = 1e30;
  size_t tokens = 0;
};

Pass encode_all(const yardstick::Tokenizer& tok, const std::vector<std::string>& texts) {
  const auto wall0 = Clock::now();
  const double cpu0 = thread_cpu_seconds();
  size_t tokens = 0;
  for (const auto& t : texts) tokens += tok.encode(t).size();
  return {std::chrono::duration<double>(Clock::now() - wall0).count(), thread_cpu_seconds() - cpu0,
          tokens};
}

void keep_best(Pass& best, const Pass& p) {
  best.wall_s = std::min(best.wall_s, p.wall_s);
  best.cpu_s = std::min(best.cpu_s, p.cpu_s);
  best.tokens = p.tokens;
}

void report(const char* corpus, const char* mode, size_t bytes, const Pass& best) {
  fmt::print("{:<7} {:<5} {:>7.2f} MB/s {:>10.0f} tokens/s (CPU time)  {:>7.2f} MB/s (wall)"
             "  [{:.2f} MB, {} tokens]\n",
             corpus, mode, bytes / best.cpu_s / 1e6, best.tokens / best.cpu_s,
             bytes / best.wall_s / 1e6, bytes / 1e6, best.tokens);
}

}  // namespace

int main(int argc, char** argv) {
  fs::path shared = fs::path(YARDSTICK_SOURCE_DIR) / ".." / "shared";
  fs::path tokenizer_path;
  int repeats = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--tokenizer")) tokenizer_path = argv[i + 1];
    else if (!std::strcmp(argv[i], "--shared")) shared = argv[i + 1];
    else if (!std::strcmp(argv[i], "--repeats")) repeats = std::max(1, std::atoi(argv[i + 1]));
  }
  if (tokenizer_path.empty()) tokenizer_path = shared / "reference" / "tokenizer" / "tokenizer.json";

  try {
    const std::vector<std::pair<const char*, std::vector<std::string>>> corpora = {
        {"golden", read_texts(shared / "reference" / "tokenizer" / "golden_public.jsonl.gz", {"text"})},
        {"gsm8k", read_texts(shared / "datasets" / "gsm8k" / "test.jsonl", {"question", "answer"})},
    };
    const auto t0 = Clock::now();
    const auto warm_tok = yardstick::Tokenizer::from_file(tokenizer_path);
    fmt::print("tokenizer {} loaded in {:.2f} s\n", tokenizer_path.string(),
               std::chrono::duration<double>(Clock::now() - t0).count());

    for (const auto& [name, texts] : corpora) {
      size_t bytes = 0;
      for (const auto& t : texts) bytes += t.size();
      Pass cold, warm;
      for (int r = 0; r < repeats; ++r) {
        const auto fresh = yardstick::Tokenizer::from_file(tokenizer_path);
        keep_best(cold, encode_all(fresh, texts));
      }
      encode_all(warm_tok, texts);   // fill the cache
      for (int r = 0; r < repeats; ++r) keep_best(warm, encode_all(warm_tok, texts));
      report(name, "cold", bytes, cold);
      report(name, "warm", bytes, warm);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_tokenizer: {}\n", e.what());
    return 1;
  }
  return 0;
}
