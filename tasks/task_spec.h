// A benchmark task as data (configs/tasks/<name>.json): which dataset file and split, how a doc
// id is formed, where the few-shot exemplars come from, the prompt templates for base and chat
// models, generation limits and stop strings, the scorer family, and a version that changes
// whenever a prompt or a grade would. Loading validates everything and names the file and the
// field on any problem.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace yardstick {

// How a prompt is built: plain few-shot text (base models) or through the chat template.
enum class PromptStyle { Base, Chat };
const char* prompt_style_name(PromptStyle s);   // "base" | "chat"
PromptStyle parse_prompt_style(const std::string& name);   // throws InputError

struct DatasetSpec {
  std::string file;     // relative to the data directory, e.g. "gsm8k/test.jsonl"
  std::string split;    // informational ("test")
  std::string doc_id;   // rule: "line_index" (0-based line of the file) or "field:<name>"
  std::map<std::string, std::string> fields;   // template field -> record key
  // Optional, for datasets read by the generic record adapter (tasks/records.h): templates over
  // the fields above for what the scorer grades against ("{solution}") and what the built-in gold
  // model answers ("所以答案是：{answer}。"; empty: the gold itself), and the fields whose values
  // break the accuracy down ("level", "subject").
  std::string gold;
  std::string reference;
  std::vector<std::string> groups;
};

struct FewshotSpec {
  std::string file;       // relative to the data directory; empty: no exemplars (or inline ones)
  std::string samples;    // JSON pointer to the array of exemplars inside the file
  std::map<std::string, std::string> fields;   // template field -> exemplar key
  // Exemplars written in the task spec itself ("inline"), for benchmarks whose data directory
  // has none (CMath); an alternative to `file`.
  std::vector<nlohmann::json> inline_samples;
};

struct StyleSpec {
  int shots = 0;                      // default number of exemplars
  std::string shot_template;          // base: one exemplar, question and worked answer
  std::string shot_separator;         // base: between exemplars and before the query
  std::string query_template;         // base: the test question; chat: the user message
  std::string shot_answer_template;   // chat: the assistant turn of an exemplar
  int max_new_tokens = 256;
  std::vector<std::string> stop;
};

struct SamplingSpec {
  double temperature = 0.0;   // 0: greedy
  double top_p = 1.0;
  int top_k = 0;
};

struct TaskSpec {
  std::string name;
  int version = 0;
  std::string description;
  std::string output_type;   // "generate_until" (the only kind run so far)
  std::string scorer;        // scorer family passed to scorers::grade
  DatasetSpec dataset;
  FewshotSpec fewshot;
  StyleSpec base;
  StyleSpec chat;
  SamplingSpec sampling;
  int samples_per_doc = 1;

  const StyleSpec& style(PromptStyle s) const { return s == PromptStyle::Chat ? chat : base; }
};

// Parses and validates a task JSON; `source` names it in errors. Throws InputError.
TaskSpec parse_task_spec(const nlohmann::json& j, const std::string& source);
// Reads a task file. Throws InputError naming the file.
TaskSpec load_task_spec(const std::filesystem::path& file);
// `name_or_path`: a task name looked up as <tasks_dir>/<name>.json, or a path to a .json file.
TaskSpec find_task_spec(const std::string& name_or_path, const std::filesystem::path& tasks_dir);

// The spec as JSON, every default filled in: what the run record stores.
nlohmann::json task_spec_to_json(const TaskSpec& spec);

}  // namespace yardstick
