// The SQLite store: models, runs, samples, verdicts, metrics and published numbers, in one file
// that many runs may share (docs/schema.md). WAL mode; each sample is written together with its
// verdicts in one transaction as it completes, so a killed process loses at most the samples in
// flight and the UNIQUE(run, task, doc_id, sample_idx) key makes a duplicate impossible.
// Not thread-safe: callers serialise access to one Store.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "reports/published.h"
#include "scorers/verdict.h"

struct sqlite3;

namespace yardstick {

inline constexpr int kSchemaVersion = 1;

struct ModelRecord {
  int64_t id = 0;
  std::string name;               // directory name, or "gold"
  std::string path;               // absolute model directory ("" for built-in models)
  std::string weights_digest;     // sha256 over the weight files (see harness/digests.h)
  std::string tokenizer_digest;   // "" when the model has no tokenizer
  nlohmann::json config;          // config.json as read, or a description of a built-in model
};

struct RunRecord {
  int64_t id = 0;
  std::string name;               // unique within the database
  int64_t model_id = 0;
  std::string tasks;              // comma-separated task names
  nlohmann::json config;          // the fully resolved configuration (everything that changes a result)
  std::string config_digest;      // sha256 of config's canonical dump: compared on resume
  std::string engine_build;
  uint64_t seed = 0;
  std::optional<int64_t> limit;   // docs per task of the latest invocation (not part of the identity)
  std::string status;             // "running" | "finished" | "failed"
  std::string started_at;         // UTC, ISO 8601
  std::string finished_at;        // "" until finished
};

struct SampleRecord {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string task;
  std::string doc_id;
  int sample_idx = 0;
  std::string prompt;
  std::string prompt_digest;   // sha256 of prompt (set by insert_sample when empty)
  std::string output;
  std::string gold;            // what the verdicts were graded against
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  std::string finish_reason;   // "length" | "stop" | "eos" | "error" | "reference"
  std::string error;           // set when finish_reason == "error"
  double latency_s = 0.0;      // submission to completion
};

struct MetricRecord {
  std::string task;
  std::string scorer;
  std::string metric;     // "acc"
  int rank = 0;           // the scorer's rank (0: primary)
  double value = 0.0;     // a fraction in [0, 1]
  double stderr_ = 0.0;
  double ci_low = 0.0;    // 95% interval
  double ci_high = 0.0;
  int64_t n = 0;
};

// Per (task, scorer): how many samples were graded and how many correct.
struct VerdictTally {
  std::string task;
  std::string scorer;
  int rank = 0;
  int64_t n = 0;
  int64_t correct = 0;
};

using SampleKey = std::tuple<std::string, std::string, int>;   // (task, doc_id, sample_idx)

class Store {
 public:
  // Opens (creating if needed) and migrates to kSchemaVersion. Throws Error naming the file;
  // a database written by a newer yardstick (higher schema version) is refused.
  explicit Store(const std::filesystem::path& file);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::filesystem::path& path() const { return path_; }
  int schema_version() const;

  // --- file digest cache: (absolute path, size, mtime) -> sha256, so re-runs skip re-hashing.
  std::optional<std::string> cached_digest(const std::string& path, int64_t size, int64_t mtime_ns);
  void put_cached_digest(const std::string& path, int64_t size, int64_t mtime_ns, const std::string& sha256);

  // --- models: returns the id of the row equal in (path, weights, tokenizer), inserting it if new.
  int64_t upsert_model(const ModelRecord& m);
  std::optional<ModelRecord> model(int64_t id);

  // --- runs
  std::optional<RunRecord> find_run(const std::string& name);
  std::optional<RunRecord> latest_run();   // the most recently started
  std::vector<RunRecord> runs();           // oldest first
  // Inserts; throws InputError if the name is taken. Returns the id.
  int64_t create_run(const RunRecord& r);
  void set_run_status(int64_t run_id, const std::string& status);   // "finished" stamps finished_at
  void set_run_limit(int64_t run_id, std::optional<int64_t> limit);

  // --- samples and verdicts
  std::set<SampleKey> sample_keys(int64_t run_id);
  // One transaction: the sample and its verdicts (primary first: a verdict's rank is its index).
  // Returns false (and writes nothing) when the key already exists, e.g. written by another
  // process resuming the same run.
  bool insert_sample(const SampleRecord& s, const std::vector<Verdict>& verdicts);
  // All in one transaction (each as insert_sample would); returns how many were new.
  int64_t insert_samples(const std::vector<std::pair<SampleRecord, std::vector<Verdict>>>& batch);
  std::vector<SampleRecord> samples(int64_t run_id);   // ordered by task, then insertion
  std::vector<Verdict> verdicts(int64_t sample_id);    // by rank
  // One transaction for all: each sample's old verdicts are dropped and the new ones take their
  // place (re-scoring).
  void replace_verdicts(const std::vector<std::pair<int64_t, std::vector<Verdict>>>& by_sample);
  std::vector<VerdictTally> tally_verdicts(int64_t run_id);
  // Each task of the run with the scorer versions its stored verdicts were graded by
  // (detail_json's scorer_version; 1 for verdicts stored before versions were recorded).
  std::map<std::string, std::set<int>> verdict_scorer_versions(int64_t run_id);

  // --- metrics: replaces every metric of the run.
  void replace_metrics(int64_t run_id, const std::vector<MetricRecord>& metrics);
  std::vector<MetricRecord> metrics(int64_t run_id);   // by task, then rank

  // --- published numbers a report compared the run with (replaces rows with the same key).
  void put_published(const std::vector<PublishedRecord>& records);
  std::vector<PublishedRecord> published(const std::string& benchmark);

  // Runs f inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK if it throws).
  template <class F>
  void transaction(F&& f) {
    begin();
    try {
      f();
    } catch (...) {
      rollback();
      throw;
    }
    commit();
  }

 private:
  bool insert_sample_in_transaction(const SampleRecord& s, const std::vector<Verdict>& verdicts);
  void begin();
  void commit();
  void rollback();
  void exec(const char* sql);
  void migrate();

  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
};

// "2024-05-01T12:34:56Z"
std::string utc_now_iso8601();

}  // namespace yardstick
