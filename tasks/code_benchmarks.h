// Dataset adapters for the code benchmarks, HumanEval and MBPP (graded by executing the model's
// code with the benchmark's tests: scorers/code_grader.h). Fields each adapter provides to
// templates are listed with it; a doc's gold is the JSON scorers/code_grader.h documents, and its
// reference (what the built-in gold model answers) the dataset's own solution.
#pragma once

#include <filesystem>

#include "tasks/task_data.h"
#include "tasks/task_spec.h"

namespace yardstick {

// dataset.file: humaneval/HumanEval.jsonl.gz (164 problems). Doc id: task_id ("HumanEval/0").
// Fields: prompt (imports, helpers, signature and docstring, to be completed), entry_point.
// Gold: {"prompt", "test", "entry_point"}; reference: canonical_solution (the body).
void load_humaneval(const TaskSpec& spec, const std::filesystem::path& data_dir, TaskData& data);

// dataset.file: mbpp/mbpp.jsonl (974 tasks), dataset.split one of the splits of Austin et al.
// (2021): "test" (task_ids 11-510), "validation" (511-600), "train" (601-974), "prompt" (1-10).
// Doc id: task_id ("11"). Fields: text (the task), tests (its three asserts, one per line).
// Gold: {"test_list", "test_setup_code"}; reference: code. Exemplars (fewshot.split "prompt"):
// task_ids 2, 3 and 4, the three-shot prompt of Austin et al. that MBPP evaluations use, with
// fields text, tests and code. Line ends are normalised to "\n" in every field.
void load_mbpp(const TaskSpec& spec, const std::filesystem::path& data_dir, TaskData& data);

}  // namespace yardstick
