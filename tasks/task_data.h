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

// The task's scorer family also picks its dataset adapter (tasks/<family>.cpp). Throws Error.
TaskData load_task_data(const TaskSpec& spec, const std::filesystem::path& data_dir);

}  // namespace yardstick
