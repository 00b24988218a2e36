// GSM8K's dataset adapter: rows of test.jsonl ({"question", "answer"}) -> docs. The gold handed to
// the scorer is the whole reference answer (worked solution ending in "#### N"); the scorer reads
// the number from its "####" line. The built-in gold model answers with that same text.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tasks/doc.h"
#include "tasks/task_spec.h"

namespace yardstick {

// rows: the file's records in order (doc_id per spec.dataset.doc_id). `origin` names the file
// in errors. Throws InputError naming the file, the line and the missing or non-string field.
std::vector<Doc> gsm8k_docs(const std::vector<nlohmann::json>& rows, const TaskSpec& spec,
                            const std::string& origin);

}  // namespace yardstick
