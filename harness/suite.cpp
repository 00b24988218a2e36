#include "harness/suite.h"

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "datasets/checkout.h"
#include "engine/error.h"

namespace yardstick {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& where, const std::string& what) {
  throw InputError(fmt::format("suite {}: {}: {}", file.string(), where, what));
}

void only_keys(const std::filesystem::path& file, const json& obj, const std::string& where,
               const std::set<std::string>& allowed) {
  if (!obj.is_object()) fail(file, where, "expected a JSON object");
  for (const auto& [key, _] : obj.items())
    if (!allowed.count(key)) fail(file, where, fmt::format("unknown field \"{}\"", key));
}

std::string string_at(const std::filesystem::path& file, const json& obj, const std::string& where, const char* key) {
  if (!obj.contains(key) || !obj.at(key).is_string() || obj.at(key).get<std::string>().empty())
    fail(file, where, fmt::format("\"{}\" must be a non-empty string", key));
  return obj.at(key).get<std::string>();
}

std::vector<std::string> suite_names(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

std::filesystem::path default_suites_dir() {
  for (const auto& dir : checkout_candidates())
    if (std::filesystem::is_directory(dir / "configs" / "suites")) return dir / "configs" / "suites";
  throw Error("no configs/suites directory found beside the yardstick checkout");
}

Suite load_suite(const std::filesystem::path& file, const std::filesystem::path& tasks_dir) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(fmt::format("suite {}: cannot be opened", file.string()));
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw InputError(fmt::format("suite {}: not valid JSON: {}", file.string(), e.what()));
  }
  only_keys(file, j, "top level", {"name", "version", "description", "style", "models", "tasks", "not_run", "notes"});
  Suite s;
  s.file = file;
  s.name = string_at(file, j, "top level", "name");
  if (!j.contains("version") || !j.at("version").is_number_integer() || j.at("version").get<int>() < 1)
    fail(file, "version", "expected an integer >= 1");
  s.version = j.at("version").get<int>();
  s.description = j.value("description", "");
  try {
    s.style = parse_prompt_style(string_at(file, j, "top level", "style"));
  } catch (const InputError& e) {
    fail(file, "style", e.what());
  }
  for (const auto& m : j.value("models", json::array())) {
    if (!m.is_string()) fail(file, "models", "expected model names");
    s.models.push_back(m.get<std::string>());
  }
  if (!j.contains("tasks") || !j.at("tasks").is_array() || j.at("tasks").empty())
    fail(file, "tasks", "expected a non-empty array");
  std::set<std::string> seen;
  for (size_t i = 0; i < j.at("tasks").size(); ++i) {
    const json& t = j.at("tasks")[i];
    std::string where = fmt::format("tasks[{}]", i);
    only_keys(file, t, where, {"task", "shots", "benchmark", "scorer", "notes"});
    SuiteTask st;
    st.task = string_at(file, t, where, "task");
    st.benchmark = string_at(file, t, where, "benchmark");
    st.scorer = string_at(file, t, where, "scorer");
    if (!t.contains("shots") || !t.at("shots").is_number_integer() || t.at("shots").get<int>() < 0)
      fail(file, where + ".shots", "expected an integer >= 0");
    st.shots = t.at("shots").get<int>();
    if (!seen.insert(st.task).second) fail(file, where, fmt::format("task {} is listed twice", st.task));
    TaskSpec spec = find_task_spec(st.task, tasks_dir);   // throws naming the task spec
    if (st.shots > 0 && spec.fewshot.file.empty() && spec.fewshot.inline_samples.empty() && spec.fewshot.split.empty())
      fail(file, where + ".shots", fmt::format("task {} has no exemplars for {} shots", st.task, st.shots));
    s.tasks.push_back(std::move(st));
  }
  for (const auto& o : j.value("not_run", json::array())) {
    only_keys(file, o, "not_run", {"benchmark", "reason"});
    s.not_run.push_back({string_at(file, o, "not_run", "benchmark"), string_at(file, o, "not_run", "reason")});
  }
  return s;
}

Suite find_suite(const std::string& name_or_path, const std::filesystem::path& suites_dir,
                 const std::filesystem::path& tasks_dir) {
  std::filesystem::path p(name_or_path);
  if (p.extension() == ".json") return load_suite(p, tasks_dir);
  auto file = suites_dir / (name_or_path + ".json");
  if (!std::filesystem::exists(file)) {
    auto known = suite_names(suites_dir);
    throw InputError(fmt::format("unknown suite \"{}\": no {} (suites: {})", name_or_path, file.string(),
                                 known.empty() ? "none" : fmt::to_string(fmt::join(known, ", "))));
  }
  Suite s = load_suite(file, tasks_dir);
  if (s.name != name_or_path)
    throw InputError(fmt::format("suite {}: its name is \"{}\", not \"{}\"", file.string(), s.name, name_or_path));
  return s;
}

std::vector<Suite> list_suites(const std::filesystem::path& suites_dir, const std::filesystem::path& tasks_dir) {
  std::vector<Suite> out;
  for (const auto& name : suite_names(suites_dir)) out.push_back(find_suite(name, suites_dir, tasks_dir));
  return out;
}

}  // namespace yardstick
