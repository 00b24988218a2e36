// A model's own chat template (engine/chat_template.h) through the Jinja subset (engine/jinja.h),
// byte for byte against transformers' apply_chat_template: tests/fixtures/chat_templates/golden.json,
// made by make_golden.py there, holds DeepSeek's, ChatML (SmolLM2, Qwen), Llama 2 and Llama 3
// renderings of several conversations, and one short snippet per construct or whitespace rule.
// Also: a template outside the subset is an error naming the construct; find_chat_template looks
// where transformers does; `run` prompts a ChatML model in ChatML, and DeepSeek's prompts stay
// those pinned by tests/fixtures/gsm8k_prompt_chat_doc0.txt.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/chat_template.h"
#include "engine/error.h"
#include "engine/jinja.h"
#include "engine/tokenizer.h"
#include "harness/run.h"
#include "harness/store.h"
#include "harness/synth_model.h"
#include "tasks/doc.h"
#include "tasks/prompt.h"
#include "tasks/task_spec.h"
#include "tests/cli_process.h"
#include "tests/error_message.h"
#include "tests/test_paths.h"

namespace yardstick {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

fs::path templates_dir() { return test::fixtures_dir() / "chat_templates"; }

const json& golden() {
  static const json j = json::parse(test::read_text(templates_dir() / "golden.json"));
  return j;
}

std::vector<ChatMessage> messages_of(const json& list) {
  std::vector<ChatMessage> out;
  for (const auto& m : list) out.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
  return out;
}

// As ChatTemplate::render passes them: dicts of role, then content (the order tojson shows).
jinja::Value messages_value(const std::vector<ChatMessage>& messages) {
  jinja::Array list;
  for (const ChatMessage& m : messages)
    list.push_back(jinja::Value::dict({{"role", jinja::Value::string(m.role)}, {"content", jinja::Value::string(m.content)}}));
  return jinja::Value::list(std::move(list));
}

ChatTemplate fixture_template(const std::string& name) {
  const fs::path file = templates_dir() / name;
  return ChatTemplate(test::read_text(file), file.string());
}

using test::input_error;

// ------------------------------------------------------------------ the golden renderings

TEST(ChatTemplateGolden, ModelTemplatesRenderAsApplyChatTemplateDoes) {
  const json& cases = golden().at("cases");
  ASSERT_GE(cases.size(), 60u);
  std::set<std::string> templates;
  for (const auto& c : cases) {
    const std::string name = c.at("template");
    templates.insert(name);
    const std::string rendered =
        fixture_template(name).render(messages_of(c.at("messages")), c.at("bos_token").get<std::string>(),
                                      c.at("eos_token").get<std::string>(), c.at("add_generation_prompt").get<bool>());
    EXPECT_EQ(rendered, c.at("rendered").get<std::string>())
        << name << ", " << c.at("conversation") << ", add_generation_prompt " << c.at("add_generation_prompt");
  }
  for (const char* name : {"deepseek_llm_chat.jinja", "chatml_smollm2.jinja", "chatml_qwen.jinja", "llama2.jinja",
                           "llama3.jinja", "features.jinja"})
    EXPECT_TRUE(templates.count(name)) << name;
}

TEST(ChatTemplateGolden, TheBuiltInDeepSeekTemplateIsTheModelsOwn) {
  // The fixture is DeepSeek LLM chat's template as published; the built-in one must render alike.
  EXPECT_EQ(test::read_text(templates_dir() / "deepseek_llm_chat.jinja"),
            test::read_text(test::shared_dir() / "reference" / "tokenizer" / "chat_template.jinja"));
  int checked = 0;
  for (const auto& c : golden().at("cases")) {
    if (c.at("template") != "deepseek_llm_chat.jinja") continue;
    const auto messages = messages_of(c.at("messages"));
    const std::string bos = c.at("bos_token"), eos = c.at("eos_token");
    const bool gen = c.at("add_generation_prompt");
    EXPECT_EQ(ChatTemplate::deepseek().render(messages, bos, eos, gen), c.at("rendered").get<std::string>());
    EXPECT_EQ(render_chat(messages, bos, eos, gen), c.at("rendered").get<std::string>());
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

TEST(ChatTemplateGolden, RaiseExceptionIsAnErrorWithTheTemplatesMessage) {
  const json& errors = golden().at("errors");
  ASSERT_FALSE(errors.empty());
  for (const auto& c : errors) {
    const std::string name = c.at("template");
    const std::string msg = input_error([&] {
      fixture_template(name).render(messages_of(c.at("messages")), c.at("bos_token").get<std::string>(),
                                    c.at("eos_token").get<std::string>(), true);
    });
    EXPECT_THAT(msg, StartsWith((templates_dir() / name).string() + ":"));
    EXPECT_THAT(msg, HasSubstr(c.at("error").get<std::string>()));
  }
}

TEST(JinjaSnippets, RenderAsJinja2WithTransformersSettingsDoes) {
  const json& snippets = golden().at("snippets");
  ASSERT_GE(snippets.size(), 50u);
  std::map<std::string, jinja::Value> globals = {
      {"messages", messages_value(messages_of(golden().at("snippet_conversation")))},
      {"add_generation_prompt", jinja::Value::boolean(true)},
      {"bos_token", jinja::Value::string("<s>")},
      {"eos_token", jinja::Value::string("</s>")},
      {"tools", jinja::Value::none()},
      {"documents", jinja::Value::none()},
  };
  for (const auto& s : snippets) {
    const std::string source = s.at("source");
    if (s.contains("rendered")) {
      std::string rendered;
      try {
        rendered = jinja::Template(source, "snippet").render(globals);
      } catch (const InputError& e) {
        ADD_FAILURE() << source << "\n  threw: " << e.what();
        continue;
      }
      EXPECT_EQ(rendered, s.at("rendered").get<std::string>()) << source;
    } else {
      // jinja2 raised (s["error"]): so must the interpreter, with a message naming the template.
      const std::string msg = input_error([&] { jinja::Template(source, "snippet").render(globals); });
      EXPECT_THAT(msg, StartsWith("snippet: ")) << source << " (jinja2: " << s.at("error") << ")";
    }
  }
}

// ------------------------------------------------------------------ outside the subset

TEST(JinjaSubset, AConstructOutsideTheSubsetIsAnErrorNamingItAndWhere) {
  struct Case {
    const char* source;
    const char* names;
  };
  const Case cases[] = {
      {"{% macro f() %}x{% endmacro %}", "line 1, column 1: unsupported tag '{% macro %}'"},
      {"a\n  {% include 'other.jinja' %}", "line 2, column 3: unsupported tag '{% include %}'"},
      {"{% raw %}{{ x }}{% endraw %}", "unsupported tag '{% raw %}'"},
      {"{% filter upper %}x{% endfilter %}", "unsupported tag '{% filter %}'"},
      {"{% call f() %}{% endcall %}", "unsupported tag '{% call %}'"},
      {"{% with a = 1 %}{% endwith %}", "unsupported tag '{% with %}'"},
      {"{% extends 'base' %}", "unsupported tag '{% extends %}'"},
      {"{{ messages | wordwrap(10) }}", "line 1, column 15: unsupported filter 'wordwrap'"},
      {"{{ messages | groupby('role') }}", "unsupported filter 'groupby'"},
      {"{% if x is escaped2 %}{% endif %}", "unsupported test 'escaped2'"},
      {"{{ 'a {}'.format(1) }}", "unsupported method '.format()'"},
      {"{% for m in messages recursive %}{% endfor %}", "unsupported loop option 'recursive'"},
      {"{% set x | upper %}a{% endset %}", "unsupported: set with a filter"},
      {"{{ f(*args) }}", "unsupported: *args or **kwargs in a call"},
      {"{{ '%s' % 'a' }}", "unsupported: '%' string formatting"},
      {"{% break %}", "'{% break %}' outside a loop"},
      {"{% if true %}x", "the template ends before '{% endif %}'"},
      {"{{ x ", "an expression '{{' is never closed"},
      {"{# x", "a comment '{#' is never closed"},
  };
  const std::map<std::string, jinja::Value> globals = {{"messages", jinja::Value::list({})}};
  for (const Case& c : cases) {
    const std::string msg = input_error([&] { jinja::Template(c.source, "t.jinja").render(globals); });
    EXPECT_THAT(msg, StartsWith("t.jinja: line ")) << c.source;
    EXPECT_THAT(msg, HasSubstr(c.names)) << c.source;
  }
}

TEST(JinjaSubset, AnUnsupportedConstructFailsWhenTheTemplateIsParsedNotFirstWhenReached) {
  // The filter sits in a branch no conversation takes: the model's template is refused up front.
  const std::string msg = input_error([] { ChatTemplate("{% if false %}{{ x | urlize }}{% endif %}", "m/t.jinja"); });
  EXPECT_EQ(msg, "m/t.jinja: line 1, column 22: unsupported filter 'urlize'");
}

// ------------------------------------------------------------------ where the template is found

fs::path tokenizer_folder(const char* tag, const json& config) {
  fs::path dir = test::make_temp_dir(tag);
  std::ofstream(dir / "tokenizer_config.json") << config.dump();
  return dir;
}

const std::vector<ChatMessage> kHi = {{"user", "Hi"}};

TEST(FindChatTemplate, ReadsTokenizerConfigsChatTemplateString) {
  fs::path dir = tokenizer_folder("tpl-config", {{"chat_template", "[{{ messages[0].content }}]"}});
  auto t = find_chat_template(dir);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->render(kHi, "", "", true), "[Hi]");
  EXPECT_THAT(t->origin(), HasSubstr("tokenizer_config.json"));
}

TEST(FindChatTemplate, PrefersChatTemplateJinjaAsTransformersDoes) {
  fs::path dir = tokenizer_folder("tpl-jinja", {{"chat_template", "config"}});
  std::ofstream(dir / "chat_template.jinja") << "jinja {{ messages | length }}\n";
  auto t = find_chat_template(dir);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->render(kHi, "", "", true), "jinja 1");   // jinja2 drops one trailing newline
  EXPECT_EQ(t->origin(), (dir / "chat_template.jinja").string());
}

TEST(FindChatTemplate, TakesTheDefaultOfNamedTemplates) {
  fs::path dir = tokenizer_folder(
      "tpl-named", {{"chat_template", json::array({{{"name", "tool_use"}, {"template", "tools"}},
                                                    {{"name", "default"}, {"template", "default"}}})}});
  auto t = find_chat_template(dir);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->render(kHi, "", "", true), "default");
}

TEST(FindChatTemplate, NoneWithoutATemplateOrWithoutATokenizerConfig) {
  EXPECT_FALSE(find_chat_template(tokenizer_folder("tpl-none", {{"bos_token", "<s>"}})));
  fs::path bare = test::make_temp_dir("tpl-bare");
  std::ofstream(bare / "chat_template.jinja") << "x";
  EXPECT_FALSE(find_chat_template(bare));
}

TEST(FindChatTemplate, BadTemplatesAreErrorsNamingTheFile) {
  fs::path dir = tokenizer_folder("tpl-bad", {{"chat_template", 5}});
  EXPECT_THAT(test::model_file_error([&] { find_chat_template(dir); }),
              HasSubstr((dir / "tokenizer_config.json").string() + ": chat_template is neither a string"));
  fs::path named = tokenizer_folder("tpl-nodefault", {{"chat_template", json::array({{{"name", "x"}, {"template", "y"}}})}});
  EXPECT_THAT(test::model_file_error([&] { find_chat_template(named); }), HasSubstr("none named \"default\""));
  fs::path unsupported = tokenizer_folder("tpl-unsupported", {{"bos_token", "<s>"}});
  std::ofstream(unsupported / "chat_template.jinja") << "{% macro m() %}{% endmacro %}";
  EXPECT_EQ(input_error([&] { find_chat_template(unsupported); }),
            (unsupported / "chat_template.jinja").string() + ": line 1, column 1: unsupported tag '{% macro %}'");
}

// ------------------------------------------------------------------ how a template's prompt is used

TEST(ChatTemplateUse, ReplyPrefixAndLeadingBosFollowTheTemplate) {
  const ChatTemplate& deepseek = ChatTemplate::deepseek();
  EXPECT_EQ(deepseek.reply_prefix("<s>", "</s>"), " ");
  EXPECT_TRUE(deepseek.opens_with_bos("<s>", "</s>"));
  const ChatTemplate qwen = fixture_template("chatml_qwen.jinja");
  EXPECT_EQ(qwen.reply_prefix("", "<|im_end|>"), "");
  EXPECT_FALSE(qwen.opens_with_bos("<s>", "<|im_end|>"));
  const ChatTemplate llama3 = fixture_template("llama3.jinja");
  EXPECT_EQ(llama3.reply_prefix("<|begin_of_text|>", "<|eot_id|>"), "");
  EXPECT_TRUE(llama3.opens_with_bos("<|begin_of_text|>", "<|eot_id|>"));
  const ChatTemplate llama2 = fixture_template("llama2.jinja");
  EXPECT_EQ(llama2.reply_prefix("<s>", "</s>"), " ");
  // SmolLM2's bos_token is "<|im_start|>", which its template writes as ChatML's turn marker.
  const ChatTemplate smollm2 = fixture_template("chatml_smollm2.jinja");
  EXPECT_TRUE(smollm2.render(kHi, "<|im_start|>", "<|im_end|>", true).starts_with("<|im_start|>"));
  EXPECT_FALSE(smollm2.opens_with_bos("<|im_start|>", "<|im_end|>"));
  EXPECT_EQ(smollm2.reply_prefix("<|im_start|>", "<|im_end|>"), "");
}

TEST(ChatTemplateUse, APromptLosesTheTemplatesLeadingBosTokenOnly) {
  TaskSpec spec;
  spec.name = "t";
  spec.chat.query_template = "{q}";
  Doc doc;
  doc.fields = {{"q", "Hi"}};
  const ChatTemplate smollm2 = fixture_template("chatml_smollm2.jinja");
  PromptOptions o{PromptStyle::Chat, 0, "<|im_end|>", "<|im_start|>", &smollm2};
  EXPECT_EQ(build_prompt(spec, {}, doc, o), smollm2.render(kHi, "<|im_start|>", "<|im_end|>", true));
  const ChatTemplate llama3 = fixture_template("llama3.jinja");
  o = {PromptStyle::Chat, 0, "<|eot_id|>", "<|begin_of_text|>", &llama3};
  EXPECT_EQ(build_prompt(spec, {}, doc, o), "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                                            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

// A tokenizer folder for --tokenizer: DeepSeek's tokenizer.json, a tokenizer_config.json naming its
// special tokens, and `chat_template` (as tokenizer_config's entry when in_config, else as
// chat_template.jinja).
fs::path tokenizer_with_template(const char* tag, const std::string& chat_template, bool in_config) {
  fs::path dir = test::make_temp_dir(tag);
  fs::copy_file(default_tokenizer_dir() / "tokenizer.json", dir / "tokenizer.json");
  json config = {{"bos_token", "<｜begin▁of▁sentence｜>"}, {"eos_token", "<｜end▁of▁sentence｜>"}};
  if (in_config) config["chat_template"] = chat_template;
  else std::ofstream(dir / "chat_template.jinja", std::ios::binary) << chat_template;
  std::ofstream(dir / "tokenizer_config.json") << config.dump();
  return dir;
}

// GSM8K doc 0 in chat style (0-shot) on synthetic:tiny with this tokenizer folder: the stored sample.
SampleRecord chat_sample(const fs::path& tokenizer, const char* tag) {
  fs::path db = test::make_temp_dir(tag) / "runs.db";
  RunOptions o;
  o.model = "synthetic:tiny";
  o.tokenizer = tokenizer.string();
  o.tasks = {"gsm8k"};
  o.db = db;
  o.limit = 1;
  o.data_dir = test::shared_dir() / "datasets";
  o.max_new_tokens = 1;
  o.style = PromptStyle::Chat;
  o.threads = 2;
  RunOutcome r = run_benchmarks(o, stderr);
  Store store(db);
  auto samples = store.samples(store.find_run(r.run_name)->id);
  if (samples.size() != 1) throw std::runtime_error("expected one sample");
  return samples[0];
}

TEST(ChatTemplateRun, AChatMlModelGetsChatMlPrompts) {
  if (!fs::exists(test::shared_dir() / "datasets")) GTEST_SKIP() << "no datasets";
  const std::string chatml = test::read_text(templates_dir() / "chatml_smollm2.jinja");
  const SampleRecord s = chat_sample(tokenizer_with_template("run-chatml", chatml, false), "run-chatml-db");
  // The pinned DeepSeek prompt is "User: " + question + "\n\nAssistant:".
  const std::string deepseek = test::read_text(test::fixtures_dir() / "gsm8k_prompt_chat_doc0.txt");
  ASSERT_THAT(deepseek, StartsWith("User: "));
  const std::string question = deepseek.substr(6, deepseek.size() - 6 - std::string("\n\nAssistant:").size());
  EXPECT_EQ(s.prompt,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\n" + question + "<|im_end|>\n<|im_start|>assistant\n");
  // ChatML opens with no BOS, and apply_chat_template(tokenize=True) adds none: neither does run.
  const Tokenizer tok = Tokenizer::from_file(default_tokenizer_dir() / "tokenizer.json");
  EXPECT_EQ(s.prompt_tokens, static_cast<int64_t>(tok.encode(s.prompt).size()));
}

TEST(ChatTemplateRun, ATemplateOutsideTheSubsetStopsTheRunNamingFileAndConstruct) {
  const fs::path tok = tokenizer_with_template("run-macro", "{% macro turn(m) %}{{ m }}{% endmacro %}", false);
  const std::string msg = input_error([&] { chat_sample(tok, "run-macro-db"); });
  EXPECT_EQ(msg, (tok / "chat_template.jinja").string() + ": line 1, column 1: unsupported tag '{% macro %}'");
}

TEST(ChatTemplateRun, DeepSeeksOwnTemplateKeepsThePinnedPromptAndItsBos) {
  if (!fs::exists(test::shared_dir() / "datasets")) GTEST_SKIP() << "no datasets";
  const std::string deepseek = test::read_text(templates_dir() / "deepseek_llm_chat.jinja");
  const SampleRecord own = chat_sample(tokenizer_with_template("run-deepseek", deepseek, true), "run-deepseek-db");
  const SampleRecord builtin = chat_sample(default_tokenizer_dir(), "run-builtin-db");
  const std::string pinned = test::read_text(test::fixtures_dir() / "gsm8k_prompt_chat_doc0.txt");
  EXPECT_EQ(own.prompt, pinned);
  EXPECT_EQ(builtin.prompt, pinned);
  // The template's leading BOS goes as the BOS id: one token more than the text.
  const Tokenizer tok = Tokenizer::from_file(default_tokenizer_dir() / "tokenizer.json");
  EXPECT_EQ(own.prompt_tokens, static_cast<int64_t>(tok.encode(pinned).size()) + 1);
  EXPECT_EQ(builtin.prompt_tokens, own.prompt_tokens);
}

}  // namespace
}  // namespace yardstick
