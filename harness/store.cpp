#include "harness/store.h"

#include <chrono>
#include <ctime>

#include <fmt/core.h>
#include <sqlite3.h>

#include "engine/error.h"
#include "engine/sha256.h"

namespace yardstick {

namespace {

// Schema migrations, applied in order inside one transaction each; entry i takes the database
// from version i to i + 1. Append new entries; never edit a released one (docs/schema.md).
const char* const kMigrations[] = {
    // 0 -> 1: the initial schema.
    R"sql(
CREATE TABLE file_digests (
  path        TEXT PRIMARY KEY,
  size        INTEGER NOT NULL,
  mtime_ns    INTEGER NOT NULL,
  sha256      TEXT NOT NULL,
  computed_at TEXT NOT NULL
);
CREATE TABLE models (
  id               INTEGER PRIMARY KEY,
  name             TEXT NOT NULL,
  path             TEXT NOT NULL,
  weights_digest   TEXT NOT NULL,
  tokenizer_digest TEXT NOT NULL,
  config_json      TEXT NOT NULL,
  UNIQUE (path, weights_digest, tokenizer_digest)
);
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  name          TEXT NOT NULL UNIQUE,
  model_id      INTEGER NOT NULL REFERENCES models(id),
  tasks         TEXT NOT NULL,
  config_json   TEXT NOT NULL,
  config_digest TEXT NOT NULL,
  engine_build  TEXT NOT NULL,
  seed          INTEGER NOT NULL,
  doc_limit     INTEGER,
  status        TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  started_at    TEXT NOT NULL,
  finished_at   TEXT
);
CREATE TABLE samples (
  id            INTEGER PRIMARY KEY,
  run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  task          TEXT NOT NULL,
  doc_id        TEXT NOT NULL,
  sample_idx    INTEGER NOT NULL,
  prompt_digest TEXT NOT NULL,
  prompt        TEXT NOT NULL,
  output        TEXT NOT NULL,
  gold          TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  finish_reason TEXT NOT NULL,
  error         TEXT NOT NULL,
  latency_s     REAL NOT NULL,
  created_at    TEXT NOT NULL,
  UNIQUE (run_id, task, doc_id, sample_idx)
);
CREATE TABLE verdicts (
  sample_id   INTEGER NOT NULL REFERENCES samples(id) ON DELETE CASCADE,
  scorer      TEXT NOT NULL,
  rank        INTEGER NOT NULL,
  correct     INTEGER NOT NULL CHECK (correct IN (0, 1)),
  extracted   TEXT NOT NULL,
  status      TEXT NOT NULL,
  detail_json TEXT NOT NULL,
  PRIMARY KEY (sample_id, scorer)
);
CREATE TABLE metrics (
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  task        TEXT NOT NULL,
  scorer      TEXT NOT NULL,
  metric      TEXT NOT NULL,
  rank        INTEGER NOT NULL,
  value       REAL NOT NULL,
  stderr      REAL NOT NULL,
  ci_low      REAL NOT NULL,
  ci_high     REAL NOT NULL,
  n           INTEGER NOT NULL,
  computed_at TEXT NOT NULL,
  PRIMARY KEY (run_id, task, scorer, metric)
);
CREATE TABLE published (
  model             TEXT NOT NULL,
  benchmark         TEXT NOT NULL,
  source            TEXT NOT NULL,
  value             REAL NOT NULL,
  metric            TEXT NOT NULL,
  percent           INTEGER NOT NULL CHECK (percent IN (0, 1)),
  shots             INTEGER,
  source_detail     TEXT NOT NULL,
  confirmed_primary INTEGER NOT NULL CHECK (confirmed_primary IN (0, 1)),
  note              TEXT NOT NULL,
  PRIMARY KEY (model, benchmark, source)
);
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration per schema version");

// A prepared statement with 1-based positional binds and 0-based column reads.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql, const std::filesystem::path& file) : db_(db), file_(file) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
  Stmt& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& bind(int i, const char* v) { return bind(i, std::string(v)); }
  template <class T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : check(sqlite3_bind_null(stmt_, i));
  }

  // True when a row is ready; false when done.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("step");
  }
  // Steps to the end, then resets so the statement can be bound and run again.
  void run() {
    while (step()) {
    }
    sqlite3_reset(stmt_);
  }

  int64_t i64(int c) const { return sqlite3_column_int64(stmt_, c); }
  double real(int c) const { return sqlite3_column_double(stmt_, c); }
  bool is_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::string text(int c) const {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, c))) : std::string();
  }

 private:
  Stmt& check(int rc) {
    if (rc != SQLITE_OK) fail("bind");
    return *this;
  }
  [[noreturn]] void fail(const char* what) const {
    throw Error(fmt::format("database {}: {} failed: {}", file_.string(), what, sqlite3_errmsg(db_)));
  }

  sqlite3* db_;
  const std::filesystem::path& file_;
  sqlite3_stmt* stmt_ = nullptr;
};

nlohmann::json parse_json_column(const std::string& text, const std::filesystem::path& file) {
  try {
    return text.empty() ? nlohmann::json() : nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("database {}: a stored JSON value is corrupt: {}", file.string(), e.what()));
  }
}

}  // namespace

std::string utc_now_iso8601() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Store::Store(const std::filesystem::path& file) : path_(file) {
  if (file.has_parent_path() && !std::filesystem::is_directory(file.parent_path()))
    throw InputError(fmt::format("database {}: its directory does not exist", file.string()));
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(fmt::format("database {}: cannot be opened: {}", file.string(), msg));
  }
  // Another process (a resumed run, a report) may hold the write lock briefly; wait for it.
  sqlite3_busy_timeout(db_, 30000);
  try {
    exec("PRAGMA journal_mode = WAL");
    // NORMAL in WAL mode: a commit is in the OS's hands before it returns, so a killed process
    // (kill -9) never loses a committed sample; only a power cut can drop the last few commits,
    // which a resume regenerates. FULL would add an fsync per sample for no gain against crashes.
    exec("PRAGMA synchronous = NORMAL");
    exec("PRAGMA foreign_keys = ON");
    migrate();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Store::~Store() { sqlite3_close(db_); }

void Store::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw Error(fmt::format("database {}: {}", path_.string(), msg));
  }
}

void Store::begin() { exec("BEGIN IMMEDIATE"); }
void Store::commit() { exec("COMMIT"); }
void Store::rollback() { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

int Store::schema_version() const {
  Stmt s(db_, "SELECT version FROM schema_version", path_);
  return s.step() ? static_cast<int>(s.i64(0)) : 0;
}

void Store::migrate() {
  transaction([&] { exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"); });
  for (;;) {
    bool done = false;
    transaction([&] {
      // Read inside the write transaction so two processes opening a fresh file don't both migrate.
      int version = schema_version();
      if (version > kSchemaVersion)
        throw Error(fmt::format("database {}: schema version {} is newer than this yardstick's ({}); "
                                "use a newer yardstick",
                                path_.string(), version, kSchemaVersion));
      if (version == kSchemaVersion) {
        done = true;
        return;
      }
      exec(kMigrations[version]);
      exec("DELETE FROM schema_version");
      Stmt(db_, "INSERT INTO schema_version (version) VALUES (?)", path_).bind(1, version + 1).run();
    });
    if (done) return;
  }
}

// ------------------------------------------------------------------ file digest cache

std::optional<std::string> Store::cached_digest(const std::string& path, int64_t size, int64_t mtime_ns) {
  Stmt s(db_, "SELECT sha256 FROM file_digests WHERE path = ? AND size = ? AND mtime_ns = ?", path_);
  s.bind(1, path).bind(2, size).bind(3, mtime_ns);
  if (s.step()) return s.text(0);
  return std::nullopt;
}

void Store::put_cached_digest(const std::string& path, int64_t size, int64_t mtime_ns, const std::string& sha256) {
  Stmt s(db_,
         "INSERT INTO file_digests (path, size, mtime_ns, sha256, computed_at) VALUES (?, ?, ?, ?, ?) "
         "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
         "sha256 = excluded.sha256, computed_at = excluded.computed_at",
         path_);
  s.bind(1, path).bind(2, size).bind(3, mtime_ns).bind(4, sha256).bind(5, utc_now_iso8601()).run();
}

// ------------------------------------------------------------------ models

int64_t Store::upsert_model(const ModelRecord& m) {
  int64_t id = 0;
  transaction([&] {
    Stmt find(db_, "SELECT id FROM models WHERE path = ? AND weights_digest = ? AND tokenizer_digest = ?", path_);
    find.bind(1, m.path).bind(2, m.weights_digest).bind(3, m.tokenizer_digest);
    if (find.step()) {
      id = find.i64(0);
      return;
    }
    Stmt ins(db_,
             "INSERT INTO models (name, path, weights_digest, tokenizer_digest, config_json) "
             "VALUES (?, ?, ?, ?, ?)",
             path_);
    ins.bind(1, m.name).bind(2, m.path).bind(3, m.weights_digest).bind(4, m.tokenizer_digest).bind(5, m.config.dump());
    ins.run();
    id = sqlite3_last_insert_rowid(db_);
  });
  return id;
}

std::optional<ModelRecord> Store::model(int64_t id) {
  Stmt s(db_, "SELECT id, name, path, weights_digest, tokenizer_digest, config_json FROM models WHERE id = ?", path_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return ModelRecord{s.i64(0), s.text(1), s.text(2), s.text(3), s.text(4), parse_json_column(s.text(5), path_)};
}

// ------------------------------------------------------------------ runs

namespace {
constexpr const char* kRunColumns =
    "id, name, model_id, tasks, config_json, config_digest, engine_build, seed, doc_limit, status, "
    "started_at, finished_at";

RunRecord read_run(const Stmt& s, const std::filesystem::path& file) {
  RunRecord r;
  r.id = s.i64(0);
  r.name = s.text(1);
  r.model_id = s.i64(2);
  r.tasks = s.text(3);
  r.config = parse_json_column(s.text(4), file);
  r.config_digest = s.text(5);
  r.engine_build = s.text(6);
  r.seed = static_cast<uint64_t>(s.i64(7));
  if (!s.is_null(8)) r.limit = s.i64(8);
  r.status = s.text(9);
  r.started_at = s.text(10);
  r.finished_at = s.text(11);
  return r;
}
}  // namespace

std::optional<RunRecord> Store::find_run(const std::string& name) {
  Stmt s(db_, fmt::format("SELECT {} FROM runs WHERE name = ?", kRunColumns).c_str(), path_);
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return read_run(s, path_);
}

std::optional<RunRecord> Store::latest_run() {
  Stmt s(db_, fmt::format("SELECT {} FROM runs ORDER BY started_at DESC, id DESC LIMIT 1", kRunColumns).c_str(), path_);
  if (!s.step()) return std::nullopt;
  return read_run(s, path_);
}

std::vector<RunRecord> Store::runs() {
  Stmt s(db_, fmt::format("SELECT {} FROM runs ORDER BY id", kRunColumns).c_str(), path_);
  std::vector<RunRecord> out;
  while (s.step()) out.push_back(read_run(s, path_));
  return out;
}

int64_t Store::create_run(const RunRecord& r) {
  int64_t id = 0;
  transaction([&] {
    Stmt find(db_, "SELECT 1 FROM runs WHERE name = ?", path_);
    find.bind(1, r.name);
    if (find.step())
      throw InputError(fmt::format("database {}: a run named \"{}\" already exists", path_.string(), r.name));
    Stmt ins(db_,
             "INSERT INTO runs (name, model_id, tasks, config_json, config_digest, engine_build, seed, "
             "doc_limit, status, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             path_);
    ins.bind(1, r.name).bind(2, r.model_id).bind(3, r.tasks).bind(4, r.config.dump()).bind(5, r.config_digest);
    ins.bind(6, r.engine_build).bind(7, static_cast<int64_t>(r.seed)).bind(8, r.limit);
    ins.bind(9, r.status.empty() ? std::string("running") : r.status);
    ins.bind(10, r.started_at.empty() ? utc_now_iso8601() : r.started_at);
    ins.run();
    id = sqlite3_last_insert_rowid(db_);
  });
  return id;
}

void Store::set_run_status(int64_t run_id, const std::string& status) {
  Stmt s(db_,
         "UPDATE runs SET status = ?, finished_at = CASE WHEN ? = 'finished' THEN ? ELSE NULL END WHERE id = ?",
         path_);
  s.bind(1, status).bind(2, status).bind(3, utc_now_iso8601()).bind(4, run_id).run();
}

void Store::set_run_limit(int64_t run_id, std::optional<int64_t> limit) {
  Stmt(db_, "UPDATE runs SET doc_limit = ? WHERE id = ?", path_).bind(1, limit).bind(2, run_id).run();
}

// ------------------------------------------------------------------ samples and verdicts

std::set<SampleKey> Store::sample_keys(int64_t run_id) {
  Stmt s(db_, "SELECT task, doc_id, sample_idx FROM samples WHERE run_id = ?", path_);
  s.bind(1, run_id);
  std::set<SampleKey> out;
  while (s.step()) out.emplace(s.text(0), s.text(1), static_cast<int>(s.i64(2)));
  return out;
}

namespace {
void insert_verdicts(sqlite3* db, const std::filesystem::path& file, int64_t sample_id,
                     const std::vector<Verdict>& verdicts) {
  Stmt ins(db,
           "INSERT INTO verdicts (sample_id, scorer, rank, correct, extracted, status, detail_json) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)",
           file);
  for (size_t rank = 0; rank < verdicts.size(); ++rank) {
    const Verdict& v = verdicts[rank];
    ins.bind(1, sample_id).bind(2, v.scorer).bind(3, static_cast<int64_t>(rank)).bind(4, v.correct ? 1 : 0);
    ins.bind(5, v.extracted).bind(6, v.status).bind(7, v.detail.is_null() ? std::string("{}") : v.detail.dump());
    ins.run();
  }
}
}  // namespace

bool Store::insert_sample_in_transaction(const SampleRecord& s, const std::vector<Verdict>& verdicts) {
  Stmt ins(db_,
           "INSERT INTO samples (run_id, task, doc_id, sample_idx, prompt_digest, prompt, output, gold, "
           "prompt_tokens, output_tokens, finish_reason, error, latency_s, created_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT (run_id, task, doc_id, sample_idx) DO NOTHING",
           path_);
  ins.bind(1, s.run_id).bind(2, s.task).bind(3, s.doc_id).bind(4, s.sample_idx);
  ins.bind(5, s.prompt_digest.empty() ? sha256_hex(s.prompt) : s.prompt_digest).bind(6, s.prompt);
  ins.bind(7, s.output).bind(8, s.gold).bind(9, s.prompt_tokens).bind(10, s.output_tokens);
  ins.bind(11, s.finish_reason).bind(12, s.error).bind(13, s.latency_s).bind(14, utc_now_iso8601());
  ins.run();
  if (sqlite3_changes(db_) == 0) return false;
  insert_verdicts(db_, path_, sqlite3_last_insert_rowid(db_), verdicts);
  return true;
}

bool Store::insert_sample(const SampleRecord& s, const std::vector<Verdict>& verdicts) {
  bool inserted = false;
  transaction([&] { inserted = insert_sample_in_transaction(s, verdicts); });
  return inserted;
}

int64_t Store::insert_samples(const std::vector<std::pair<SampleRecord, std::vector<Verdict>>>& batch) {
  int64_t inserted = 0;
  if (batch.empty()) return 0;
  transaction([&] {
    for (const auto& [s, verdicts] : batch) inserted += insert_sample_in_transaction(s, verdicts) ? 1 : 0;
  });
  return inserted;
}

std::vector<SampleRecord> Store::samples(int64_t run_id) {
  Stmt q(db_,
         "SELECT id, run_id, task, doc_id, sample_idx, prompt, prompt_digest, output, gold, prompt_tokens, "
         "output_tokens, finish_reason, error, latency_s FROM samples WHERE run_id = ? ORDER BY task, id",
         path_);
  q.bind(1, run_id);
  std::vector<SampleRecord> out;
  while (q.step()) {
    SampleRecord s;
    s.id = q.i64(0);
    s.run_id = q.i64(1);
    s.task = q.text(2);
    s.doc_id = q.text(3);
    s.sample_idx = static_cast<int>(q.i64(4));
    s.prompt = q.text(5);
    s.prompt_digest = q.text(6);
    s.output = q.text(7);
    s.gold = q.text(8);
    s.prompt_tokens = q.i64(9);
    s.output_tokens = q.i64(10);
    s.finish_reason = q.text(11);
    s.error = q.text(12);
    s.latency_s = q.real(13);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Verdict> Store::verdicts(int64_t sample_id) {
  Stmt q(db_,
         "SELECT scorer, correct, extracted, status, detail_json FROM verdicts WHERE sample_id = ? "
         "ORDER BY rank",
         path_);
  q.bind(1, sample_id);
  std::vector<Verdict> out;
  while (q.step()) out.push_back({q.text(0), q.i64(1) != 0, q.text(2), q.text(3), parse_json_column(q.text(4), path_)});
  return out;
}

void Store::replace_verdicts(const std::vector<std::pair<int64_t, std::vector<Verdict>>>& by_sample) {
  transaction([&] {
    Stmt del(db_, "DELETE FROM verdicts WHERE sample_id = ?", path_);
    for (const auto& [sample_id, verdicts] : by_sample) {
      del.bind(1, sample_id).run();
      insert_verdicts(db_, path_, sample_id, verdicts);
    }
  });
}

std::vector<VerdictTally> Store::tally_verdicts(int64_t run_id) {
  Stmt q(db_,
         "SELECT s.task, v.scorer, MIN(v.rank), COUNT(*), SUM(v.correct) FROM verdicts v "
         "JOIN samples s ON s.id = v.sample_id WHERE s.run_id = ? GROUP BY s.task, v.scorer "
         "ORDER BY s.task, MIN(v.rank), v.scorer",
         path_);
  q.bind(1, run_id);
  std::vector<VerdictTally> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), static_cast<int>(q.i64(2)), q.i64(3), q.i64(4)});
  return out;
}

std::map<std::string, std::set<int>> Store::verdict_scorer_versions(int64_t run_id) {
  Stmt q(db_,
         "SELECT DISTINCT s.task, COALESCE(json_extract(v.detail_json, '$.scorer_version'), 1) FROM verdicts v "
         "JOIN samples s ON s.id = v.sample_id WHERE s.run_id = ?",
         path_);
  q.bind(1, run_id);
  std::map<std::string, std::set<int>> out;
  while (q.step()) out[q.text(0)].insert(static_cast<int>(q.i64(1)));
  return out;
}

// ------------------------------------------------------------------ metrics

void Store::replace_metrics(int64_t run_id, const std::vector<MetricRecord>& metrics) {
  transaction([&] {
    Stmt(db_, "DELETE FROM metrics WHERE run_id = ?", path_).bind(1, run_id).run();
    Stmt ins(db_,
             "INSERT INTO metrics (run_id, task, scorer, metric, rank, value, stderr, ci_low, ci_high, n, "
             "computed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             path_);
    std::string now = utc_now_iso8601();
    for (const auto& m : metrics) {
      ins.bind(1, run_id).bind(2, m.task).bind(3, m.scorer).bind(4, m.metric).bind(5, m.rank);
      ins.bind(6, m.value).bind(7, m.stderr_).bind(8, m.ci_low).bind(9, m.ci_high).bind(10, m.n).bind(11, now);
      ins.run();
    }
  });
}

std::vector<MetricRecord> Store::metrics(int64_t run_id) {
  Stmt q(db_,
         "SELECT task, scorer, metric, rank, value, stderr, ci_low, ci_high, n FROM metrics WHERE run_id = ? "
         "ORDER BY task, rank, scorer, metric",
         path_);
  q.bind(1, run_id);
  std::vector<MetricRecord> out;
  while (q.step())
    out.push_back({q.text(0), q.text(1), q.text(2), static_cast<int>(q.i64(3)), q.real(4), q.real(5), q.real(6),
                   q.real(7), q.i64(8)});
  return out;
}

// ------------------------------------------------------------------ published

void Store::put_published(const std::vector<PublishedRecord>& records) {
  transaction([&] {
    Stmt ins(db_,
             "INSERT OR REPLACE INTO published (model, benchmark, source, value, metric, percent, shots, "
             "source_detail, confirmed_primary, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
             path_);
    for (const auto& p : records) {
      ins.bind(1, p.model).bind(2, p.benchmark).bind(3, p.source).bind(4, p.value).bind(5, p.metric);
      ins.bind(6, p.percent ? 1 : 0).bind(7, p.shots).bind(8, p.source_detail);
      ins.bind(9, p.confirmed_primary ? 1 : 0).bind(10, p.note);
      ins.run();
    }
  });
}

std::vector<PublishedRecord> Store::published(const std::string& benchmark) {
  Stmt q(db_,
         "SELECT model, benchmark, value, metric, percent, shots, source, source_detail, confirmed_primary, "
         "note FROM published WHERE benchmark = ? ORDER BY model, source",
         path_);
  q.bind(1, benchmark);
  std::vector<PublishedRecord> out;
  while (q.step()) {
    PublishedRecord p;
    p.model = q.text(0);
    p.benchmark = q.text(1);
    p.value = q.real(2);
    p.metric = q.text(3);
    p.percent = q.i64(4) != 0;
    if (!q.is_null(5)) p.shots = static_cast<int>(q.i64(5));
    p.source = q.text(6);
    p.source_detail = q.text(7);
    p.confirmed_primary = q.i64(8) != 0;
    p.note = q.text(9);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace yardstick
