// ChatTemplate (engine/chat_template.h): a model's template rendered by engine/jinja.h, and
// render_chat (engine/tokenizer.h) as DeepSeek LLM's template rendered the same way.
#include "engine/chat_template.h"

#include <fstream>
#include <sstream>

#include <fmt/core.h>

#include "engine/error.h"
#include "engine/json_file.h"

namespace yardstick {

namespace {

// DeepSeek LLM chat's tokenizer_config.json "chat_template", verbatim.
constexpr std::string_view kDeepSeekTemplate =
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ 'User: ' + message['content'] + '\\n\\n' }}{% elif message['role'] == 'assistant' %}"
    "{{ 'Assistant: ' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}"
    "{{ message['content'] + '\\n\\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";

}  // namespace

ChatTemplate::ChatTemplate(std::string_view source, std::string origin)
    : tmpl_(std::make_shared<const jinja::Template>(source, std::move(origin))) {}

const ChatTemplate& ChatTemplate::deepseek() {
  static const ChatTemplate t(kDeepSeekTemplate, "the built-in DeepSeek LLM chat template");
  return t;
}

std::string ChatTemplate::render(std::span<const ChatMessage> messages, std::string_view bos_token,
                                 std::string_view eos_token, bool add_generation_prompt) const {
  jinja::Array list;
  for (const ChatMessage& m : messages)
    list.push_back(jinja::Value::dict({{"role", jinja::Value::string(m.role)},
                                       {"content", jinja::Value::string(m.content)}}));
  std::map<std::string, jinja::Value> globals = {
      {"messages", jinja::Value::list(std::move(list))},
      {"add_generation_prompt", jinja::Value::boolean(add_generation_prompt)},
      {"tools", jinja::Value::none()},
      {"documents", jinja::Value::none()},
  };
  // Always strings, "" when the tokenizer has none (transformers leaves those undefined, and a
  // template's `+ eos_token` then fails, where a model without EOS text just has none to close with).
  globals["bos_token"] = jinja::Value::string(std::string(bos_token));
  globals["eos_token"] = jinja::Value::string(std::string(eos_token));
  return tmpl_->render(globals);
}

std::string ChatTemplate::reply_prefix(std::string_view bos_token, std::string_view eos_token) const {
  const std::string reply = "\x01";   // no template strips or rewrites a control character
  std::vector<ChatMessage> messages = {{"user", "x"}};
  const std::string prompt = render(messages, bos_token, eos_token, true);
  messages.push_back({"assistant", reply});
  const std::string full = render(messages, bos_token, eos_token, false);
  const size_t at = full.find(reply, prompt.size());
  if (full.compare(0, prompt.size(), prompt) != 0 || at == std::string::npos) return "";
  return full.substr(prompt.size(), at - prompt.size());
}

bool ChatTemplate::opens_with_bos(std::string_view bos_token, std::string_view eos_token) const {
  if (bos_token.empty()) return false;
  // A stand-in for bos_token: SmolLM2's "<|im_start|>" is its bos_token, but its template opens
  // with that text as the ChatML turn marker, not with bos_token.
  const std::string stand_in = "\x02";   // no template strips or rewrites a control character
  const std::vector<ChatMessage> messages = {{"user", "x"}};
  return render(messages, stand_in, eos_token, true).starts_with(stand_in);
}

std::optional<ChatTemplate> find_chat_template(const std::filesystem::path& dir) {
  const std::filesystem::path config = dir / "tokenizer_config.json";
  if (!std::filesystem::is_regular_file(config)) return std::nullopt;
  const std::filesystem::path file = dir / "chat_template.jinja";
  if (std::filesystem::is_regular_file(file)) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw ModelFileError(fmt::format("{}: cannot be opened", file.string()));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw ModelFileError(fmt::format("{}: cannot be read", file.string()));
    return ChatTemplate(text.str(), file.string());
  }
  const nlohmann::json j = read_json_file(config);
  auto it = j.find("chat_template");
  if (it == j.end() || it->is_null()) return std::nullopt;
  const std::string origin = config.string() + " (chat_template)";
  if (it->is_string()) return ChatTemplate(it->get<std::string>(), origin);
  if (it->is_array()) {
    for (const auto& named : *it) {
      if (!named.is_object() || !named.contains("name") || !named.contains("template") ||
          !named["name"].is_string() || !named["template"].is_string())
        throw ModelFileError(fmt::format("{}: chat_template is a list, but not of {{\"name\", \"template\"}} strings",
                                         config.string()));
      if (named["name"] == "default")
        return ChatTemplate(named["template"].get<std::string>(), config.string() + " (chat_template \"default\")");
    }
    throw ModelFileError(fmt::format("{}: chat_template lists named templates but none named \"default\"",
                                     config.string()));
  }
  throw ModelFileError(fmt::format("{}: chat_template is neither a string nor a list of named templates",
                                   config.string()));
}

// The declaration in engine/tokenizer.h.
std::string render_chat(std::span<const ChatMessage> messages, std::string_view bos_token,
                        std::string_view eos_token, bool add_generation_prompt) {
  return ChatTemplate::deepseek().render(messages, bos_token, eos_token, add_generation_prompt);
}

}  // namespace yardstick
