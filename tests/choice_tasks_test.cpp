// Multiple-choice tasks: the verdict on a picked index, the pick under each normalisation, the
// CLUEWSC referent verdict, and what the C-Eval / CMMLU / CLUE adapters make of the real data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/error.h"
#include "harness/choice_scoring.h"
#include "harness/store.h"
#include "scorers/cluewsc.h"
#include "scorers/multiple_choice.h"
#include "scorers/registry.h"
#include "tasks/task_data.h"
#include "tasks/task_spec.h"
#include "tests/cli_process.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;

TEST(ParseChoice, ReadsStoredPicksIndicesAndLetters) {
  EXPECT_EQ(parse_choice(R"({"choice": 2, "scores": [0.1, 0.2, 0.3]})"), 2);
  EXPECT_EQ(parse_choice("3"), 3);
  EXPECT_EQ(parse_choice("C"), 2);
  EXPECT_EQ(parse_choice("(B)"), 1);
  EXPECT_EQ(parse_choice(" D. "), 3);
  EXPECT_EQ(parse_choice("maybe B"), std::nullopt);
  EXPECT_EQ(parse_choice(R"({"choice": -1})"), std::nullopt);
  EXPECT_EQ(parse_choice("{not json"), std::nullopt);
}

TEST(GradeMultipleChoice, ComparesThePickWithTheGoldIndex) {
  auto v = grade_multiple_choice(R"({"choice": 1})", "1");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].scorer, "choice");
  EXPECT_TRUE(v[0].correct);
  EXPECT_FALSE(grade_multiple_choice(R"({"choice": 0})", "1")[0].correct);
  EXPECT_TRUE(grade_multiple_choice("B", "1")[0].correct);   // a letter as `yardstick grade` input
  EXPECT_EQ(grade_multiple_choice("", "1")[0].status, "no_answer");
  EXPECT_EQ(grade_multiple_choice("1", "x")[0].status, "bad_gold");
  EXPECT_TRUE(has_grader("multiple_choice"));
}

LoglikelihoodResult scores(std::vector<std::vector<float>> per_choice) {
  LoglikelihoodResult r;
  for (auto& lp : per_choice) {
    ContinuationScore s;
    for (float x : lp) s.sum_logprob += x;
    s.logprobs = std::move(lp);
    r.scores.push_back(std::move(s));
  }
  return r;
}

TEST(PickChoice, LengthNormalisationPrefersTheLowestPerplexity) {
  // Choice 0: two tokens at -1 each (sum -2, mean -1); choice 1: one token at -1.5.
  auto r = scores({{-1.0f, -1.0f}, {-1.5f}});
  ChoiceSpec length{"length", ""};
  EXPECT_EQ(pick_choice(length, r, nullptr).choice, 0);
  ChoiceSpec sum{"sum", ""};
  EXPECT_EQ(pick_choice(sum, r, nullptr).choice, 1);
}

TEST(PickChoice, UnconditionalNormalisationSubtractsThePrior) {
  auto conditional = scores({{-2.0f}, {-3.0f}});
  auto prior = scores({{-1.0f}, {-4.0f}});   // choice 1 is unlikely a priori, so its -3 means more
  ChoiceSpec spec{"unconditional", "Answer:"};
  auto pick = pick_choice(spec, conditional, &prior);
  EXPECT_EQ(pick.choice, 1);
  EXPECT_DOUBLE_EQ(pick.scores[1], 1.0);
  EXPECT_THROW(pick_choice(spec, conditional, nullptr), Error);
}

TEST(PickChoice, TiesGoToTheFirstChoiceAndTheOutputKeepsTheEvidence) {
  auto pick = pick_choice({"length", ""}, scores({{-1.0f}, {-1.0f}}), nullptr);
  EXPECT_EQ(pick.choice, 0);
  auto out = choice_output({"length", ""}, pick);
  EXPECT_EQ(out.at("choice"), 0);
  EXPECT_EQ(out.at("tokens"), nlohmann::json::array({1, 1}));
  EXPECT_EQ(parse_choice(out.dump()), 0);
}

TEST(GradeCluewsc, NamingTheCandidateMustAgreeWithTheLabel) {
  const std::string yes = R"({"candidate": "毛豆", "label": true})";
  const std::string no = R"({"candidate": "旧楼", "label": false})";
  EXPECT_TRUE(grade_cluewsc(" 毛豆", yes)[0].correct);
  EXPECT_TRUE(grade_cluewsc("「毛豆」。", yes)[0].correct);
  EXPECT_FALSE(grade_cluewsc("大王", yes)[0].correct);
  EXPECT_TRUE(grade_cluewsc("画", no)[0].correct);
  EXPECT_FALSE(grade_cluewsc("旧楼", no)[0].correct);
  EXPECT_TRUE(grade_cluewsc("“朋友”", R"({"candidate": "“朋友”", "label": true})")[0].correct);
  EXPECT_EQ(grade_cluewsc("  ", yes)[0].status, "no_answer");
  EXPECT_EQ(grade_cluewsc("毛豆", "毛豆")[0].status, "bad_gold");
}

// ---------------------------------------------------------------- adapters on the real data

class ChoiceAdapters : public ::testing::Test {
 protected:
  TaskData load(const char* task) {
    spec = find_task_spec(task, test::source_dir() / "configs" / "tasks");
    return load_task_data(spec, data_dir);
  }
  void SetUp() override {
    if (!fs::exists(data_dir)) GTEST_SKIP() << "no " << data_dir;
  }
  fs::path data_dir = test::shared_dir() / "datasets";
  TaskSpec spec;
};

TEST_F(ChoiceAdapters, CevalHasEverySubjectWithItsDevExemplars) {
  TaskData data = load("ceval");
  ASSERT_EQ(data.docs.size(), 1346u);
  std::set<std::string> subjects, categories;
  for (const auto& d : data.docs) {
    subjects.insert(d.groups.at("subject"));
    categories.insert(d.groups.at("category"));
    ASSERT_EQ(d.exemplars.size(), 5u) << d.doc_id;
    ASSERT_EQ(d.choices, (std::vector<std::string>{"A", "B", "C", "D"}));
  }
  EXPECT_EQ(subjects.size(), 52u);
  EXPECT_EQ(categories, (std::set<std::string>{"Humanities", "Other", "STEM", "Social Science"}));
  const Doc& d0 = data.docs[0];
  EXPECT_EQ(d0.fields.at("subject"), "注册会计师");
  EXPECT_EQ(d0.gold, "3");   // row 0 of accountant_val.csv answers D
  EXPECT_EQ(d0.exemplars[0].at("subject"), "注册会计师");
  EXPECT_EQ(data.file_digests.count("ceval/dev/accountant_dev.csv"), 1u);
}

TEST_F(ChoiceAdapters, CmmluHasEverySubjectAndACategoryForEach) {
  TaskData data = load("cmmlu");
  ASSERT_EQ(data.docs.size(), 11582u);
  std::set<std::string> subjects;
  for (const auto& d : data.docs) {
    subjects.insert(d.groups.at("subject"));
    ASSERT_FALSE(d.groups.at("category").empty());
    ASSERT_EQ(d.exemplars.size(), 5u) << d.doc_id;
  }
  EXPECT_EQ(subjects.size(), 67u);
  EXPECT_EQ(data.docs[0].fields.at("subject"), "农学");
  EXPECT_EQ(data.docs[0].gold, "1");
}

TEST_F(ChoiceAdapters, ClueSetsHaveChoicesAndAGoldAmongThem) {
  for (const char* task : {"chid", "c3", "ccpm"}) {
    TaskData data = load(task);
    ASSERT_FALSE(data.docs.empty()) << task;
    for (const auto& d : data.docs) {
      ASSERT_GE(d.choices.size(), 2u) << task << " " << d.doc_id;
      ASSERT_LT(static_cast<size_t>(std::stoi(d.gold)), d.choices.size()) << task << " " << d.doc_id;
    }
  }
  TaskData chid = load("chid");
  EXPECT_EQ(chid.docs[0].choices.size(), 7u);
  // Every choice of a CHID doc ends with the same text after the blank.
  EXPECT_TRUE(chid.docs[0].choices[0].ends_with(chid.docs[0].choices[1].substr(12)));
}

TEST_F(ChoiceAdapters, CluewscExemplarsAreTruePairsAndGoldsCarryTheLabel) {
  TaskData data = load("cluewsc");
  ASSERT_EQ(data.docs.size(), 976u);
  EXPECT_GE(data.exemplars.size(), 5u);
  auto gold = nlohmann::json::parse(data.docs[0].gold);
  EXPECT_EQ(gold.at("candidate"), data.docs[0].fields.at("candidate"));
  EXPECT_TRUE(gold.at("label").is_boolean());
}

// The real path through the engine: a tiny random model scores C-Eval's four letters after the
// prompt (base) and after the chat template's "Assistant:" (chat); each sample's output is the
// pick with one score per choice, graded like any other output.
TEST(ChoiceRun, TinyModelScoresEveryChoiceInBothStyles) {
  if (!fs::exists(test::shared_dir() / "datasets" / "ceval")) GTEST_SKIP() << "no C-Eval data";
  fs::path dir = test::make_temp_dir("choice-run");
  auto made = test::run_cli({"synth-model", "--out", (dir / "model").string(), "--preset", "tiny", "--seed", "3"});
  ASSERT_EQ(made.code, 0) << made.err;
  for (const char* style : {"base", "chat"}) {
    fs::path db = dir / (std::string(style) + ".db");
    auto r = test::run_cli({"run", "--model", (dir / "model").string(), "--tasks", "ceval", "--limit", "2", "--style",
                            style, "--threads", "1", "--db", db.string()});
    ASSERT_EQ(r.code, 0) << r.err;
    Store store(db);
    auto run = store.latest_run();
    ASSERT_TRUE(run);
    auto samples = store.samples(run->id);
    ASSERT_EQ(samples.size(), 2u);
    for (const auto& s : samples) {
      EXPECT_EQ(s.finish_reason, "scored") << s.error;
      auto out = nlohmann::json::parse(s.output);
      ASSERT_EQ(out.at("scores").size(), 4u);
      int choice = out.at("choice").get<int>();
      EXPECT_GE(choice, 0);
      EXPECT_LT(choice, 4);
      for (int t : out.at("tokens")) EXPECT_GE(t, 1);
      auto verdicts = store.verdicts(s.id);
      ASSERT_EQ(verdicts.size(), 1u);
      EXPECT_EQ(verdicts[0].correct, std::to_string(choice) == s.gold);
    }
  }
}

TEST(ChoiceTaskSpec, RejectsAnUnknownNormalisation) {
  nlohmann::json j = {{"name", "t"},
                      {"version", 1},
                      {"output_type", "multiple_choice"},
                      {"scorer", "multiple_choice"},
                      {"dataset", {{"file", "x"}, {"split", "t"}, {"doc_id", "line_index"}, {"fields", {{"q", "q"}}}}},
                      {"styles", {{"base", {{"shots", 0}, {"query_template", "{q}"}}},
                                  {"chat", {{"shots", 0}, {"query_template", "{q}"}}}}},
                      {"multiple_choice", {{"normalization", "bytes"}}}};
  EXPECT_THROW(parse_task_spec(j, "test"), InputError);
  j["multiple_choice"]["normalization"] = "unconditional";
  EXPECT_THROW(parse_task_spec(j, "test"), InputError);   // needs its context
  j["multiple_choice"]["unconditional_context"] = "Answer:";
  EXPECT_EQ(parse_task_spec(j, "test").choice.normalization, "unconditional");
}

}  // namespace
}  // namespace yardstick
