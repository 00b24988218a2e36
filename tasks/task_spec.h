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
  // A benchmark-specific reader (tasks/exam_csv.h, tasks/clue.h) for data that is not one JSON line
  // per doc: "ceval", "cmmlu", "chid", "c3", "ccpm", "cluewsc". `file` is then its folder or file.
  std::string adapter;
};

struct FewshotSpec {
  std::string file;       // relative to the data directory; empty: no exemplars (or inline ones)
  std::string samples;    // JSON pointer to the array of exemplars inside the file
  std::map<std::string, std::string> fields;   // template field -> exemplar key
  // Exemplars written in the task spec itself ("inline"), for benchmarks whose data directory
  // has none (CMath); an alternative to `file`.
  std::vector<nlohmann::json> inline_samples;
  // Exemplars the dataset adapter takes from another split of the same data ("dev": C-Eval's and
  // CMMLU's per-subject dev questions; "train"); an alternative to `file` and `inline`.
  std::string split;
};

struct StyleSpec {
  int shots = 0;                      // default number of exemplars
  std::string prefix_template;        // text over the doc's fields before everything (C-Eval's header)
  std::string shot_template;          // base: one exemplar, question and worked answer
  std::string shot_separator;         // base: between exemplars and before the query
  std::string query_template;         // base: the test question; chat: the user message
  std::string shot_answer_template;   // chat: the assistant turn of an exemplar
  int max_new_tokens = 256;
  std::vector<std::string> stop;
};

// How a multiple-choice task picks its answer from the log-likelihoods of the choices, each a
// continuation of the same prompt (PROTOCOL.md: "the option with the lowest perplexity").
struct ChoiceSpec {
  // "length": the highest mean log-probability per token (lowest perplexity); "sum": the highest
  // total; "unconditional": the highest total minus the choice's log-likelihood after
  // `unconditional_context` alone (Brown et al. 2020, for ARC and OpenBookQA).
  std::string normalization = "length";
  std::string unconditional_context;
};

inline constexpr const char* kGenerateUntil = "generate_until";
inline constexpr const char* kMultipleChoice = "multiple_choice";

struct SamplingSpec {
  double temperature = 0.0;   // 0: greedy
  double top_p = 1.0;
  int top_k = 0;
};

struct TaskSpec {
  std::string name;
  int version = 0;
  std::string description;
  std::string output_type;   // kGenerateUntil, or kMultipleChoice (docs carry choices, scored by loglikelihood)
  std::string scorer;        // scorer family passed to scorers::grade
  DatasetSpec dataset;
  FewshotSpec fewshot;
  StyleSpec base;
  StyleSpec chat;
  SamplingSpec sampling;
  ChoiceSpec choice;         // multiple_choice tasks only
  int samples_per_doc = 1;

  bool multiple_choice() const { return output_type == kMultipleChoice; }

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
