// The generic dataset adapter: one JSON record per doc, every template field read from the record
// key the task spec maps it to (a top-level key, or a JSON pointer such as "/options/0"; strings as
// they are, numbers as JSON writes them), the gold and
// the gold model's reference built from the spec's templates, breakdown groups from named fields.
// MATH, MATH-500 and CMath need nothing more, so they are configured, not coded.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tasks/doc.h"
#include "tasks/task_spec.h"

namespace yardstick {

// rows: the file's records in order (doc_id per spec.dataset.doc_id). `origin` names the file in
// errors. Throws InputError naming the file, the line and the missing or unusable field, or a
// duplicated doc id.
std::vector<Doc> record_docs(const std::vector<nlohmann::json>& rows, const TaskSpec& spec, const std::string& origin);

}  // namespace yardstick
