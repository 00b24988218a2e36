// Everything a run needs from the data directory for one task: its docs, its few-shot exemplars,
// and the sha256 of every file read (checked against the dataset manifest first, so a missing or
// altered file is an error that names it and where to get it).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tasks/doc.h"
#include "tasks/task_spec.h"

namespace yardstick {

struct TaskData {
  std::vector<Doc> docs;
  std::vector<Fields> exemplars;                     // in the file's order
  std::map<std::string, std::string> file_digests;   // relative path -> sha256
};

// The task's dataset adapter (spec.dataset.adapter, else the generic record adapter when the spec
// has a gold template, else the scorer family's: tasks/<family>.cpp) reads the docs. Throws Error.
TaskData load_task_data(const TaskSpec& spec, const std::filesystem::path& data_dir);

// For adapters: `data_dir / relative` after the manifest's sha256 check, its digest recorded in
// data.file_digests. Throws Error naming the file.
std::filesystem::path checked_data_file(const std::filesystem::path& data_dir, const std::string& relative,
                                        TaskData& data);

}  // namespace yardstick
