// Published numbers to compare runs against, read from configs/published/ (data transcribed
// by scripts/import_published.py from ../shared/reference/published/).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace yardstick {

struct PublishedRecord {
  std::string model;               // "deepseek-llm-7b-base", "LLaMA-2-7B", ...
  std::string benchmark;           // the publication's name: "GSM8K", "C-Eval", ...
  double value = 0.0;              // as published: accuracies in percent (17.4 means 17.4%)
  std::string metric;              // as published: "acc", "pass@1", "BPB", ...
  std::string unit;                // "percent", "bits per byte", "score", "fraction" or "unknown"
  bool percent = false;            // unit == "percent": divide by 100 to compare with a fraction
  std::optional<int> shots;        // nullopt: not stated
  std::string source;              // "PAPER", "GH_README", "GH_MORE", ...
  std::string source_detail;       // e.g. "Table 5 (Main results, base models)"
  bool confirmed_primary = false;  // the value is readable in an official DeepSeek artifact
  std::string note;
};

class PublishedNumbers {
 public:
  // Every *.json in `dir` that holds "records", and `task_benchmarks.json` (our task name ->
  // the publications' benchmark name). Throws Error naming the file on a malformed one.
  static PublishedNumbers load(const std::filesystem::path& dir);
  // configs/published of the checkout holding the running executable, else of the compile-time
  // source directory. Throws Error naming the places tried.
  static std::filesystem::path default_dir();

  // The publications' name for one of our tasks ("gsm8k" -> "GSM8K"); a name that already is a
  // benchmark name comes back as spelled in the records. nullopt when unknown. Case-insensitive.
  std::optional<std::string> benchmark_name(std::string_view task_or_benchmark) const;

  // All records for (model, benchmark), model and benchmark matched case-insensitively and the
  // benchmark given either way benchmark_name() accepts, best first by this rule:
  //   1. a record whose unit is known beats one whose unit is "unknown" (such a number can't
  //      be compared with anything we measure);
  //   2. confirmed_primary beats unconfirmed (an official artifact beats a transcription);
  //   3. by source: PAPER (the paper's tables), then GH_README, then GH_MORE, then any other;
  //   4. file order.
  // E.g. 7B chat GSM8K: GH_README's confirmed 62.6 wins over the paper's unconfirmed 63.0;
  // base models: the paper's Table 5, confirmed by more_results.md.
  std::vector<const PublishedRecord*> candidates(std::string_view model, std::string_view task_or_benchmark) const;
  // candidates(...).front(), or nullptr when there is none.
  const PublishedRecord* lookup(std::string_view model, std::string_view task_or_benchmark) const;

  const std::vector<PublishedRecord>& records() const { return records_; }
  std::vector<std::string> models() const;   // distinct, in file order

 private:
  std::vector<PublishedRecord> records_;
  std::map<std::string, std::string> task_benchmarks_;   // lower-case task -> benchmark name
};

}  // namespace yardstick
