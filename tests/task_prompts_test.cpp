// The exact prompt text of doc 0 of every task this file lists, base and chat styles at the task's
// default shots, pinned byte for byte by tests/fixtures/prompts/<task>_<style>_doc0.txt. A change
// to a template, an exemplar file or an adapter shows up here before it changes a number.
// (GSM8K is pinned by gsm8k_prompt_test.cpp.) To accept a deliberate change, rerun with
// YARDSTICK_WRITE_GOLDENS=1, review the diff of the fixtures, and bump the task's version.
#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "tasks/prompt.h"
#include "tasks/task_data.h"
#include "tasks/task_spec.h"
#include "tests/cli_process.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;

struct Case {
  const char* task;
  size_t docs;           // the whole split, so a truncated or altered file is caught too
  const char* doc0_id;
};

class TaskPrompt : public ::testing::TestWithParam<Case> {};

std::string golden_name(const std::string& task, PromptStyle style) {
  return task + "_" + prompt_style_name(style) + "_doc0.txt";
}

TEST_P(TaskPrompt, Doc0PromptsMatchGoldens) {
  const Case& c = GetParam();
  fs::path data_dir = test::shared_dir() / "datasets";
  if (!fs::exists(data_dir)) GTEST_SKIP() << "no " << data_dir;
  TaskSpec spec = find_task_spec(c.task, test::source_dir() / "configs" / "tasks");
  TaskData data = load_task_data(spec, data_dir);
  ASSERT_EQ(data.docs.size(), c.docs);
  EXPECT_EQ(data.docs[0].doc_id, c.doc0_id);
  const bool write = std::getenv("YARDSTICK_WRITE_GOLDENS") != nullptr;
  for (PromptStyle style : {PromptStyle::Base, PromptStyle::Chat}) {
    std::string prompt =
        build_prompt(spec, data.exemplars, data.docs[0], {style, spec.style(style).shots, "<eos>"});
    fs::path golden = test::fixtures_dir() / "prompts" / golden_name(c.task, style);
    if (write) {
      fs::create_directories(golden.parent_path());
      std::ofstream(golden, std::ios::binary) << prompt;
    }
    ASSERT_TRUE(fs::exists(golden)) << golden;
    EXPECT_EQ(prompt, test::read_text(golden)) << c.task << " " << prompt_style_name(style);
  }
}

INSTANTIATE_TEST_SUITE_P(Tasks, TaskPrompt,
                         ::testing::Values(Case{"math", 5000, "test/algebra/1.json"},
                                           Case{"math500", 500, "test/precalculus/807.json"},
                                           Case{"cmath", 1098, "0"}, Case{"ceval", 1346, "accountant/0"},
                                           Case{"cmmlu", 11582, "agronomy/0"}, Case{"chid", 2002, "0"},
                                           Case{"c3", 3892, "m-0-0"}, Case{"ccpm", 2720, "0"},
                                           Case{"cluewsc", 976, "0"}, Case{"mgsm_zh", 250, "0"},
                                           Case{"gaokao_mathcloze", 118, "0"}, Case{"gaokao_mathqa", 351, "0"},
                                           Case{"humaneval", 164, "HumanEval/0"}, Case{"mbpp", 500, "11"}),
                         [](const auto& info) { return std::string(info.param.task); });

}  // namespace
}  // namespace yardstick
