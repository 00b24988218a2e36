// C-Eval and CMMLU: four-option exam questions, one CSV per subject, scored by log-likelihood of
// the option letters A-D (PROTOCOL.md: "the options are the letters"), with each subject's dev
// questions as its exemplars. Doc ids are "<subject>/<row>" (the 0-based data row of the subject's
// file); the gold is the index of the answer letter; groups are "subject" and "category".
//
// Fields provided to templates, for docs and exemplars alike: subject (the subject's Chinese
// name), question, A, B, C, D, answer (the letter).
#pragma once

#include <filesystem>

#include "tasks/task_data.h"
#include "tasks/task_spec.h"

namespace yardstick {

// dataset.file: the split folder ("ceval/val"; files <subject>_val.csv); fewshot.split: "dev"
// (ceval/dev/<subject>_dev.csv); names and categories from ceval/subject_mapping.json.
void load_ceval(const TaskSpec& spec, const std::filesystem::path& data_dir, TaskData& data);

// dataset.file: the split folder ("cmmlu/test"; files <subject>.csv); fewshot.split: "dev";
// names and categories from cmmlu/categories.json.
void load_cmmlu(const TaskSpec& spec, const std::filesystem::path& data_dir, TaskData& data);

}  // namespace yardstick
