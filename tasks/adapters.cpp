#include "tasks/adapters.h"

#include <algorithm>
#include <functional>
#include <map>

#include <fmt/format.h>

#include "datasets/manifest.h"
#include "engine/error.h"
#include "tasks/clue.h"
#include "tasks/code_benchmarks.h"
#include "tasks/exam_csv.h"

namespace yardstick {

namespace {

using Adapter = std::function<void(const TaskSpec&, const std::filesystem::path&, TaskData&)>;

const std::map<std::string, Adapter, std::less<>>& adapters() {
  static const std::map<std::string, Adapter, std::less<>> table = {
      {"c3", load_c3},   {"ccpm", load_ccpm}, {"ceval", load_ceval}, {"chid", load_chid},
      {"cluewsc", load_cluewsc}, {"cmmlu", load_cmmlu}, {"humaneval", load_humaneval}, {"mbpp", load_mbpp},
  };
  return table;
}

void check_names(const TaskSpec& spec, const std::map<std::string, std::string>& declared,
                 std::initializer_list<std::string_view> provided, const char* where) {
  for (const auto& [name, _] : declared)
    if (std::find(provided.begin(), provided.end(), name) == provided.end())
      throw InputError(fmt::format("task {}: {} field \"{}\" is not one the {} adapter provides ({})", spec.name,
                                   where, name, spec.dataset.adapter, fmt::join(provided, ", ")));
}

}  // namespace

void load_adapter_data(const TaskSpec& spec, const std::filesystem::path& data_dir, TaskData& data) {
  auto it = adapters().find(spec.dataset.adapter);
  if (it == adapters().end())
    throw InputError(fmt::format("task {}: unknown dataset adapter \"{}\" (adapters: {})", spec.name,
                                 spec.dataset.adapter, fmt::join(adapter_names(), ", ")));
  it->second(spec, data_dir, data);
}

std::vector<std::string> adapter_names() {
  std::vector<std::string> names;
  for (const auto& [name, _] : adapters()) names.push_back(name);
  return names;
}

void require_provided_fields(const TaskSpec& spec, std::initializer_list<std::string_view> provided,
                             std::initializer_list<std::string_view> exemplar_provided) {
  check_names(spec, spec.dataset.fields, provided, "dataset");
  check_names(spec, spec.fewshot.fields, exemplar_provided, "fewshot");
}

std::vector<std::string> manifest_files_under(const std::string& folder) {
  std::vector<std::string> out;
  const std::string prefix = folder + "/";
  for (const auto& [path, _] : Manifest::project().entries())
    if (path.rfind(prefix, 0) == 0) out.push_back(path);
  return out;   // std::map keeps them sorted
}

}  // namespace yardstick
