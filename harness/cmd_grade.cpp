// yardstick grade --task NAME [--input FILE] [--data-dir DIR]
// JSON lines {"doc_id": ..., "prediction": s, "gold"?: s} -> {"doc_id": ..., "correct": b,
// "extracted": s, "status": s, "verdicts": [...]} on stdout, in input order (DESIGN.md). The
// top-level fields are the primary verdict's (GSM8K: strict-match); "verdicts" holds every
// scorer's. With "gold" the line is graded against it and doc_id is only echoed; without, the
// gold is the dataset record's with that doc_id (GSM8K: the 0-based line of gsm8k/test.jsonl,
// given as a number or a string), read through the manifest's sha256 check. Every line is
// checked before any is graded, so a malformed one stops the command with its line number and
// no output.
#include <future>
#include <map>
#include <memory>
#include <string>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "datasets/data_dir.h"
#include "engine/error.h"
#include "harness/commands.h"
#include "harness/jsonl_tool.h"
#include "harness/run.h"
#include "scorers/code_exec.h"
#include "scorers/registry.h"
#include "tasks/task_data.h"
#include "tasks/task_spec.h"

namespace yardstick::cli {

namespace {

struct GradeOptions {
  std::string task;
  std::string input;      // empty or "-": stdin
  std::string data_dir;   // empty: resolve_data_dir()'s default
  bool allow_unsandboxed = false;   // code tasks: run without namespaces where they can't be set up
};

// A doc id as the dataset spells it: ids given as JSON numbers (line indexes) become strings.
std::string doc_id_key(const LineReader& line, const nlohmann::json& id) {
  if (id.is_string()) return id.get<std::string>();
  if (id.is_number_integer()) return id.dump();
  line.fail("\"doc_id\" must be a string or an integer");
}

// The gold as a string; a number is accepted for answers that are plain numbers.
std::string gold_text(const LineReader& line, const nlohmann::json& gold) {
  if (gold.is_string()) return gold.get<std::string>();
  if (gold.is_number()) return gold.dump();
  line.fail("\"gold\" must be a string or a number");
}

// doc_id -> gold of the task's dataset, loaded on first use: a file of lines that all carry
// their gold never touches the data directory.
class DatasetGolds {
 public:
  DatasetGolds(const TaskSpec& spec, const std::string& data_dir) : spec_(spec), data_dir_(data_dir) {}

  const std::string* find(const std::string& doc_id) {
    if (!golds_) {
      golds_.emplace();
      auto dir = resolve_data_dir(data_dir_.empty() ? std::nullopt : std::optional<std::filesystem::path>(data_dir_));
      for (auto& doc : load_task_data(spec_, dir).docs) (*golds_)[doc.doc_id] = std::move(doc.gold);
    }
    auto it = golds_->find(doc_id);
    return it == golds_->end() ? nullptr : &it->second;
  }
  size_t size() const { return golds_ ? golds_->size() : 0; }

 private:
  const TaskSpec& spec_;
  std::string data_dir_;
  std::optional<std::map<std::string, std::string>> golds_;
};

void run_grade(const GradeOptions& opts) {
  const TaskSpec spec = find_task_spec(opts.task, default_tasks_dir());
  if (!has_grader(spec.scorer))
    throw InputError(fmt::format("task {}: no grader for scorer family \"{}\"", spec.name, spec.scorer));
  auto lines = read_input_lines(opts.input, {"doc_id", "prediction", "gold"});

  struct Item {
    const InputLine* line;
    std::string prediction;
    std::string gold;
  };
  std::vector<Item> items;
  DatasetGolds golds(spec, opts.data_dir);
  for (const auto& line : lines) {
    LineReader reader(line);
    Item item{&line, reader.string("prediction"), ""};
    if (reader.has("gold")) {
      item.gold = gold_text(reader, line.value.at("gold"));
    } else if (reader.has("doc_id")) {
      auto key = doc_id_key(reader, line.value.at("doc_id"));
      const std::string* gold = golds.find(key);
      if (!gold)
        reader.fail(fmt::format("doc_id {} is not in task {}'s dataset {} ({} docs)", key, spec.name,
                                spec.dataset.file, golds.size()));
      item.gold = *gold;
    } else {
      reader.fail("needs \"gold\", or a \"doc_id\" of the task's dataset");
    }
    items.push_back(std::move(item));
  }

  if (opts.allow_unsandboxed) {
    PythonExecutorOptions code;
    code.allow_unsandboxed = true;
    configure_shared_python_executor(code);
  }
  // All submitted before any is written: code tasks run their programs in parallel.
  std::vector<PendingVerdicts> grading;
  grading.reserve(items.size());
  for (const auto& item : items) grading.push_back(grade_async(spec.scorer, item.prediction, item.gold));
  OrderedWriter writer(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    auto verdicts = grading[i].get();
    nlohmann::ordered_json out;
    if (auto id = items[i].line->value.find("doc_id"); id != items[i].line->value.end()) out["doc_id"] = *id;
    out["correct"] = verdicts.front().correct;
    out["extracted"] = verdicts.front().extracted;
    out["status"] = verdicts.front().status;
    out["verdicts"] = nlohmann::ordered_json::array();
    for (const auto& v : verdicts) out["verdicts"].push_back(nlohmann::ordered_json(to_json(v)));
    writer.put(i, out);
  }
}

}  // namespace

void register_grade(CLI::App& app) {
  auto opts = std::make_shared<GradeOptions>();
  auto* cmd = app.add_subcommand("grade", "Grade predictions (JSON lines) with a task's scorers");
  cmd->add_option("--task", opts->task, "task name (configs/tasks/<name>.json) or a task .json file")->required();
  cmd->add_option("--input", opts->input, "JSONL input file (default: stdin)");
  cmd->add_option("--data-dir", opts->data_dir,
                  "benchmark data directory for golds looked up by doc_id (default: $YARDSTICK_DATA, "
                  "else ../shared/datasets beside the checkout)");
  cmd->add_flag("--allow-unsandboxed", opts->allow_unsandboxed,
                "Code tasks: where Linux namespaces can't be set up, run the code without them instead of "
                "refusing; UNSAFE for untrusted code (docs/sandbox.md)");
  cmd->callback([opts] { run_grade(*opts); });
}

}  // namespace yardstick::cli
