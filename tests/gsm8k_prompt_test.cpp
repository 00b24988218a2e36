// The GSM8K task as data: the prompt for doc 0 is pinned byte for byte (base 8-shot and chat
// 0-shot), and the task spec loader rejects malformed specs with errors that name the problem.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/error.h"
#include "tasks/prompt.h"
#include "tasks/task_data.h"
#include "tasks/task_spec.h"
#include "tests/cli_process.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

using ::testing::HasSubstr;

using test::read_text;

std::filesystem::path tasks_dir() { return test::source_dir() / "configs" / "tasks"; }
std::filesystem::path data_dir() { return test::shared_dir() / "datasets"; }

class Gsm8kPrompt : public ::testing::Test {
 protected:
  void SetUp() override {
    spec = find_task_spec("gsm8k", tasks_dir());
    data = load_task_data(spec, data_dir());
  }
  TaskSpec spec;
  TaskData data;
};

TEST_F(Gsm8kPrompt, DatasetHasEveryTestDocWithLineIndexIds) {
  ASSERT_EQ(data.docs.size(), 1319u);
  EXPECT_EQ(data.docs[0].doc_id, "0");
  EXPECT_EQ(data.docs[1318].doc_id, "1318");
  EXPECT_THAT(data.docs[0].gold, HasSubstr("#### 18"));
  EXPECT_EQ(data.docs[0].reference, data.docs[0].gold);
  EXPECT_EQ(data.exemplars.size(), 8u);
  EXPECT_EQ(data.file_digests.at("gsm8k/test.jsonl"),
            "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14");
  EXPECT_TRUE(data.file_digests.count("gsm8k/fewshot_cot_8shot.json"));
}

TEST_F(Gsm8kPrompt, BasePromptForDoc0MatchesGolden) {
  EXPECT_EQ(spec.base.shots, 8);
  std::string prompt = build_prompt(spec, data.exemplars, data.docs[0], {PromptStyle::Base, spec.base.shots, ""});
  EXPECT_EQ(prompt, read_text(test::fixtures_dir() / "gsm8k_prompt_base_doc0.txt"));
}

TEST_F(Gsm8kPrompt, ChatPromptForDoc0MatchesGolden) {
  EXPECT_EQ(spec.chat.shots, 0);
  std::string prompt = build_prompt(spec, data.exemplars, data.docs[0], {PromptStyle::Chat, spec.chat.shots, "<eos>"});
  EXPECT_EQ(prompt, read_text(test::fixtures_dir() / "gsm8k_prompt_chat_doc0.txt"));
}

TEST_F(Gsm8kPrompt, ChatExemplarsBecomeEarlierTurns) {
  std::string prompt = build_prompt(spec, data.exemplars, data.docs[0], {PromptStyle::Chat, 2, "<eos>"});
  EXPECT_EQ(prompt.rfind("User: There are 15 trees", 0), 0u) << prompt.substr(0, 80);
  EXPECT_THAT(prompt, HasSubstr("\n\nAssistant: Let's think step by step. There are 15 trees originally."));
  EXPECT_THAT(prompt, HasSubstr("The answer is 5.<eos>User: Janet"));
  EXPECT_EQ(prompt.substr(prompt.size() - 12), "\n\nAssistant:");
}

TEST_F(Gsm8kPrompt, FewerShotsUseTheFirstExemplars) {
  std::string prompt = build_prompt(spec, data.exemplars, data.docs[0], {PromptStyle::Base, 1, ""});
  EXPECT_EQ(prompt.rfind("Q: There are 15 trees", 0), 0u);
  EXPECT_THAT(prompt, HasSubstr("The answer is 6.\n\nQ: Janet"));
  std::string zero = build_prompt(spec, data.exemplars, data.docs[0], {PromptStyle::Base, 0, ""});
  EXPECT_EQ(zero.rfind("Q: Janet", 0), 0u);
}

TEST_F(Gsm8kPrompt, MoreShotsThanExemplarsIsAnError) {
  try {
    build_prompt(spec, data.exemplars, data.docs[0], {PromptStyle::Base, 9, ""});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("9 shots"));
  }
}

TEST(Template, FillsFieldsAndKeepsBracesInValues) {
  EXPECT_EQ(fill_template("Q: {question}\nA:", {{"question", "what is {x}?"}}), "Q: what is {x}?\nA:");
  EXPECT_EQ(fill_template("{{literal}} {a}", {{"a", "1"}}), "{literal} 1");
  EXPECT_EQ(template_fields("{a} and {b} {a}"), (std::vector<std::string>{"a", "b", "a"}));
}

TEST(Template, MalformedOrMissingFieldsAreErrors) {
  EXPECT_THROW(fill_template("{question", {}), InputError);
  EXPECT_THROW(fill_template("a } b", {}), InputError);
  EXPECT_THROW(fill_template("{}", {}), InputError);
  try {
    fill_template("{nope}", {{"question", "q"}});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("{nope}"));
  }
}

nlohmann::json gsm8k_json() {
  std::ifstream in(tasks_dir() / "gsm8k.json");
  return nlohmann::json::parse(in);
}

std::string spec_error(const nlohmann::json& j) {
  try {
    parse_task_spec(j, "test.json");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(TaskSpecLoading, ShippedSpecRoundTripsThroughJson) {
  TaskSpec spec = parse_task_spec(gsm8k_json(), "gsm8k.json");
  EXPECT_EQ(spec.name, "gsm8k");
  EXPECT_GE(spec.version, 1);
  EXPECT_EQ(spec.scorer, "gsm8k");
  EXPECT_EQ(spec.base.stop, (std::vector<std::string>{"\nQ:", "\n\n\n"}));
  EXPECT_EQ(spec.sampling.temperature, 0.0);
  auto j = task_spec_to_json(spec);
  EXPECT_EQ(j["styles"]["base"]["shots"], 8);
  EXPECT_EQ(j["dataset"]["file"], "gsm8k/test.jsonl");
}

TEST(TaskSpecLoading, MisspeltFieldIsRejectedByName) {
  auto j = gsm8k_json();
  j["styles"]["base"]["shot"] = 3;
  std::string err = spec_error(j);
  EXPECT_THAT(err, HasSubstr("test.json"));
  EXPECT_THAT(err, HasSubstr("styles.base"));
  EXPECT_THAT(err, HasSubstr("unknown field \"shot\""));
}

TEST(TaskSpecLoading, MissingFieldIsNamed) {
  auto j = gsm8k_json();
  j.erase("scorer");
  EXPECT_THAT(spec_error(j), HasSubstr("missing field \"scorer\""));
}

TEST(TaskSpecLoading, TemplateFieldMustExist) {
  auto j = gsm8k_json();
  j["styles"]["base"]["query_template"] = "Q: {questoin}";
  std::string err = spec_error(j);
  EXPECT_THAT(err, HasSubstr("styles.base.query_template"));
  EXPECT_THAT(err, HasSubstr("{questoin}"));
}

TEST(TaskSpecLoading, WrongTypesAndRangesAreRejected) {
  auto j = gsm8k_json();
  j["styles"]["base"]["max_new_tokens"] = 0;
  EXPECT_THAT(spec_error(j), HasSubstr("max_new_tokens"));
  j = gsm8k_json();
  j["styles"]["base"]["stop"] = {"\nQ:", ""};
  EXPECT_THAT(spec_error(j), HasSubstr("non-empty strings"));
  j = gsm8k_json();
  j["output_type"] = "loglikelihood";
  std::string err = spec_error(j);
  EXPECT_THAT(err, HasSubstr("output_type"));
  EXPECT_THAT(err, HasSubstr("\"loglikelihood\""));
}

TEST(TaskSpecLoading, UnknownTaskNamesTheKnownOnes) {
  try {
    find_task_spec("gsm9k", tasks_dir());
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("gsm9k"));
    EXPECT_THAT(e.what(), HasSubstr("gsm8k"));
  }
}

TEST(TaskSpecLoading, UnreadableFileIsNamed) {
  auto dir = test::make_temp_dir("taskspec");
  std::ofstream(dir / "bad.json") << "{ not json";
  try {
    load_task_spec(dir / "bad.json");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("bad.json"));
    EXPECT_THAT(e.what(), HasSubstr("not valid JSON"));
  }
}

}  // namespace
}  // namespace yardstick
