#include "tasks/task_data.h"

#include <fmt/core.h>

#include "datasets/manifest.h"
#include "datasets/readers.h"
#include "engine/error.h"
#include "tasks/adapters.h"
#include "tasks/gsm8k.h"
#include "tasks/records.h"

namespace yardstick {

namespace {

std::vector<Fields> read_exemplars(const TaskSpec& spec, const std::filesystem::path& file) {
  nlohmann::json all = read_json(file);
  nlohmann::json::json_pointer ptr(spec.fewshot.samples);
  if (!all.contains(ptr) || !all.at(ptr).is_array())
    throw InputError(fmt::format("{}: no array at {} (task {}'s fewshot.samples)", file.string(),
                                 spec.fewshot.samples, spec.name));
  std::vector<Fields> out;
  size_t i = 0;
  for (const auto& sample : all.at(ptr)) {
    Fields f;
    for (const auto& [field, key] : spec.fewshot.fields) {
      if (!sample.is_object() || !sample.contains(key) || !sample.at(key).is_string())
        throw InputError(fmt::format("{}: exemplar {} at {} has no string \"{}\"", file.string(), i,
                                     spec.fewshot.samples, key));
      f[field] = sample.at(key).get<std::string>();
    }
    out.push_back(std::move(f));
    ++i;
  }
  return out;
}

}  // namespace

std::filesystem::path checked_data_file(const std::filesystem::path& data_dir, const std::string& relative,
                                        TaskData& data) {
  const Manifest& manifest = Manifest::project();
  auto path = manifest.verified_path(data_dir, relative);
  data.file_digests[relative] = manifest.find(relative)->sha256;
  return path;
}

TaskData load_task_data(const TaskSpec& spec, const std::filesystem::path& data_dir) {
  TaskData data;
  if (!spec.dataset.adapter.empty()) {
    load_adapter_data(spec, data_dir, data);
    return data;
  }
  auto rows_file = checked_data_file(data_dir, spec.dataset.file, data);
  auto rows = read_jsonl(rows_file);
  if (!spec.dataset.gold.empty()) {   // configured as data: no adapter of its own
    data.docs = record_docs(rows, spec, rows_file.string());
  } else if (spec.scorer == "gsm8k") {
    data.docs = gsm8k_docs(rows, spec, rows_file.string());
  } else {
    throw InputError(fmt::format("task {}: no dataset adapter for scorer family \"{}\"", spec.name, spec.scorer));
  }
  if (!spec.fewshot.file.empty())
    data.exemplars = read_exemplars(spec, checked_data_file(data_dir, spec.fewshot.file, data));
  for (const auto& sample : spec.fewshot.inline_samples) {   // checked by the spec loader
    Fields f;
    for (const auto& [field, key] : spec.fewshot.fields) f[field] = sample.at(key).get<std::string>();
    data.exemplars.push_back(std::move(f));
  }
  return data;
}

}  // namespace yardstick
