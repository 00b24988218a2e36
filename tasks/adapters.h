// Dataset adapters for benchmarks whose files are not one JSON line per doc: they read the files
// (through the manifest's sha256 check), build the docs with the template fields they provide,
// choices and gold indices for multiple choice, breakdown groups, and per-doc exemplars. A task
// names its adapter in `dataset.adapter`; `dataset.fields` then lists the template fields it uses
// (each value says what the field holds), and an adapter refuses a field it does not provide.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/task_data.h"
#include "tasks/task_spec.h"

namespace yardstick {

// Fills data.docs (and data.exemplars for task-wide ones) by spec.dataset.adapter. Throws
// InputError naming the adapter when it is unknown, or the file and problem when data is bad.
void load_adapter_data(const TaskSpec& spec, const std::filesystem::path& data_dir, TaskData& data);

// The adapter names load_adapter_data knows, sorted.
std::vector<std::string> adapter_names();

// --- for the adapters themselves

// Throws InputError unless every template field the task declares (dataset.fields, and
// fewshot.fields when `exemplar_fields` is not null) is one the adapter provides.
void require_provided_fields(const TaskSpec& spec, std::initializer_list<std::string_view> provided,
                             std::initializer_list<std::string_view> exemplar_provided = {});

// The manifest's files under `folder` ("ceval/val"), sorted by path.
std::vector<std::string> manifest_files_under(const std::string& folder);

}  // namespace yardstick
