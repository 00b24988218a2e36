#include "tasks/task_spec.h"

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "engine/error.h"
#include "tasks/prompt.h"

namespace yardstick {

namespace {

using nlohmann::json;

// Reads one task file's fields with errors that say which file and which field is wrong.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw InputError(fmt::format("task spec {}: {}: {}", source_, where, what));
  }

  // Rejects keys outside `allowed`, so a misspelt field is an error rather than a silent default.
  void only_keys(const json& obj, const std::string& where, const std::set<std::string>& allowed) const {
    if (!obj.is_object()) fail(where, "expected a JSON object");
    for (const auto& [key, value] : obj.items())
      if (!allowed.count(key)) fail(where, fmt::format("unknown field \"{}\"", key));
  }

  const json& member(const json& obj, const std::string& where, const char* key) const {
    auto it = obj.find(key);
    if (it == obj.end()) fail(where, fmt::format("missing field \"{}\"", key));
    return *it;
  }

  std::string str(const json& obj, const std::string& where, const char* key) const {
    const json& v = member(obj, where, key);
    if (!v.is_string()) fail(where + "." + key, "expected a string");
    return v.get<std::string>();
  }
  std::string str_or(const json& obj, const std::string& where, const char* key,
                     std::string fallback) const {
    return obj.contains(key) ? str(obj, where, key) : fallback;
  }

  int integer(const json& obj, const std::string& where, const char* key, int lo, int hi) const {
    const json& v = member(obj, where, key);
    if (!v.is_number_integer()) fail(where + "." + key, "expected an integer");
    int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) fail(where + "." + key, fmt::format("{} is outside [{}, {}]", x, lo, hi));
    return static_cast<int>(x);
  }
  int integer_or(const json& obj, const std::string& where, const char* key, int lo, int hi,
                 int fallback) const {
    return obj.contains(key) ? integer(obj, where, key, lo, hi) : fallback;
  }

  double number_or(const json& obj, const std::string& where, const char* key, double lo,
                   double hi, double fallback) const {
    if (!obj.contains(key)) return fallback;
    const json& v = obj.at(key);
    if (!v.is_number()) fail(where + "." + key, "expected a number");
    double x = v.get<double>();
    if (!(x >= lo && x <= hi)) fail(where + "." + key, fmt::format("{} is outside [{}, {}]", x, lo, hi));
    return x;
  }

  std::vector<std::string> strings(const json& obj, const std::string& where, const char* key) const {
    const json& v = member(obj, where, key);
    if (!v.is_array()) fail(where + "." + key, "expected an array of strings");
    std::vector<std::string> out;
    for (const auto& s : v) {
      if (!s.is_string() || s.get<std::string>().empty())
        fail(where + "." + key, "expected an array of non-empty strings");
      out.push_back(s.get<std::string>());
    }
    return out;
  }

  std::map<std::string, std::string> string_map(const json& obj, const std::string& where,
                                                const char* key) const {
    const json& v = member(obj, where, key);
    if (!v.is_object() || v.empty()) fail(where + "." + key, "expected a non-empty object of strings");
    std::map<std::string, std::string> out;
    for (const auto& [k, s] : v.items()) {
      if (!s.is_string()) fail(where + "." + key + "." + k, "expected a string");
      out[k] = s.get<std::string>();
    }
    return out;
  }

  // Every {field} a template uses must be one the task provides.
  void check_template(const std::string& tmpl, const std::string& where,
                      const std::map<std::string, std::string>& fields) const {
    std::vector<std::string> used;
    try {
      used = template_fields(tmpl);
    } catch (const InputError& e) {
      fail(where, e.what());
    }
    for (const auto& f : used)
      if (!fields.count(f))
        fail(where, fmt::format("template uses {{{}}}, which is not one of the task's fields", f));
  }

 private:
  std::string source_;
};

StyleSpec parse_style(const Reader& r, const json& j, const std::string& where, PromptStyle style,
                      const TaskSpec& spec) {
  r.only_keys(j, where, {"shots", "prefix_template", "shot_template", "shot_separator", "query_template",
                         "shot_answer_template", "max_new_tokens", "stop"});
  StyleSpec s;
  s.shots = r.integer(j, where, "shots", 0, 64);
  s.query_template = r.str(j, where, "query_template");
  if (spec.multiple_choice()) {   // nothing is generated: limits and stops are optional
    s.max_new_tokens = r.integer_or(j, where, "max_new_tokens", 1, 1 << 20, 1);
    s.stop = j.contains("stop") ? r.strings(j, where, "stop") : std::vector<std::string>{};
  } else {
    s.max_new_tokens = r.integer(j, where, "max_new_tokens", 1, 1 << 20);
    s.stop = r.strings(j, where, "stop");
  }
  s.prefix_template = r.str_or(j, where, "prefix_template", "");
  r.check_template(s.prefix_template, where + ".prefix_template", spec.dataset.fields);
  r.check_template(s.query_template, where + ".query_template", spec.dataset.fields);
  if (style == PromptStyle::Base) {
    // A task without exemplars (shots 0 and no fewshot source) needs no shot layout.
    const bool needs_shots = s.shots > 0 || j.contains("shot_template") || spec.fewshot.fields.size() > 0;
    s.shot_template = needs_shots ? r.str(j, where, "shot_template") : "";
    s.shot_separator = needs_shots ? r.str(j, where, "shot_separator") : "";
    r.check_template(s.shot_template, where + ".shot_template", spec.fewshot.fields);
    if (j.contains("shot_answer_template")) r.fail(where, "shot_answer_template is for chat styles");
  } else {
    s.shot_answer_template = r.str_or(j, where, "shot_answer_template", "");
    r.check_template(s.shot_answer_template, where + ".shot_answer_template", spec.fewshot.fields);
    // A chat exemplar's user turn reuses the query template with the exemplar's fields.
    if (s.shots > 0) r.check_template(s.query_template, where + ".query_template", spec.fewshot.fields);
    if (j.contains("shot_template") || j.contains("shot_separator"))
      r.fail(where, "shot_template/shot_separator are for the base style; chat exemplars are turns");
  }
  if (s.shots > 0 && spec.fewshot.file.empty() && spec.fewshot.inline_samples.empty() && spec.fewshot.split.empty())
    r.fail(where + ".shots", "exemplars are asked for but the task has no \"fewshot\" source");
  return s;
}

}  // namespace

const char* prompt_style_name(PromptStyle s) { return s == PromptStyle::Chat ? "chat" : "base"; }

PromptStyle parse_prompt_style(const std::string& name) {
  if (name == "base") return PromptStyle::Base;
  if (name == "chat") return PromptStyle::Chat;
  throw InputError(fmt::format("unknown prompt style \"{}\" (expected base or chat)", name));
}

TaskSpec parse_task_spec(const json& j, const std::string& source) {
  Reader r(source);
  r.only_keys(j, "top level", {"name", "version", "description", "output_type", "scorer", "dataset",
                               "fewshot", "styles", "sampling", "multiple_choice", "samples_per_doc", "notes"});
  TaskSpec spec;
  spec.name = r.str(j, "top level", "name");
  spec.version = r.integer(j, "top level", "version", 1, 1 << 30);
  spec.description = r.str_or(j, "top level", "description", "");
  spec.output_type = r.str(j, "top level", "output_type");
  if (spec.output_type != kGenerateUntil && spec.output_type != kMultipleChoice)
    r.fail("output_type", fmt::format("\"{}\" is not supported (output types: {}, {})", spec.output_type,
                                      kGenerateUntil, kMultipleChoice));
  if (j.contains("multiple_choice")) {
    if (!spec.multiple_choice()) r.fail("multiple_choice", "only for output_type multiple_choice");
    const json& mc = j.at("multiple_choice");
    r.only_keys(mc, "multiple_choice", {"normalization", "unconditional_context"});
    spec.choice.normalization = r.str_or(mc, "multiple_choice", "normalization", "length");
    if (spec.choice.normalization != "length" && spec.choice.normalization != "sum" &&
        spec.choice.normalization != "unconditional")
      r.fail("multiple_choice.normalization",
             fmt::format("\"{}\" is not one of length, sum, unconditional", spec.choice.normalization));
    spec.choice.unconditional_context = r.str_or(mc, "multiple_choice", "unconditional_context", "");
    if (spec.choice.normalization == "unconditional" && spec.choice.unconditional_context.empty())
      r.fail("multiple_choice.unconditional_context", "unconditional normalization needs a context such as \"Answer:\"");
  }
  spec.scorer = r.str(j, "top level", "scorer");

  const json& ds = r.member(j, "top level", "dataset");
  r.only_keys(ds, "dataset", {"file", "split", "doc_id", "fields", "gold", "reference", "groups", "adapter"});
  spec.dataset.file = r.str(ds, "dataset", "file");
  spec.dataset.split = r.str(ds, "dataset", "split");
  spec.dataset.doc_id = r.str(ds, "dataset", "doc_id");
  if (spec.dataset.doc_id != "line_index" && spec.dataset.doc_id.rfind("field:", 0) != 0)
    r.fail("dataset.doc_id", "expected \"line_index\" or \"field:<name>\"");
  spec.dataset.fields = r.string_map(ds, "dataset", "fields");
  spec.dataset.adapter = r.str_or(ds, "dataset", "adapter", "");
  spec.dataset.gold = r.str_or(ds, "dataset", "gold", "");
  spec.dataset.reference = r.str_or(ds, "dataset", "reference", "");
  r.check_template(spec.dataset.gold, "dataset.gold", spec.dataset.fields);
  r.check_template(spec.dataset.reference, "dataset.reference", spec.dataset.fields);
  if (!spec.dataset.reference.empty() && spec.dataset.gold.empty())
    r.fail("dataset.reference", "a reference template needs a gold template");
  if (ds.contains("groups")) {
    spec.dataset.groups = r.strings(ds, "dataset", "groups");
    for (const auto& g : spec.dataset.groups)
      if (!spec.dataset.fields.count(g))
        r.fail("dataset.groups", fmt::format("\"{}\" is not one of dataset.fields", g));
  }

  if (j.contains("fewshot")) {
    const json& fs = j.at("fewshot");
    r.only_keys(fs, "fewshot", {"file", "samples", "fields", "inline", "split"});
    spec.fewshot.fields = r.string_map(fs, "fewshot", "fields");
    if (fs.contains("split")) {
      if (fs.contains("file") || fs.contains("samples") || fs.contains("inline"))
        r.fail("fewshot", "give exemplars by split, inline, or by file and samples: only one");
      if (spec.dataset.adapter.empty()) r.fail("fewshot.split", "exemplars from a split need a dataset adapter");
      spec.fewshot.split = r.str(fs, "fewshot", "split");
    } else if (fs.contains("inline")) {
      if (fs.contains("file") || fs.contains("samples"))
        r.fail("fewshot", "give exemplars either inline or by file and samples, not both");
      const json& samples = fs.at("inline");
      if (!samples.is_array() || samples.empty()) r.fail("fewshot.inline", "expected a non-empty array of objects");
      for (size_t i = 0; i < samples.size(); ++i) {
        for (const auto& [field, key] : spec.fewshot.fields)
          if (!samples[i].is_object() || !samples[i].contains(key) || !samples[i].at(key).is_string())
            r.fail(fmt::format("fewshot.inline[{}]", i), fmt::format("no string \"{}\"", key));
        spec.fewshot.inline_samples.push_back(samples[i]);
      }
    } else {
      spec.fewshot.file = r.str(fs, "fewshot", "file");
      spec.fewshot.samples = r.str(fs, "fewshot", "samples");
      try {
        (void)json::json_pointer(spec.fewshot.samples);
      } catch (const json::exception&) {
        r.fail("fewshot.samples", fmt::format("\"{}\" is not a JSON pointer", spec.fewshot.samples));
      }
    }
  }

  const json& styles = r.member(j, "top level", "styles");
  r.only_keys(styles, "styles", {"base", "chat"});
  spec.base = parse_style(r, r.member(styles, "styles", "base"), "styles.base", PromptStyle::Base, spec);
  spec.chat = parse_style(r, r.member(styles, "styles", "chat"), "styles.chat", PromptStyle::Chat, spec);

  if (j.contains("sampling")) {
    const json& s = j.at("sampling");
    r.only_keys(s, "sampling", {"temperature", "top_p", "top_k"});
    spec.sampling.temperature = r.number_or(s, "sampling", "temperature", 0.0, 10.0, 0.0);
    spec.sampling.top_p = r.number_or(s, "sampling", "top_p", 0.0, 1.0, 1.0);
    spec.sampling.top_k = r.integer_or(s, "sampling", "top_k", 0, 1 << 20, 0);
  }
  spec.samples_per_doc = r.integer_or(j, "top level", "samples_per_doc", 1, 1 << 16, 1);
  return spec;
}

TaskSpec load_task_spec(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(fmt::format("task spec {}: cannot be opened", file.string()));
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw InputError(fmt::format("task spec {}: not valid JSON: {}", file.string(), e.what()));
  }
  return parse_task_spec(j, file.string());
}

TaskSpec find_task_spec(const std::string& name_or_path, const std::filesystem::path& tasks_dir) {
  std::filesystem::path p(name_or_path);
  if (p.extension() == ".json") return load_task_spec(p);
  auto file = tasks_dir / (name_or_path + ".json");
  if (!std::filesystem::exists(file)) {
    std::vector<std::string> known;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(tasks_dir, ec))
      if (e.path().extension() == ".json") known.push_back(e.path().stem().string());
    std::sort(known.begin(), known.end());
    throw InputError(fmt::format("unknown task \"{}\": no {} (known tasks: {})", name_or_path,
                                 file.string(), known.empty() ? "none" : fmt::to_string(fmt::join(known, ", "))));
  }
  TaskSpec spec = load_task_spec(file);
  if (spec.name != name_or_path)
    throw InputError(fmt::format("task spec {}: its name is \"{}\", not \"{}\"", file.string(), spec.name,
                                 name_or_path));
  return spec;
}

json task_spec_to_json(const TaskSpec& spec) {
  auto style = [](const StyleSpec& s) {
    json out{{"shots", s.shots},
             {"shot_template", s.shot_template},
             {"shot_separator", s.shot_separator},
             {"query_template", s.query_template},
             {"shot_answer_template", s.shot_answer_template},
             {"max_new_tokens", s.max_new_tokens},
             {"stop", s.stop}};
    if (!s.prefix_template.empty()) out["prefix_template"] = s.prefix_template;
    return out;
  };
  json dataset = {{"file", spec.dataset.file},
                  {"split", spec.dataset.split},
                  {"doc_id", spec.dataset.doc_id},
                  {"fields", spec.dataset.fields}};
  json fewshot = {{"file", spec.fewshot.file}, {"samples", spec.fewshot.samples}, {"fields", spec.fewshot.fields}};
  if (!spec.fewshot.inline_samples.empty()) fewshot["inline"] = spec.fewshot.inline_samples;
  if (!spec.fewshot.split.empty()) fewshot["split"] = spec.fewshot.split;
  if (!spec.dataset.adapter.empty()) dataset["adapter"] = spec.dataset.adapter;
  // Only when set, so the identity of runs made before these keys existed does not change.
  if (!spec.dataset.gold.empty()) dataset["gold"] = spec.dataset.gold;
  if (!spec.dataset.reference.empty()) dataset["reference"] = spec.dataset.reference;
  if (!spec.dataset.groups.empty()) dataset["groups"] = spec.dataset.groups;
  json out{{"name", spec.name},
           {"version", spec.version},
           {"output_type", spec.output_type},
           {"scorer", spec.scorer},
           {"dataset", dataset},
           {"fewshot", fewshot},
           {"styles", {{"base", style(spec.base)}, {"chat", style(spec.chat)}}},
           {"sampling",
            {{"temperature", spec.sampling.temperature},
             {"top_p", spec.sampling.top_p},
             {"top_k", spec.sampling.top_k}}},
           {"samples_per_doc", spec.samples_per_doc}};
  if (spec.multiple_choice())
    out["multiple_choice"] = {{"normalization", spec.choice.normalization},
                              {"unconditional_context", spec.choice.unconditional_context}};
  return out;
}

}  // namespace yardstick
